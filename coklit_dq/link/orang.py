"""GANDA_ORANG: score candidate pairs with the committed model, carry them night to night.

The first night (or on demand, ``full=True``) links every record that is not TMS.
Later nights score only the records that are new or changed since the night
before (HASH_COLUMNS differ), within themselves and against the standing ones,
and keep the standing pairs whose two records did not change. State, in the
warehouse:

  link_rekaman   the records of the last linked night as the model reads them
                 (PREP_COLUMNS, hash, nkk): a later night prepares only its changes
  link_pasangan  their scored pairs at or above the floor
  link_malam     one row per linked night: mode, counts, seconds, the checksum of model
                 and preparation (state_checksum), and
                 the model as that night weighed its pairs (model_malam, JSON)

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
import json
import logging
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa

from coklit_dq import warehouse
from coklit_dq.link import model as mdl
from coklit_dq.link.sql import HASH_EXPR, PREP_BASE, PREP_DIGEST, PREP_SELECT, known_kecamatan
from linkage import settings as model_settings

log = logging.getLogger("coklit_dq.link")

PREP_COLUMNS = (
    "unique_id", "nik", "nik_a", "nik_b", "nik_c", "nik_d", "nik_wil", "nik_kab", "nik_wil_dikenal",
    "nama_norm", "nama_depan", "nama_inti", "nama_rapat", "nama_tunggal", "nama_kunci", "nama_urut",
    "tgl", "tgl_tukar", "tgl_hari", "tgl_bh", "tgl_tahun", "tgl_samar", "jenis_kelamin",
    "tempat_lahir", "baru", "kode_desa", "kode_kec", "kode_kab", "kode_prov",
)  # fmt: skip


# Term-frequency lookups (column -> SQL) over the whole night, registered with
# Splink for every run (also for a night's changes).
def tf_sql(c: str, where: str = "") -> str:
    """The term frequencies of column `c` over the night (_link_ini); `where` (an AND
    condition) keeps only the values the scored records carry, the frequencies stay
    the whole night's."""
    return (
        f"SELECT {c}, count(*) / (SELECT count(*) FROM _link_ini) AS tf_{c} "
        f"FROM _link_ini WHERE {c} IS NOT NULL {where} GROUP BY {c}"
    )


TF_SQL = {c: tf_sql(c) for c in model_settings.TF_COLUMNS}

STATE_DDL = (
    """CREATE TABLE IF NOT EXISTS link_pasangan (
      id_l VARCHAR, id_r VARCHAR, match_probability DOUBLE, match_weight DOUBLE,
      gamma_nik INTEGER, gamma_nama INTEGER, gamma_tgl_lahir INTEGER,
      gamma_jenis_kelamin INTEGER, gamma_tempat_lahir INTEGER, gamma_asal INTEGER,
      gamma_wilayah INTEGER)""",
    """CREATE TABLE IF NOT EXISTS link_malam (
      tanggal_ekspor DATE PRIMARY KEY, mode VARCHAR, rekaman BIGINT, berubah BIGINT,
      pasangan BIGINT, detik DOUBLE, model VARCHAR, backend VARCHAR)""",
    # the model as the night weighed its pairs (model.for_night: its prior and u), JSON:
    # what the Pusdatin page charts (publish/tautan.py); added after link_malam existed
    "ALTER TABLE link_malam ADD COLUMN IF NOT EXISTS model_malam VARCHAR",
    # the fingerprint of the region reference the night's records were prepared with
    # (sql.known_kecamatan): their nik_wil_dikenal depends on it
    "ALTER TABLE link_malam ADD COLUMN IF NOT EXISTS kecamatan VARCHAR",
    # when the night's row was written: the newest written row is the night whose records
    # link_rekaman holds (a rerun of an older night rolls the state back to it)
    "ALTER TABLE link_malam ADD COLUMN IF NOT EXISTS ditulis TIMESTAMPTZ",
)


@dataclass
class LinkStats:
    mode: str  # full | incremental
    rekaman: int
    berubah: int
    pasangan: int
    detik: float


def state_checksum(model: dict[str, Any]) -> str:
    """What the standing pairs and records were made with: the trained model and how
    records are prepared (sql.PREP_DIGEST). A night whose checksum differs from the last
    linked night's re-links in full."""
    made_with = json.dumps(model, sort_keys=True) + PREP_DIGEST
    return hashlib.sha256(made_with.encode()).hexdigest()[:16]


def _night_sql() -> str:
    """CTEs `night` (the rows of night $tanggal that are not TMS) and `dup` (the smallest
    baris of an id_pemilih seen twice: a GANDA_ID duplicate is linked once)."""
    return """WITH night AS (
          SELECT * FROM pemilih WHERE tanggal_ekspor = $tanggal AND status_coklit <> 'TMS'
        ), dup AS (
          SELECT id_pemilih, min(baris) AS b FROM night GROUP BY 1 HAVING count(*) > 1
        )"""


def prepare(con: duckdb.DuckDBPyConnection, tanggal: date) -> None:
    """Temp table _link_ini: tonight's records that are not TMS, prepared, with hash, and
    _link_kec, the night's kecamatan its nik_wil_dikenal reads.

    One row per id_pemilih (a GANDA_ID duplicate is linked once)."""
    known_kecamatan(con, tanggal)
    _prepare_records(con, tanggal)


def _prepare_records(con: duckdb.DuckDBPyConnection, tanggal: date) -> None:
    """`prepare` once _link_kec is there."""
    _drop_relation(con, "_link_ini")
    con.execute(
        f"""CREATE TEMP TABLE _link_ini AS
        {_night_sql()}, src AS (
          {PREP_BASE}, {HASH_EXPR} AS hash
          FROM night LEFT JOIN dup USING (id_pemilih)
          WHERE dup.b IS NULL OR night.baris = dup.b
        )
        {PREP_SELECT}, $tanggal::DATE AS tanggal_ekspor, hash, nkk FROM src""",
        {"tanggal": tanggal},
    )


def _drop_relation(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop the temp table or view `name` (a night prepares _link_ini as a table, an
    incremental night reads it as a view of link_rekaman)."""
    kinds = con.execute(
        "SELECT 'TABLE' FROM duckdb_tables() WHERE temporary AND table_name = $n "
        "UNION ALL SELECT 'VIEW' FROM duckdb_views() WHERE temporary AND view_name = $n",
        {"n": name},
    ).fetchall()
    for (kind,) in kinds:
        con.execute(f"DROP {kind} IF EXISTS temp.main.{name}")


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
    checksum = state_checksum(model)
    _migrate(con)
    for ddl in STATE_DDL:
        con.execute(ddl)
    prev = warehouse.previous_night(con, tanggal)
    rows = con.execute(  # the night the standing state was made for
        "SELECT tanggal_ekspor, model, kecamatan FROM link_malam "
        "ORDER BY ditulis DESC NULLS LAST, tanggal_ekspor DESC LIMIT 1"
    ).fetchall()
    last = rows[0] if rows else None
    kecamatan = known_kecamatan(con, tanggal)
    incremental = (
        not full
        and prev is not None
        and last is not None
        and last[0] == prev
        and last[1] == checksum
        and last[2] == kecamatan  # the standing records' nik_wil_dikenal still hold
        and _has_table(con, "link_rekaman")
    )
    if incremental:
        berubah = _changes(con, tanggal)
    else:
        _prepare_records(con, tanggal)  # _link_kec made above
    _lap(t0, "prepared the night's records" + (f" ({berubah:,} changed)" if incremental else ""))
    n_night = con.execute("SELECT count(*) FROM _link_ini").fetchall()[0][0]
    # the prior and the u of where records are follow the night; the checksum above stays
    # the trained model's
    model = mdl.for_night(con, model)
    cols = ", ".join(PREP_COLUMNS)
    be = _Backend(con, backend, settings)
    try:
        if not incremental:
            tf = {c: be.table(f"tf_{c}", sql) for c, sql in TF_SQL.items()}
            records = be.table("rekaman", f"SELECT {cols} FROM _link_ini")
            res = mdl.score_within(be.api, records, model, tf)
            _lap(t0, "scored every record")
            con.execute("DELETE FROM link_pasangan")
            be.insert_pairs(res)
            con.execute(
                f"CREATE OR REPLACE TABLE link_rekaman AS SELECT {cols}, hash, nkk FROM _link_ini"
            )
            berubah = n_night
        else:
            if berubah:
                _score_changes(con, be, cols, model, t0)
            _roll_forward(con)
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
        "INSERT OR REPLACE INTO link_malam (tanggal_ekspor, mode, rekaman, berubah, pasangan, "
        "detik, model, backend, model_malam, kecamatan, ditulis) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
        [
            tanggal,
            stats.mode,
            stats.rekaman,
            stats.berubah,
            stats.pasangan,
            stats.detik,
            checksum,
            backend,
            json.dumps(model, sort_keys=True),
            kecamatan,
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


def _lap(t0: float, what: str) -> None:
    log.info("linkage: %s (%.1f s)", what, time.perf_counter() - t0)


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE NOT temporary AND table_name = ? "
            "AND database_name = current_database()",
            [name],
        ).fetchall()[0][0]
    )


def _changes(con: duckdb.DuckDBPyConnection, tanggal: date) -> int:
    """Incremental: roll link_rekaman forward to tonight, preparing only what changed.

    Tonight's ids and hashes (of the raw columns the model reads, HASH_COLUMNS) are
    compared with link_rekaman's: _link_lepas holds every id whose pairs are stale
    (changed or gone), _link_berubah those that are new or whose hash differs, and
    _link_ubah those records prepared. The pairs of stale ids are dropped and _link_ini
    becomes a view of the standing records as stored plus the changed ones (the standing
    records are neither prepared nor copied again); _roll_forward stores the changes
    once they are scored. Returns how many records changed."""
    # one pass over the night and the state: new (no state), changed (hash differs), gone
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _link_lepas AS
        {_night_sql()}, h AS (
          SELECT night.id_pemilih AS unique_id, night.baris, {HASH_EXPR} AS hash
          FROM night LEFT JOIN dup USING (id_pemilih)
          WHERE dup.b IS NULL OR night.baris = dup.b
        )
        SELECT coalesce(h.unique_id, r.unique_id) AS unique_id, h.baris,
               h.unique_id IS NOT NULL AS berubah
        FROM h FULL JOIN link_rekaman r ON r.unique_id = h.unique_id
        WHERE h.hash IS DISTINCT FROM r.hash""",
        {"tanggal": tanggal},
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _link_berubah AS "
        "SELECT unique_id, baris FROM _link_lepas WHERE berubah"
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _link_ubah AS
        WITH src AS (
          {PREP_BASE}
          FROM pemilih SEMI JOIN _link_berubah b
            ON pemilih.id_pemilih = b.unique_id AND pemilih.baris IS NOT DISTINCT FROM b.baris
          WHERE pemilih.tanggal_ekspor = $tanggal AND pemilih.status_coklit <> 'TMS'
        )
        {PREP_SELECT}, {HASH_EXPR} AS hash, nkk FROM src""",
        {"tanggal": tanggal},
    )
    con.execute(
        """DELETE FROM link_pasangan WHERE id_l IN (SELECT unique_id FROM _link_lepas)
           OR id_r IN (SELECT unique_id FROM _link_lepas)"""
    )
    # tonight's records: the standing ones as stored, the changed ones as prepared now
    _drop_relation(con, "_link_ini")
    con.execute(
        f"""CREATE TEMP VIEW _link_ini AS
        SELECT *, DATE '{tanggal.isoformat()}' AS tanggal_ekspor FROM (
          SELECT * FROM link_rekaman ANTI JOIN _link_lepas USING (unique_id)
          UNION ALL BY NAME SELECT * FROM _link_ubah)"""
    )
    return int(con.execute("SELECT count(*) FROM _link_ubah").fetchall()[0][0])


def _roll_forward(con: duckdb.DuckDBPyConnection) -> None:
    """link_rekaman becomes tonight's records, once tonight's pairs are in: a night that
    fails before finds the same changes again when it is re-run."""
    con.execute("DELETE FROM link_rekaman WHERE unique_id IN (SELECT unique_id FROM _link_lepas)")
    con.execute("INSERT INTO link_rekaman BY NAME SELECT * FROM _link_ubah")


def _score_changes(
    con: duckdb.DuckDBPyConnection, be: _Backend, cols: str, model: dict[str, Any], t0: float
) -> None:
    """Incremental: score the changed records (_link_ubah) within themselves and against
    the standing ones that share a block with them, with the whole night's term
    frequencies of the values they carry."""
    _candidates(con)
    _lap(t0, "found the standing records sharing a block with a change")
    seen = "SELECT {c} FROM _link_ubah UNION SELECT {c} FROM _link_kandidat"
    tf = {
        c: be.table(f"tf_{c}", tf_sql(c, f"AND {c} IN ({seen.format(c=c)})"))
        for c in model_settings.TF_COLUMNS
    }
    changed = be.table("berubah", f"SELECT {cols} FROM _link_ubah")
    standing = be.table("tetap", f"SELECT {cols} FROM _link_kandidat")
    _lap(t0, "term frequencies and Splink's tables")
    for res in mdl.score_new(be.api, changed, standing=standing, model=model, tf=tf):
        be.insert_pairs(res)
    _lap(t0, "scored the changes")


def _candidates(con: duckdb.DuckDBPyConnection) -> None:
    """_link_kandidat: the standing records (not changed tonight) that share a block
    with a changed one, found in DuckDB with the blocking rules as declared in
    linkage/settings.py (columns that must be equal), so Splink gets thousands of
    standing records instead of the whole list. Each rule is one semi join of the
    standing records against the few changed ones."""
    parts = [
        "SELECT s.unique_id FROM link_rekaman s SEMI JOIN _link_ubah c ON "
        + " AND ".join(f"s.{col} = c.{col}" for col in rule)
        for rule in model_settings.BLOCKING_RULES_PREDICT
    ]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _link_kandidat AS SELECT * FROM link_rekaman "
        f"SEMI JOIN ({' UNION '.join(parts)}) k USING (unique_id) "
        "ANTI JOIN _link_lepas USING (unique_id)"
    )


def _migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the state when its pair table is of another model version, or its records
    of another preparation (full re-link)."""

    def columns(table: str) -> list[str]:
        return [
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "AND table_catalog = current_database() ORDER BY ordinal_position",
                [table],
            ).fetchall()
        ]

    pairs, records = columns("link_pasangan"), columns("link_rekaman")
    if (pairs and pairs != ["id_l", "id_r", *mdl.PAIR_COLUMNS[2:]]) or (
        records and records != [*PREP_COLUMNS, "hash", "nkk"]
    ):
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
