"""GANDA_ORANG on Splink's Spark backend: the same settings and model, another engine.

Local mode here (local[2], few shuffle partitions); on a cluster the same code
runs with the session the cluster provides (see readme-link.md). Splink's
bundled similarity jar is passed through spark.jars so its Damerau-Levenshtein
and Jaro-Winkler UDFs exist in Spark SQL.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa

_STATE: dict[str, Any] = {}  # the process's Spark session, created on first use


def _setting(settings: Any, name: str, env: str, default: str) -> str:
    value = getattr(settings, name, None)
    return str(value) if value is not None else os.environ.get(env, default)


def spark_session(settings: Any = None) -> Any:
    """One Spark session per process (created on first use), sized by the settings
    (linkage_spark_master, _driver_memory, _partitions; see coklit_dq/config.py)."""
    if "session" in _STATE:
        return _STATE["session"]
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    # Spark's spills and checkpoints hold the night's records: a folder of this session's
    # own (owner-only, mkdtemp), never a fixed name in the shared /tmp; removed on stop.
    tmp = tempfile.mkdtemp(prefix="coklit-dq-spark-")
    _STATE["tmp"] = tmp
    # also when the run fails and the process ends without stop_session()
    atexit.register(shutil.rmtree, tmp, True)
    parts = partitions(settings)
    builder = (
        SparkSession.builder.master(
            _setting(settings, "linkage_spark_master", "COKLIT_DQ_SPARK_MASTER", "local[2]")
        )
        .appName("coklit-dq-linkage")
        .config("spark.jars", similarity_jar_location())
        .config("spark.sql.shuffle.partitions", str(parts))
        .config("spark.default.parallelism", str(parts))
        .config(
            "spark.driver.memory",
            _setting(
                settings, "linkage_spark_driver_memory", "COKLIT_DQ_SPARK_DRIVER_MEMORY", "3g"
            ),
        )
        # No broadcast joins: every join sorts and merges, spilling to disk. A broadcast
        # collects one side through the driver, and at 1 M records Splink's blocking
        # (a self-join of the records on each rule's keys) failed with "TaskResultLost
        # (result lost from block manager)" in a local[2] / 3g driver; adaptive execution
        # would turn a join into a broadcast at run time unless told not to as well.
        .config("spark.sql.autoBroadcastJoinThreshold", "-1")
        .config("spark.sql.adaptive.autoBroadcastJoinThreshold", "-1")
        .config("spark.driver.maxResultSize", "1g")
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
    drop_inputs()
    tmp = _STATE.pop("tmp", None)
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


def drop_inputs() -> None:
    """Remove the Parquet copies of the records `to_spark` handed to Spark (personal
    data): called when a linkage run is over with them."""
    for folder in _STATE.pop("inputs", []):
        shutil.rmtree(folder, ignore_errors=True)


def partitions(settings: Any = None) -> int:
    return int(_setting(settings, "linkage_spark_partitions", "COKLIT_DQ_SPARK_PARTITIONS", "8"))


def spark_api(settings: Any = None) -> Any:
    from splink import SparkAPI

    return SparkAPI(
        spark_session=spark_session(settings),
        num_partitions_on_repartition=partitions(settings),
        # parquet on local disk, not cached in the heap
        break_lineage_method="parquet",
    )


def to_spark(db_api: Any, table: pa.Table) -> Any:
    """An arrow table as a Spark DataFrame on the API's session, handed over as a
    Parquet file (the driver never holds the records as Python objects)."""
    import pyarrow.parquet as pq

    folder = Path(tempfile.mkdtemp(prefix="coklit-dq-spark-in-"))
    _STATE.setdefault("inputs", []).append(folder)
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "records.parquet"
    pq.write_table(table, path)
    return db_api.spark.read.parquet(str(path))
