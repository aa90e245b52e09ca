"""Share of a night's findings at each prioritas and tingkat, and what prioritas 1 holds.

    .venv/bin/python benchmarks/prioritas.py --warehouse W.duckdb   # every night of a warehouse
    .venv/bin/python benchmarks/prioritas.py [--voters 50000]       # the demo's two nights
                                                                    # (simulate seed 1, no Prefect)

Prints, per night: the rows, their share per prioritas, per tingkat and per ditangani_oleh,
and the codes of each prioritas with their rows, so one can check that most rows are not
prioritas 1 and that prioritas 1 is what would wrongly keep a voter off the list or on it
twice.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import duckdb

SHARES = """
SELECT g, k, count(*) AS n, round(100.0 * count(*) / sum(count(*)) OVER (PARTITION BY g), 1)
FROM (
  SELECT 'prioritas' AS g, prioritas::VARCHAR AS k FROM temuan WHERE tanggal_ekspor = $1
  UNION ALL SELECT 'tingkat', tingkat FROM temuan WHERE tanggal_ekspor = $1
  UNION ALL SELECT 'ditangani_oleh', ditangani_oleh FROM temuan WHERE tanggal_ekspor = $1
) GROUP BY g, k ORDER BY g DESC, k
"""
CODES = """
SELECT prioritas, kode_temuan, tingkat, count(*) FROM temuan WHERE tanggal_ekspor = $1
GROUP BY ALL ORDER BY prioritas, count(*) DESC
"""


def report(wh: str) -> None:
    con = duckdb.connect(wh, read_only=True)
    nights = [
        r[0]
        for r in con.execute("SELECT DISTINCT tanggal_ekspor FROM temuan ORDER BY 1").fetchall()
    ]
    for night in nights:
        total = con.execute(
            "SELECT count(*) FROM temuan WHERE tanggal_ekspor = ?", [night]
        ).fetchall()[0][0]
        voters = con.execute(
            "SELECT count(*) FROM pemilih WHERE tanggal_ekspor = ?", [night]
        ).fetchall()[0][0]
        print(f"\nnight {night}: {total:,} findings ({voters:,} records in the warehouse)")
        group = None
        for g, k, n, share in con.execute(SHARES, [night]).fetchall():
            if g != group:
                print(("\n" if group else "") + f"  {g}:", end="")
                group = g
            print(f"  {k} {n:,} ({share} %)", end="")
        print()
        by = con.execute(CODES, [night]).fetchall()
        for p in sorted({r[0] for r in by}):
            codes = ", ".join(f"{c} {n:,} ({t})" for q, c, t, n in by if q == p)
            print(f"  prioritas {p}: {codes}")
    con.close()


def demo_nights(voters: int, work: Path) -> str:
    """The demo's export (simulate seed 1, two nights), run by the pipeline without Prefect."""
    from coklit_dq.config import resolve_settings
    from coklit_dq.pipeline import run_night
    from coklit_dq.simulate import simulate

    sim = simulate(str(work / "export"), voters=voters, nights=2, seed=1)
    wh = str(work / "w.duckdb")
    settings = resolve_settings(warehouse=wh, outbox=str(work / "outbox"))
    for night in sim.nights:
        print(run_night(settings, str(work / "export"), night).message)
    return wh


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", help="report the nights of this warehouse (read-only)")
    ap.add_argument("--voters", type=int, default=50_000, help="demo size when no --warehouse")
    args = ap.parse_args()
    if args.warehouse:
        report(args.warehouse)
        return
    work = Path(tempfile.mkdtemp(prefix="prioritas-"))
    try:
        report(demo_nights(args.voters, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
