"""Benchmark of stage 4 (not a test): full dedup and an incremental night.

    .venv/bin/python benchmarks/bench_linkage.py [--voters 1000000] [--incr-voters 5000000]
        [--changed 0.01] [--workdir /tmp/coklit-bench-link] [--skip-full] [--skip-incr]
        [--spark]

--spark: after the DuckDB full link, the same night again on Splink's Spark backend
(local mode, Settings.linkage_spark_*): time, peaks, and whether pairs and clusters
equal DuckDB's.

1. Full: simulate one night of --voters (the project's simulator), ingest it,
   run_linkage (GANDA_NIK + GANDA_ORANG, every record): seconds, pairs, findings.
2. Incremental: simulate + ingest --incr-voters, link night 1 in full, then
   night 2 = night 1 with --changed of the records changed (names retyped, moved
   to another desa, new BARU duplicates), and run_linkage on night 2: seconds.
Peak memory: max RSS of this process after each step (the simulator and ingest run
in a child process and are not counted).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import resource
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from coklit_dq import warehouse  # noqa: E402
from coklit_dq.config import resolve_settings  # noqa: E402
from coklit_dq.ingest import ingest_night  # noqa: E402
from coklit_dq.link import run_linkage  # noqa: E402
from coklit_dq.simulate import simulate  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_mb() -> float:
    """Largest child process so far (the Spark JVM of --spark; the simulator's child)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _simulate_and_ingest(workdir: str, voters: int, seed: int) -> date:
    """In a child process, so the simulator's memory is not counted as the linkage's."""
    sim = Path(workdir) / f"sim{voters}"
    res = simulate(str(sim), voters=voters, nights=1, seed=seed)
    tanggal = res.nights[0]
    settings = resolve_settings(
        warehouse=str(Path(workdir) / f"w{voters}.duckdb"), outbox=str(Path(workdir) / "outbox")
    )
    con = warehouse.connect(settings.warehouse)
    ingest_night(con, str(sim), tanggal, settings)
    warehouse.finish_run(con, tanggal, "done", "benchmark")  # a finished night counts
    con.close()
    return tanggal


def night(workdir: Path, voters: int, seed: int) -> tuple[object, date]:
    t0 = time.perf_counter()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as ex:
        tanggal = ex.submit(_simulate_and_ingest, str(workdir), voters, seed).result()
    con = warehouse.connect(str(workdir / f"w{voters}.duckdb"))
    print(f"  simulated + ingested {voters} voters in {time.perf_counter() - t0:.1f} s (child)")
    return con, tanggal


def _edges(con: object) -> set[tuple[str, str]]:
    return {
        (str(a), str(b))
        for a, b in con.execute(  # type: ignore[attr-defined]
            "SELECT id_l, id_r FROM _link_sisi"
        ).fetchall()
    }


def _clusters(raw: object) -> set[frozenset[str]]:
    import polars as pl

    orang = raw.filter(pl.col("kode_temuan") == "GANDA_ORANG")  # type: ignore[attr-defined]
    return {frozenset(g["id_pemilih"].to_list()) for _, g in orang.group_by("id_kelompok")}


def full(workdir: Path, voters: int, spark: bool = False) -> None:
    print(f"full dedup, {voters} voters")
    con, tanggal = night(workdir, voters, seed=11)
    settings = resolve_settings()
    t0 = time.perf_counter()
    raw = run_linkage(con, tanggal, settings, full=True)
    dt = time.perf_counter() - t0
    n_rec, n_pairs = con.execute(
        "SELECT rekaman, pasangan FROM link_malam WHERE tanggal_ekspor = ?", [tanggal]
    ).fetchall()[0]
    by = raw.group_by("kode_temuan").len().sort("kode_temuan").rows()
    print(
        f"  run_linkage full: {dt:.1f} s for {n_rec} records not TMS, {n_pairs} scored pairs "
        f">= floor, findings {by}; peak RSS {peak_mb():.0f} MB"
    )
    if spark:
        edges, clusters = _edges(con), _clusters(raw)
        spark_settings = resolve_settings(linkage_backend="spark")
        t0 = time.perf_counter()
        raw_s = run_linkage(con, tanggal, spark_settings, full=True)
        dt = time.perf_counter() - t0
        same_edges, same_clusters = _edges(con) == edges, _clusters(raw_s) == clusters
        from coklit_dq.link.spark import stop_session

        stop_session()  # the JVM exits, so its peak counts among the children
        print(
            f"  run_linkage full on Spark ({spark_settings.linkage_spark_master}, driver "
            f"{spark_settings.linkage_spark_driver_memory}, "
            f"{spark_settings.linkage_spark_partitions} partitions): {dt:.1f} s; same pairs as "
            f"DuckDB: {same_edges}, same clusters: {same_clusters}; peak RSS python "
            f"{peak_mb():.0f} MB, largest child (JVM) {children_peak_mb():.0f} MB"
        )
    con.close()


# Night 2 from night 1: of every million records, k/3 retyped names, k/3 moved to
# another desa, and k/3 get a new BARU duplicate with the nik's last digit changed.
CHANGE_SQL = """
INSERT INTO pemilih BY NAME
WITH pick AS (
  SELECT * REPLACE (CAST($d2 AS DATE) AS tanggal_ekspor), hash(id_pemilih) % 1000000 AS h
  FROM pemilih WHERE tanggal_ekspor = $d1
), somewhere AS (SELECT min(kode_desa) AS desa FROM pick)
SELECT * EXCLUDE (h, desa) REPLACE (
  CASE WHEN h < $k / 3 THEN nama || 'H' ELSE nama END AS nama,
  CASE WHEN h >= $k / 3 AND h < 2 * $k / 3 THEN desa ELSE kode_desa END AS kode_desa)
FROM pick, somewhere
UNION ALL
SELECT * EXCLUDE (h) REPLACE ('N' || id_pemilih AS id_pemilih, 'BARU' AS status_coklit,
  substr(nik, 1, 15) || CAST((CAST(substr(nik, 16, 1) AS INTEGER) + 1) % 10 AS VARCHAR) AS nik)
FROM pick WHERE h >= 2 * $k / 3 AND h < $k AND status_coklit <> 'TMS'
  AND regexp_full_match(nik, '[0-9]{16}')
"""


def incremental(workdir: Path, voters: int, changed: float) -> None:
    print(f"incremental night, {voters} voters, {changed:.1%} changed")
    con, d1 = night(workdir, voters, seed=12)
    settings = resolve_settings()
    t0 = time.perf_counter()
    run_linkage(con, d1, settings, full=True)
    print(f"  night 1 (full link): {time.perf_counter() - t0:.1f} s; peak RSS {peak_mb():.0f} MB")
    d2 = d1 + timedelta(days=1)
    k = int(changed * 1_000_000)  # per million: a third renamed, a third moved, a third new dup
    con.execute(CHANGE_SQL, {"d1": d1, "d2": d2, "k": k})
    con.execute(
        "INSERT INTO wilayah BY NAME SELECT * REPLACE (CAST(? AS DATE) AS tanggal_ekspor) "
        "FROM wilayah WHERE tanggal_ekspor = ?",
        [d2, d1],
    )
    con.execute(
        "INSERT INTO files BY NAME SELECT * REPLACE (CAST(? AS DATE) AS tanggal_ekspor) "
        "FROM files WHERE tanggal_ekspor = ?",
        [d2, d1],
    )
    con.execute("INSERT INTO runs (tanggal_ekspor, state) VALUES (?, 'done')", [d2])
    assert warehouse.previous_night(con, d2) == d1
    t0 = time.perf_counter()
    raw = run_linkage(con, d2, settings)
    dt = time.perf_counter() - t0
    mode, n_rec, berubah, n_pairs = con.execute(
        "SELECT mode, rekaman, berubah, pasangan FROM link_malam WHERE tanggal_ekspor = ?", [d2]
    ).fetchall()[0]
    print(
        f"  night 2 ({mode}): {dt:.1f} s for {n_rec} records, {berubah} new or changed "
        f"({berubah / n_rec:.2%}), {n_pairs} pairs, {raw.height} findings; "
        f"peak RSS {peak_mb():.0f} MB"
    )
    con.close()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="    %(message)s")
    logging.getLogger("coklit_dq.link").setLevel(logging.INFO)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--voters", type=int, default=1_000_000)
    ap.add_argument("--incr-voters", type=int, default=5_000_000)
    ap.add_argument("--changed", type=float, default=0.01)
    ap.add_argument("--workdir", default="/tmp/coklit-bench-link")
    ap.add_argument("--skip-full", action="store_true")
    ap.add_argument("--skip-incr", action="store_true")
    ap.add_argument(
        "--spark", action="store_true", help="also re-link the full night on Spark and compare"
    )
    args = ap.parse_args()
    workdir = Path(args.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    try:
        if not args.skip_full:
            full(workdir, args.voters, spark=args.spark)
        if not args.skip_incr:
            incremental(workdir, args.incr_voters, args.changed)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
