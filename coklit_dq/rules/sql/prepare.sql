-- Stage 2: prepare. One row per thing a rule looks at, with what the rules need
-- computed once in DuckDB (joins, windows, the previous night). Great
-- Expectations then validates these tables (expectations/rules/<KODE>.yaml).
--
-- Inputs are DuckDB variables set by coklit_dq/rules/prepare.py:
--   tanggal DATE, lalu DATE (NULL on the first night), dibuat TIMESTAMPTZ,
--   prov_kini VARCHAR[] (pemilih loaded tonight), prov_banding VARCHAR[]
--   (loaded tonight and last night: only these are compared), prov_kode VARCHAR[]
--   (province codes in use), lahir_paling_lambat DATE, kode_tms_valid INTEGER[].
-- Statements are separated by lines holding only ";;".

-- Tonight's records, narrowed to the columns the rules use; rid = the row's rowid
-- in pemilih (stable while the night is validated), so nothing is copied here.
CREATE OR REPLACE TEMP VIEW prep_basis AS
SELECT rowid AS rid,
       left(kode_desa, 2) AS kode_prov,
       kode_desa, no_tps, id_pemilih, id_pantarlih, nik, nkk, tanggal_lahir, jenis_kelamin,
       status_kawin, status_coklit, kode_tms, dokumen_tms, baris, disabilitas, nilai_tidak_valid
FROM pemilih
WHERE tanggal_ekspor = getvariable('tanggal')
;;
-- Record level: one row per record of tonight, a flag per rule: TRUE where the
-- record has the problem, NULL where it does not (GX: expect_column_values_to_be_null).
-- Only the row id, the province, the flags and what the messages need from the
-- joins are materialized; the record's own columns come from prep_basis (view
-- prep_rekaman below) for the few rows that fail.
CREATE OR REPLACE TEMP TABLE prep_flag_rekaman AS
-- Rules that need a join first find their few records (by rid) in narrow
-- queries; the one pass over every record then joins those short lists on rid.
WITH id_ganda AS (      -- GANDA_ID: the first row of an id listed more than once
  SELECT min(rid) AS rid, count(*) AS n_id
  FROM prep_basis GROUP BY id_pemilih HAVING count(*) > 1
), tps_asing AS (       -- TPS_TIDAK_DIKENAL: (kode_desa, no_tps) not in tonight's tps
  SELECT b.rid FROM prep_basis b
  ANTI JOIN (SELECT DISTINCT kode_desa, no_tps FROM tps
             WHERE tanggal_ekspor = getvariable('tanggal')) t
    ON t.kode_desa = b.kode_desa AND t.no_tps = b.no_tps
), keluarga AS (        -- KK_TERPISAH: one nkk, one desa, records not TMS in two TPS or more
  SELECT kode_desa, nkk
  FROM prep_basis
  WHERE status_coklit <> 'TMS' AND nkk <> ''
  GROUP BY kode_desa, nkk HAVING min(no_tps) <> max(no_tps)
), kk_terpisah AS (
  SELECT b.rid FROM prep_basis b
  SEMI JOIN keluarga k ON k.kode_desa = b.kode_desa AND k.nkk = b.nkk
  WHERE b.status_coklit <> 'TMS'
), tanpa_pengganti AS ( -- TMS_8_TANPA_PENGGANTI: no record of the nik, not TMS, at another TPS
  SELECT t.rid FROM prep_basis t
  WHERE t.kode_tms = 8 AND NOT EXISTS (
    SELECT 1 FROM prep_basis r
    WHERE r.nik = t.nik AND r.kode_desa = t.kode_desa AND r.status_coklit <> 'TMS'
      AND r.no_tps IS DISTINCT FROM t.no_tps)
), lalu AS (            -- last night's records (joined on id with tonight's, so only
                        -- provinces loaded both nights can match: records keep their desa)
  SELECT id_pemilih, status_coklit, kode_tms FROM pemilih
  WHERE tanggal_ekspor = getvariable('lalu')
), transisi AS (        -- STATUS_TIDAK_WAJAR, in two narrow joins:
  SELECT rid, any_value(status_lalu) AS status_lalu, any_value(kode_tms_lalu) AS kode_tms_lalu,
         bool_or(lalu_meninggal) AS lalu_meninggal
  FROM (
    -- deceased last night, not TMS tonight (last night's dead are few: built first)
    SELECT b.rid, l.status_coklit AS status_lalu, l.kode_tms AS kode_tms_lalu,
           TRUE AS lalu_meninggal
    FROM (SELECT * FROM lalu WHERE status_coklit = 'TMS' AND kode_tms = 1) l
    JOIN prep_basis b ON b.id_pemilih = l.id_pemilih
    WHERE b.status_coklit <> 'TMS'
    UNION ALL
    -- BELUM tonight after being coklit'd; BARU tonight though handed down last night
    SELECT b.rid, l.status_coklit, l.kode_tms, FALSE
    FROM (SELECT rid, id_pemilih, status_coklit FROM prep_basis
          WHERE status_coklit IN ('BELUM', 'BARU')) b
    JOIN lalu l ON l.id_pemilih = b.id_pemilih
    WHERE (b.status_coklit = 'BELUM' AND l.status_coklit <> 'BELUM')
       OR (b.status_coklit = 'BARU' AND l.status_coklit <> 'BARU')
  )
  GROUP BY rid
), desa_asing AS (      -- DATA_TIDAK_VALID: kode_desa not a desa of the region reference
                        -- (the newest wilayah held: tonight's, or the last used one)
  SELECT b.rid FROM prep_basis b
  ANTI JOIN (SELECT kode_desa FROM wilayah
             WHERE tanggal_ekspor = (SELECT max(tanggal_ekspor) FROM wilayah
                                     WHERE tanggal_ekspor <= getvariable('tanggal'))) w
    ON w.kode_desa = b.kode_desa
), hits AS (            -- the short lists above, one row per record found
  SELECT rid,
         bool_or(kode = 'G') AS id_ganda, bool_or(kode = 'T') AS tps_tidak_dikenal,
         bool_or(kode = 'K') AS kk_terpisah, bool_or(kode = '8') AS tms8_tanpa_pengganti,
         bool_or(kode = 'S') AS status_tidak_wajar, bool_or(kode = 'W') AS desa_asing,
         max(n_id) AS n_id, max(status_lalu) AS status_lalu, max(kode_tms_lalu) AS kode_tms_lalu,
         bool_or(lalu_meninggal) AS lalu_meninggal
  FROM (
    SELECT rid, 'G' AS kode, n_id, NULL AS status_lalu, NULL::SMALLINT AS kode_tms_lalu,
           NULL::BOOLEAN AS lalu_meninggal FROM id_ganda
    UNION ALL SELECT rid, 'T', NULL, NULL, NULL, NULL FROM tps_asing
    UNION ALL SELECT rid, 'K', NULL, NULL, NULL, NULL FROM kk_terpisah
    UNION ALL SELECT rid, '8', NULL, NULL, NULL, NULL FROM tanpa_pengganti
    UNION ALL SELECT rid, 'S', NULL, status_lalu, kode_tms_lalu, lalu_meninggal FROM transisi
    UNION ALL SELECT rid, 'W', NULL, NULL, NULL, NULL FROM desa_asing
  )
  GROUP BY rid
), r AS (
  SELECT b.rid, b.kode_prov, b.nik, b.nkk, b.tanggal_lahir, b.jenis_kelamin, b.status_kawin,
         b.status_coklit, b.kode_tms, b.dokumen_tms, b.disabilitas, b.nilai_tidak_valid,
         coalesce(h.desa_asing, FALSE) AS desa_asing,
         try_cast(substr(b.nik, 7, 2) AS INTEGER) AS nik_hari,
         -- nik_pola (prepare.py): 16 digits, a province code, day 01-31 or 41-71,
         -- month 01-12, serial not 0000; and not one digit repeated
         (NOT coalesce(regexp_full_match(b.nik, getvariable('nik_pola')), FALSE)
          OR b.nik = repeat(left(b.nik, 1), 16)) AS nik_tidak_valid,
         h.n_id, h.status_lalu, h.kode_tms_lalu, h.lalu_meninggal,
         coalesce(h.id_ganda, FALSE) AS id_ganda,
         coalesce(h.tps_tidak_dikenal, FALSE) AS tps_tidak_dikenal,
         coalesce(h.kk_terpisah, FALSE) AS kk_terpisah,
         coalesce(h.tms8_tanpa_pengganti, FALSE) AS tms8_tanpa_pengganti,
         coalesce(h.status_tidak_wajar, FALSE) AS status_tidak_wajar
  FROM prep_basis b
  LEFT JOIN hits h ON h.rid = b.rid
)
SELECT rid, kode_prov, n_id, status_lalu, kode_tms_lalu, lalu_meninggal,
  nullif(nik_tidak_valid, FALSE) AS nik_tidak_valid,
  nullif(coalesce(NOT nik_tidak_valid AND (
      (tanggal_lahir IS NOT NULL AND (
          nik_hari - CASE WHEN nik_hari > 40 THEN 40 ELSE 0 END <> day(tanggal_lahir)
          OR try_cast(substr(nik, 9, 2) AS INTEGER) <> month(tanggal_lahir)
          OR try_cast(substr(nik, 11, 2) AS INTEGER) <> year(tanggal_lahir) % 100))
      OR (jenis_kelamin IN ('L', 'P')
          AND jenis_kelamin <> CASE WHEN nik_hari > 40 THEN 'P' ELSE 'L' END)), FALSE), FALSE)
    AS nik_tidak_sesuai,
  -- nkk_pola: a province code and 14 more digits
  nullif(NOT coalesce(regexp_full_match(nkk, getvariable('nkk_pola')), FALSE), FALSE)
    AS nkk_tidak_valid,
  nullif(id_ganda, FALSE) AS id_ganda,
  nullif(tps_tidak_dikenal, FALSE) AS tps_tidak_dikenal,
  nullif(kk_terpisah, FALSE) AS kk_terpisah,
  nullif(coalesce(status_coklit <> 'TMS'
                  AND tanggal_lahir > getvariable('lahir_paling_lambat')
                  AND coalesce(status_kawin, 'B') = 'B', FALSE), FALSE) AS usia_belum_cukup,
  nullif(coalesce((kode_tms = 3 AND (tanggal_lahir <= getvariable('lahir_paling_lambat')
                                     OR status_kawin IN ('S', 'P')))
                  OR (status_coklit = 'TMS' AND (kode_tms IS NULL
                         OR NOT list_contains(getvariable('kode_tms_valid'), kode_tms)))
                  OR (status_coklit <> 'TMS' AND kode_tms IS NOT NULL), FALSE), FALSE)
    AS tms_tidak_sesuai,
  nullif(coalesce(kode_tms = 1 AND (dokumen_tms IS NULL OR trim(dokumen_tms) = ''), FALSE), FALSE)
    AS tms_tanpa_dokumen,
  nullif(tms8_tanpa_pengganti, FALSE) AS tms8_tanpa_pengganti,
  nullif(status_tidak_wajar, FALSE) AS status_tidak_wajar,
  -- DATA_TIDAK_VALID: a value outside export-v1's domain, which no other rule reads right
  nullif(desa_asing
         OR coalesce(status_coklit NOT IN ('BELUM', 'MS', 'UBAH', 'BARU', 'TMS'), TRUE)
         OR coalesce(jenis_kelamin NOT IN ('L', 'P'), TRUE)
         OR coalesce(status_kawin NOT IN ('B', 'S', 'P'), TRUE)
         OR tanggal_lahir IS NULL
         OR coalesce(disabilitas NOT BETWEEN 0 AND 6, TRUE)
         OR nilai_tidak_valid IS NOT NULL, FALSE) AS data_tidak_valid
FROM r
;;
CREATE OR REPLACE TEMP VIEW prep_rekaman AS
SELECT b.*, f.* EXCLUDE (rid, kode_prov),
       try_cast(substr(b.nik, 7, 2) AS INTEGER) AS nik_hari
FROM prep_flag_rekaman f JOIN prep_basis b ON b.rid = f.rid
;;
-- Last night's records of provinces loaded both nights, and whether each is still there.
CREATE OR REPLACE TEMP TABLE prep_flag_rekaman_lalu AS
WITH hilang AS (        -- last night's records whose id is nowhere in tonight's export
  SELECT x.rowid AS rid FROM pemilih x
  ANTI JOIN prep_basis b ON b.id_pemilih = x.id_pemilih
  WHERE x.tanggal_ekspor = getvariable('lalu')
)
SELECT l.rowid AS rid, left(l.kode_desa, 2) AS kode_prov,
       nullif(h.rid IS NOT NULL, FALSE) AS hilang
FROM pemilih l LEFT JOIN hilang h ON h.rid = l.rowid
WHERE l.tanggal_ekspor = getvariable('lalu')
  AND list_contains(getvariable('prov_banding'), left(l.kode_desa, 2))
;;
CREATE OR REPLACE TEMP VIEW prep_rekaman_lalu AS
SELECT f.rid, f.kode_prov, f.hilang,
       l.kode_desa, l.no_tps, l.id_pemilih, l.id_pantarlih, l.status_coklit, l.kode_tms, l.baris
FROM prep_flag_rekaman_lalu f JOIN pemilih l ON l.rowid = f.rid
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
  SELECT kode_desa, no_tps, sum(jumlah_tercoklit_app) AS jumlah_app, count(*) AS n_pantarlih,
         string_agg(id_pantarlih || ' (' || jumlah_tercoklit_app || ')', ', '
                    ORDER BY id_pantarlih) AS rincian_app
  FROM pantarlih WHERE tanggal_ekspor = getvariable('tanggal')
  GROUP BY kode_desa, no_tps
)
SELECT row_number() OVER () AS rid,
       left(t.kode_desa, 2) AS kode_prov, t.kode_desa, t.no_tps, t.jumlah_diturunkan,
       coalesce(a.n_rekaman, 0) AS n_rekaman,
       coalesce(a.n_aktif, 0) AS n_aktif,
       coalesce(a.n_diturunkan, 0) AS n_diturunkan,
       coalesce(a.n_tercoklit, 0) AS n_tercoklit,
       -- a TPS with no officer account counts 0 in the app (JUMLAH_TIDAK_SESUAI fires
       -- when its records were coklit'd all the same)
       coalesce(p.jumlah_app, 0) AS jumlah_app, coalesce(p.n_pantarlih, 0) AS n_pantarlih,
       coalesce(p.rincian_app, 'tidak ada akun Pantarlih untuk TPS ini') AS rincian_app
FROM tps t
LEFT JOIN agg a ON a.kode_desa = t.kode_desa AND a.no_tps = t.no_tps
LEFT JOIN app p ON p.kode_desa = t.kode_desa AND p.no_tps = t.no_tps
WHERE t.tanggal_ekspor = getvariable('tanggal')
  AND list_contains(getvariable('prov_kini'), left(t.kode_desa, 2))
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
    AND list_contains(getvariable('prov_banding'), left(kode_desa, 2))
  GROUP BY kode_desa
)
SELECT row_number() OVER () AS rid,
       left(l.kode_desa, 2) AS kode_prov, l.kode_desa,
       l.n_aktif_lalu, coalesce(k.n_aktif, 0) AS n_aktif,
       CASE WHEN l.n_aktif_lalu > 0
            THEN 100.0 * (l.n_aktif_lalu - coalesce(k.n_aktif, 0)) / l.n_aktif_lalu
       END AS penurunan_persen
FROM lalu l LEFT JOIN kini k ON k.kode_desa = l.kode_desa
;;
-- Officer level: every officer account of tonight.
CREATE OR REPLACE TEMP TABLE prep_pantarlih AS
SELECT row_number() OVER () AS rid,
       left(kode_desa, 2) AS kode_prov, id_pantarlih, kode_desa, no_tps,
       terakhir_login, terakhir_sinkron, jumlah_tercoklit_app,
       CASE WHEN terakhir_login IS NOT NULL AND getvariable('dibuat') IS NOT NULL THEN
         coalesce(date_diff('second', terakhir_sinkron, getvariable('dibuat')) / 3600.0,
                  'infinity'::DOUBLE)
       END AS jam_sejak_sinkron
FROM pantarlih
WHERE tanggal_ekspor = getvariable('tanggal')
