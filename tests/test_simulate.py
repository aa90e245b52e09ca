"""The synthetic export generator: contract shape, determinism, truth exactness.

The generated nights are checked with DuckDB SQL written here from the
contract's definitions (independent of the generator's own truth code): on
every night the findings these queries produce must equal the truth file
exactly, so clean data yields nothing incidental and every planted problem is
really in the data.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from coklit_dq.contract import schema
from coklit_dq.simulate import SimulateResult, simulate

VOTERS = 12_000
NIGHTS = 3


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimulateResult]:
    out = tmp_path_factory.mktemp("sim")
    res = simulate(str(out), voters=VOTERS, nights=NIGHTS, seed=11)
    return out, res


def _read(night: Path, stem: str) -> pl.DataFrame:
    for ext in ("parquet", "csv.gz"):
        p = night / f"{stem}.{ext}"
        if p.exists():
            if ext == "parquet":
                return pl.read_parquet(p)
            return pl.read_csv(p, schema=schema(stem.split("/", maxsplit=1)[0]))
    raise FileNotFoundError(stem)


def test_layout_and_manifest(sim: tuple[Path, SimulateResult]) -> None:
    out, res = sim
    assert res.nights == [date(2024, 7, 1), date(2024, 7, 2), date(2024, 7, 3)]
    assert "\n" not in str(res) and str(VOTERS) in str(res)
    for tanggal in res.nights:
        night = out / tanggal.isoformat()
        man = json.loads((night / "manifest.json").read_text())
        assert man["format"] == "coklit-export/1"
        assert man["tanggal_ekspor"] == tanggal.isoformat()
        exts = set()
        for f in man["files"]:
            data = (night / f["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == f["sha256"]
            exts.add(f["path"].split(".", 1)[1])
        assert exts == {"parquet", "csv.gz"}
        listed = {f["path"] for f in man["files"]}
        present = {
            str(p.relative_to(night)) for p in night.rglob("*") if p.is_file()
        } - {"manifest.json"}
        assert listed == present
    assert (out / "_truth" / "orang.parquet").exists()
