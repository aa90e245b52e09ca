"""The linkage runs inside the warehouse's DuckDB: one buffer pool, one memory limit.

Splink scores on a cursor of the warehouse connection whose default database is an
in-memory database attached for the run (coklit_dq.link.orang.SPLINK_DB), so
Settings.duckdb_memory_limit and duckdb_threads cap the night's DuckDB as a whole:
no second DuckDB instance with a limit of its own, no copy of the records in Python.
"""

from __future__ import annotations

import duckdb
import polars as pl
from test_link import D1, load, planted_night

from coklit_dq import warehouse
from coklit_dq.config import resolve_settings
from coklit_dq.link import run_linkage
from coklit_dq.link.orang import SPLINK_DB


def _tables(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    return {
        (str(db), str(t))
        for db, t in con.execute(
            "SELECT database_name, table_name FROM duckdb_tables() WHERE NOT temporary"
        ).fetchall()
    }


def test_linkage_opens_no_second_duckdb_and_leaves_nothing_behind(tmp_path, monkeypatch) -> None:
    settings = resolve_settings(
        warehouse=str(tmp_path / "w.duckdb"), duckdb_memory_limit="512MB", duckdb_threads=1
    )
    con = warehouse.connect_settings(settings)
    try:
        load(con, D1, *planted_night())
        before = _tables(con)
        opened: list[duckdb.DuckDBPyConnection] = []
        real_connect = duckdb.connect

        def counting_connect(*args: object, **kwargs: object) -> duckdb.DuckDBPyConnection:
            c = real_connect(*args, **kwargs)  # type: ignore[arg-type]
            opened.append(c)
            return c

        monkeypatch.setattr(duckdb, "connect", counting_connect)
        raw = run_linkage(con, D1, settings, full=True)
        monkeypatch.undo()
        # Splink's DatabaseAPI opens an empty DuckDB of its own for utilities; no record,
        # no table of the run is ever in another instance than the warehouse's
        assert all(
            c.execute("SELECT count(*) FROM duckdb_tables()").fetchall() == [(0,)] for c in opened
        )
        assert raw.filter(pl.col("kode_temuan") == "GANDA_ORANG").height > 0
        databases = {
            r[0] for r in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()
        }
        assert SPLINK_DB not in databases  # detached when the run ended
        new = _tables(con) - before
        assert {t for _, t in new} == {"link_rekaman", "link_pasangan", "link_malam"}
        assert not any(t.startswith("__splink") for _, t in _tables(con))
        # the settings are the instance's: what Splink's cursor ran with
        limit, threads = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('threads')"
        ).fetchall()[0]
        assert threads == 1
        assert limit.replace(" ", "").upper().startswith(("488", "512"))
    finally:
        con.close()


def test_incremental_night_in_the_shared_instance(tmp_path) -> None:
    """Night 2 scores its changes in the same instance and gives what a full re-link gives."""
    settings = resolve_settings(warehouse=str(tmp_path / "w.duckdb"), duckdb_memory_limit="512MB")
    con = warehouse.connect_settings(settings)
    d2 = D1.replace(day=2)
    try:
        p, wil = planted_night()
        load(con, D1, p, wil)
        run_linkage(con, D1, settings, full=True)
        moved = p.with_columns(
            nama=pl.when(pl.col("id_pemilih") == "XA-2").then(pl.lit("AHMAD")).otherwise("nama")
        )
        load(con, d2, moved, wil)
        incr = run_linkage(con, d2, settings)
        mode = con.execute("SELECT mode FROM link_malam WHERE tanggal_ekspor = ?", [d2]).fetchall()
        full = run_linkage(con, d2, settings, full=True)
    finally:
        con.close()
    assert mode == [("incremental",)]
    cols = ["kode_temuan", "id_pemilih", "id_kelompok"]
    assert incr.select(cols).sort(cols).equals(full.select(cols).sort(cols))
