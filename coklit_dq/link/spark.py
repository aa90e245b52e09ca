"""GANDA_ORANG on Splink's Spark backend: the same settings and model, another engine.

Local mode here (local[2], few shuffle partitions); on a cluster the same code
runs with the session the cluster provides (see readme-link.md). Splink's
bundled similarity jar is passed through spark.jars so its Damerau-Levenshtein
and Jaro-Winkler UDFs exist in Spark SQL.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa

_STATE: dict[str, Any] = {}  # the process's Spark session, created on first use


def spark_session(master: str | None = None) -> Any:
    """One local Spark session per process (created on first use)."""
    if "session" in _STATE:
        return _STATE["session"]
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    tmp = str(Path(tempfile.gettempdir()) / "coklit-dq-spark")
    builder = (
        SparkSession.builder.master(master or os.environ.get("COKLIT_DQ_SPARK_MASTER", "local[2]"))
        .appName("coklit-dq-linkage")
        .config("spark.jars", similarity_jar_location())
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .config("spark.driver.memory", os.environ.get("COKLIT_DQ_SPARK_DRIVER_MEMORY", "2g"))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.local.dir", tmp)
        .config("spark.checkpoint.dir", tmp)
    )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    session.sparkContext.setCheckpointDir(tmp)
    _STATE["session"] = session
    return session


def stop_session() -> None:
    session = _STATE.pop("session", None)
    if session is not None:
        session.stop()


def spark_api() -> Any:
    from splink import SparkAPI

    return SparkAPI(
        spark_session=spark_session(),
        num_partitions_on_repartition=4,
        break_lineage_method="persist",
    )


def to_spark(db_api: Any, table: pa.Table) -> Any:
    """An arrow table as a Spark DataFrame on the API's session."""
    return db_api.spark.createDataFrame(table.to_pandas())
