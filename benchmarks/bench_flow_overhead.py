"""What one `coklit-dq nightly` costs beyond its steps, against a plain script.

    .venv/bin/python benchmarks/bench_flow_overhead.py [--voters 1000000] [--repeat 2]
        [--api temporary,server] [--workdir DIR]

On night 2 of a simulated export (seed 3; night 1 is run once first, and each
timed run starts from a copy of that warehouse), paired runs, each a fresh process
timed whole (imports, reading, exit):

  plain      benchmarks/plain_night.py: reads both nights' export files into DuckDB
             and runs the deterministic rules as plain SQL (no Prefect, no GX);
  temporary  `coklit-dq nightly` with no PREFECT_API_URL: Prefect starts its
             temporary server in the process and stops it at exit (a run by hand);
  server     `coklit-dq nightly` reporting to a long-lived `prefect server start`
             (the production setup of docs/operations.md), started once here.

Each nightly run is split, from its own log lines, into: before the flow run
begins (imports, server start, creating the run), the steps (pipeline timings),
between the steps (task runs, imports inside tasks, artifacts), and after the
flow run (server stop, exit). Prints every run with the load average, then the
medians and the median of the paired ratios nightly / plain. PREFECT_HOME is
a folder of the workdir (its database is created by the night-1 run).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import date, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
N1, N2 = date(2024, 7, 1), date(2024, 7, 2)
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
STEP = re.compile(r"step (\w+) done in ([\d.]+) s")


def env_for(workdir: Path, api: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "COKLIT_DQ_"))}
    env["PREFECT_HOME"] = str(workdir / "prefect")
    if api:
        env["PREFECT_API_URL"] = api
    return env


def stamp(line: str) -> float | None:
    m = STAMP.match(line)
    if not m:
        return None
    return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def nightly(workdir: Path, api: str | None, tag: str) -> dict[str, float]:
    """One `coklit-dq nightly` of night 2 from a copy of the night-1 warehouse."""
    run = workdir / f"run-{tag}"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir()
    shutil.copy(workdir / "night1" / "w.duckdb", run / "w.duckdb")
    cmd = [str(BIN / "coklit-dq"), "nightly", "--source", str(workdir / "export"),
           "--date", N2.isoformat(), "--outbox", str(run / "outbox"),
           "--warehouse", str(run / "w.duckdb"), "--inbox", str(run / "inbox")]  # fmt: skip
    t0 = time.time()
    proc = subprocess.run(
        cmd, env=env_for(workdir, api), capture_output=True, text=True, check=False
    )
    t_end = time.time()
    if proc.returncode != 0:
        raise SystemExit(f"coklit-dq nightly failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    begin = end = None
    steps: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if "Beginning flow run" in line:
            begin = stamp(line)
        elif "prefect.flow_runs" in line and "Finished in state" in line:
            end = stamp(line)
        elif m := STEP.search(line):
            steps[m.group(1)] = float(m.group(2))
    assert begin is not None and end is not None, proc.stderr[-2000:]
    total = t_end - t0
    in_steps = sum(steps.values())
    shutil.rmtree(run, ignore_errors=True)
    return {
        "wall": total,
        "before": begin - t0,
        "steps": in_steps,
        "between": (end - begin) - in_steps,
        "after": t_end - end,
        **{f"step {k}": v for k, v in steps.items()},
    }


def plain(workdir: Path) -> float:
    t0 = time.time()
    subprocess.run(
        [sys.executable, str(HERE / "plain_night.py"), str(workdir / "export"), N2.isoformat()],
        check=True,
        capture_output=True,
    )
    return time.time() - t0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = env_for(workdir, None)
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    proc = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=2) as r:
                if r.status == 200:
                    return proc, api
        except OSError:
            time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)
    raise SystemExit("prefect server did not start")


def prepare(workdir: Path, voters: int) -> None:
    export = workdir / "export"
    if not (export / N2.isoformat() / "manifest.json").is_file():
        subprocess.run(
            [str(BIN / "coklit-dq"), "simulate", "--out", str(export), "--voters", str(voters),
             "--nights", "2", "--seed", "3"],
            check=True,
        )  # fmt: skip
    wh = workdir / "night1" / "w.duckdb"
    if not wh.is_file():
        wh.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [str(BIN / "coklit-dq"), "nightly", "--source", str(export), "--date", N1.isoformat(),
             "--outbox", str(wh.parent / "outbox"), "--warehouse", str(wh),
             "--inbox", str(wh.parent / "inbox")],
            env=env_for(workdir, None),
            check=True,
            capture_output=True,
        )  # fmt: skip


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--voters", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--api", default="temporary,server", help="temporary, server or both")
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args()
    workdir = args.workdir or Path(f"/tmp/bench-flow-{args.voters}")
    workdir.mkdir(parents=True, exist_ok=True)
    prepare(workdir, args.voters)
    modes = args.api.split(",")
    server: subprocess.Popen[bytes] | None = None
    apis: dict[str, str | None] = {"temporary": None}
    if "server" in modes:
        server, apis["server"] = start_server(workdir)
    rows: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    plains: list[float] = []
    ratios: dict[str, list[float]] = {m: [] for m in modes}
    print(f"{args.voters} voters, night {N2}; load average 1/5/15 min printed with each run")
    try:
        for i in range(args.repeat):
            p = plain(workdir)
            plains.append(p)
            print(f"plain      {p:6.2f} s                                          load {load()}")
            for mode in modes:
                r = nightly(workdir, apis[mode], f"{mode}-{i}")
                rows[mode].append(r)
                ratios[mode].append(r["wall"] / p)
                steps = ", ".join(f"{k[5:]} {v:.1f}" for k, v in r.items() if k.startswith("step "))
                print(
                    f"{mode:<10} {r['wall']:6.2f} s = before {r['before']:5.2f} + steps "
                    f"{r['steps']:5.2f} + between {r['between']:5.2f} + after {r['after']:5.2f}"
                    f"   load {load()}\n           steps: {steps}"
                )
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    print(f"\nmedians over {args.repeat} paired runs (plain {statistics.median(plains):.2f} s):")
    for mode in modes:
        med = {k: statistics.median(r[k] for r in rows[mode]) for k in rows[mode][0]}
        print(
            f"  {mode:<10} wall {med['wall']:6.2f} s (before {med['before']:.2f}, steps "
            f"{med['steps']:.2f}, between {med['between']:.2f}, after {med['after']:.2f}); "
            f"nightly / plain {statistics.median(ratios[mode]):.2f}x"
        )
        # what the plain script also does (read the export, the deterministic rules) against
        # what it does not (duplicates, history, the regions' files) and the fixed cost
        same = statistics.median(r.get("step ingest", 0) + r.get("step validate", 0)
                                 for r in rows[mode])  # fmt: skip
        fixed = statistics.median(r["before"] + r["between"] + r["after"] for r in rows[mode])
        beyond = med["steps"] - same
        print(
            f"  {'':<10} of which: ingest + validate {same:.2f} s "
            f"({same / statistics.median(plains):.2f}x plain), steps the plain script does not "
            f"have (link, diff, tanggapan, publish, notify) {beyond:.2f} s, fixed cost "
            f"(before + between + after) {fixed:.2f} s"
        )
    print(f"load average at the end: {load()}")


if __name__ == "__main__":
    main()
