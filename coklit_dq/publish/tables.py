"""The machine-readable files (temuan.csv, selesai.csv, temuan.parquet) and the two
rules every published table follows.

- `desa_order`: the one row order of every file and sheet (reports-v1 v1.1): the
  place (province, kab/kota, kecamatan, desa), TPS, RT, RW, name; then the code
  and the unit so the order is total. Rows with no desa come after a kab's desa.
- `neutralise`: no text cell starts with a character a spreadsheet evaluates
  (`=`, `+`, `-`, `@`, tab, CR): such a value gets a leading `'` (OWASP CSV
  injection). Every csv the pipeline publishes goes through `csv_bytes`.

Exactly the reports-v1 columns in order (FINDING_COLUMNS); dates ISO; an empty
field is a null. The same frame always gives the same bytes.
"""

from __future__ import annotations

import io

import polars as pl

from coklit_dq.contract import FINDING_COLUMNS, FINDING_SCHEMA

ORDER = [
    "kode_prov", "kode_kab", "kode_kec", "kode_desa", "no_tps", "rt", "rw", "nama",
    "kode_temuan", "id_pemilih", "id_pantarlih", "id_kelompok", "keterangan",
]  # fmt: skip

# OWASP: a cell starting with one of these is a formula in some spreadsheet
FORMULA_START = r"^[=+\-@\t\r]"


def desa_order(df: pl.DataFrame) -> pl.DataFrame:
    """`df` in desa-officer order (see module doc); columns it lacks are skipped."""
    keys = [c for c in ORDER if c in df.columns]
    return df.sort(keys, nulls_last=True, maintain_order=True) if keys else df


def safe_text(value: str) -> str:
    """One text value as `neutralise` writes it."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def neutralise(df: pl.DataFrame) -> pl.DataFrame:
    """Every text column with formula-starting values prefixed by `'`."""
    text = [c for c, t in df.schema.items() if t == pl.String]
    return df.with_columns(
        pl.when(pl.col(c).str.contains(FORMULA_START))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in text
    )


def contract_frame(df: pl.DataFrame) -> pl.DataFrame:
    """The published columns, types and order of a frame of findings."""
    return desa_order(df.select(FINDING_COLUMNS).cast(FINDING_SCHEMA))


def write_csv(df: pl.DataFrame) -> bytes:
    """Any table as csv bytes, neutralised (the one csv writer of the outbox)."""
    return neutralise(df).write_csv(date_format="%Y-%m-%d", null_value="").encode("utf-8")


def csv_bytes(df: pl.DataFrame) -> bytes:
    return write_csv(contract_frame(df))


def parquet_bytes(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    contract_frame(df).write_parquet(buf, compression="zstd", statistics=True)
    return buf.getvalue()
