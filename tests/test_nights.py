"""Unattended nights (issue 9): reruns, provinces set aside or missing, empty dumps.

Whole nights through pipeline.run_night (the steps the flow runs as tasks), on
small exact exports of flow_fixtures, each test with its own warehouse.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from flow_fixtures import WIB, break_file, make_night, night_tables

from coklit_dq import warehouse
from coklit_dq.config import resolve_settings
from coklit_dq.pipeline import run_night
from coklit_dq.simulate.writer import write_night

N1, N2, N3 = date(2024, 7, 1), date(2024, 7, 2), date(2024, 7, 3)
FINDING = (
    "SELECT kode_temuan, kunci, kode_prov, kode_kab, kode_desa, no_tps, id_pemilih, "
    "id_pantarlih, status_temuan, pertama_ditemukan, tingkat, keterangan FROM temuan "
    "WHERE tanggal_ekspor = ? ORDER BY ALL"
)
SELESAI = (
    "SELECT kode_temuan, kunci, kode_prov FROM temuan_selesai "
    "WHERE tanggal_selesai = ? ORDER BY ALL"
)


def _settings(tmp_path: Path, **kw):
    return resolve_settings(
        warehouse=str(tmp_path / "w.duckdb"), outbox=str(tmp_path / "outbox"), **kw
    )


def _rows(wh: Path, sql: str, night: date) -> list[tuple]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute(sql, [night]).fetchall()
    finally:
        con.close()


def _write(root: Path, night: date, pem_edit=None, drop: int = 0) -> Path:
    """A night like make_night, with the pemilih frames passed through `pem_edit`."""
    tables, pem = night_tables(night, 1200, ("31", "32"), drop)
    if pem_edit is not None:
        pem = pem_edit(pem)
    dibuat = datetime.combine(night, datetime.min.time(), tzinfo=WIB) + timedelta(hours=23)
    write_night(str(root), night, tables, pem, formats={"pemilih/31": "csv.gz"}, dibuat=dibuat)
    return root / night.isoformat()


def _status_changes(pem: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Night 3 of the rerun test: records of both provinces change status oddly."""
    out = {}
    for prov, df in pem.items():
        odd = pl.int_range(pl.len()) % 97 == 5
        out[prov] = df.with_columns(
            status_coklit=pl.when(odd).then(pl.lit("BELUM")).otherwise(pl.col("status_coklit"))
        )
    return out


# --- reruns ------------------------------------------------------------------------------


def test_rerunning_an_earlier_night_reproduces_its_findings_row_for_row(tmp_path: Path):
    export = tmp_path / "export"
    make_night(export, N1)
    make_night(export, N2, drop=6)  # records gone: DATA_HILANG, compared with N1
    _write(export, N3, _status_changes, drop=9)
    settings = _settings(tmp_path)
    wh = Path(settings.warehouse)
    first = {}
    for night in (N1, N2, N3):
        run_night(settings, str(export), night)
        first[night] = (_rows(wh, FINDING, night), _rows(wh, SELESAI, night))
    codes_n2 = {r[0] for r in first[N2][0]}
    assert "DATA_HILANG" in codes_n2, codes_n2  # the findings a pruned N1 would lose
    for night in (N2, N1, N3):  # any earlier night, after later nights ran
        result = run_night(settings, str(export), night)
        assert result.state == "done", result.message
        assert (_rows(wh, FINDING, night), _rows(wh, SELESAI, night)) == first[night], night


def _histories(tmp_path: Path, *names: str):
    """An export of three nights and, per name, settings of a warehouse that ran night 1
    (copies of one warehouse: one secret, so group ids compare across histories)."""
    import shutil

    export = tmp_path / "export"
    make_night(export, N1)
    make_night(export, N2, drop=6)
    _write(export, N3, _status_changes, drop=9)
    first = _settings(tmp_path / "first")
    run_night(first, str(export), N1)
    out = {}
    for name in names:
        (tmp_path / name).mkdir()
        shutil.copy(first.warehouse, tmp_path / name / "w.duckdb")
        out[name] = _settings(tmp_path / name)
    return export, out


def _night_rows(settings, night: date) -> tuple[list[tuple], list[tuple]]:
    wh = Path(settings.warehouse)
    return _rows(wh, FINDING, night), _rows(wh, SELESAI, night)


def test_a_night_run_behind_later_ones_runs_them_again(tmp_path: Path):
    """Night 2's export came late: nights 1, 3, then 2. Night 3 was computed across the
    gap; once night 2 is in, night 3 is run again, and both read as in a run in order."""
    export, h = _histories(tmp_path, "clean", "late")
    for night in (N2, N3):
        run_night(h["clean"], str(export), night)
    run_night(h["late"], str(export), N3)
    gap = _night_rows(h["late"], N3)
    assert gap != _night_rows(h["clean"], N3)  # compared with night 1: other findings
    result = run_night(h["late"], str(export), N2)
    assert result.ok and result.redone == {N3.isoformat(): "done"}, result.message
    for night in (N2, N3):
        assert _night_rows(h["late"], night) == _night_rows(h["clean"], night), night
    again = run_night(h["late"], str(export), N2)  # a plain rerun changes nothing later
    assert again.ok and again.redone == {}


def test_a_stopped_night_counts_as_not_run_until_it_is_run_again(tmp_path: Path):
    """Night 2 was stopped after recording its findings (never published); night 3 then
    reads as if night 2 had not run, not as a mix; running night 2 again runs 3 again."""
    export, h = _histories(tmp_path, "clean", "gap", "stopped")
    for night in (N2, N3):
        run_night(h["clean"], str(export), night)
    run_night(h["gap"], str(export), N3)
    run_night(h["stopped"], str(export), N2)
    con = duckdb.connect(h["stopped"].warehouse)
    con.execute(
        "UPDATE runs SET state = 'running', finished_at = NULL WHERE tanggal_ekspor = ?", [N2]
    )
    con.close()
    run_night(h["stopped"], str(export), N3)
    assert _night_rows(h["stopped"], N3) == _night_rows(h["gap"], N3)
    from coklit_dq.publish.data import history

    con = duckdb.connect(h["stopped"].warehouse, read_only=True)
    shown = set(history(con, N3)["tanggal_ekspor"])  # the trend charts skip it too
    con.close()
    assert shown == {N1, N3}
    result = run_night(h["stopped"], str(export), N2)
    assert result.ok and result.redone == {N3.isoformat(): "done"}, result.message
    for night in (N2, N3):
        assert _night_rows(h["stopped"], night) == _night_rows(h["clean"], night), night


def test_a_rerun_whose_previous_snapshot_was_pruned_is_refused(tmp_path: Path):
    export = tmp_path / "export"
    for i, night in enumerate((N1, N2, N3)):
        make_night(export, night, drop=3 * i)
    settings = _settings(tmp_path, snapshot_retention_nights=2)
    wh = Path(settings.warehouse)
    for night in (N1, N2, N3):
        run_night(settings, str(export), night)
    before = _rows(wh, FINDING, N2)
    with pytest.raises(warehouse.SnapshotGone, match=r"snapshot of 2024-07-01.*refused"):
        run_night(settings, str(export), N2)
    assert _rows(wh, FINDING, N2) == before  # untouched, never a quietly different list
    assert _rows(wh, "SELECT state FROM runs WHERE tanggal_ekspor = ?", N2) == [("done",)]


# --- provinces set aside or missing -------------------------------------------------------


def _cross_province_duplicate(pem: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Record 3 of province 31 carries the nik of record 0 of province 32 (GANDA_NIK)."""
    nik = pem["32"]["nik"][0]
    r = pl.int_range(pl.len())
    return {
        "31": pem["31"].with_columns(nik=pl.when(r == 3).then(pl.lit(nik)).otherwise("nik")),
        "32": pem["32"],
    }


def test_a_province_set_aside_resolves_nothing_and_is_compared_with_its_last_loaded_night(
    tmp_path: Path,
):
    export = tmp_path / "export"
    _write(export, N1, _cross_province_duplicate)
    n2 = _write(export, N2, _cross_province_duplicate)
    break_file(n2, "pemilih/32.parquet")  # set aside on night 2
    _write(export, N3, _cross_province_duplicate, drop=6)  # 32 lost records since N1
    settings = _settings(tmp_path)
    wh = Path(settings.warehouse)
    for night in (N1, N2, N3):
        run_night(settings, str(export), night)

    n1 = _rows(wh, FINDING, N1)
    dup31 = [r for r in n1 if r[0] == "GANDA_NIK" and r[2] == "31"]
    assert dup31, "the planted cross-province duplicate was not found on night 1"
    # night 2: nothing resolved because province 32 could not be read, not even the
    # duplicate finding of province 31 whose partner sits in 32
    assert _rows(wh, SELESAI, N2) == []
    # night 3: 32 is compared with night 1, its last loaded night
    n3 = _rows(wh, FINDING, N3)
    hilang = [r for r in n3 if r[0] == "DATA_HILANG" and r[2] == "32"]
    assert len(hilang) == 6, hilang
    # the duplicate is the same finding, found on night 1
    again = {(r[0], r[1]): r for r in n3}
    for r in dup31:
        assert again[(r[0], r[1])][8:10] == ("BERULANG", N1)
    # every finding of 32 that night 3 still has keeps its first night
    firsts = {(r[0], r[1]): r[9] for r in n1}
    for r in n3:
        if r[2] == "32" and (r[0], r[1]) in firsts:
            assert (r[8], r[9]) == ("BERULANG", firsts[(r[0], r[1])])


def test_a_missing_province_is_compared_with_its_last_loaded_night(tmp_path: Path):
    export = tmp_path / "export"
    make_night(export, N1)
    make_night(export, N2, provinces=("31",), voters=600)  # 32 not in the export
    make_night(export, N3, drop=4)
    settings = _settings(tmp_path)
    wh = Path(settings.warehouse)
    for night in (N1, N2, N3):
        run_night(settings, str(export), night)
    assert not [r for r in _rows(wh, SELESAI, N2) if r[2] == "32"]
    hilang = {r[2] for r in _rows(wh, FINDING, N3) if r[0] == "DATA_HILANG"}
    assert hilang == {"31", "32"}


# --- empty and collapsed dumps ------------------------------------------------------------


@pytest.mark.parametrize("keep", [0, 100], ids=["header-only", "collapsed"])
def test_an_empty_or_collapsed_province_dump_is_set_aside(tmp_path: Path, keep: int):
    export = tmp_path / "export"
    make_night(export, N1)
    _write(export, N2, lambda pem: {**pem, "32": pem["32"].head(keep)})
    settings = _settings(tmp_path)
    wh = Path(settings.warehouse)
    run_night(settings, str(export), N1)
    result = run_night(settings, str(export), N2)
    assert result.state == "failed"
    (q,) = result.quarantined
    assert q["path"] == "pemilih/32.parquet"
    assert "last loaded night" in q["reason"] and "2024-07-01" in q["reason"]
    assert "32" not in result.provinces_loaded
    assert _rows(wh, SELESAI, N2) == []
    assert not [r for r in _rows(wh, FINDING, N2) if r[0] in ("DATA_HILANG", "PENURUNAN_TAJAM")]
    state = _rows(
        wh, "SELECT state FROM files WHERE tanggal_ekspor = ? AND path = 'pemilih/32.parquet'", N2
    )
    assert state == [("quarantined",)]
    reason = tmp_path / "quarantine" / N2.isoformat() / "pemilih" / "32.parquet.reason.json"
    assert reason.is_file()


def test_collapse_threshold_is_a_setting(tmp_path: Path):
    export = tmp_path / "export"
    make_night(export, N1)
    _write(export, N2, lambda pem: {**pem, "32": pem["32"].head(400)})  # 400 of 600
    settings = _settings(tmp_path, collapse_threshold=0.5)
    run_night(settings, str(export), N1)
    assert run_night(settings, str(export), N2).quarantined == []
    strict = _settings(tmp_path, collapse_threshold=0.9)
    result = run_night(strict, str(export), N2)
    assert [q["path"] for q in result.quarantined] == ["pemilih/32.parquet"]
