"""The Spark backend gives the same GANDA_ORANG clusters as DuckDB (same model, same night).

Slow (a local Spark session: JVM start, Splink's similarity jar) and needs Java.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import polars as pl
import pytest
from test_link import D1, load, planted_night

from coklit_dq import warehouse
from coklit_dq.link import ganda_orang

pytestmark = [pytest.mark.slow, pytest.mark.spark]


@pytest.fixture(scope="module")
def spark_available() -> None:
    if shutil.which("java") is None:
        pytest.skip("no java on PATH")
    pytest.importorskip("pyspark")


def test_spark_and_duckdb_give_the_same_clusters(spark_available) -> None:
    from coklit_dq.link.spark import stop_session

    def spark_folders() -> set[Path]:
        return set(Path(tempfile.gettempdir()).glob("coklit-dq-spark*"))

    before = spark_folders()
    p, wil = planted_night()
    con = warehouse.connect(":memory:")
    try:
        load(con, D1, p, wil)
        duck = ganda_orang(con, D1, backend="duckdb", full=True)
        duck_pairs = con.execute(
            "SELECT id_l, id_r, match_probability FROM link_pasangan ORDER BY 1, 2"
        ).fetchall()
        spark = ganda_orang(con, D1, backend="spark", full=True)
        spark_pairs = con.execute(
            "SELECT id_l, id_r, match_probability FROM link_pasangan ORDER BY 1, 2"
        ).fetchall()
        backend = con.execute(
            "SELECT backend FROM link_malam WHERE tanggal_ekspor = ?", [D1]
        ).fetchall()[0][0]
    finally:
        con.close()
        stop_session()
    # The records' Parquet copies and Spark's spill folder (personal data) are gone.
    assert spark_folders() <= before
    assert backend == "spark"
    cols = ["id_pemilih", "id_kelompok", "kunci"]
    assert not duck.is_empty()
    assert spark.select(cols).sort(cols).equals(duck.select(cols).sort(cols))
    # The same candidate pairs, scored the same (floating point aside).
    assert [(a, b) for a, b, _ in spark_pairs] == [(a, b) for a, b, _ in duck_pairs]
    for (_, _, ps), (_, _, pd) in zip(spark_pairs, duck_pairs, strict=True):
        assert ps == pytest.approx(pd, abs=1e-6)
    assert set(duck.filter(pl.col("kode_temuan") == "GANDA_ORANG")["id_pemilih"]) >= {
        "XA-2", "XB-2"
    }  # fmt: skip
