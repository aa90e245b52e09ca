"""The warehouse across nights: replace on reload, pruning, aggregates, run states."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from flow_fixtures import make_night, night_tables

from coklit_dq import warehouse
from coklit_dq.config import Settings, resolve_settings
from coklit_dq.contract import STATUS_DITURUNKAN
from coklit_dq.ingest import ingest_night
from coklit_dq.simulate.writer import write_night

N1, N2, N3, N4 = (date(2024, 7, d) for d in (1, 2, 3, 4))
SNAPSHOTS = ("wilayah", "tps", "pantarlih", "pemilih")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return resolve_settings(warehouse=str(tmp_path / "w.duckdb"), outbox=str(tmp_path / "out"))


@pytest.fixture
def con(settings: Settings):
    c = warehouse.connect(settings.warehouse)
    yield c
    c.close()


def load(con, tmp_path: Path, settings: Settings, tanggal: date, state: str = "done"):
    result = ingest_night(con, str(tmp_path / "src"), tanggal, settings)
    warehouse.finish_run(con, tanggal, state, "ok" if state == "done" else "failed")
    return result


def nights(con: duckdb.DuckDBPyConnection, table: str) -> list[date]:
    return [
        r[0]
        for r in con.execute(f"SELECT DISTINCT tanggal_ekspor FROM {table} ORDER BY 1").fetchall()
    ]


def counts(con: duckdb.DuckDBPyConnection, tanggal: date) -> dict[str, int]:
    out = {}
    for t in (*SNAPSHOTS, "files", "agregat_desa", "runs"):
        out[t] = con.execute(f"SELECT count(*) FROM {t} WHERE tanggal_ekspor = ?", [tanggal])
        out[t] = out[t].fetchone()[0]
    return out


def test_loading_a_night_twice_replaces_it(tmp_path: Path, settings: Settings, con):
    make_night(tmp_path / "src", N1)
    load(con, tmp_path, settings, N1)
    first = counts(con, N1)
    assert first["pemilih"] == 1200 and first["runs"] == 1 and first["files"] == 5
    # the night is re-dumped with fewer voters: the reload replaces, never adds
    make_night(tmp_path / "src", N1, drop=100)
    result = load(con, tmp_path, settings, N1)
    again = counts(con, N1)
    assert again["pemilih"] == 1000 and result.rows["pemilih/31.csv.gz"] == 500
    assert {k: v for k, v in again.items() if k != "pemilih"} == {
        k: v for k, v in first.items() if k != "pemilih"
    }
    assert con.execute("SELECT sum(n_rekaman) FROM agregat_desa").fetchone()[0] == 1000
    state = con.execute("SELECT state, message FROM runs WHERE tanggal_ekspor = ?", [N1])
    assert state.fetchone() == ("done", "ok")
    # no staging table is left behind
    assert not [
        r for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        if r[0].startswith("_ingest")
    ]  # fmt: skip


def test_reload_starts_a_new_run_and_clears_old_quarantine(tmp_path: Path, settings, con):
    night = make_night(tmp_path / "src", N1)
    (night / "tps.parquet").write_bytes(b"junk")
    r1 = load(con, tmp_path, settings, N1, state="failed")
    assert [q.path for q in r1.quarantined] == ["tps.parquet"]
    qdir = tmp_path / "quarantine" / N1.isoformat()
    assert (qdir / "tps.parquet").exists()
    make_night(tmp_path / "src", N1)  # the fixed dump
    result = ingest_night(con, str(tmp_path / "src"), N1, settings)
    assert result.quarantined == []
    assert not qdir.exists()
    row = con.execute("SELECT state, message, finished_at FROM runs WHERE tanggal_ekspor = ?", [N1])
    assert row.fetchone() == ("running", None, None)


def test_snapshots_are_kept_by_default_and_pruned_to_the_retention_setting(
    tmp_path: Path, settings, con
):
    for i, n in enumerate((N1, N2, N3, N4)):
        make_night(tmp_path / "src", n, drop=10 * i)
    for n in (N1, N2, N3):
        load(con, tmp_path, settings, n)
    # default (snapshot_retention_nights None): every night stays, any night can be rerun
    assert settings.snapshot_retention_nights is None
    assert warehouse.prune_snapshots(con, N3, settings.snapshot_retention_nights) == []
    for t in SNAPSHOTS:
        assert nights(con, t) == [N1, N2, N3]
    warehouse.check_rerun(con, N2)
    # a retention of 2 nights drops N1; a rerun of N2 then refuses instead of losing findings
    assert warehouse.prune_snapshots(con, N3, retention_nights=2) == [N1]
    for t in SNAPSHOTS:
        assert nights(con, t) == [N2, N3], t
    with pytest.raises(warehouse.SnapshotGone, match="snapshot of 2024-07-01"):
        warehouse.check_rerun(con, N2)
    warehouse.check_rerun(con, N3)
    warehouse.check_rerun(con, N4)
    # aggregates, files and runs stay for every night
    assert nights(con, "agregat_desa") == [N1, N2, N3]
    assert nights(con, "files") == [N1, N2, N3]
    assert nights(con, "runs") == [N1, N2, N3]
    load(con, tmp_path, settings, N4)
    assert warehouse.prune_snapshots(con, N4, retention_nights=2) == [N2]
    assert nights(con, "pemilih") == [N3, N4]
    assert con.execute(
        "SELECT tanggal_ekspor, sum(n_rekaman) FROM agregat_desa GROUP BY 1 ORDER BY 1"
    ).fetchall() == [(N1, 1200), (N2, 1180), (N3, 1160), (N4, 1140)]


def test_duckdb_memory_limit_and_threads_are_settings(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("COKLIT_DQ_DUCKDB_MEMORY_LIMIT", "700MB")
    monkeypatch.setenv("COKLIT_DQ_DUCKDB_THREADS", "1")
    s = resolve_settings(warehouse=str(tmp_path / "w.duckdb"))
    assert (s.duckdb_memory_limit, s.duckdb_threads) == ("700MB", 1)
    con = warehouse.connect_settings(s)
    limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    con.close()
    assert limit.replace(" ", "").upper().startswith(("667", "700")) and int(threads) == 1


def test_findings_table_follows_the_contract(con):
    from coklit_dq.contract import FINDING_SCHEMA

    cols = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'temuan' "
            "ORDER BY ordinal_position"
        ).fetchall()
    ]
    assert cols == [*FINDING_SCHEMA.names(), "kunci"]


def test_previous_night_skips_unfinished_and_unreadable_nights(tmp_path: Path, settings, con):
    make_night(tmp_path / "src", N1)
    make_night(tmp_path / "src", N3)
    load(con, tmp_path, settings, N1)
    # N2 could not be read at all: the pipeline records it failed, with no files
    warehouse.finish_run(con, N2, "failed", "no such night folder")
    assert warehouse.previous_night(con, N3) == N1
    ingest_night(con, str(tmp_path / "src"), N3, settings)  # still running
    assert warehouse.previous_night(con, N4) == N1
    warehouse.finish_run(con, N3, "done", "")
    assert warehouse.previous_night(con, N4) == N3
    assert warehouse.previous_night(con, N1) is None
    with pytest.raises(ValueError, match="unknown run state"):
        warehouse.finish_run(con, N3, "finished", "")


def test_agregat_desa_matches_the_records(tmp_path: Path, settings, con):
    tables, pem = night_tables(N1, voters=2400)
    status = pl.Series(["BELUM", "MS", "UBAH", "BARU", "TMS", "MS", "MS"])
    pem = {
        prov: df.with_columns(
            status_coklit=pl.lit(status).gather(pl.int_range(pl.len()) % len(status)),
        )
        for prov, df in pem.items()
    }
    # a desa whose TPS exist but whose voters all left, and a record with an unknown desa
    gone = "3101012001"
    pem["31"] = pl.concat(
        [
            pem["31"].filter(pl.col("kode_desa") != gone),
            pem["31"].head(1).with_columns(kode_desa=pl.lit("3199999999")),
        ]
    )
    write_night(str(tmp_path / "src"), N1, tables, pem, formats={"pemilih/31": "csv.gz"})
    load(con, tmp_path, settings, N1)
    got = pl.DataFrame(
        con.sql("SELECT * EXCLUDE (tanggal_ekspor) FROM agregat_desa ORDER BY kode_desa").pl()
    )
    allp = pl.concat(pem.values())
    want_p = allp.group_by("kode_desa").agg(
        n_rekaman=pl.len(),
        **{f"n_{s.lower()}": (pl.col("status_coklit") == s).sum() for s in ("BELUM", "MS", "UBAH",
                                                                             "BARU", "TMS")},
        n_aktif=(pl.col("status_coklit") != "TMS").sum(),
        n_diturunkan=pl.col("status_coklit").is_in(STATUS_DITURUNKAN).sum(),
    )  # fmt: skip
    want_t = (
        tables["tps"]
        .group_by("kode_desa")
        .agg(jumlah_diturunkan=pl.col("jumlah_diturunkan").sum(), n_tps=pl.len())
    )
    keys = pl.concat([want_p.select("kode_desa"), want_t.select("kode_desa")]).unique()
    want = (
        keys.join(want_p, on="kode_desa", how="left")
        .join(want_t, on="kode_desa", how="left")
        .with_columns(pl.exclude("kode_desa").fill_null(0))
        .sort("kode_desa")
    )
    assert got.height == 17  # 16 desa of wilayah + the unknown one
    assert got.filter(pl.col("kode_desa") == gone).row(0, named=True)["n_rekaman"] == 0
    assert got.filter(pl.col("kode_desa") == gone).row(0, named=True)["n_tps"] == 3
    unknown = got.filter(pl.col("kode_desa") == "3199999999").row(0, named=True)
    assert (unknown["kode_kab"], unknown["n_rekaman"], unknown["n_tps"]) == ("3199", 1, 0)
    cols = want.columns
    assert got.select(cols).cast(want.schema).equals(want.select(cols))
    assert got.select(pl.col("kode_prov").unique().sort()).to_series().to_list() == ["31", "32"]


def test_finish_run_without_a_run_row_inserts_one(tmp_path: Path, con):
    warehouse.finish_run(con, N2, "failed", "manifest absent")
    row = con.execute(
        "SELECT state, message, started_at IS NOT NULL, finished_at IS NOT NULL FROM runs"
    ).fetchone()
    assert row == ("failed", "manifest absent", True, True)


def test_connection_is_free_for_con_sql_after_ingest_and_lookups(tmp_path: Path, settings, con):
    make_night(tmp_path / "src", N1)
    load(con, tmp_path, settings, N1)
    make_night(tmp_path / "src", N2)
    ingest_night(con, str(tmp_path / "src"), N2, settings)
    assert con.sql("SELECT count(*) FROM pemilih").fetchall() == [(2400,)]
    assert warehouse.previous_night(con, N2) == N1
    assert warehouse.loaded_provinces(con, N2) == ["31", "32"]
    assert con.sql("SELECT count(*) FROM runs").fetchall() == [(2,)]
    # ingest relaxes insertion order for its load only
    assert con.sql("SELECT current_setting('preserve_insertion_order')").fetchall() == [(True,)]


def test_read_only_connection_has_the_mask_macro(tmp_path: Path, settings, con):
    make_night(tmp_path / "src", N1)
    load(con, tmp_path, settings, N1)
    con.close()
    ro = warehouse.connect(settings.warehouse, read_only=True)
    try:
        masked = ro.execute("SELECT mask_id(nik), nik FROM pemilih LIMIT 1").fetchall()[0]
        assert masked[0] == masked[1][:6] + "********" + masked[1][-2:]
        with pytest.raises(duckdb.Error):
            ro.execute("DELETE FROM runs")
    finally:
        ro.close()


@pytest.mark.slow
def test_csv_rows_keep_their_line_even_if_the_caller_relaxed_insertion_order(
    tmp_path: Path, settings, con
):
    """baris must be the data row even where DuckDB would reorder a large parallel read."""
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET threads = 4")
    tables, pem = night_tables(N1, voters=2400)
    n = 1_500_000  # large enough that DuckDB reads the CSV in several parallel buffers
    big = pl.DataFrame({"r": pl.int_range(0, n, eager=True)}).select(
        id_pemilih=pl.format("P31-{}", pl.col("r")),
        kode_desa=pl.lit("3101012001"),
        no_tps=pl.lit(1, pl.Int32),
        status_coklit=pl.lit("MS"),
        # values that do not compress away: the gzip must span many read buffers
        nama=pl.col("r").hash(7).cast(pl.String),
        nkk=pl.col("r").hash(3).cast(pl.String),
    )
    pem["31"] = pl.concat([pem["31"].head(0), big], how="diagonal_relaxed")
    write_night(str(tmp_path / "src"), N1, tables, pem, formats={"pemilih/31": "csv.gz"})
    result = ingest_night(con, str(tmp_path / "src"), N1, settings)
    assert result.quarantined == []
    bad = con.execute(
        "SELECT count(*) FROM pemilih WHERE left(kode_desa, 2) = '31' "
        "AND baris <> CAST(split_part(id_pemilih, '-', 2) AS BIGINT) + 1"
    ).fetchall()
    assert bad == [(0,)]
    assert con.sql("SELECT current_setting('preserve_insertion_order')").fetchall() == [(False,)]
