"""The machine-readable files: temuan.csv, selesai.csv and temuan.parquet, as bytes.

Exactly the reports-v1 columns in order (FINDING_COLUMNS); dates ISO; an
empty field is a null. The same frame always gives the same bytes.
"""

from __future__ import annotations

import io

import polars as pl

from coklit_dq.contract import FINDING_COLUMNS, FINDING_SCHEMA


def _contract(df: pl.DataFrame) -> pl.DataFrame:
    return df.select(FINDING_COLUMNS).cast(FINDING_SCHEMA)


def csv_bytes(df: pl.DataFrame) -> bytes:
    return _contract(df).write_csv(date_format="%Y-%m-%d", null_value="").encode("utf-8")


def parquet_bytes(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    _contract(df).write_parquet(buf, compression="zstd", statistics=True)
    return buf.getvalue()
