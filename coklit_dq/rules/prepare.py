"""Stage 2: build the prepared tables the rules validate (sql/prepare.sql).

Everything that needs a join, a window or last night is computed here in
DuckDB, once, as facts (the nik's parts, age on polling day, counts per id,
family and TPS, last night's status); whether a fact is a problem is decided by
the rules' Great Expectations expectations. The prepared tables are TEMP tables
of the connection (prefix prep_).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from coklit_dq import warehouse
from coklit_dq.config import Settings

SQL_FILE = Path(__file__).with_name("sql") / "prepare.sql"
# Set by the ingest (h10): names of the columns whose exported value could not be
# read, NULL when fine. A warehouse made before that column existed reads NULL.
NILAI_TIDAK_VALID = "nilai_tidak_valid"


@dataclass(frozen=True)
class PreparedTable:
    """How a prepared table becomes findings: its unit and where its columns come from."""

    name: str  # rekaman | rekaman_lalu | tps | desa | pantarlih
    no_tps: bool
    id_pemilih: bool
    id_pantarlih: bool
    kunci: str  # SQL over the table's columns

    @property
    def table(self) -> str:
        """The prepared table (or view) with every column a message may show."""
        return f"prep_{self.name}"

    @property
    def facts(self) -> str:
        """What Great Expectations reads: materialized (records: rid + their facts)."""
        return f"prep_fakta_{self.name}" if self.name in RECORD_TABLES else self.table


RECORD_TABLES = ("rekaman", "rekaman_lalu")

TABLES: dict[str, PreparedTable] = {
    t.name: t
    for t in (
        PreparedTable("rekaman", True, True, True, "id_pemilih"),
        PreparedTable("rekaman_lalu", True, True, True, "id_pemilih"),
        PreparedTable("tps", True, False, False, "kode_desa || ':' || no_tps"),
        PreparedTable("desa", False, False, False, "kode_desa"),
        PreparedTable("pantarlih", True, False, True, "id_pantarlih"),
    )
}


@dataclass(frozen=True)
class Night:
    """What the rules know about the night before they look at a record."""

    tanggal: date
    lalu: date | None  # the previous night, None on the first night
    dibuat: datetime | None  # the manifest's timestamp
    prov_kini: tuple[str, ...]  # provinces whose pemilih file was used tonight
    prov_banding: tuple[str, ...]  # ... tonight and last night: the only ones compared


def night_of(con: duckdb.DuckDBPyConnection, tanggal: date) -> Night:
    lalu = warehouse.previous_night(con, tanggal)
    kini = warehouse.loaded_provinces(con, tanggal)
    banding = sorted(set(kini) & set(warehouse.loaded_provinces(con, lalu))) if lalu else []
    rows = con.execute("SELECT dibuat FROM runs WHERE tanggal_ekspor = ?", [tanggal]).fetchall()
    return Night(tanggal, lalu, rows[0][0] if rows else None, tuple(kini), tuple(banding))


def set_variables(con: duckdb.DuckDBPyConnection, night: Night, settings: Settings) -> None:
    con.execute("SET VARIABLE tanggal = CAST(? AS DATE)", [night.tanggal])
    con.execute("SET VARIABLE lalu = CAST(? AS DATE)", [night.lalu])
    con.execute("SET VARIABLE dibuat = CAST(? AS TIMESTAMPTZ)", [night.dibuat])
    con.execute("SET VARIABLE prov_kini = CAST(? AS VARCHAR[])", [list(night.prov_kini)])
    con.execute("SET VARIABLE prov_banding = CAST(? AS VARCHAR[])", [list(night.prov_banding)])
    con.execute("SET VARIABLE hari = CAST(? AS DATE)", [settings.election.hari_pemungutan])


def prepare_sql(con: duckdb.DuckDBPyConnection) -> str:
    """prepare.sql for this warehouse: with or without the ingest's nilai_tidak_valid."""
    cols = {r[0] for r in con.execute("SELECT name FROM pragma_table_info('pemilih')").fetchall()}
    expr = NILAI_TIDAK_VALID if NILAI_TIDAK_VALID in cols else "NULL::VARCHAR"
    return SQL_FILE.read_text(encoding="utf-8").replace("{nilai_tidak_valid}", expr)


_CREATED = re.compile(r"CREATE OR REPLACE TEMP (?:TABLE|VIEW) (\w+)")


def prepare_steps(
    con: duckdb.DuckDBPyConnection, night: Night, settings: Settings
) -> Iterator[str]:
    """Create the prep_* tables for `night`, yielding each name once it exists.

    The caller can hand a finished table to Great Expectations while DuckDB
    goes on with the next one.
    """
    set_variables(con, night, settings)
    for statement in prepare_sql(con).split("\n;;\n"):
        con.execute(statement)
        m = _CREATED.search(statement)
        if m:
            yield m.group(1)


def prepare(con: duckdb.DuckDBPyConnection, night: Night, settings: Settings) -> None:
    """Create every prep_* table for `night` on this connection."""
    for _ in prepare_steps(con, night, settings):
        pass


def drop_prepared(con: duckdb.DuckDBPyConnection) -> None:
    """Drop every prep_* table and view of this connection."""
    rows = con.execute(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_name LIKE 'prep\\_%' ESCAPE '\\' AND table_schema = 'main' "
        "AND table_catalog = 'temp'"
    ).fetchall()
    for name, kind in sorted(rows, key=lambda r: r[1] != "VIEW"):
        con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS temp.{name}")
