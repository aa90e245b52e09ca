"""Benchmark of stage 4 at scale and of a whole night's memory (not a test).

    .venv/bin/python benchmarks/bench_linkage.py [STEP ...] [--cache /tmp/coklit-bench]
        [--voters 1000000] [--incr-voters 5000000] [--changed 0.01]
        [--nightly-voters 5000000] [--big-voters 10000000] [--spark-voters 1000000] [--check]

STEP (default: every one, in this order):
  full     simulate (cached) + ingest one night of --voters, then run_linkage with
           full=True (GANDA_NIK + GANDA_ORANG of every record): seconds, peak.
  incr     one night of --incr-voters linked in full, night 2 = night 1 with
           --changed of the records changed (a third renamed, a third moved to another
           desa, a third new BARU copies with the nik's last digit changed), then the
           incremental run_linkage of night 2: seconds, peak. With --check, night 2 is
           also re-linked in full (on a copy) and its pairs and clusters compared.
  nightly  `coklit-dq nightly` (the whole Prefect flow: ingest, rules, link, diff,
           publish) on nights 1 and 2 of a simulated --nightly-voters export: wall
           seconds and the peak memory of the command's whole process tree.
  big      `coklit-dq nightly` on night 1 of a --big-voters export (the night that
           links every record): wall seconds and peak.
  spark    one night of --spark-voters linked in full with DuckDB and again with
           COKLIT_DQ_LINKAGE_BACKEND=spark (Settings.linkage_spark_*, local mode):
           seconds, peaks of the python process and of the JVM, and whether the pairs
           (cluster edges) and the clusters are the same.

Every measured step runs in a child process; this script polls /proc every 0.1 s
and reports the peak of the summed RSS of that child's whole process tree (Prefect's
temporary API server, the JVM, publish workers), the peak of the largest process,
and the load average of the machine when the step ended (the machine may be
shared: read the figures with it). DuckDB runs with the night's settings
(Settings.duckdb_memory_limit / COKLIT_DQ_DUCKDB_MEMORY_LIMIT, duckdb_threads),
printed at the start.

Simulated exports are cached under --cache, keyed by size, seed and a digest of the
simulator's source (a changed simulator makes new nights); the warehouses are
rebuilt every run. --keep keeps the work folder.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PY = sys.executable
GIB = 2**30


# --- measuring a child process tree -------------------------------------------------


def _rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for t in tasks:
        try:
            out.extend(int(x) for x in (t / "children").read_text(encoding="ascii").split())
        except OSError:
            continue
    return out


def _name(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    exe = Path(argv[0].decode(errors="replace")).name if argv else "?"
    if exe == "java":
        return "java"
    if any(b"uvicorn" in a or b"prefect.server" in a for a in argv):
        return "prefect-server"
    return "python" if exe.startswith("python") or b"coklit-dq" in argv[0] else exe


@dataclass
class Peak:
    seconds: float = 0.0
    tree_kib: int = 0  # max over time of the summed RSS of the tree
    by_kind: dict[str, int] = field(default_factory=dict)  # max RSS of one process, per kind
    root_maxrss_kib: int = 0  # the kernel's ru_maxrss of the direct child
    cpu: float = 0.0  # user + system CPU seconds of the child and its waited-for children
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    timeline: list[tuple[float, int]] = field(default_factory=list)  # (seconds, tree KiB)
    marks: list[tuple[float, str]] = field(default_factory=list)  # (seconds, stderr line)

    def by_step(self) -> str:
        """Peak tree RSS between the pipeline's "step X started" log lines."""
        starts = [
            (t, m.group(1))
            for t, line in self.marks
            if (m := re.search(r"step (\w+) started", line))
        ]
        if not starts:
            return ""
        bounds = [(0.0, "start-up"), *starts, (float("inf"), "")]
        parts = []
        for (t0, name), (t1, _) in itertools.pairwise(bounds):
            inside = [kib for t, kib in self.timeline if t0 <= t < t1]
            if inside:
                last = self.timeline[-1][0] if t1 == float("inf") else t1
                parts.append(
                    f"{name} {min(last, self.seconds) - t0:.0f} s / {max(inside) / 2**20:.2f}"
                )
        return "per step (wall s / peak GiB, steps after publish included in it): " + ", ".join(
            parts
        )

    def text(self) -> str:
        kinds = ", ".join(
            f"{k} {v / 2**20:.2f}" for k, v in sorted(self.by_kind.items()) if v > 2**10 * 50
        )
        return (
            f"CPU {self.cpu:.0f} s; peak RSS of the process tree {self.tree_kib / 2**20:.2f} GiB "
            f"(largest process of each kind, GiB: {kinds}); load average "
            + " ".join(f"{x:.2f}" for x in self.load)
        )


def measured(argv: list[str], env: dict[str, str] | None = None, tee: bool = False) -> Peak:
    """Run argv, polling its process tree's RSS until it ends."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=str(REPO),
    )
    peak = Peak()
    out: list[str] = []
    err: list[str] = []

    def pump(stream: Any, sink: list[str], echo: bool) -> None:
        for line in stream:
            sink.append(line)
            peak.marks.append((time.perf_counter() - t0, line))
            if echo:
                sys.stdout.write("    | " + line)
                sys.stdout.flush()

    threads = [
        threading.Thread(target=pump, args=(proc.stdout, out, tee), daemon=True),
        threading.Thread(target=pump, args=(proc.stderr, err, False), daemon=True),
    ]
    for t in threads:
        t.start()
    while True:
        pids, todo = [], [proc.pid]
        while todo:
            p = todo.pop()
            pids.append(p)
            todo.extend(_children(p))
        total = 0
        for p in pids:
            r = _rss_kib(p)
            total += r
            kind = _name(p)
            peak.by_kind[kind] = max(peak.by_kind.get(kind, 0), r)
        peak.tree_kib = max(peak.tree_kib, total)
        peak.timeline.append((time.perf_counter() - t0, total))
        try:
            _, status, usage = os.wait4(proc.pid, os.WNOHANG)
        except ChildProcessError:
            break
        if _:
            peak.returncode = os.waitstatus_to_exitcode(status)
            peak.root_maxrss_kib = usage.ru_maxrss
            peak.cpu = usage.ru_utime + usage.ru_stime
            break
        time.sleep(0.1)
    proc.returncode = peak.returncode
    for t in threads:
        t.join()
    peak.seconds = time.perf_counter() - t0
    peak.stdout, peak.stderr = "".join(out), "".join(err)
    peak.load = os.getloadavg()
    by = peak.by_kind
    by["python"] = max(by.get("python", 0), peak.root_maxrss_kib)
    if peak.returncode != 0:
        sys.stdout.write(peak.stderr[-4000:])
        raise SystemExit(f"failed ({peak.returncode}): {' '.join(argv)}")
    return peak


def worker(step: str, **kwargs: Any) -> tuple[dict[str, Any], Peak]:
    """Run a worker step of this script in a measured child; its JSON answer."""
    peak = measured([PY, __file__, "--worker", step, json.dumps(kwargs, default=str)])
    lines = [ln for ln in peak.stdout.splitlines() if ln.startswith("{")]
    for ln in peak.stderr.splitlines():
        if ln.startswith("    ") and ("linkage" in ln or "GANDA" in ln):
            print("    log:" + ln)
    return json.loads(lines[-1]), peak


# --- simulated exports, cached ------------------------------------------------------


def simulator_digest() -> str:
    h = hashlib.sha256()
    for p in sorted((REPO / "coklit_dq" / "simulate").rglob("*.py")):
        h.update(p.read_bytes())
    return h.hexdigest()[:10]


def export(cache: Path, voters: int, nights: int, seed: int) -> tuple[Path, list[date]]:
    """A simulated export root (made once per simulator version) and its nights."""
    root = cache / f"sim-{voters}-n{nights}-s{seed}-{simulator_digest()}"
    done = root / ".nights.json"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        print(f"  simulating {voters:,} voters x {nights} nights (once) into {root}")
        peak = measured(
            [PY, "-m", "coklit_dq.cli", "simulate", "--out", str(root),
             "--voters", str(voters), "--nights", str(nights), "--seed", str(seed)]
        )  # fmt: skip
        print(f"    simulated in {peak.seconds:.1f} s; {peak.text()}")
        nights_found = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name[:1].isdigit())
        done.write_text(json.dumps(nights_found))
    return root, [date.fromisoformat(d) for d in json.loads(done.read_text())]


# --- worker steps (run in a child) -----------------------------------------------------


def w_ingest(warehouse: str, source: str, tanggal: str) -> dict[str, Any]:
    from coklit_dq import warehouse as wh
    from coklit_dq.config import resolve_settings
    from coklit_dq.ingest import ingest_night

    settings = resolve_settings(warehouse=warehouse)
    con = wh.connect_settings(settings)
    t0 = time.perf_counter()
    ingest_night(con, source, date.fromisoformat(tanggal), settings)
    wh.finish_run(con, date.fromisoformat(tanggal), "done", "benchmark")  # a finished night
    n = con.execute(
        "SELECT count(*) FROM pemilih WHERE tanggal_ekspor = ?", [date.fromisoformat(tanggal)]
    ).fetchall()[0][0]
    con.close()
    return {"seconds": time.perf_counter() - t0, "records": n}


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


def w_change(warehouse: str, d1: str, changed: float) -> dict[str, Any]:
    """Night 2 = night 1 with `changed` of the records changed (see CHANGE_SQL)."""
    from coklit_dq import warehouse as wh
    from coklit_dq.config import resolve_settings

    con = wh.connect_settings(resolve_settings(warehouse=warehouse))
    n1 = date.fromisoformat(d1)
    n2 = n1 + timedelta(days=1)
    con.execute(CHANGE_SQL, {"d1": n1, "d2": n2, "k": int(changed * 1_000_000)})
    for table in ("wilayah", "tps", "pantarlih", "files"):
        con.execute(
            f"INSERT INTO {table} BY NAME SELECT * REPLACE (CAST(? AS DATE) AS tanggal_ekspor) "
            f"FROM {table} WHERE tanggal_ekspor = ?",
            [n2, n1],
        )
    con.execute("INSERT INTO runs (tanggal_ekspor, state) VALUES (?, 'done')", [n2])
    assert wh.previous_night(con, n2) == n1
    con.close()
    return {"d2": n2.isoformat()}


def w_link(
    warehouse: str, tanggal: str, full: bool, backend: str = "duckdb", dump: str | None = None
) -> dict[str, Any]:
    """run_linkage on one night; with `dump`, its cluster edges and clusters as JSON."""
    import logging

    import polars as pl

    from coklit_dq import warehouse as wh
    from coklit_dq.config import resolve_settings
    from coklit_dq.link import run_linkage

    logging.basicConfig(level=logging.WARNING, format="    %(message)s")
    logging.getLogger("coklit_dq.link").setLevel(logging.INFO)
    settings = resolve_settings(warehouse=warehouse, linkage_backend=backend)
    con = wh.connect_settings(settings)
    day = date.fromisoformat(tanggal)
    t0 = time.perf_counter()
    raw = run_linkage(con, day, settings, full=full)
    seconds = time.perf_counter() - t0
    mode, n_rec, berubah, n_pairs = con.execute(
        "SELECT mode, rekaman, berubah, pasangan FROM link_malam WHERE tanggal_ekspor = ?", [day]
    ).fetchall()[0]
    if dump:
        edges = sorted(
            [str(a), str(b)] for a, b in con.execute("SELECT id_l, id_r FROM _link_sisi").fetchall()
        )
        orang = raw.filter(pl.col("kode_temuan") == "GANDA_ORANG")
        clusters = sorted(
            sorted(g["id_pemilih"].to_list()) for _, g in orang.group_by("id_kelompok")
        )
        Path(dump).write_text(json.dumps({"edges": edges, "clusters": clusters}))
    if backend == "spark":
        from coklit_dq.link.spark import stop_session

        stop_session()
    con.close()
    by = dict(raw.group_by("kode_temuan").len().sort("kode_temuan").rows())
    return {
        "seconds": seconds,
        "mode": mode,
        "records": n_rec,
        "scored": berubah,
        "pairs": n_pairs,
        "findings": by,
        "spark": [
            settings.linkage_spark_master,
            settings.linkage_spark_driver_memory,
            settings.linkage_spark_partitions,
        ],
    }


WORKERS = {"ingest": w_ingest, "change": w_change, "link": w_link}


# --- the steps -------------------------------------------------------------------------


def ingested(work: Path, cache: Path, voters: int, name: str) -> tuple[str, date]:
    """Night 1 of the two-night export of `voters` (shared with `nightly`), ingested."""
    source, nights = export(cache, voters, 2, 1)
    wh = str(work / f"{name}.duckdb")
    res, peak = worker("ingest", warehouse=wh, source=str(source), tanggal=nights[0])
    print(f"  ingested {res['records']:,} records in {res['seconds']:.1f} s ({peak.text()})")
    return wh, nights[0]


def step_full(work: Path, cache: Path, args: argparse.Namespace) -> None:
    print(f"\n== full dedup (GANDA_NIK + GANDA_ORANG), {args.voters:,} voters")
    wh, day = ingested(work, cache, args.voters, "full")
    res, peak = worker("link", warehouse=wh, tanggal=day, full=True)
    print(
        f"  FULL DEDUP {args.voters:,} voters: run_linkage {res['seconds']:.1f} s "
        f"(target <= 60 s) for {res['records']:,} records not TMS, {res['pairs']:,} scored "
        f"pairs >= floor, findings {res['findings']}; {peak.text()}"
    )


def step_incr(work: Path, cache: Path, args: argparse.Namespace) -> None:
    print(f"\n== incremental night, {args.incr_voters:,} voters, {args.changed:.1%} changed")
    wh, d1 = ingested(work, cache, args.incr_voters, "incr")
    res, peak = worker("link", warehouse=wh, tanggal=d1, full=True)
    print(
        f"  night 1, full link: {res['seconds']:.1f} s for {res['records']:,} records, "
        f"{res['pairs']:,} pairs; {peak.text()}"
    )
    ch, _ = worker("change", warehouse=wh, d1=d1, changed=args.changed)
    copy = work / "incr-full.duckdb"
    if args.check:
        shutil.copyfile(wh, copy)
    res, peak = worker(
        "link", warehouse=wh, tanggal=ch["d2"], full=False, dump=str(work / "incr.json")
    )
    print(
        f"  INCREMENTAL {args.incr_voters:,} voters: night 2 ({res['mode']}) run_linkage "
        f"{res['seconds']:.1f} s (target <= 30 s) for {res['records']:,} records, "
        f"{res['scored']:,} new or changed ({res['scored'] / res['records']:.2%}), "
        f"{res['pairs']:,} pairs; {peak.text()}"
    )
    if args.check:
        f_res, f_peak = worker(
            "link", warehouse=str(copy), tanggal=ch["d2"], full=True, dump=str(work / "full.json")
        )
        a = json.loads((work / "incr.json").read_text())
        b = json.loads((work / "full.json").read_text())
        print(
            f"  night 2 re-linked in full: {f_res['seconds']:.1f} s; same pairs as the "
            f"incremental night: {a['edges'] == b['edges']} ({len(a['edges']):,} vs "
            f"{len(b['edges']):,}), same clusters: {a['clusters'] == b['clusters']} "
            f"({len(a['clusters']):,} vs {len(b['clusters']):,}); {f_peak.text()}"
        )


def _nightly(work: Path, source: Path, day: date, name: str) -> Peak:
    argv = [
        PY, "-m", "flows.cli", "nightly", "--source", str(source), "--date", day.isoformat(),
        "--warehouse", str(work / f"{name}.duckdb"), "--outbox", str(work / f"{name}-outbox"),
        "--inbox", str(work / f"{name}-inbox"),
    ]  # fmt: skip
    # A Prefect home of its own: the temporary API server's database is not shared.
    env = {
        "PREFECT_HOME": str(work / "prefect-home"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "PYTHONUNBUFFERED": "1",
    }
    peak = measured(argv, env=env)
    timings = _step_seconds(work / f"{name}.duckdb", day)
    if timings:
        print("    " + timings)
    if peak.by_step():
        print("    " + peak.by_step())
    return peak


def _step_seconds(warehouse: Path, day: date) -> str:
    """The night's step timings as the run record keeps them, when it does."""
    import duckdb

    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:
        return ""
    try:
        cols = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'runs'"
            ).fetchall()
        }
        for col in ("langkah", "steps", "timings", "step_seconds"):
            if col in cols:
                row = con.execute(
                    f"SELECT {col} FROM runs WHERE tanggal_ekspor = ?", [day]
                ).fetchall()
                return str(row[0][0]) if row else ""
        row = con.execute(
            "SELECT detik, mode, berubah FROM link_malam WHERE tanggal_ekspor = ?", [day]
        ).fetchall()
        return f"link {row[0][0]:.1f} s ({row[0][1]}, {row[0][2]:,} scored)" if row else ""
    finally:
        con.close()


def step_nightly(work: Path, cache: Path, args: argparse.Namespace) -> None:
    n = args.nightly_voters
    print(f"\n== coklit-dq nightly, {n:,} voters, nights 1 and 2")
    source, nights = export(cache, n, 2, 1)
    for i, day in enumerate(nights[:2], 1):
        peak = _nightly(work, source, day, "nightly")
        target = " (target <= 4 GiB)" if i == 2 else ""
        print(
            f"  NIGHTLY {n:,} voters, night {i} ({day}): {peak.seconds:.1f} s wall; "
            f"{peak.text()}{target}"
        )


def step_big(work: Path, cache: Path, args: argparse.Namespace) -> None:
    n = args.big_voters
    print(f"\n== coklit-dq nightly, {n:,} voters, night 1 (every record linked)")
    source, nights = export(cache, n, 1, 1)
    peak = _nightly(work, source, nights[0], "big")
    print(f"  BIG NIGHT {n:,} voters: {peak.seconds:.1f} s wall; {peak.text()}")


def step_spark(work: Path, cache: Path, args: argparse.Namespace) -> None:
    n = args.spark_voters
    print(f"\n== full re-link on Spark vs DuckDB, {n:,} voters")
    wh, day = ingested(work, cache, n, "spark")
    copy = work / "spark-copy.duckdb"
    shutil.copyfile(wh, copy)
    d_res, d_peak = worker(
        "link", warehouse=wh, tanggal=day, full=True, dump=str(work / "duckdb.json")
    )
    print(f"  DuckDB full: {d_res['seconds']:.1f} s, {d_res['pairs']:,} pairs; {d_peak.text()}")
    s_res, s_peak = worker(
        "link",
        warehouse=str(copy),
        tanggal=day,
        full=True,
        backend="spark",
        dump=str(work / "spark.json"),
    )
    a = json.loads((work / "duckdb.json").read_text())
    b = json.loads((work / "spark.json").read_text())
    master, mem, parts = s_res["spark"]
    print(
        f"  SPARK {n:,} voters ({master}, driver {mem}, {parts} partitions): run_linkage "
        f"{s_res['seconds']:.1f} s vs DuckDB {d_res['seconds']:.1f} s; "
        f"same pairs as DuckDB: {a['edges'] == b['edges']} ({len(b['edges']):,} vs "
        f"{len(a['edges']):,}), same clusters: {a['clusters'] == b['clusters']} "
        f"({len(b['clusters']):,} vs {len(a['clusters']):,}); {s_peak.text()}"
    )


STEPS = {
    "full": step_full,
    "incr": step_incr,
    "nightly": step_nightly,
    "big": step_big,
    "spark": step_spark,
}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        out = WORKERS[sys.argv[2]](**json.loads(sys.argv[3]))
        print(json.dumps(out, default=str))
        return
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("steps", nargs="*", help=f"any of {', '.join(STEPS)} (default: all)")
    ap.add_argument("--cache", default="/tmp/coklit-bench", help="simulated exports, kept")
    ap.add_argument("--voters", type=int, default=1_000_000)
    ap.add_argument("--incr-voters", type=int, default=5_000_000)
    ap.add_argument("--changed", type=float, default=0.01)
    ap.add_argument("--nightly-voters", type=int, default=5_000_000)
    ap.add_argument("--big-voters", type=int, default=10_000_000)
    ap.add_argument("--spark-voters", type=int, default=1_000_000)
    ap.add_argument(
        "--check",
        action="store_true",
        help="incr: also re-link night 2 in full and compare its pairs and clusters",
    )
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    unknown = [s for s in args.steps if s not in STEPS]
    if unknown:
        ap.error(f"unknown step {unknown[0]!r}: choose from {', '.join(STEPS)}")
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    work = cache / f"work-{os.getpid()}"
    work.mkdir()

    from coklit_dq.config import resolve_settings

    s = resolve_settings()
    print(
        f"machine: {os.cpu_count()} CPUs, load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
        + f"; DuckDB memory_limit {s.duckdb_memory_limit}, threads "
        f"{s.duckdb_threads or 'all'}; Spark {s.linkage_spark_master}, driver "
        f"{s.linkage_spark_driver_memory}, {s.linkage_spark_partitions} partitions"
    )
    try:
        for name in args.steps or list(STEPS):
            STEPS[name](work, cache, args)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
