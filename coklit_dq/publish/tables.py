"""The machine-readable files (temuan.csv, selesai.csv, temuan.parquet) and the two
rules every published table follows.

- `desa_order`: the one row order of every file and sheet (reports-v1 v1.1): the
  place (province, kab/kota, kecamatan, desa), TPS, RT, RW, name; then the code
  and the unit so the order is total. Rows with no desa come after a kab's desa.
- `neutralise`: no text cell starts with a character a spreadsheet evaluates
  (`=`, `+`, `-`, `@`, tab, CR, LF; also after leading spaces or invisible
  characters, and their full-width forms): such a value gets a leading `'`
  (OWASP CSV injection). Text that is not a code and that a spreadsheet would
  read as a number or a date (a name "2024-01-01", "1E5") gets it too. Codes
  (kode_*, id_*, rt, rw) stay exactly as exported: programs join on them, and
  the workbook is where people read them as text. Control characters (NUL, ESC,
  ...) become U+FFFD. Every csv the pipeline publishes goes through `write_csv`.

Exactly the reports-v1 columns in order (FINDING_COLUMNS); dates ISO; an empty
field is a null. The same frame always gives the same bytes.
"""

from __future__ import annotations

import io

import polars as pl

from coklit_dq.contract import FINDING_COLUMNS, FINDING_SCHEMA
from coklit_dq.privacy import INVISIBLE_CHARS

ORDER = [
    "kode_prov", "kode_kab", "kode_kec", "kode_desa", "no_tps", "rt", "rw", "nama",
    "kode_temuan", "id_pemilih", "id_pantarlih", "id_kelompok", "keterangan",
]  # fmt: skip

# OWASP: a cell starting with one of these is a formula in some spreadsheet; spreadsheets
# that trim spaces or ignore invisible characters see the sign after them (one pattern,
# for Python's re and polars' regex alike: literal characters, no escapes beyond \s)
_INVISIBLE = "\u00a0" + INVISIBLE_CHARS  # a no-break space, and every format character
_SPACE = " \t\n\r\x0b\x0c"  # spelled out: Python's \s and polars' differ (U+001C-1F)
FORMULA_START = f"^(?:[\t\r\n]|[{_SPACE}{_INVISIBLE}]*[=+\\-@\uff1d\uff0b\uff0d\uff20])"
# Text a spreadsheet reads as a number, a percentage, a date or a time ("2024-01-01",
# "1.234,5", "(12)", "50%", "1E5", "1/2")
NUMBER_LIKE = r"^\s*[-+(]?\s*\d[\d\s.,:/\-]*(?:[eE][-+]?\d+)?\s*%?\s*\)?\s*$"


def is_code(column: str) -> bool:
    """A column of codes and ids: published exactly as exported (see module doc)."""
    return column.startswith(("kode_", "id_")) or column in ("rt", "rw")


def desa_order(df: pl.DataFrame) -> pl.DataFrame:
    """`df` in desa-officer order (see module doc); columns it lacks are skipped."""
    keys = [c for c in ORDER if c in df.columns]
    return df.sort(keys, nulls_last=True, maintain_order=True) if keys else df


# Control characters other than tab and line breaks are no text (a NUL makes Python's csv
# reader refuse the whole file; ESC sequences recolour a terminal): each becomes U+FFFD,
# as the workbook escapes them its own way
CONTROL = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


def neutralise(df: pl.DataFrame) -> pl.DataFrame:
    """Every text column's control characters replaced (CONTROL), its formula-like
    values, and a non-code column's number-like values, prefixed by `'`."""
    text = [c for c, t in df.schema.items() if t == pl.String]
    df = df.with_columns(pl.col(c).str.replace_all(CONTROL, "\ufffd") for c in text)

    def risky(c: str) -> pl.Expr:
        formula = pl.col(c).str.contains(FORMULA_START)
        return formula if is_code(c) else formula | pl.col(c).str.contains(NUMBER_LIKE)

    return df.with_columns(
        pl.when(risky(c)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c) for c in text
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
