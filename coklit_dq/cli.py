"""The command line (reports-v1 "The command line"), a thin layer over the stages.

    coklit-dq nightly --source ROOT --date YYYY-MM-DD [--outbox ROOT] [--warehouse PATH]
    coklit-dq simulate --out DIR --voters N --nights K --seed S
    coklit-dq demo [--workdir DIR]
    coklit-dq linkage train|evaluate ...

Every subcommand imports its stage lazily, so `--help` is fast. `nightly` and
`demo` start the Prefect flow, which lives in flows/ (the application around this
library): the console script is flows.cli:main, which hands them to `main` here.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import date

log = logging.getLogger("coklit_dq")


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {value!r}") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="coklit-dq", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    n = sub.add_parser("nightly", help="run one night: ingest, check, link, publish")
    n.add_argument("--source", required=True, help="export root (local path, s3://, sftp://)")
    n.add_argument("--date", required=True, type=_date, dest="tanggal")
    n.add_argument("--outbox", help="publish root (default: ./outbox)")
    n.add_argument("--warehouse", help="DuckDB file (default: ./coklit-dq.duckdb)")
    n.add_argument("--election", help="election settings (default: pilkada-2024)")
    n.add_argument("--inbox", help="regions' responses, tanggapan-v1 (default: ./inbox)")

    s = sub.add_parser("simulate", help="write synthetic export-v1 nights with planted problems")
    s.add_argument("--out", required=True)
    s.add_argument("--voters", type=int, default=20_000)
    s.add_argument("--nights", type=int, default=2)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--start", type=_date, default=date(2024, 7, 1), help="first night")
    s.add_argument("--provinces", help="comma-separated kode_prov (default: a few)")
    s.add_argument(
        "--responses",
        metavar="OUTBOX",
        help="instead of an export: answer the lists of --date published in OUTBOX, "
        "writing tanggapan-v1 responses under --out (the inbox)",
    )
    s.add_argument("--date", type=_date, dest="tanggal", help="the night answered (--responses)")

    d = sub.add_parser("demo", help="simulate two nights and run the nightly job on both")
    d.add_argument("--workdir", default="demo")
    d.add_argument("--voters", type=int, default=50_000)

    lk = sub.add_parser("linkage", help="train or evaluate the duplicate-person model")
    lsub = lk.add_subparsers(dest="linkage_command", required=True)
    t = lsub.add_parser("train", help="retrain the model from a night in the warehouse")
    t.add_argument("--warehouse")
    t.add_argument("--date", type=_date, dest="tanggal")
    t.add_argument("--model", help="where to write the model JSON (default: linkage/model.json)")
    t.add_argument(
        "--simulate-voters",
        type=int,
        help="train on a simulated night of this many voters instead of the warehouse",
    )
    t.add_argument("--seed", type=int, default=3, help="seed of the simulated night")
    e = lsub.add_parser("evaluate", help="precision/recall/F1 on simulated truth and FEBRL4")
    e.add_argument("--voters", type=int, default=50_000)
    e.add_argument("--seed", type=int, default=7)
    e.add_argument("--threshold", type=float, help="match probability of a cluster edge")
    e.add_argument("--no-febrl", action="store_true", help="skip the FEBRL4 evaluation")
    e.add_argument(
        "--labels",
        metavar="WAREHOUSE",
        help="precision on the regions' clerical decisions (tanggapan) held in WAREHOUSE, "
        "instead of the simulated truth and FEBRL4",
    )
    return p


FlowCommand = Callable[[argparse.Namespace], int]


def main(
    argv: Sequence[str] | None = None, flow_commands: Mapping[str, FlowCommand] | None = None
) -> int:
    """Parse and run one subcommand; `flow_commands` are the ones that start a flow
    (given by flows.cli, since the library does not import flows/)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    command = (flow_commands or {}).get(args.command)
    if command is not None:
        return command(args)
    if args.command in ("nightly", "demo"):
        sys.stderr.write(
            f"coklit-dq: {args.command} runs the Prefect flow: use the coklit-dq command "
            "(flows.cli:main)\n"
        )
        return 2
    if args.command == "simulate" and args.responses:
        from coklit_dq.simulate.responses import simulate_responses

        if args.tanggal is None:
            sys.stderr.write("coklit-dq: --responses needs --date\n")
            return 2
        counts = simulate_responses(args.responses, args.tanggal, args.out, seed=args.seed)
        sys.stdout.write(f"responses to {args.tanggal} written under {args.out}: {counts}\n")
        return 0
    if args.command == "simulate":
        from coklit_dq.simulate import simulate

        provinces = args.provinces.split(",") if args.provinces else None
        result = simulate(
            args.out,
            voters=args.voters,
            nights=args.nights,
            seed=args.seed,
            start=args.start,
            provinces=provinces,
        )
        sys.stdout.write(f"{result}\n")
        return 0
    if args.command == "linkage":
        from coklit_dq.link import cli as link_cli

        return link_cli.main(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
