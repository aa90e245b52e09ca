"""The embedded warehouse: one DuckDB file holding what later nights need.

Tables (all keyed by tanggal_ekspor, the night):
  runs            one row per night: when it ran, its state, the manifest's `dibuat`
  files           every file of a night: used / quarantined, rows, the reason
  wilayah, tps, pantarlih, pemilih
                  the snapshots; only tonight and the previous night are kept
  agregat_desa    per-night counts per desa (kept for all nights: trends, drops)
  temuan          the findings history (all nights), reports-v1 columns + kunci
  temuan_selesai  per night, the previous night's findings that are gone
  perubahan_berlanjut
                  per night, the changes to records (this and earlier nights) that
                  still stand
Other stages may add their own tables (prefix them: link_*, gx_*).
"""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from coklit_dq.config import Settings

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
    # tps, pantarlih: nilai_tidak_valid as on pemilih (ingest/readers.py)
    _snapshot_ddl("tps", ",\n  nilai_tidak_valid VARCHAR"),
    _snapshot_ddl("pantarlih", ",\n  nilai_tidak_valid VARCHAR"),
    "ALTER TABLE tps ADD COLUMN IF NOT EXISTS nilai_tidak_valid VARCHAR",
    "ALTER TABLE pantarlih ADD COLUMN IF NOT EXISTS nilai_tidak_valid VARCHAR",
    # baris: 1-based data row of the record in its file (for messages)
    # nilai_tidak_valid: columns whose exported value could not be read as its type
    # (loaded as NULL; comma-separated names, NULL when all were read) - ingest/readers.py
    _snapshot_ddl("pemilih", ",\n  baris BIGINT,\n  nilai_tidak_valid VARCHAR"),
    "ALTER TABLE pemilih ADD COLUMN IF NOT EXISTS nilai_tidak_valid VARCHAR",
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
    # A province not loaded on a night (set aside, missing) keeps its last loaded
    # snapshot: its rows are carried into that night, so the next night compares
    # the province with its last loaded night (see carry_forward).
    """CREATE TABLE IF NOT EXISTS snapshot_dibawa (
  tanggal_ekspor DATE NOT NULL,
  kode_prov VARCHAR NOT NULL,
  dari_tanggal DATE NOT NULL,  -- the night the rows were loaded from a file
  PRIMARY KEY (tanggal_ekspor, kode_prov)
)""",
    # A change to a record (DATA_HILANG, STATUS_TIDAK_WAJAR) is a finding of the night it
    # is seen (reports-v1); the record stays as the change left it until someone acts.
    # Per night, the changes of this and earlier nights that still stand (lifecycle):
    # the regions are shown them beside the night's list, never in it.
    """CREATE TABLE IF NOT EXISTS perubahan_berlanjut (
  tanggal_ekspor DATE NOT NULL,     -- the night it still stands on
  kode_temuan VARCHAR NOT NULL,
  kunci VARCHAR NOT NULL,
  id_pemilih VARCHAR,
  kode_prov VARCHAR,                -- where it was found
  tanggal_perubahan DATE NOT NULL,  -- the night it was found (its row of temuan)
  keadaan VARCHAR NOT NULL,         -- the record as the change left it (lifecycle.KEADAAN)
  PRIMARY KEY (tanggal_ekspor, kode_temuan, kunci)
)""",
    # secrets of this warehouse (the key of kelompok_id); never published
    "CREATE TABLE IF NOT EXISTS rahasia (nama VARCHAR PRIMARY KEY, nilai VARCHAR NOT NULL)",
]

SNAPSHOT_TABLES = ("wilayah", "tps", "pantarlih", "pemilih")
# tables of TPS and officers whose unreadable values are kept as NULL + nilai_tidak_valid
UNREADABLE_TABLES = ("tps", "pantarlih")


def connect(
    path: str | Path,
    *,
    read_only: bool = False,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the warehouse and make sure its schema exists.

    memory_limit and threads are DuckDB's settings of the same name
    (Settings.duckdb_memory_limit, Settings.duckdb_threads; `connect_settings`).
    Registers the privacy macros on the connection: mask_id(x), and
    kelompok_id(x) keyed with this warehouse's secret (see privacy.py).
    """
    if str(path) != ":memory:" and not read_only:
        _private_folder(Path(path))
    config: dict[str, str | bool | int | float | list[str]] = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = int(threads)
    old = os.umask(0o077) if not read_only else None  # file and first WAL: owner only
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
        if not read_only:
            ensure_schema(con)
    finally:
        if old is not None:
            os.umask(old)
    if str(path) != ":memory:" and not read_only:
        Path(path).chmod(0o600)  # also a warehouse made before this rule
    register_mask_macro(con)  # TEMP macros: read-only connections take them too
    register_group_macro(con, _group_key(con, create=not read_only))
    return con


def _private_folder(path: Path) -> None:
    """The warehouse holds raw snapshots and the group-id secret: a folder made for it is
    0700 (the file itself is created 0600, see connect)."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.chmod(0o700)


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


def connect_settings(settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """The warehouse of `settings`, with its DuckDB memory limit and threads."""
    return connect(
        settings.warehouse,
        read_only=read_only,
        memory_limit=settings.duckdb_memory_limit,
        threads=settings.duckdb_threads,
    )


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


# A night the warehouse holds: its run finished (not 'running') and used at least one of
# its files; a night that could not be read at all (no folder, a mistyped date) is none.
_HELD = (
    "r.state <> 'running' AND EXISTS (SELECT 1 FROM files f "
    "WHERE f.tanggal_ekspor = r.tanggal_ekspor AND f.state = 'used')"
)


def previous_night(con: duckdb.DuckDBPyConnection, tanggal: date) -> date | None:
    """The latest night before `tanggal` that the warehouse holds (`_HELD`)."""
    row = con.execute(
        f"SELECT max(r.tanggal_ekspor) FROM runs r WHERE r.tanggal_ekspor < ? AND {_HELD}",
        [tanggal],
    ).fetchall()  # fetchall: a half-read result blocks the connection's next con.sql
    return row[0][0] if row else None


# The nights the warehouse holds (`_HELD`), as a subquery: what a killed night left
# (findings recorded before it died) is not read by later nights as "found before".
HELD_NIGHTS_SQL = f"SELECT r.tanggal_ekspor FROM runs r WHERE {_HELD}"


def is_held(con: duckdb.DuckDBPyConnection, tanggal: date) -> bool:
    row = con.execute(
        f"SELECT count(*) FROM runs r WHERE r.tanggal_ekspor = ? AND {_HELD}", [tanggal]
    )
    return bool(row.fetchall()[0][0])


def held_after(con: duckdb.DuckDBPyConnection, tanggal: date) -> list[date]:
    """Every night after `tanggal` the warehouse holds, oldest first."""
    rows = con.execute(
        f"SELECT r.tanggal_ekspor FROM runs r WHERE r.tanggal_ekspor > ? AND {_HELD} ORDER BY 1",
        [tanggal],
    ).fetchall()
    return [r[0] for r in rows]


def next_night(con: duckdb.DuckDBPyConnection, tanggal: date) -> date | None:
    """The earliest night after `tanggal` that the warehouse holds (`_HELD`)."""
    row = con.execute(
        f"SELECT min(r.tanggal_ekspor) FROM runs r WHERE r.tanggal_ekspor > ? AND {_HELD}",
        [tanggal],
    ).fetchall()
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


def nights_to_keep(
    con: duckdb.DuckDBPyConnection, tanggal: date, retention_nights: int | None = None
) -> set[date] | None:
    """The nights whose snapshots are kept; None: every night.

    A rerun of a night needs the snapshot of its previous night, so a night is
    rerun exactly only while that snapshot is kept. `retention_nights` (the
    setting snapshot_retention_nights) keeps the newest N nights that have a
    snapshot, plus tonight and its previous night; None keeps all of them.
    """
    if retention_nights is None:
        return None
    nights = snapshot_nights(con)
    keep = set(nights[-max(retention_nights, 1) :]) | {tanggal}
    prev = previous_night(con, tanggal)
    if prev:
        keep.add(prev)
    return keep


def prune_snapshots(
    con: duckdb.DuckDBPyConnection, tanggal: date, retention_nights: int | None = None
) -> list[date]:
    """Drop snapshot rows of every night but `nights_to_keep`; returns the nights dropped.

    runs, files, agregat_desa and the findings are kept for all nights.
    """
    keep = nights_to_keep(con, tanggal, retention_nights)
    if keep is None:
        return []
    dropped = [d for d in snapshot_nights(con) if d not in keep]
    if dropped:
        for t in SNAPSHOT_TABLES:
            con.execute(f"DELETE FROM {t} WHERE list_contains(?, tanggal_ekspor)", [dropped])
        con.execute("DELETE FROM snapshot_dibawa WHERE list_contains(?, tanggal_ekspor)", [dropped])
    return dropped


class SnapshotGone(RuntimeError):
    """The night before a rerun night has no snapshot any more: the rerun cannot be exact."""


def check_rerun(con: duckdb.DuckDBPyConnection, tanggal: date) -> None:
    """Refuse a night whose previous night ran but whose snapshot was pruned.

    Without it the checks that compare two nights would silently find nothing
    (every DATA_HILANG, STATUS_TIDAK_WAJAR, PENURUNAN_TAJAM lost).
    """
    prev = previous_night(con, tanggal)
    if prev is None or prev in snapshot_nights(con):
        return
    raise SnapshotGone(
        f"the snapshot of {prev}, the night before {tanggal}, was pruned "
        "(setting snapshot_retention_nights); a rerun of "
        f"{tanggal} would not give its first run's findings, so it is refused"
    )


def clear_carried(con: duckdb.DuckDBPyConnection, tanggal: date) -> None:
    """Forget what an earlier run of this night carried (the night is being loaded again)."""
    con.execute("DELETE FROM snapshot_dibawa WHERE tanggal_ekspor = ?", [tanggal])


def carry_forward(con: duckdb.DuckDBPyConnection, tanggal: date) -> list[str]:
    """Give each province not loaded tonight its last loaded snapshot as tonight's.

    A province set aside or missing tonight would otherwise have no rows
    tonight, and tomorrow would compare it with nothing. Its pemilih rows and
    agregat_desa rows of the latest earlier night that has them are copied to
    tonight and recorded in snapshot_dibawa, so `loaded_provinces(con, tonight,
    tonight)` includes it. Returns the provinces carried.
    """
    clear_carried(con, tanggal)
    loaded = set(loaded_provinces(con, tanggal))
    rows = con.execute(
        f"""
        SELECT kode_prov, max(tanggal_ekspor) FROM (
          SELECT tanggal_ekspor, kode_prov FROM files
          WHERE tabel = 'pemilih' AND state = 'used' AND kode_prov IS NOT NULL
          UNION ALL SELECT tanggal_ekspor, kode_prov FROM snapshot_dibawa
        ) WHERE tanggal_ekspor < ? AND tanggal_ekspor IN ({HELD_NIGHTS_SQL})
        GROUP BY kode_prov ORDER BY kode_prov
        """,
        [tanggal],
    ).fetchall()
    carried = []
    for prov, dari in rows:
        if prov in loaded:
            continue
        has_rows = con.execute(
            "SELECT count(*) FROM pemilih WHERE tanggal_ekspor = ? AND left(kode_desa, 2) = ?",
            [dari, prov],
        ).fetchall()[0][0]
        if not has_rows:  # that snapshot was pruned: nothing to carry
            continue
        con.execute(
            "DELETE FROM pemilih WHERE tanggal_ekspor = ? AND left(kode_desa, 2) = ?",
            [tanggal, prov],
        )
        con.execute(
            "INSERT INTO pemilih SELECT * REPLACE (CAST(? AS DATE) AS tanggal_ekspor) "
            "FROM pemilih WHERE tanggal_ekspor = ? AND left(kode_desa, 2) = ?",
            [tanggal, dari, prov],
        )
        con.execute(
            "DELETE FROM agregat_desa WHERE tanggal_ekspor = ? AND kode_prov = ?", [tanggal, prov]
        )
        con.execute(
            "INSERT INTO agregat_desa SELECT * REPLACE (CAST(? AS DATE) AS tanggal_ekspor) "
            "FROM agregat_desa WHERE tanggal_ekspor = ? AND kode_prov = ?",
            [tanggal, dari, prov],
        )
        con.execute("INSERT INTO snapshot_dibawa VALUES (?, ?, ?)", [tanggal, prov, dari])
        carried.append(prov)
    return carried


def loaded_provinces(con: duckdb.DuckDBPyConnection, tanggal: date) -> list[str]:
    """Provinces whose pemilih file was used on `tanggal`, and those carried into it.

    A carried province (not loaded that night, its last loaded snapshot copied
    in by `carry_forward` when the night finished) counts for a later night
    comparing with `tanggal`. Tonight's carry is made when the night finishes
    and cleared when it is loaded again (`clear_carried`), so a province not
    loaded tonight is never taken as loaded by tonight's own steps.
    """
    rows = con.execute(
        "SELECT DISTINCT kode_prov FROM files WHERE tanggal_ekspor = ? AND tabel = 'pemilih' "
        "AND state = 'used' UNION SELECT kode_prov FROM snapshot_dibawa "
        "WHERE tanggal_ekspor = ? ORDER BY 1",
        [tanggal, tanggal],
    ).fetchall()
    return [r[0] for r in rows]
