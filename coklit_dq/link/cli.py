"""`coklit-dq linkage train|evaluate` (the argparse lives in coklit_dq/cli.py)."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date
from pathlib import Path

log = logging.getLogger("coklit_dq.link")


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def train(
    warehouse_path: str | None,
    tanggal: date | None,
    model: str | None,
    simulate_voters: int | None = None,
    seed: int = 3,
) -> int:
    """Retrain the model from a night of the warehouse (or of a simulated night, seeded
    differently from the evaluation's) and write the model JSON."""
    if simulate_voters:
        import tempfile

        from coklit_dq import warehouse
        from coklit_dq.config import resolve_settings
        from coklit_dq.ingest import ingest_night
        from coklit_dq.simulate import simulate

        with tempfile.TemporaryDirectory(prefix="coklit-link-train-") as tmp:
            sim = simulate(f"{tmp}/sim", voters=simulate_voters, nights=1, seed=seed)
            wh = f"{tmp}/train.duckdb"
            settings = resolve_settings(warehouse=wh, outbox=f"{tmp}/outbox")
            con = warehouse.connect(settings.warehouse)
            try:
                ingest_night(con, f"{tmp}/sim", sim.nights[0], settings)
            finally:
                con.close()
            return train(wh, sim.nights[0], model)
    from coklit_dq import warehouse
    from coklit_dq.config import resolve_settings
    from coklit_dq.link.orang import PREP_COLUMNS, prepare
    from coklit_dq.link.sql import register_macros
    from coklit_dq.link.train import train_model
    from linkage import settings as model_settings

    settings = resolve_settings(warehouse=warehouse_path)
    con = warehouse.connect(settings.warehouse)
    try:
        register_macros(con)
        night = tanggal or con.execute("SELECT max(tanggal_ekspor) FROM pemilih").fetchall()[0][0]
        if night is None:
            sys.stderr.write(f"no night in warehouse {settings.warehouse}\n")
            return 1
        prepare(con, night)
        records = con.sql(f"SELECT {', '.join(PREP_COLUMNS)} FROM _link_ini").to_arrow_table()
    finally:
        con.close()
    out = Path(model) if model else model_settings.MODEL_PATH
    trained = train_model(records, out=out)
    lam = trained["probability_two_random_records_match"]
    _out(
        f"trained on {records.num_rows} records of {night}; "
        f"prior for a night of this size (it follows each night's size) {lam:.3g}; "
        f"model written to {out}"
    )
    return 0


def evaluate(voters: int, seed: int, threshold: float | None, febrl: bool = True) -> int:
    """Print precision, recall and F1 on the simulator's truth and on FEBRL4."""
    from coklit_dq.link.evaluate import evaluate_febrl4, evaluate_simulated

    for m in evaluate_simulated(voters, seed, thresholds=[threshold] if threshold else None):
        _out(str(m))
    if febrl:
        _out(str(evaluate_febrl4()))
    return 0


def main(args: argparse.Namespace) -> int:
    logging.getLogger("splink").setLevel(logging.WARNING)
    cmd = getattr(args, "linkage_command", None)
    if cmd == "train":
        return train(
            getattr(args, "warehouse", None),
            getattr(args, "tanggal", None),
            getattr(args, "model", None),
            getattr(args, "simulate_voters", None),
            int(getattr(args, "seed", 3)),
        )
    if cmd == "evaluate" and getattr(args, "labels", None):
        from coklit_dq.tanggapan.labels import evaluate_labels  # tanggapan-v1

        _out(str(evaluate_labels(args.labels, threshold=getattr(args, "threshold", None))))
        return 0
    if cmd == "evaluate":
        return evaluate(
            int(getattr(args, "voters", 50_000)),
            int(getattr(args, "seed", 7)),
            getattr(args, "threshold", None),
            not getattr(args, "no_febrl", False),
        )
    sys.stderr.write(f"unknown linkage command {cmd!r}\n")
    return 2
