"""The finding record, completed: whose record a finding is and who acts on it.

    complete_findings(con, tanggal, raw, hari_pemungutan=None) -> RECORD_FINDING_SCHEMA

The rules and the linkage produce RAW_FINDING_SCHEMA; before the history is
written (lifecycle), each row gets the v1.1 fields of reports-v1 from the
night's snapshot and the catalog, so temuan, temuan_selesai and every file
published from them carry the same values:

- record-level rows (catalog unit `pemilih`): nama, jenis_kelamin, alamat, rt,
  rw as exported, and usia (whole years on polling day) — tonight's record, or
  the night before's when it is gone tonight (DATA_HILANG). The birth date
  itself is never copied.
- every row: nama_desa and nama_kec from wilayah; ditangani_oleh and prioritas
  from the catalog (expectations/rules/<KODE>.yaml).
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from coklit_dq import warehouse
from coklit_dq.contract import RAW_FINDING_SCHEMA, RECORD_FINDING_SCHEMA
from coklit_dq.rules.catalog import load_catalog

# Codes not in the catalog (none today) are handed to the KPU Kabupaten/Kota, last.
DEFAULT_PRIORITAS = 3
DEFAULT_DITANGANI = "KPU_KABKO"

_SQL = """
WITH p AS (
  SELECT tanggal_ekspor, id_pemilih, nama, jenis_kelamin, tanggal_lahir, alamat, rt, rw
  FROM pemilih WHERE tanggal_ekspor IN ($1, $2)
  QUALIFY row_number() OVER (PARTITION BY id_pemilih
                             ORDER BY tanggal_ekspor = $1 DESC, baris NULLS LAST) = 1
), w AS (
  SELECT * FROM wilayah
  WHERE tanggal_ekspor = (SELECT max(tanggal_ekspor) FROM wilayah WHERE tanggal_ekspor <= $1)
), desa AS (SELECT DISTINCT kode_desa, nama_desa FROM w),
kec AS (SELECT kode_kec, any_value(nama_kec) AS nama_kec FROM w GROUP BY kode_kec)
SELECT r.*,
       p.nama, p.jenis_kelamin,
       CAST(year($3::DATE) - year(p.tanggal_lahir)
            - CASE WHEN month($3::DATE) * 100 + day($3::DATE)
                        < month(p.tanggal_lahir) * 100 + day(p.tanggal_lahir)
                   THEN 1 ELSE 0 END AS SMALLINT) AS usia,
       p.alamat, p.rt, p.rw,
       desa.nama_desa, kec.nama_kec,
       coalesce(c.ditangani_oleh, $4) AS ditangani_oleh,
       CAST(coalesce(c.prioritas, $5) AS TINYINT) AS prioritas
FROM _temuan_mentah r
LEFT JOIN _temuan_katalog c USING (kode_temuan)
LEFT JOIN p ON c.unit = 'pemilih' AND p.id_pemilih = r.id_pemilih
LEFT JOIN desa ON desa.kode_desa = r.kode_desa
LEFT JOIN kec ON kec.kode_kec = r.kode_kec
"""


def catalog_frame() -> pl.DataFrame:
    """kode_temuan -> unit, prioritas, ditangani_oleh (from the catalog's YAML)."""
    rules = list(load_catalog().values())
    return pl.DataFrame(
        {
            "kode_temuan": [r.kode_temuan for r in rules],
            "unit": [r.unit for r in rules],
            "prioritas": [r.prioritas for r in rules],
            "ditangani_oleh": [r.ditangani_oleh for r in rules],
        },
        schema={"kode_temuan": pl.String, "unit": pl.String, "prioritas": pl.Int8,
                "ditangani_oleh": pl.String},
    )  # fmt: skip


def complete_findings(
    con: duckdb.DuckDBPyConnection,
    tanggal: date,
    raw: pl.DataFrame,
    hari_pemungutan: date | None = None,
) -> pl.DataFrame:
    """`raw` (RAW_FINDING_SCHEMA) with the v1.1 fields, in RECORD_FINDING_SCHEMA, same order.

    Without `hari_pemungutan` usia stays empty (the night's date is not polling day).
    """
    frame = raw.select(pl.col(c).cast(t) for c, t in RAW_FINDING_SCHEMA.items())
    frame = frame.with_row_index("_urutan")
    lalu = warehouse.previous_night(con, tanggal)
    con.complete()
    con.register("_temuan_mentah", frame.to_arrow())
    con.register("_temuan_katalog", catalog_frame().to_arrow())
    try:
        out = con.sql(
            _SQL + " ORDER BY r._urutan",
            params=[tanggal, lalu, hari_pemungutan, DEFAULT_DITANGANI, DEFAULT_PRIORITAS],
        ).pl()
    finally:
        con.unregister("_temuan_mentah")
        con.unregister("_temuan_katalog")
    return out.select(pl.col(c).cast(t) for c, t in RECORD_FINDING_SCHEMA.items())
