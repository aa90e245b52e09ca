"""The two fixed interfaces as data: export-v1 (input) and reports-v1 (findings).

Everything that names a table, a column or a type of the contracts imports it
from here, so the contracts are written down once. See
../shared/contract/export-v1.md and reports-v1.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

EXPORT_FORMAT = "coklit-export/1"
EXTENSIONS = ("parquet", "csv.gz")

# TMS codes of the voter-list regulation (Pemilu 2024, kept for Pilkada 2024).
TMS_MENINGGAL = 1
TMS_GANDA = 2
TMS_DI_BAWAH_UMUR = 3
TMS_PINDAH = 4
TMS_SALAH_TPS = 8

STATUS_COKLIT = ("BELUM", "MS", "UBAH", "BARU", "TMS")
STATUS_DITURUNKAN = ("BELUM", "MS", "UBAH", "TMS")  # handed-down records

PROVINCE_CODES = (
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "21",
    "31", "32", "33", "34", "35", "36",
    "51", "52", "53",
    "61", "62", "63", "64", "65",
    "71", "72", "73", "74", "75", "76",
    "81", "82",
    "91", "92", "93", "94", "95", "96",
)  # fmt: skip

TIMESTAMP = pl.Datetime("us", "UTC")

# reports-v1 NIK_TIDAK_VALID / NKK_TIDAK_VALID as regular expressions (the one
# definition, used by the rules and the linkage; one digit repeated is checked
# beside it): PP KK CC DD MM YY SSSS with PP a province code, DD 01-31 (men) or
# 41-71 (women), MM 01-12 and SSSS from 0001; an nkk is a province code and 14
# more digits.
_PROV = "(" + "|".join(PROVINCE_CODES) + ")"
_DAY = "(0[1-9]|[12][0-9]|3[01]|4[1-9]|[56][0-9]|7[01])"
_MONTH = "(0[1-9]|1[0-2])"
_SERIAL = "([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"
NIK_POLA = f"{_PROV}[0-9]{{4}}{_DAY}{_MONTH}[0-9]{{2}}{_SERIAL}"
NKK_POLA = f"{_PROV}[0-9]{{14}}"


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType
    nullable: bool = True
    digits: int | None = None  # a code of exactly this many digits


def _c(name: str, dtype: pl.DataType, nullable: bool = True, digits: int | None = None) -> Column:
    return Column(name, dtype, nullable, digits)


# One table of the export: its columns in contract order.
EXPORT_TABLES: dict[str, tuple[Column, ...]] = {
    "wilayah": (
        _c("kode_desa", pl.String(), False, 10),
        _c("nama_desa", pl.String(), False),
        _c("kode_kec", pl.String(), False, 6),
        _c("nama_kec", pl.String(), False),
        _c("kode_kab", pl.String(), False, 4),
        _c("nama_kab", pl.String(), False),
        _c("kode_prov", pl.String(), False, 2),
        _c("nama_prov", pl.String(), False),
    ),
    "tps": (
        _c("kode_desa", pl.String(), False, 10),
        _c("no_tps", pl.Int32(), False),
        _c("jumlah_diturunkan", pl.Int64(), False),
    ),
    "pantarlih": (
        _c("id_pantarlih", pl.String(), False),
        _c("kode_desa", pl.String(), False, 10),
        _c("no_tps", pl.Int32(), False),
        _c("terakhir_login", TIMESTAMP),
        _c("terakhir_sinkron", TIMESTAMP),
        _c("jumlah_tercoklit_app", pl.Int64(), False),
    ),
    # Value-level problems in pemilih (a 15-digit nik, an unknown TPS) are
    # findings, not file errors, so only what makes a row unreadable is strict.
    "pemilih": (
        _c("id_pemilih", pl.String(), False),
        _c("nik", pl.String()),
        _c("nkk", pl.String()),
        _c("nama", pl.String()),
        _c("tempat_lahir", pl.String()),
        _c("tanggal_lahir", pl.Date()),
        _c("jenis_kelamin", pl.String()),
        _c("status_kawin", pl.String()),
        _c("alamat", pl.String()),
        _c("rt", pl.String()),
        _c("rw", pl.String()),
        _c("disabilitas", pl.Int8()),
        _c("kode_desa", pl.String(), False, 10),
        _c("no_tps", pl.Int32()),
        _c("status_coklit", pl.String(), False),
        _c("kode_tms", pl.Int16()),
        _c("dokumen_tms", pl.String()),
        _c("id_pantarlih", pl.String()),
        _c("waktu_coklit", TIMESTAMP),
    ),
}


# reports-v1 v1.1: a value of the export becomes a path or a link only when it is a
# valid code of its kind: digits of the kind's length, starting with its parent's code.
# CODE_DIGITS/CODE_PARENT are the one definition; `valid_code` and `code_sql` apply it.
CODE_DIGITS = {"kode_prov": 2, "kode_kab": 4, "kode_kec": 6, "kode_desa": 10}
CODE_PARENT = {"kode_kab": "kode_prov", "kode_kec": "kode_kab", "kode_desa": "kode_kec"}


def valid_code(kind: str, value: object, parent: str | None = None) -> bool:
    """`value` is a code of `kind` (and starts with `parent` when it is given)."""
    n = CODE_DIGITS[kind]
    if not isinstance(value, str) or len(value) != n or not value.isascii():
        return False
    if not value.isdigit():
        return False
    return parent is None or value.startswith(parent)


def code_sql(kind: str, expr: str) -> str:
    """SQL (DuckDB) that is TRUE exactly when `expr` is a code of `kind` (digits only)."""
    return f"coalesce(regexp_full_match({expr}, '[0-9]{{{CODE_DIGITS[kind]}}}'), FALSE)"


def code_expr(kind: str, parent: str | None = None) -> pl.Expr:
    """Polars: TRUE where column `kind` is a code of its kind (starting with column `parent`)."""
    ok = pl.col(kind).str.contains(f"^[0-9]{{{CODE_DIGITS[kind]}}}$").fill_null(False)
    if parent is not None:
        ok = ok & pl.col(kind).str.starts_with(pl.col(parent)).fill_null(False)
    return ok


def schema(table: str) -> pl.Schema:
    """The polars schema a table of the export is read into."""
    return pl.Schema({c.name: c.dtype for c in EXPORT_TABLES[table]})


# --- reports-v1 -------------------------------------------------------------

TINGKAT = ("TINGGI", "SEDANG", "RENDAH")
STATUS_TEMUAN = ("BARU", "BERULANG")

DITANGANI_OLEH = ("PPS", "PPK", "KPU_KABKO", "PUSDATIN")  # who acts on a row (v1.1)
PRIORITAS = (1, 2, 3)  # 1 fix first (v1.1)


@dataclass(frozen=True)
class FindingField:
    """One column of the finding record. `stage` says who fills it: "raw" the rule or
    the linkage, "record" the findings step from the night's snapshot and the catalog
    (v1.1), "lifecycle" the history, "internal" never published."""

    name: str
    dtype: pl.DataType
    stage: str
    nullable: bool = True


# The finding record, written once: the published columns (reports-v1, then the
# v1.1 additions in their order), then the internal unit key. FINDING_COLUMNS,
# FINDING_SCHEMA, RAW_FINDING_SCHEMA, RECORD_FINDING_SCHEMA and the warehouse DDL
# (`finding_ddl`) are all derived from it.
FINDING_FIELDS: tuple[FindingField, ...] = (
    FindingField("tanggal_ekspor", pl.Date(), "lifecycle", False),
    FindingField("kode_temuan", pl.String(), "raw", False),
    FindingField("tingkat", pl.String(), "raw", False),
    FindingField("kode_prov", pl.String(), "raw"),
    FindingField("kode_kab", pl.String(), "raw"),
    FindingField("kode_kec", pl.String(), "raw"),
    FindingField("kode_desa", pl.String(), "raw"),
    FindingField("no_tps", pl.Int32(), "raw"),
    FindingField("id_pemilih", pl.String(), "raw"),
    FindingField("id_pantarlih", pl.String(), "raw"),
    FindingField("id_kelompok", pl.String(), "raw"),
    FindingField("keterangan", pl.String(), "raw"),
    FindingField("status_temuan", pl.String(), "lifecycle", False),
    FindingField("pertama_ditemukan", pl.Date(), "lifecycle", False),
    # v1.1: whose record it is and who acts on it
    FindingField("nama", pl.String(), "record"),
    FindingField("jenis_kelamin", pl.String(), "record"),
    FindingField("usia", pl.Int16(), "record"),
    FindingField("alamat", pl.String(), "record"),
    FindingField("rt", pl.String(), "record"),
    FindingField("rw", pl.String(), "record"),
    FindingField("nama_desa", pl.String(), "record"),
    FindingField("nama_kec", pl.String(), "record"),
    FindingField("ditangani_oleh", pl.String(), "record"),
    FindingField("prioritas", pl.Int8(), "record"),
    # the unit that makes a finding "the same finding" on two nights (reports-v1):
    # the record, the TPS (kode_desa:no_tps), the officer, the desa; for a duplicate
    # cluster the pair of records. Never published.
    FindingField("kunci", pl.String(), "internal", False),
)

# Record-level fields of v1.1: filled on record-level rows only.
RECORD_FIELDS = ("nama", "jenis_kelamin", "usia", "alamat", "rt", "rw")

# A finding as published (temuan.csv, temuan.parquet, selesai.csv), in order.
FINDING_COLUMNS: tuple[str, ...] = tuple(f.name for f in FINDING_FIELDS if f.stage != "internal")
FINDING_SCHEMA = pl.Schema({f.name: f.dtype for f in FINDING_FIELDS if f.stage != "internal"})

# What a rule or the linkage produces for one night: the "raw" fields and kunci.
RAW_FINDING_SCHEMA = pl.Schema(
    {f.name: f.dtype for f in FINDING_FIELDS if f.stage in ("raw", "internal")}
)
# What the findings step hands the lifecycle: raw plus the v1.1 "record" fields.
RECORD_FINDING_SCHEMA = pl.Schema(
    {f.name: f.dtype for f in FINDING_FIELDS if f.stage in ("raw", "record", "internal")}
)
# Every stored column (warehouse temuan / temuan_selesai), in order.
STORED_FINDING_COLUMNS: tuple[str, ...] = tuple(f.name for f in FINDING_FIELDS)

_SQL_TYPES = {pl.String(): "VARCHAR", pl.Date(): "DATE", pl.Int8(): "TINYINT",
              pl.Int16(): "SMALLINT", pl.Int32(): "INTEGER"}  # fmt: skip


def finding_sql_type(f: FindingField) -> str:
    return _SQL_TYPES[f.dtype]


def finding_ddl() -> str:
    """The warehouse's column list of a finding table (temuan, temuan_selesai)."""
    return ",\n  ".join(
        f"{f.name} {finding_sql_type(f)}{'' if f.nullable else ' NOT NULL'}" for f in FINDING_FIELDS
    )


def empty_raw_findings() -> pl.DataFrame:
    return pl.DataFrame(schema=RAW_FINDING_SCHEMA)
