"""What tonight's answers do to tonight's findings, and the figures per region.

    night_marks(con, tanggal) -> frame: one row per finding of the night that an
        earlier answer touches, keyed by the published unit columns, with `tanda`:
          BUKAN_MASALAH         out of the region's list while the unit's data are
                                unchanged; a GANDA_ORANG pair: never again once every
                                partner of the record is labelled "not the same person"
          PUSDATIN              GANDA_NIK answered BUKAN_MASALAH: out of the lists
                                and on Pusdatin's, with the region's reason; so is
                                the other record of the pair the answered list showed
                                (in any region), unless it has an answer of its own
        A pair marked through its other record says in `alasan` which region marked it.
          BUKAN_MASALAH_BERUBAH answered BUKAN_MASALAH, but the unit's data changed since:
                                back on the list, saying so (the region checks again)
          DIPERBAIKI_MASIH_ADA  answered SUDAH_DIPERBAIKI, still found tonight
          PERLU_BANTUAN         the region asked for help and it is still found
    region_figures(con, tanggal, level) -> frame per kode_kab / kode_prov / nasional

An answer applies to the nights after the list it answers that had not run when it was
read (store.COUNTS_FOR_NIGHT): a rerun of an older night sees what its first run saw,
and a night run late behind later nights sees what it would have seen in order. The
latest answer about a finding counts (store.LATEST_FIRST: the latest list, then the
answer that arrived last).
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from coklit_dq import warehouse
from coklit_dq.lifecycle import standing_as_found
from coklit_dq.tanggapan import store
from coklit_dq.tanggapan.units import SAMA, fingerprint_sql

KEY = ("kode_temuan", "id_pemilih", "id_pantarlih", "kode_desa", "no_tps", "id_kelompok")
TANDA = (
    "BUKAN_MASALAH", "PUSDATIN", "BUKAN_MASALAH_BERUBAH", "DIPERBAIKI_MASIH_ADA", "PERLU_BANTUAN"
)  # fmt: skip
KELUAR = ("BUKAN_MASALAH", "PUSDATIN")  # out of the region's list

MARKS_SQL = """
CREATE OR REPLACE TEMP TABLE _tanggapan_tanda AS
WITH f AS (
  SELECT * FROM temuan WHERE tanggal_ekspor = $tanggal
  UNION ALL  -- earlier changes to records still standing (lifecycle): answered the same way
  SELECT * EXCLUDE (tanggal_perubahan) REPLACE ($tanggal AS tanggal_ekspor)
  FROM ({standing})
),
-- the answers this night counts (store.COUNTS_FOR_NIGHT)
j AS (
  SELECT * FROM {dipakai} WHERE {counts}
  QUALIFY row_number() OVER (PARTITION BY kode_temuan, kunci {latest}) = 1
),
fj AS (
  SELECT f.kode_temuan, f.kunci, f.id_pemilih, f.kode_desa, f.no_tps, f.id_pantarlih,
         f.id_kelompok, f.kode_kab AS kab_jawab,
         j.tanggapan, j.alasan, j.petugas, j.tanggal_daftar, j.sidik AS sidik_jawab
  FROM f JOIN j USING (kode_temuan, kunci)
),
fs AS ({fingerprint}),
oleh AS (  -- a region as the pages name it
  SELECT DISTINCT kode_kab, coalesce(nama_kab, kode_kab) || ' (' || kode_kab || ')' AS nama
  FROM wilayah WHERE tanggal_ekspor = $tanggal
),
lbl AS (
  SELECT id_l, id_r, cocok, kode_kab AS kab_jawab, tanggal_daftar FROM {label}
  WHERE {counts}
  QUALIFY row_number() OVER (PARTITION BY id_l, id_r {latest}) = 1
),
orang AS (
  SELECT a.kunci, bool_and(coalesce(NOT l.cocok, false)) AS semua_bukan,
         any_value(l.id_l) AS ada, max(l.tanggal_daftar) AS tanggal_daftar,
         string_agg(DISTINCT coalesce(w.nama, l.kab_jawab), ', ') AS oleh
  FROM f a JOIN f b ON b.kode_temuan = 'GANDA_ORANG' AND b.id_kelompok = a.id_kelompok
   AND b.id_pemilih <> a.id_pemilih
  LEFT JOIN lbl l ON l.id_l = least(a.id_pemilih, b.id_pemilih)
   AND l.id_r = greatest(a.id_pemilih, b.id_pemilih)
  LEFT JOIN oleh w ON w.kode_kab = l.kab_jawab
  WHERE a.kode_temuan = 'GANDA_ORANG'
  GROUP BY a.kunci
),
-- GANDA_NIK: "two people carry one nik" is said of the pair the answered list showed, so
-- a standing answer also forwards that pair's other record (in any region) while it still
-- carries the nik. A group of three or more on that list, or a record that took the nik
-- later, is not forwarded by another record's answer: its own region decides.
nik_jawab AS (
  SELECT kunci, id_pemilih, id_kelompok, tanggal_daftar, kab_jawab FROM fs
  WHERE kode_temuan = 'GANDA_NIK' AND tanggapan = 'BUKAN_MASALAH'
    AND {sama}
),
nik_daftar AS (  -- the answered list's GANDA_NIK groups of those answers
  SELECT t.tanggal_ekspor, t.id_kelompok, t.id_pemilih,
         count(*) OVER (PARTITION BY t.tanggal_ekspor, t.id_kelompok) AS n
  FROM temuan t SEMI JOIN nik_jawab a
    ON t.tanggal_ekspor = a.tanggal_daftar AND t.id_kelompok = a.id_kelompok
  WHERE t.kode_temuan = 'GANDA_NIK'
),
nik_pasangan AS (
  SELECT d.id_pemilih, d.id_kelompok, max(a.tanggal_daftar) AS tanggal_daftar,
         string_agg(DISTINCT coalesce(w.nama, a.kab_jawab), ', ') AS oleh
  FROM nik_jawab a
  JOIN nik_daftar d ON d.tanggal_ekspor = a.tanggal_daftar AND d.id_kelompok = a.id_kelompok
   AND d.id_pemilih <> a.id_pemilih AND d.n = 2
  LEFT JOIN oleh w ON w.kode_kab = a.kab_jawab
  GROUP BY ALL
),
tanda AS (
  SELECT f.*, s.tanggapan, s.alasan AS alasan_sendiri, s.tanggal_daftar AS tanggal_sendiri,
         o.oleh AS oleh_orang, o.tanggal_daftar AS tanggal_orang,
         g.oleh AS oleh_nik, g.tanggal_daftar AS tanggal_nik,
         f.kode_temuan = 'GANDA_ORANG' AND coalesce(o.semua_bukan, false)
           AND o.ada IS NOT NULL AS lewat_label,
         CASE
           WHEN lewat_label THEN 'BUKAN_MASALAH'
           WHEN s.tanggapan = 'BUKAN_MASALAH' AND f.kode_temuan = 'GANDA_NIK'
                AND {sama_s} THEN 'PUSDATIN'
           -- a GANDA_ORANG pair is "not the same person" through its labels, above
           WHEN s.tanggapan = 'BUKAN_MASALAH' AND f.kode_temuan = 'GANDA_ORANG' THEN NULL
           WHEN s.tanggapan = 'BUKAN_MASALAH' AND f.kode_temuan <> 'GANDA_NIK'
                AND {sama_s}
             THEN 'BUKAN_MASALAH'
           WHEN s.tanggapan = 'BUKAN_MASALAH' THEN 'BUKAN_MASALAH_BERUBAH'
           WHEN s.tanggapan = 'SUDAH_DIPERBAIKI' THEN 'DIPERBAIKI_MASIH_ADA'
           WHEN s.tanggapan = 'PERLU_BANTUAN' THEN 'PERLU_BANTUAN'
           -- no answer of its own: forwarded with its pair
           WHEN g.id_pemilih IS NOT NULL THEN 'PUSDATIN'
         END AS tanda,
         s.tanggapan IS NULL AND g.id_pemilih IS NOT NULL AS lewat_pasangan
  FROM f
  LEFT JOIN fs s USING (kode_temuan, kunci)
  LEFT JOIN orang o ON f.kode_temuan = 'GANDA_ORANG' AND o.kunci = f.kunci
  LEFT JOIN nik_pasangan g ON f.kode_temuan = 'GANDA_NIK' AND g.id_pemilih = f.id_pemilih
   AND g.id_kelompok = f.id_kelompok
  WHERE s.kunci IS NOT NULL OR o.kunci IS NOT NULL OR g.id_pemilih IS NOT NULL
)
SELECT tanggal_ekspor, kode_prov, kode_kab, kode_temuan, kunci, id_pemilih, id_pantarlih,
       kode_desa, no_tps, id_kelompok, tanda, tanggapan,
       -- marked through the other record of its pair: who marked it, by region (that
       -- region's reason speaks of its own voter and stays with it)
       CASE
         WHEN lewat_label AND tanggapan IS DISTINCT FROM 'BUKAN_MASALAH'
           THEN 'ditandai bukan orang yang sama oleh KPU ' || oleh_orang
         WHEN lewat_pasangan THEN 'ditandai dua orang dengan satu NIK oleh KPU ' || oleh_nik
         ELSE alasan_sendiri
       END AS alasan,
       CASE WHEN lewat_label THEN tanggal_orang
            WHEN lewat_pasangan THEN tanggal_nik
            ELSE tanggal_sendiri END AS tanggal_daftar
FROM tanda
"""


# The placeholders MARKS_SQL and FIGURES_SQL share, each defined once elsewhere.
_PARTS = {
    "{dipakai}": store.with_arrival("tanggapan_dipakai"),
    "{label}": store.with_arrival("tanggapan_label"),
    "{latest}": store.LATEST_FIRST,
    "{counts}": store.COUNTS_FOR_NIGHT,
    "{held}": warehouse.HELD_NIGHTS_SQL,
    "{standing}": standing_as_found("$tanggal"),
}


def _expand(sql: str, **more: str) -> str:
    for key, part in {**_PARTS, **{f"{{{k}}}": v for k, v in more.items()}}.items():
        sql = sql.replace(key, part)
    return sql


def _build_marks(con: duckdb.DuckDBPyConnection, tanggal: date) -> None:
    store.ensure_schema(con)
    sql = _expand(
        MARKS_SQL,
        fingerprint=fingerprint_sql("fj"),
        sama=SAMA,
        sama_s=SAMA.replace("sidik", "s.sidik"),
    )
    con.execute(sql, {"tanggal": tanggal})


def night_marks(con: duckdb.DuckDBPyConnection, tanggal: date) -> pl.DataFrame:
    """Tonight's findings touched by an earlier answer, with their `tanda` (see above)."""
    _build_marks(con, tanggal)
    try:
        return con.sql(
            "SELECT * FROM _tanggapan_tanda WHERE tanda IS NOT NULL ORDER BY kode_kab, kunci"
        ).pl()
    finally:
        con.execute("DROP TABLE IF EXISTS _tanggapan_tanda")


LEVELS = {"kode_kab": "kode_prov, kode_kab", "kode_prov": "kode_prov", "nasional": "'nasional'"}

FIGURES_SQL = """
WITH dikirim AS (
  SELECT DISTINCT {cols} AS wilayah_, kode_temuan, kunci FROM temuan
  WHERE tanggal_ekspor < $tanggal AND kode_kab IS NOT NULL AND tanggal_ekspor IN ({held})
),
dijawab AS (
  SELECT DISTINCT kode_temuan, kunci FROM {dipakai} WHERE {counts}
),
periode AS (
  SELECT {cols} AS wilayah_, kode_temuan, kunci, pertama_ditemukan,
         max(tanggal_ekspor) AS terakhir
  FROM temuan WHERE kode_kab IS NOT NULL
    AND (tanggal_ekspor = $tanggal OR tanggal_ekspor < $tanggal AND tanggal_ekspor IN ({held}))
  GROUP BY ALL
),
selesai AS (
  SELECT kode_temuan, kunci, pertama_ditemukan, min(tanggal_selesai) AS tanggal_selesai
  FROM temuan_selesai
  WHERE tanggal_selesai = $tanggal OR tanggal_selesai < $tanggal AND tanggal_selesai IN ({held})
  GROUP BY ALL
),
lama AS (
  SELECT p.wilayah_, median(coalesce(s.tanggal_selesai, p.terakhir) - p.pertama_ditemukan)
           AS median_hari_terbuka
  FROM periode p LEFT JOIN selesai s USING (kode_temuan, kunci, pertama_ditemukan)
  GROUP BY ALL
),
kirim AS (
  SELECT d.wilayah_, count(*) AS n_dikirim, count(j.kunci) AS n_dijawab
  FROM dikirim d LEFT JOIN dijawab j USING (kode_temuan, kunci) GROUP BY ALL
),
tanda AS (
  SELECT {cols} AS wilayah_,
         count(*) FILTER (WHERE tanda = 'DIPERBAIKI_MASIH_ADA') AS n_diperbaiki_kembali,
         count(*) FILTER (WHERE tanda = 'BUKAN_MASALAH') AS n_bukan_masalah,
         count(*) FILTER (WHERE tanda = 'PUSDATIN') AS n_ke_pusdatin,
         count(*) FILTER (WHERE tanda = 'PERLU_BANTUAN') AS n_perlu_bantuan
  FROM _tanggapan_tanda GROUP BY ALL
)
SELECT w.wilayah_, coalesce(k.n_dikirim, 0) AS n_dikirim, coalesce(k.n_dijawab, 0) AS n_dijawab,
       round(100.0 * k.n_dijawab / nullif(k.n_dikirim, 0), 1) AS persen_dijawab,
       l.median_hari_terbuka,
       coalesce(t.n_diperbaiki_kembali, 0) AS n_diperbaiki_kembali,
       coalesce(t.n_bukan_masalah, 0) AS n_bukan_masalah,
       coalesce(t.n_ke_pusdatin, 0) AS n_ke_pusdatin,
       coalesce(t.n_perlu_bantuan, 0) AS n_perlu_bantuan
FROM (SELECT wilayah_ FROM periode UNION SELECT wilayah_ FROM kirim) w
LEFT JOIN kirim k USING (wilayah_) LEFT JOIN lama l USING (wilayah_)
LEFT JOIN tanda t USING (wilayah_)
ORDER BY persen_dijawab DESC NULLS LAST, median_hari_terbuka NULLS LAST,
         n_diperbaiki_kembali, w.wilayah_
"""


def region_figures(
    con: duckdb.DuckDBPyConnection, tanggal: date, level: str = "kode_kab"
) -> pl.DataFrame:
    """Per region: share of findings answered, median days open, fixed-but-back, ...

    n_dikirim: findings on the region's lists before tonight (distinct code and unit);
    n_dijawab: of those, answered (an applied row, read by tonight);
    median_hari_terbuka: over findings found by tonight, days from first found to
    resolved, or to the last night found when still open; n_diperbaiki_kembali:
    tonight's findings the region reported fixed. Ordered best first (the ranking).
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}")
    cols = LEVELS[level]
    key = "struct_pack(kode_prov, kode_kab)" if level == "kode_kab" else cols
    _build_marks(con, tanggal)
    try:
        df = con.sql(_expand(FIGURES_SQL, cols=key), params={"tanggal": tanggal}).pl()
    finally:
        con.execute("DROP TABLE IF EXISTS _tanggapan_tanda")
    if level == "kode_kab":
        return df.unnest("wilayah_")
    return df.rename({"wilayah_": "kode_prov" if level == "kode_prov" else "wilayah"})
