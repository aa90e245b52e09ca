"""The embedded warehouse: one DuckDB file holding what later nights need.

Tables (all keyed by tanggal_ekspor, the night):
  runs            one row per night: when it ran, its state, the manifest's `dibuat`
  files           every file of a night: used / quarantined, rows, the reason
  wilayah, tps, pantarlih, pemilih
                  the snapshots; only tonight and the previous night are kept
  agregat_desa    per-night counts per desa (kept for all nights: trends, drops)
  temuan          the findings history (all nights), reports-v1 columns + kunci
  temuan_selesai  per night, the previous night's findings that are gone
Other stages may add their own tables (prefix them: link_*, gx_*).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb

from coklit_dq.contract import (
    EXPORT_TABLES,
    FINDING_FIELDS,
    TIMESTAMP,
    Column,
    finding_ddl,
    finding_sql_type,
)
from coklit_dq.privacy import new_group_key, register_group_macro, register_mask_macro

import polars as pl  # isort: skip


def sql_type(col: Column) -> str:
    """The warehouse (DuckDB) type of a contract column."""
    t = col.dtype
    if t == pl.String():
        return "VARCHAR"
    if t == pl.Date():
        return "DATE"
    if t == TIMESTAMP:
        return "TIMESTAMPTZ"
    if t == pl.Int8():
        return "TINYINT"
    if t == pl.Int16():
        return "SMALLINT"
    if t == pl.Int32():
        return "INTEGER"
    if t == pl.Int64():
        return "BIGINT"
    raise TypeError(f"no SQL type for {t}")


def _snapshot_ddl(table: str, extra: str = "") -> str:
    cols = ",\n  ".join(f"{c.name} {sql_type(c)}" for c in EXPORT_TABLES[table])
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (\n  tanggal_ekspor DATE NOT NULL,\n  {cols}{extra}\n)"
    )


# The finding tables' columns, derived from the one finding record (contract.py).
FINDING_DDL_COLUMNS = finding_ddl()

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS runs (
  tanggal_ekspor DATE PRIMARY KEY,
  dibuat TIMESTAMPTZ,
  source VARCHAR,
  started_at TIMESTAMPTZ,
  finished_at TIMESTAMPTZ,
  state VARCHAR,          -- running | done | failed
  message VARCHAR
)""",
    """CREATE TABLE IF NOT EXISTS files (
  tanggal_ekspor DATE NOT NULL,
  path VARCHAR NOT NULL,  -- relative to the night folder, e.g. pemilih/32.parquet
  tabel VARCHAR,          -- wilayah | tps | pantarlih | pemilih | NULL (unknown file)
  kode_prov VARCHAR,      -- for pemilih files
  rows BIGINT,
  state VARCHAR NOT NULL, -- used | quarantined
  reason VARCHAR,         -- JSON: {"file", "line", "column", "expected", "found", "message"}
  PRIMARY KEY (tanggal_ekspor, path)
)""",
    _snapshot_ddl("wilayah"),
    _snapshot_ddl("tps"),
    _snapshot_ddl("pantarlih"),
    # baris: 1-based data row of the record in its file (for messages)
    _snapshot_ddl("pemilih", ",\n  baris BIGINT"),
    """CREATE TABLE IF NOT EXISTS agregat_desa (
  tanggal_ekspor DATE NOT NULL,
  kode_prov VARCHAR, kode_kab VARCHAR, kode_kec VARCHAR, kode_desa VARCHAR NOT NULL,
  n_rekaman BIGINT,      -- all records of the desa
  n_belum BIGINT, n_ms BIGINT, n_ubah BIGINT, n_baru BIGINT, n_tms BIGINT,
  n_aktif BIGINT,        -- records that are not TMS
  n_diturunkan BIGINT,   -- records with a handed-down status (BELUM, MS, UBAH, TMS)
  jumlah_diturunkan BIGINT, -- sum of tps.jumlah_diturunkan of the desa
  n_tps INTEGER,
  PRIMARY KEY (tanggal_ekspor, kode_desa)
)""",
    f"CREATE TABLE IF NOT EXISTS temuan ({FINDING_DDL_COLUMNS})",
    f"""CREATE TABLE IF NOT EXISTS temuan_selesai ({FINDING_DDL_COLUMNS},
  tanggal_selesai DATE NOT NULL
)""",
    # secrets of this warehouse (the key of kelompok_id); never published
    "CREATE TABLE IF NOT EXISTS rahasia (nama VARCHAR PRIMARY KEY, nilai VARCHAR NOT NULL)",
]

SNAPSHOT_TABLES = ("wilayah", "tps", "pantarlih", "pemilih")


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the warehouse and make sure its schema exists.

    Registers the privacy macros on the connection: mask_id(x), and
    kelompok_id(x) keyed with this warehouse's secret (see privacy.py).
    """
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    if not read_only:
        ensure_schema(con)
    register_mask_macro(con)  # TEMP macros: read-only connections take them too
    register_group_macro(con, _group_key(con, create=not read_only))
    return con


def _group_key(con: duckdb.DuckDBPyConnection, *, create: bool) -> str:
    """The warehouse's secret for kelompok_id, made once and kept (never published)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'rahasia'"
    ).fetchall()[0][0]
    rows = (
        con.execute("SELECT nilai FROM rahasia WHERE nama = 'kelompok'").fetchall()
        if exists
        else []
    )
    if rows:
        return str(rows[0][0])
    key = new_group_key()
    if create:
        con.execute("INSERT INTO rahasia VALUES ('kelompok', ?)", [key])
    return key


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    for ddl in SCHEMA:
        con.execute(ddl)
    # a warehouse made before a finding column was added gets it (nullable, empty)
    for table in ("temuan", "temuan_selesai"):
        for f in FINDING_FIELDS:
            if f.nullable:
                con.execute(
                    f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {f.name} {finding_sql_type(f)}"
                )


def previous_night(con: duckdb.DuckDBPyConnection, tanggal: date) -> date | None:
    """The latest night before `tanggal` that the warehouse has a snapshot of.

    A night counts when its run finished (not 'running') and at least one of its
    files was used; a night that could not be read at all has no snapshot.
    """
    row = con.execute(
        "SELECT max(r.tanggal_ekspor) FROM runs r WHERE r.tanggal_ekspor < ? "
        "AND r.state <> 'running' AND EXISTS (SELECT 1 FROM files f "
        "WHERE f.tanggal_ekspor = r.tanggal_ekspor AND f.state = 'used')",
        [tanggal],
    ).fetchall()  # fetchall: a half-read result blocks the connection's next con.sql
    return row[0][0] if row else None


def tables_set_aside(con: duckdb.DuckDBPyConnection, tanggal: date) -> set[str]:
    """Country-wide tables (wilayah, tps, pantarlih) with no used file tonight.

    Rules that need such a table cannot tell anything tonight: they are skipped,
    and their open findings are neither repeated nor resolved. A night with no
    `files` rows at all (loaded by hand, as in tests) has every table.
    """
    rows = con.execute(
        "SELECT tabel, bool_or(state = 'used') FROM files WHERE tanggal_ekspor = ? "
        "AND tabel IS NOT NULL GROUP BY tabel",
        [tanggal],
    ).fetchall()
    if not rows:
        return set()
    used = {t for t, ok in rows if ok}
    return {t for t in ("wilayah", "tps", "pantarlih") if t not in used}


def begin_run(
    con: duckdb.DuckDBPyConnection,
    tanggal: date,
    *,
    dibuat: datetime | None,
    source: str,
    started_at: datetime,
) -> None:
    """Insert or replace the night's `runs` row in state 'running'."""
    con.execute(
        "INSERT OR REPLACE INTO runs (tanggal_ekspor, dibuat, source, started_at, finished_at, "
        "state, message) VALUES (?, ?, ?, ?, NULL, 'running', NULL)",
        [tanggal, dibuat, source, started_at],
    )


def finish_run(con: duckdb.DuckDBPyConnection, tanggal: date, state: str, message: str) -> None:
    """Close the night's run: state 'done' or 'failed', a message, finished_at = now."""
    if state not in ("done", "failed", "running"):
        raise ValueError(f"unknown run state {state!r}")
    updated = con.execute(
        "UPDATE runs SET finished_at = now(), state = ?, message = ? WHERE tanggal_ekspor = ? "
        "RETURNING 1",
        [state, message, tanggal],
    ).fetchall()
    if not updated:
        con.execute(
            "INSERT INTO runs (tanggal_ekspor, started_at, finished_at, state, message) "
            "VALUES (?, now(), now(), ?, ?)",
            [tanggal, state, message],
        )


def snapshot_nights(con: duckdb.DuckDBPyConnection) -> list[date]:
    """Nights that still have rows in any snapshot table, oldest first."""
    union = " UNION ".join(f"SELECT DISTINCT tanggal_ekspor FROM {t}" for t in SNAPSHOT_TABLES)
    return [r[0] for r in con.execute(f"SELECT * FROM ({union}) ORDER BY 1").fetchall()]


def nights_to_keep(con: duckdb.DuckDBPyConnection, tanggal: date) -> set[date]:
    """Tonight, its previous night, and the latest night with its previous night.

    The checks compare a night with its previous night only, so two full
    snapshots are enough (loading an old night again keeps the newest pair too).
    """
    keep = {tanggal}
    prev = previous_night(con, tanggal)
    if prev:
        keep.add(prev)
    row = con.execute("SELECT max(tanggal_ekspor) FROM files WHERE state = 'used'").fetchall()
    latest = row[0][0] if row else None
    if latest and latest > tanggal:
        keep.add(latest)
        latest_prev = previous_night(con, latest)
        if latest_prev:
            keep.add(latest_prev)
    return keep


def prune_snapshots(con: duckdb.DuckDBPyConnection, tanggal: date) -> list[date]:
    """Drop snapshot rows of every night but `nights_to_keep`; returns the nights dropped.

    runs, files, agregat_desa and the findings are kept for all nights.
    """
    keep = sorted(nights_to_keep(con, tanggal))
    dropped = [d for d in snapshot_nights(con) if d not in keep]
    if dropped:
        for t in SNAPSHOT_TABLES:
            con.execute(f"DELETE FROM {t} WHERE list_contains(?, tanggal_ekspor)", [dropped])
    return dropped


def loaded_provinces(con: duckdb.DuckDBPyConnection, tanggal: date) -> list[str]:
    """Provinces whose pemilih file was used on `tanggal`."""
    rows = con.execute(
        "SELECT DISTINCT kode_prov FROM files WHERE tanggal_ekspor = ? AND tabel = 'pemilih' "
        "AND state = 'used' ORDER BY 1",
        [tanggal],
    ).fetchall()
    return [r[0] for r in rows]
