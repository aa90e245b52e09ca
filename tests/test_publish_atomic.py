"""Republishing a night replaces it at once; a crash midway leaves the last complete one."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from test_publish_support import N2, two_night_warehouse

from coklit_dq.config import resolve_settings
from coklit_dq.publish import MARKER, InjectedFailure, publish_night


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def setup(tmp_path):
    con, _ = two_night_warehouse(tmp_path / "w.duckdb")
    settings = resolve_settings(outbox=str(tmp_path / "o"), warehouse=str(tmp_path / "w.duckdb"))
    yield con, settings, tmp_path / "o"
    con.close()


def test_crash_on_first_publication_leaves_nothing_that_looks_published(setup):
    con, settings, out = setup
    with pytest.raises(InjectedFailure):
        publish_night(con, N2, settings, fail_after=5)
    assert not (out / N2.isoformat()).exists()
    assert not list(out.rglob(MARKER))
    assert not list(out.iterdir())  # the staging area was removed


def test_crash_midway_keeps_the_previous_publication_intact(setup):
    con, settings, out = setup
    publish_night(con, N2, settings)
    night = out / N2.isoformat()
    before = _snapshot(night)
    # the night's findings change (a rerun of the rules), then publishing crashes midway
    con.execute("DELETE FROM temuan WHERE tanggal_ekspor = ? AND kode_temuan = 'GANDA_NIK'", [N2])
    # before any file, midway (workbooks built by 2 worker processes), on the last file
    for n, workers in ((0, 1), (7, 2), (16, 1)):
        with pytest.raises(InjectedFailure):
            publish_night(con, N2, settings, fail_after=n, workers=workers)
        assert _snapshot(night) == before
        assert sorted(p.name for p in out.iterdir()) == [N2.isoformat()]


def test_republishing_replaces_the_night_and_never_duplicates(setup):
    con, settings, out = setup
    first = publish_night(con, N2, settings)
    night = out / N2.isoformat()
    assert (night / "32" / "3271" / "temuan.csv").is_file()
    # kabupaten 3271 has no records any more, and one kind of finding is gone
    con.execute("DELETE FROM agregat_desa WHERE tanggal_ekspor = ? AND kode_kab = '3271'", [N2])
    con.execute("DELETE FROM temuan WHERE tanggal_ekspor = ? AND kode_temuan = 'GANDA_NIK'", [N2])
    second = publish_night(con, N2, settings)
    assert second.n_temuan == first.n_temuan - 2
    assert not (night / "32" / "3271").exists()  # nothing of the old publication is left
    nat = pl.read_parquet(night / "nasional" / "temuan.parquet")
    assert nat.height == second.n_temuan and "GANDA_NIK" not in set(nat["kode_temuan"])
    files = sorted(str(p.relative_to(night)) for p in night.rglob("*") if p.is_file())
    assert files == sorted([*second.files, MARKER])
    assert sorted(p.name for p in out.iterdir()) == [N2.isoformat()]
    # the same night published again gives the same machine-readable bytes
    again = _snapshot(night)
    publish_night(con, N2, settings)
    now = _snapshot(night)
    for rel in (r for r in now if r.endswith((".csv", ".parquet"))):
        assert now[rel] == again[rel], rel


def test_next_run_repairs_a_run_killed_between_the_two_renames(setup):
    con, settings, out = setup
    publish_night(con, N2, settings)
    night = out / N2.isoformat()
    before = _snapshot(night)
    # what a kill between "old night aside" and "staging in" leaves: no night, the old
    # one set aside, and a complete staging area of the killed run
    aside = out / f".lama-{N2.isoformat()}-killed"
    shutil.copytree(night, out / f".staging-{N2.isoformat()}-killed")
    night.rename(aside)
    with pytest.raises(InjectedFailure):
        publish_night(con, N2, settings, fail_after=3)
    assert _snapshot(night) == before  # the previous publication is back in place
    assert sorted(p.name for p in out.iterdir()) == [N2.isoformat()]


def test_next_publish_of_the_night_removes_the_staging_left_by_a_killed_run(setup):
    """A run killed while staging leaves `.staging-<date>-<id>/` (region lists with names):
    the next publish of that night removes it; another night's staging is not its own."""
    con, settings, out = setup
    publish_night(con, N2, settings)
    killed = out / f".staging-{N2.isoformat()}-killed"
    (killed / "32" / "3201").mkdir(parents=True)
    (killed / "32" / "3201" / "temuan.csv").write_text("nama,alamat\n")
    other = out / ".staging-2024-06-30-running"
    other.mkdir()
    publish_night(con, N2, settings)
    assert not killed.exists()
    assert other.is_dir()
    assert sorted(p.name for p in out.iterdir()) == [".staging-2024-06-30-running", N2.isoformat()]
    assert (out / N2.isoformat() / MARKER).is_file()
