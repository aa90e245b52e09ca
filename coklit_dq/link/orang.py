"""GANDA_ORANG: score candidate pairs with the committed model, carry them night to night.

The first night (or on demand, ``full=True``) links every record that is not TMS.
Later nights score only the records that are new or changed since the night
before (HASH_COLUMNS differ), within themselves and against the standing ones,
and keep the standing pairs whose two records did not change. State, in the
warehouse:

  link_rekaman   id and hash of the records of the last linked night
  link_pasangan  their scored pairs at or above the floor
  link_malam     one row per linked night: mode, counts, seconds, model checksum

Memory (DuckDB backend): Splink works on a cursor of the warehouse connection whose
default database is an in-memory database attached for the run (SPLINK_DB), so the
records, Splink's tables and the warehouse share ONE DuckDB buffer pool, capped by
the warehouse's memory_limit and threads (Settings.duckdb_memory_limit,
duckdb_threads) and spilling to its temp directory. The records reach Splink as
tables of that database (never as Python/arrow copies) and the scored pairs go back
to link_pasangan in SQL. The warehouse's own schema is never Splink's: the cursor's
default database is SPLINK_DB, and it is detached when the run ends.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa

from coklit_dq import warehouse
from coklit_dq.link import model as mdl
from coklit_dq.link.sql import HASH_EXPR, PREP_BASE, PREP_SELECT
from linkage import settings as model_settings

log = logging.getLogger("coklit_dq.link")

PREP_COLUMNS = (
    "unique_id", "nik", "nik_a", "nik_b", "nik_c", "nik_d", "nik_wil", "nama_norm", "nama_depan",
    "nama_inti", "nama_rapat", "nama_kunci", "nama_urut", "tgl", "tgl_tukar", "tgl_hari", "tgl_bh",
    "tgl_tahun", "tgl_samar", "jenis_kelamin", "tempat_lahir", "baru",
    "kode_desa", "kode_kec", "kode_kab", "kode_prov",
)  # fmt: skip
# Term-frequency lookups (column -> SQL) over the whole night, registered with
# Splink for every run (also for a night's changes).
TF_SQL = {
    c: f"SELECT {c}, count(*) / (SELECT count(*) FROM _link_ini) AS tf_{c} "
    f"FROM _link_ini WHERE {c} IS NOT NULL GROUP BY {c}"
    for c in model_settings.TF_COLUMNS
}

STATE_DDL = (
    "CREATE TABLE IF NOT EXISTS link_rekaman (unique_id VARCHAR, hash VARCHAR)",
    """CREATE TABLE IF NOT EXISTS link_pasangan (
      id_l VARCHAR, id_r VARCHAR, match_probability DOUBLE, match_weight DOUBLE,
      gamma_nik INTEGER, gamma_nama INTEGER, gamma_tgl_lahir INTEGER,
      gamma_jenis_kelamin INTEGER, gamma_tempat_lahir INTEGER, gamma_asal INTEGER,
      gamma_wilayah INTEGER)""",
    """CREATE TABLE IF NOT EXISTS link_malam (
      tanggal_ekspor DATE PRIMARY KEY, mode VARCHAR, rekaman BIGINT, berubah BIGINT,
      pasangan BIGINT, detik DOUBLE, model VARCHAR, backend VARCHAR)""",
)


@dataclass
class LinkStats:
    mode: str  # full | incremental
    rekaman: int
    berubah: int
    pasangan: int
    detik: float


def model_checksum(model: dict[str, Any]) -> str:
    import json

    return hashlib.sha256(json.dumps(model, sort_keys=True).encode()).hexdigest()[:16]


def prepare(con: duckdb.DuckDBPyConnection, tanggal: date) -> None:
    """Temp table _link_ini: tonight's records that are not TMS, prepared, with hash.

    One row per id_pemilih (a GANDA_ID duplicate is linked once)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _link_ini AS
        WITH night AS (
          SELECT * FROM pemilih WHERE tanggal_ekspor = $tanggal AND status_coklit <> 'TMS'
        ), dup AS (
          SELECT id_pemilih, min(baris) AS b FROM night GROUP BY 1 HAVING count(*) > 1
        ), src AS (
          {PREP_BASE}, {HASH_EXPR} AS hash
          FROM night LEFT JOIN dup USING (id_pemilih)
          WHERE dup.b IS NULL OR night.baris = dup.b
        )
        {PREP_SELECT}, $tanggal::DATE AS tanggal_ekspor, hash, nkk FROM src""",
        {"tanggal": tanggal},
    )


def _arrow(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> pa.Table:
    return con.sql(sql, params=params).to_arrow_table()


# The in-memory database Splink works in (DuckDB backend), attached to the warehouse's
# instance for one run: same buffer pool, same memory_limit/threads/temp directory.
SPLINK_DB = "link_splink"


class _Backend:
    """Where Splink scores tonight's records: `table(name, sql)` makes a backend table of
    a query on the warehouse connection; `pairs(result)` is the SQL relation of a result's
    scored pairs, readable from the warehouse connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, backend: str, settings: Any) -> None:
        self.con = con
        self.spark = backend == "spark"
        self._cursor: duckdb.DuckDBPyConnection | None = None
        if self.spark:
            from coklit_dq.link.spark import spark_api

            self.api = spark_api(settings)
            return
        from splink import DuckDBAPI

        con.execute(f"DETACH DATABASE IF EXISTS {SPLINK_DB}")
        con.execute(f"ATTACH ':memory:' AS {SPLINK_DB}")
        self._cursor = con.cursor()
        self._cursor.execute(f"USE {SPLINK_DB}")
        self.api = DuckDBAPI(connection=self._cursor)

    def table(self, name: str, sql: str) -> Any:
        if self.spark:
            from coklit_dq.link.spark import to_spark

            return to_spark(self.api, _arrow(self.con, sql))
        # A name no warehouse table has: Splink reads a table's columns from
        # information_schema by table name alone, across attached databases.
        name = f"_splink_in_{name}"
        self.con.execute(f"CREATE TABLE {SPLINK_DB}.main.{name} AS {sql}")
        return name  # Splink registers an existing table by its name

    def insert_pairs(self, result: Any) -> None:
        if self.spark:
            _insert_pairs(self.con, mdl.to_arrow(result))
        else:
            _insert_pairs(self.con, f"{SPLINK_DB}.main.{result.physical_name}")

    def close(self) -> None:
        if self.spark:
            from coklit_dq.link.spark import drop_inputs

            drop_inputs()
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None
            self.con.execute(f"DETACH DATABASE IF EXISTS {SPLINK_DB}")


def score(
    con: duckdb.DuckDBPyConnection,
    tanggal: date,
    *,
    backend: str = "duckdb",
    full: bool = False,
    model: dict[str, Any] | None = None,
    settings: Any = None,
) -> LinkStats:
    """Score tonight's pairs into link_pasangan and roll link_rekaman forward."""
    t0 = time.perf_counter()
    model = model or mdl.load_model()
    checksum = model_checksum(model)
    prepare(con, tanggal)
    log.info("linkage: prepared the night's records in %.1f s", time.perf_counter() - t0)
    # the prior follows the night's size; the checksum above stays the trained model's
    n_night = con.execute("SELECT count(*) FROM _link_ini").fetchall()[0][0]
    model = mdl.for_population(model, n_night)
    _migrate(con)
    for ddl in STATE_DDL:
        con.execute(ddl)
    prev = warehouse.previous_night(con, tanggal)
    rows = con.execute(
        "SELECT tanggal_ekspor, model FROM link_malam ORDER BY tanggal_ekspor DESC LIMIT 1"
    ).fetchall()
    last = rows[0] if rows else None
    incremental = (
        not full
        and prev is not None
        and last is not None
        and last[0] == prev
        and last[1] == checksum
    )
    cols = ", ".join(PREP_COLUMNS)
    be = _Backend(con, backend, settings)
    try:
        tf = {c: be.table(f"tf_{c}", sql) for c, sql in TF_SQL.items()}
        if not incremental:
            records = be.table("rekaman", f"SELECT {cols} FROM _link_ini")
            res = mdl.score_within(be.api, records, model, tf)
            con.execute("DELETE FROM link_pasangan")
            be.insert_pairs(res)
            con.execute("DELETE FROM link_rekaman")
            con.execute("INSERT INTO link_rekaman SELECT unique_id, hash FROM _link_ini")
            berubah = n_night
        else:
            berubah = _score_changes(con, be, cols, model, tf)
    finally:
        be.close()
    n_pairs = con.execute("SELECT count(*) FROM link_pasangan").fetchall()[0][0]
    stats = LinkStats(
        mode="incremental" if incremental else "full",
        rekaman=int(n_night),
        berubah=int(berubah),
        pasangan=int(n_pairs),
        detik=round(time.perf_counter() - t0, 3),
    )
    con.execute(
        "INSERT OR REPLACE INTO link_malam VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            tanggal,
            stats.mode,
            stats.rekaman,
            stats.berubah,
            stats.pasangan,
            stats.detik,
            checksum,
            backend,
        ],
    )
    log.info(
        "linkage %s: %d records, %d scored, %d pairs in %.1f s",
        stats.mode,
        stats.rekaman,
        stats.berubah,
        stats.pasangan,
        stats.detik,
    )
    return stats


def _score_changes(
    con: duckdb.DuckDBPyConnection, be: _Backend, cols: str, model: dict[str, Any], tf: Any
) -> int:
    """Incremental: drop the pairs of records changed or gone, score the changed ones
    within themselves and against the standing ones that share a block; roll
    link_rekaman forward. Returns how many records were scored."""
    # Changed: new ids or a different hash; gone: in the state, not tonight.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _link_berubah AS
        SELECT i.unique_id FROM _link_ini i ANTI JOIN link_rekaman r
          ON r.unique_id = i.unique_id AND r.hash = i.hash"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _link_lepas AS
        SELECT unique_id FROM _link_berubah
        UNION ALL
        SELECT r.unique_id FROM link_rekaman r ANTI JOIN _link_ini i USING (unique_id)"""
    )
    con.execute(
        """DELETE FROM link_pasangan WHERE id_l IN (SELECT unique_id FROM _link_lepas)
           OR id_r IN (SELECT unique_id FROM _link_lepas)"""
    )
    berubah = int(con.execute("SELECT count(*) FROM _link_berubah").fetchall()[0][0])
    if berubah:
        _candidates(con)
        changed = be.table(
            "berubah", f"SELECT {cols} FROM _link_ini SEMI JOIN _link_berubah USING (unique_id)"
        )
        standing = be.table("tetap", f"SELECT {cols} FROM _link_kandidat")
        for res in mdl.score_new(be.api, changed, standing=standing, model=model, tf=tf):
            be.insert_pairs(res)
    con.execute("DELETE FROM link_rekaman WHERE unique_id IN (SELECT unique_id FROM _link_lepas)")
    con.execute(
        "INSERT INTO link_rekaman SELECT unique_id, hash FROM _link_ini "
        "SEMI JOIN _link_berubah USING (unique_id)"
    )
    return berubah


def _candidates(con: duckdb.DuckDBPyConnection) -> None:
    """_link_kandidat: the standing records (not changed tonight) that share a block
    with a changed one, found in DuckDB with the blocking rules as declared in
    linkage/settings.py (columns that must be equal), so Splink gets thousands of
    standing records instead of the whole list."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _link_ubah AS
        SELECT * FROM _link_ini SEMI JOIN _link_berubah USING (unique_id)"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _link_tetap AS
        SELECT * FROM _link_ini ANTI JOIN _link_berubah USING (unique_id)"""
    )
    parts = [
        "SELECT s.unique_id FROM _link_tetap s JOIN _link_ubah c ON "
        + " AND ".join(f"s.{col} = c.{col}" for col in rule)
        for rule in model_settings.BLOCKING_RULES_PREDICT
    ]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _link_kandidat AS SELECT * FROM _link_tetap "
        f"SEMI JOIN ({' UNION '.join(parts)}) k USING (unique_id)"
    )


def _migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the state when its pair table is of another model version (full re-link)."""
    cols = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'link_pasangan' ORDER BY ordinal_position"
        ).fetchall()
    ]
    want = ["id_l", "id_r", *mdl.PAIR_COLUMNS[2:]]
    if cols and cols != want:
        log.warning("linkage state is of another model version: full re-link")
        for t in ("link_pasangan", "link_rekaman", "link_malam"):
            con.execute(f"DROP TABLE IF EXISTS {t}")


def _insert_pairs(con: duckdb.DuckDBPyConnection, pairs: pa.Table | str) -> None:
    """Append scored pairs (an arrow table, or the name of a table the warehouse
    connection reads), smaller id on the left, one row per pair."""
    if isinstance(pairs, str):
        source = pairs
    else:
        con.register("_link_pairs_arrow", pairs)
        source = "_link_pairs_arrow"
    try:
        con.execute(
            f"""INSERT INTO link_pasangan
            SELECT least(unique_id_l, unique_id_r), greatest(unique_id_l, unique_id_r),
                   match_probability, match_weight, gamma_nik, gamma_nama, gamma_tgl_lahir,
                   gamma_jenis_kelamin, gamma_tempat_lahir, gamma_asal, gamma_wilayah
            FROM {source} p
            WHERE NOT EXISTS (SELECT 1 FROM link_pasangan s
              WHERE s.id_l = least(p.unique_id_l, p.unique_id_r)
                AND s.id_r = greatest(p.unique_id_l, p.unique_id_r))"""
        )
    finally:
        if not isinstance(pairs, str):
            con.unregister("_link_pairs_arrow")


def edges(con: duckdb.DuckDBPyConnection, threshold: float, out: str = "_link_sisi") -> None:
    """The pairs that make GANDA_ORANG clusters: at or above the threshold, nik
    differing, and not the twin pattern: same nkk and birth date with names that
    differ, even by a letter (twins' names often rhyme: BUDI/RUDI, LINA/RINA)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {out} AS
        SELECT s.*, l.nkk AS nkk_l FROM link_pasangan s
        JOIN _link_ini l ON l.unique_id = s.id_l
        JOIN _link_ini r ON r.unique_id = s.id_r
        WHERE s.match_probability >= ?
          AND (l.nik IS NULL OR r.nik IS NULL OR l.nik <> r.nik)
          AND NOT (l.nkk = r.nkk AND l.tgl = r.tgl
                   AND l.nama_norm IS DISTINCT FROM r.nama_norm)""",
        [threshold],
    )
