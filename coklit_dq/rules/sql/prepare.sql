-- Stage 2: prepare. One row per thing a rule looks at, with the FACTS the rules
-- need computed once in DuckDB (joins, windows, counts, the previous night): the
-- nik's parts, age on polling day, counts per id/family/TPS, last night's status.
-- Never a verdict: whether a fact is a problem is decided by the Great Expectations
-- expectations of expectations/rules/<KODE>.yaml.
--
-- A province list is searched with list_position(...) IS NOT NULL: DuckDB turns
-- list_contains of a variable's list into one comparison per province, each
-- computing left(kode_desa, 2) again (0.2 s CPU per million rows, against 0.02 s).
--
-- Inputs are DuckDB variables set by coklit_dq/rules/prepare.py:
--   tanggal DATE, lalu DATE (NULL on the first night), dibuat TIMESTAMPTZ,
--   prov_kini VARCHAR[] (pemilih loaded tonight), prov_banding VARCHAR[]
--   (loaded tonight and last night: only these are compared), hari DATE (polling day).
-- {nilai_tidak_valid} is replaced by prepare.py: the ingest's column of values that
-- could not be read, or NULL where the warehouse has no such column yet.
-- Statements are separated by lines holding only ";;".

-- Tonight's records, narrowed to the columns the rules use; rid = the row's rowid
-- in pemilih (stable while the night is validated), so nothing is copied here.
CREATE OR REPLACE TEMP VIEW prep_basis AS
SELECT rowid AS rid,
       left(kode_desa, 2) AS kode_prov,
       kode_desa, no_tps, id_pemilih, id_pantarlih, nik, nkk, nama, tanggal_lahir,
       jenis_kelamin, status_kawin, status_coklit, kode_tms, dokumen_tms, baris, disabilitas,
       {nilai_tidak_valid} AS nilai_tidak_valid
FROM pemilih
WHERE tanggal_ekspor = getvariable('tanggal')
;;
-- Ids listed more than once tonight, and how often: a short list both record tables
-- join (grouping a million ids is the costly part, done once).
CREATE OR REPLACE TEMP TABLE prep_id_ganda AS
SELECT id_pemilih, count(*) AS n_id
FROM prep_basis GROUP BY id_pemilih HAVING count(*) > 1
;;
-- Record level: one row per record of tonight with its facts. Facts that need a
-- join or a group are first found for the few records they concern (by rid) in
-- narrow queries; the one pass over every record joins those short lists on rid.
-- It holds what Great Expectations reads; what only a message shows is added by
-- the view prep_rekaman below, for the failing rows only.
CREATE OR REPLACE TEMP TABLE prep_fakta_rekaman AS
WITH tps_kini AS (        -- the known TPS set: tonight's tps rows per (kode_desa, no_tps)
  SELECT kode_desa, no_tps, count(*) AS n_tps FROM tps
  WHERE tanggal_ekspor = getvariable('tanggal') GROUP BY ALL
), desa_dikenal AS (    -- the region reference: the newest wilayah held (tonight's, or
                        -- the last one used)
  SELECT kode_desa, count(*) AS n_desa FROM wilayah
  WHERE tanggal_ekspor = (SELECT max(tanggal_ekspor) FROM wilayah
                          WHERE tanggal_ekspor <= getvariable('tanggal'))
  GROUP BY ALL
), keluarga AS (        -- families (one nkk in one desa) whose records that are not TMS
                        -- lie in two TPS or more, with how many TPS
  SELECT kode_desa, nkk, count(DISTINCT no_tps) AS n_tps_kk
  FROM prep_basis
  WHERE status_coklit <> 'TMS' AND nkk <> ''
    AND (kode_desa, nkk) IN (SELECT (kode_desa, nkk) FROM prep_basis
                             WHERE status_coklit <> 'TMS' AND nkk <> ''
                             GROUP BY ALL HAVING min(no_tps) <> max(no_tps))
  GROUP BY ALL
), pengganti AS (       -- for records TMS 8: records of the nik, not TMS, at another TPS
                        -- of the same desa
  SELECT t.rid, count(r.rid) AS n_pengganti
  FROM prep_basis t
  LEFT JOIN prep_basis r
    ON r.nik = t.nik AND r.kode_desa = t.kode_desa AND r.status_coklit <> 'TMS'
   AND r.no_tps IS DISTINCT FROM t.no_tps
  WHERE t.kode_tms = 8
  GROUP BY t.rid
), lalu_ganda AS (      -- ids listed more than once last night, and their first row
  SELECT id_pemilih, min(rowid) AS pertama
  FROM pemilih WHERE tanggal_ekspor = getvariable('lalu')
  GROUP BY id_pemilih HAVING count(*) > 1
), lalu AS (            -- last night's status of each id (its first row when listed twice)
  SELECT l.id_pemilih, l.status_coklit AS status_lalu, l.kode_tms AS kode_tms_lalu
  FROM pemilih l LEFT JOIN lalu_ganda d ON d.id_pemilih = l.id_pemilih
  WHERE l.tanggal_ekspor = getvariable('lalu') AND (d.pertama IS NULL OR d.pertama = l.rowid)
)
SELECT b.rid, b.kode_desa, b.nik, b.nkk, b.nama, b.tanggal_lahir,
       b.jenis_kelamin, b.status_kawin, b.status_coklit, b.kode_tms, b.dokumen_tms,
       b.disabilitas, b.nilai_tidak_valid,
       -- the nik's parts
       left(b.nik, 2) AS nik_prov,
       -- the birth date a nik's DDMMYY says (day - 40 for women) and the sex it says, and
       -- the birth date as the same number DDMMYY: numbers, not strings, are cheaper to make
       -- and to write (0.3 s CPU of this table at 1 M); NULL where the nik's part is not digits
       try_cast(substr(b.nik, 7, 6) AS INTEGER)
         - CASE WHEN try_cast(substr(b.nik, 7, 2) AS INTEGER) > 40 THEN 400000 ELSE 0 END
         AS nik_ddmmyy,
       CASE WHEN try_cast(substr(b.nik, 7, 2) AS INTEGER) > 40 THEN 'P' ELSE 'L' END AS nik_jk,
       day(b.tanggal_lahir) * 10000 + month(b.tanggal_lahir) * 100 + year(b.tanggal_lahir) % 100
         AS lahir_ddmmyy,
       -- whole years on polling day (one less before the birthday: month * 100 + day)
       year(getvariable('hari')) - year(b.tanggal_lahir)
         - CASE WHEN month(b.tanggal_lahir) * 100 + day(b.tanggal_lahir)
                     > month(getvariable('hari')) * 100 + day(getvariable('hari'))
                THEN 1 ELSE 0 END AS usia,
       coalesce(g.n_id, 1) AS n_id,
       coalesce(t.n_tps, 0) AS n_tps_terdaftar,
       coalesce(w.n_desa, 0) AS n_desa_terdaftar,
       coalesce(k.n_tps_kk, 1) AS n_tps_kk,
       coalesce(p.n_pengganti, 0) AS n_pengganti,
       l.status_lalu, l.kode_tms_lalu
FROM prep_basis b
LEFT JOIN prep_id_ganda g ON g.id_pemilih = b.id_pemilih
LEFT JOIN tps_kini t ON t.kode_desa = b.kode_desa AND t.no_tps = b.no_tps
LEFT JOIN desa_dikenal w ON w.kode_desa = b.kode_desa
LEFT JOIN keluarga k ON k.kode_desa = b.kode_desa AND k.nkk = b.nkk
LEFT JOIN pengganti p ON p.rid = b.rid
LEFT JOIN lalu l ON l.id_pemilih = b.id_pemilih
;;
-- Every column a message may show: the facts, the record's columns GX does not read
-- and what only a message says. Render asks for its failing rows only: a LEFT join
-- (every rid is in prep_basis) lets DuckDB pick those facts first and hash them,
-- where an inner join hashed the million rows of prep_basis (0.35 s against 0.18 s).
CREATE OR REPLACE TEMP VIEW prep_rekaman AS
SELECT f.*, b.no_tps, b.id_pemilih, b.id_pantarlih, b.baris,
       left(f.kode_desa, 2) AS kode_prov,
       length(f.nik) AS nik_panjang, length(f.nkk) AS nkk_panjang, left(f.nkk, 2) AS nkk_prov
FROM prep_fakta_rekaman f
LEFT JOIN (SELECT rid, no_tps, id_pemilih, id_pantarlih, baris FROM prep_basis) b
  ON b.rid = f.rid
;;
-- Last night's records of provinces loaded both nights, and how many records of
-- their id tonight's export holds.
-- (An id that is nowhere tonight, or empty, has 0.)
CREATE OR REPLACE TEMP TABLE prep_fakta_rekaman_lalu AS
SELECT l.rowid AS rid, left(l.kode_desa, 2) AS kode_prov,
       CASE WHEN l.id_pemilih IN (SELECT id_pemilih FROM prep_basis)
            THEN coalesce(g.n_id, 1) ELSE 0 END AS n_kini
FROM pemilih l
LEFT JOIN prep_id_ganda g ON g.id_pemilih = l.id_pemilih
WHERE l.tanggal_ekspor = getvariable('lalu')
  AND list_position(getvariable('prov_banding'), left(l.kode_desa, 2)) IS NOT NULL
;;
CREATE OR REPLACE TEMP VIEW prep_rekaman_lalu AS
SELECT f.rid, f.kode_prov, f.n_kini,
       l.kode_desa, l.no_tps, l.id_pemilih, l.id_pantarlih, l.status_coklit, l.kode_tms, l.baris
FROM prep_fakta_rekaman_lalu f JOIN pemilih l ON l.rowid = f.rid
;;
-- TPS level: every TPS of the provinces loaded tonight, its counts and its officers' counters.
CREATE OR REPLACE TEMP TABLE prep_tps AS
WITH agg AS (
  SELECT kode_desa, no_tps,
         count(*) AS n_rekaman,
         count(*) FILTER (WHERE status_coklit <> 'TMS') AS n_aktif,
         count(*) FILTER (WHERE status_coklit IN ('BELUM', 'MS', 'UBAH', 'TMS')) AS n_diturunkan,
         count(*) FILTER (WHERE status_coklit <> 'BELUM') AS n_tercoklit
  FROM prep_basis GROUP BY kode_desa, no_tps
), app AS (
  -- an officer counter the ingest could not read (NULL): the TPS's app sum is not known
  SELECT kode_desa, no_tps,
         CASE WHEN count(jumlah_tercoklit_app) = count(*) THEN sum(jumlah_tercoklit_app) END
           AS jumlah_app, count(*) AS n_pantarlih,
         string_agg(id_pantarlih || ': ' || jumlah_tercoklit_app, ', '
                    ORDER BY id_pantarlih) AS rincian_app
  FROM pantarlih WHERE tanggal_ekspor = getvariable('tanggal')
  GROUP BY kode_desa, no_tps
)
-- rid in a fixed order (the unit, then every column): a TPS listed twice in the export keeps
-- the same first row on every run of the night (the findings keep one row per unit)
SELECT row_number() OVER (ORDER BY t.kode_desa, t.no_tps, t.jumlah_diturunkan,
                                   t.nilai_tidak_valid) AS rid,
       left(t.kode_desa, 2) AS kode_prov, t.kode_desa, t.no_tps, t.jumlah_diturunkan,
       t.nilai_tidak_valid,  -- set by the ingest: columns of the tps row it could not read
       coalesce(a.n_rekaman, 0) AS n_rekaman,
       coalesce(a.n_aktif, 0) AS n_aktif,
       coalesce(a.n_diturunkan, 0) AS n_diturunkan,
       coalesce(a.n_tercoklit, 0) AS n_tercoklit,
       -- a TPS with no officer account counts 0 in the app (JUMLAH_TIDAK_SESUAI fires
       -- when its records were coklit'd all the same)
       CASE WHEN p.n_pantarlih IS NULL THEN 0 ELSE p.jumlah_app END AS jumlah_app,
       coalesce(p.n_pantarlih, 0) AS n_pantarlih,
       coalesce(p.rincian_app, 'tidak ada akun Pantarlih untuk TPS ini') AS rincian_app
FROM tps t
LEFT JOIN agg a ON a.kode_desa = t.kode_desa AND a.no_tps = t.no_tps
LEFT JOIN app p ON p.kode_desa = t.kode_desa AND p.no_tps = t.no_tps
WHERE t.tanggal_ekspor = getvariable('tanggal')
  AND list_position(getvariable('prov_kini'), left(t.kode_desa, 2)) IS NOT NULL
;;
-- Desa level: records that are not TMS, last night and tonight (provinces loaded both nights).
CREATE OR REPLACE TEMP TABLE prep_desa AS
WITH kini AS (
  SELECT kode_desa, count(*) FILTER (WHERE status_coklit <> 'TMS') AS n_aktif
  FROM prep_basis GROUP BY kode_desa
), lalu AS (
  SELECT kode_desa, count(*) FILTER (WHERE status_coklit <> 'TMS') AS n_aktif_lalu
  FROM pemilih
  WHERE tanggal_ekspor = getvariable('lalu')
    AND list_position(getvariable('prov_banding'), left(kode_desa, 2)) IS NOT NULL
  GROUP BY kode_desa
)
SELECT row_number() OVER (ORDER BY l.kode_desa) AS rid,
       left(l.kode_desa, 2) AS kode_prov, l.kode_desa,
       l.n_aktif_lalu, coalesce(k.n_aktif, 0) AS n_aktif,
       CASE WHEN l.n_aktif_lalu > 0
            THEN 100.0 * (l.n_aktif_lalu - coalesce(k.n_aktif, 0)) / l.n_aktif_lalu
       END AS penurunan_persen
FROM lalu l LEFT JOIN kini k ON k.kode_desa = l.kode_desa
;;
-- Officer level: every officer account of tonight, and the hours from its last sync
-- to the moment the export was made.
CREATE OR REPLACE TEMP TABLE prep_pantarlih AS
SELECT row_number() OVER (ORDER BY id_pantarlih, kode_desa, no_tps, terakhir_login,
                                   terakhir_sinkron, jumlah_tercoklit_app, nilai_tidak_valid) AS rid,
       left(kode_desa, 2) AS kode_prov, id_pantarlih, kode_desa, no_tps,
       terakhir_login, terakhir_sinkron, jumlah_tercoklit_app,
       nilai_tidak_valid,  -- set by the ingest: columns of the row it could not read (NULL)
       date_diff('second', terakhir_sinkron, getvariable('dibuat')) / 3600.0 AS jam_sejak_sinkron
FROM pantarlih
WHERE tanggal_ekspor = getvariable('tanggal')
