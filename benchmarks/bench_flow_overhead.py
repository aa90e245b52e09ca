"""The Prefect flow's own overhead: the nightly flow vs the same steps called directly.

    .venv/bin/python benchmarks/bench_flow_overhead.py [--voters 20000] [--repeat 3]

Generates one small night with the simulator, then times, on that same night:
  direct  coklit_dq.pipeline.run_night (the steps in order, no Prefect)
  flow    flows.nightly.nightly_coklit (the same steps as tasks), against
          PREFECT_API_URL when set, else Prefect's temporary local server; the
          first flow run of the process includes starting that server.
Each run replaces the night in its own warehouse and outbox. Prints seconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--voters", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from coklit_dq.config import resolve_settings
    from coklit_dq.pipeline import run_night
    from coklit_dq.simulate import simulate

    work = Path(tempfile.mkdtemp(prefix="bench-flow-"))
    export = work / "export"
    t0 = time.perf_counter()
    night = simulate(str(export), voters=args.voters, nights=1, seed=1).nights[0]
    print(f"night {night}: {args.voters} voters simulated in {time.perf_counter() - t0:.1f} s")

    direct: list[float] = []
    settings = resolve_settings(outbox=str(work / "out-direct"), warehouse=str(work / "d.duckdb"))
    for _ in range(args.repeat):
        t = time.perf_counter()
        result = run_night(settings, str(export), night)
        direct.append(time.perf_counter() - t)
    print(f"direct   {fmt(direct)}   ({result.state}; steps: {steps(result.timings)})")

    t_import = time.perf_counter()
    from flows.nightly import nightly_coklit

    t_import = time.perf_counter() - t_import
    flow: list[float] = []
    for _ in range(args.repeat + 1):
        t = time.perf_counter()
        state = nightly_coklit(
            str(export),
            night,
            outbox=str(work / "out-flow"),
            warehouse=str(work / "f.duckdb"),
            return_state=True,
        )
        flow.append(time.perf_counter() - t)
    first, warm = flow[0], flow[1:]
    api = os.environ.get("PREFECT_API_URL") or "temporary local server"
    print(f"flow     {fmt(warm)}   ({state.type.value}; API: {api})")
    print(f"import of prefect + flows: {t_import:.2f} s")
    print(f"first flow run of the process (starts the server if none): {first:.2f} s")
    print(
        f"overhead per night (flow - direct, medians): "
        f"{statistics.median(warm) - statistics.median(direct):.2f} s"
    )
    print(f"server start (first - warm flow run): {first - statistics.median(warm):.2f} s")
    print(f"work folder: {work}")


def fmt(xs: list[float]) -> str:
    return f"median {statistics.median(xs):6.2f} s  (runs: {', '.join(f'{x:.2f}' for x in xs)})"


def steps(timings: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in timings.items())


if __name__ == "__main__":
    main()
