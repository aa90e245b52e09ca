"""The export generator at scale: time and peak memory for N voters over K nights.

    .venv/bin/python benchmarks/bench_simulate.py [--voters 1000000] [--nights 2] [--out DIR]

Writes into a temporary folder (removed afterwards) unless --out is given.
Prints the wall time, the generator's own step timings, the peak resident
memory of this process (resource.getrusage, Linux reports KiB) and the bytes written.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--voters", type=int, default=1_000_000)
    ap.add_argument("--nights", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out")
    args = ap.parse_args()

    from coklit_dq.simulate import simulate

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench-sim-"))
    try:
        t0 = time.perf_counter()
        res = simulate(str(out), voters=args.voters, nights=args.nights, seed=args.seed)
        wall = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(res)
        print(
            f"voters={args.voters} nights={args.nights}: {wall:.1f} s wall, "
            f"peak RSS {peak_mib:.0f} MiB, {size / 2**20:.0f} MiB written"
        )
        print("steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in res.timings.items()))
    finally:
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
