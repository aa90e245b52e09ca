"""The linkage runs inside the warehouse's DuckDB: one buffer pool, one memory limit.

Splink scores on a cursor of the warehouse connection whose default database is an
in-memory database attached for the run (coklit_dq.link.orang.SPLINK_DB), so
Settings.duckdb_memory_limit and duckdb_threads cap the night's DuckDB as a whole:
no second DuckDB instance with a limit of its own, no copy of the records in Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import duckdb
import polars as pl
import pytest
from test_link import D1, _copy, _rec, _typo, load, planted_night

from coklit_dq import warehouse
from coklit_dq.config import Settings, resolve_settings
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


def _night2(p: pl.DataFrame) -> pl.DataFrame:
    """Night 1 with every kind of change an incremental night must carry: a record
    renamed (its pair breaks), one gone, one struck TMS, a new BARU copy of a person
    (a new pair), a twin's family card changed (nkk decides the twin pattern), and
    a status change the model does not read (BELUM -> MS: not a change)."""
    e = _copy(
        _rec(p, "P31-0000080"), "XE-2", "3271012001", nik=_typo(_rec(p, "P31-0000080")["nik"], 14)
    )
    rename = pl.col("id_pemilih") == "XA-2"
    return pl.concat(
        [
            p.filter(pl.col("id_pemilih") != "XB-2").with_columns(
                nama=pl.when(rename).then(pl.lit("AHMAD")).otherwise("nama"),
                status_coklit=pl.when(pl.col("id_pemilih") == "XD-2")
                .then(pl.lit("TMS"))
                .when((pl.col("id_pemilih") == "P31-0000090") & (pl.col("status_coklit") != "BARU"))
                .then(pl.lit("MS"))
                .otherwise("status_coklit"),
                nkk=pl.when(pl.col("id_pemilih") == "XT-2")
                .then(pl.lit("3201019901000778"))
                .otherwise("nkk"),
            ),
            pl.DataFrame([e], schema=p.schema),
        ]
    )


def _state(con: duckdb.DuckDBPyConnection) -> tuple[list, list]:
    pairs = con.execute(
        "SELECT id_l, id_r, round(match_probability, 9) FROM link_pasangan ORDER BY 1, 2"
    ).fetchall()
    records = con.execute("SELECT * FROM link_rekaman ORDER BY unique_id").fetchall()
    return pairs, records


@pytest.fixture
def two_nights(tmp_path) -> Iterator[tuple[duckdb.DuckDBPyConnection, Settings, date]]:
    """Night 1 linked in full, night 2 (three changed records) loaded and not yet linked."""
    settings = resolve_settings(warehouse=str(tmp_path / "w.duckdb"), duckdb_memory_limit="512MB")
    con = warehouse.connect_settings(settings)
    d2 = D1.replace(day=2)
    try:
        p, wil = planted_night()
        load(con, D1, p, wil)
        run_linkage(con, D1, settings, full=True)
        load(con, d2, _night2(p), wil)
        yield con, settings, d2
    finally:
        con.close()


def _mode(con: duckdb.DuckDBPyConnection, d: date) -> list[tuple]:
    return con.execute(
        "SELECT mode, berubah FROM link_malam WHERE tanggal_ekspor = ?", [d]
    ).fetchall()


def test_incremental_night_in_the_shared_instance(two_nights) -> None:
    """Night 2 scores only its changes, in the same instance, and gives what a full
    re-link gives: the same findings, the same scored pairs and the same prepared
    records carried to the next night."""
    con, settings, d2 = two_nights
    incr = run_linkage(con, d2, settings)
    mode = _mode(con, d2)
    incr_state = _state(con)
    full = run_linkage(con, d2, settings, full=True)
    full_state = _state(con)
    # XA-2 renamed, XE-2 new, XT-2's nkk: scored again; the others are dropped or untouched
    assert mode == [("incremental", 3)]
    cols = ["kode_temuan", "id_pemilih", "id_kelompok"]
    assert incr.select(cols).sort(cols).equals(full.select(cols).sort(cols))
    orang = set(incr.filter(pl.col("kode_temuan") == "GANDA_ORANG")["id_pemilih"])
    assert "XE-2" in orang and not {"XA-2", "XB-2", "XD-2"} & orang
    assert incr_state[1] == full_state[1]  # the records carried forward, as a full run prepares
    # the same pairs; a standing pair keeps last night's score (the night's size, term
    # frequencies and own u moved a little since: one record of this small night moves the
    # share of pairs of one kab/kota sharing a birthplace by a few percent), a changed
    # record's pairs are scored tonight
    assert [r[:2] for r in incr_state[0]] == [r[:2] for r in full_state[0]]
    for a, b in zip(incr_state[0], full_state[0], strict=True):
        assert a[2] == pytest.approx(b[2], abs=1e-3)


def test_incremental_night_that_fails_is_scored_again(two_nights, monkeypatch) -> None:
    """A night that fails while scoring leaves the state as it was: its re-run finds the
    same changes and gives what a full re-link gives."""
    from coklit_dq.link import model as mdl

    con, settings, d2 = two_nights

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the node went away")

    monkeypatch.setattr(mdl, "score_new", fail)
    with pytest.raises(RuntimeError):
        run_linkage(con, d2, settings)
    monkeypatch.undo()
    again = run_linkage(con, d2, settings)
    mode = _mode(con, d2)
    full = run_linkage(con, d2, settings, full=True)
    assert mode == [("incremental", 3)]
    cols = ["kode_temuan", "id_pemilih", "id_kelompok"]
    assert again.select(cols).sort(cols).equals(full.select(cols).sort(cols))
