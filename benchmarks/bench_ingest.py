"""Ingest time and peak memory for generated nights of 1 M and 5 M voters.

    .venv/bin/python benchmarks/bench_ingest.py                  # 1 M and 5 M
    .venv/bin/python benchmarks/bench_ingest.py --voters 1000000 --keep /tmp/bench

For each size, one subprocess generates two nights with the simulator
(coklit_dq.simulate.simulate; its memory is not counted) and a fresh
subprocess ingests them into a new warehouse file, so the peak resident memory
it reports (resource.getrusage ru_maxrss) is the ingest's alone: Python, polars
and DuckDB together. Night 2 is the steady state: the warehouse already holds
night 1, which is kept as the previous night.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
START = date(2024, 7, 1)


def _generate(out: Path, voters: int, seed: int, generator: str) -> dict:
    t0 = time.perf_counter()
    if generator == "simulate":
        try:
            from coklit_dq.simulate import simulate  # type: ignore[attr-defined]
        except ImportError:  # the package may not re-export it
            from coklit_dq.simulate.core import simulate
        res = simulate(str(out), voters=voters, nights=2, seed=seed, start=START)
        nights = [d.isoformat() for d in res.nights]
    else:  # the exact, uniform nights of the flow tests, 10 provinces, half CSV.gz
        sys.path.insert(0, str(REPO / "tests"))
        from flow_fixtures import make_night

        provs = ("11", "12", "13", "31", "32", "33", "34", "35", "51", "73")
        nights = []
        for k in range(2):
            tanggal = date.fromordinal(START.toordinal() + k)
            formats = {f"pemilih/{p}": "csv.gz" for p in provs[k % 2 :: 2]}
            formats["pantarlih"] = "csv.gz"
            make_night(out, tanggal, voters=voters, provinces=provs, drop=k, formats=formats)
            nights.append(tanggal.isoformat())
    return {"seconds": time.perf_counter() - t0, "nights": nights}


def _ingest(out: Path, warehouse_path: Path, nights: list[str]) -> dict:
    from coklit_dq import warehouse
    from coklit_dq.config import resolve_settings
    from coklit_dq.ingest import ingest_night

    settings = resolve_settings(warehouse=str(warehouse_path), outbox=str(out.parent / "outbox"))
    con = warehouse.connect(settings.warehouse)
    per_night = []
    for n in nights:
        tanggal = date.fromisoformat(n)
        t0 = time.perf_counter()
        result = ingest_night(con, str(out), tanggal, settings)
        seconds = time.perf_counter() - t0
        warehouse.finish_run(con, tanggal, "done", "benchmark")
        rows = con.execute(
            "SELECT count(*) FROM pemilih WHERE tanggal_ekspor = ?", [tanggal]
        ).fetchone()
        per_night.append(
            {
                "night": n,
                "seconds": round(seconds, 2),
                "pemilih_rows": int(rows[0]) if rows else 0,
                "files_used": len(result.used),
                "quarantined": [q.path for q in result.quarantined],
                "formats": sorted({p.split(".", 1)[1] for p in result.used}),
                "steps": {k: round(v, 2) for k, v in result.timings.items()},
            }
        )
    con.close()
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "nights": per_night,
        "peak_rss_mb": round(maxrss_kb / 1024, 1),
        "warehouse_mb": round(warehouse_path.stat().st_size / 2**20, 1),
    }


def _child(args: list[str]) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False, cwd=REPO
    )
    if proc.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--voters", type=int, nargs="*", default=[1_000_000, 5_000_000])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--generator",
        choices=["simulate", "fixtures"],
        default="simulate",
        help="simulate: the realistic simulator (default); fixtures: tests/flow_fixtures nights",
    )
    ap.add_argument("--keep", help="work folder to keep (default: a temporary one, removed)")
    ap.add_argument("--child", choices=["generate", "ingest"], help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--nights", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.child == "generate":
        print(json.dumps(_generate(Path(a.out), a.voters[0], a.seed, a.generator)))
        return
    if a.child == "ingest":
        out = Path(a.out)
        print(json.dumps(_ingest(out, out.parent / "bench.duckdb", a.nights)))
        return

    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        for voters in a.voters:
            folder = work / f"v{voters}"
            if folder.exists():
                shutil.rmtree(folder)
            out = folder / "ekspor"
            gen = _child(["--child", "generate", "--out", str(out), "--voters", str(voters),
                          "--seed", str(a.seed), "--generator", a.generator])  # fmt: skip
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
            ing = _child(["--child", "ingest", "--out", str(out), "--nights", *gen["nights"]])
            print(f"== {voters:,} voters, {a.generator} (generated in {gen['seconds']:.1f} s, "
                  f"{size / 2**20:.0f} MB for 2 nights)")  # fmt: skip
            for n in ing["nights"]:
                print(
                    f"   ingest {n['night']}: {n['seconds']:.1f} s, {n['pemilih_rows']:,} pemilih "
                    f"rows, {n['files_used']} files used ({'+'.join(n['formats'])}), "
                    f"quarantined {n['quarantined'] or 'none'}; steps (s) {n['steps']}"
                )
            print(f"   peak RSS of the ingest process: {ing['peak_rss_mb']:.0f} MB; "
                  f"warehouse file {ing['warehouse_mb']:.0f} MB")  # fmt: skip
            sys.stdout.flush()
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
