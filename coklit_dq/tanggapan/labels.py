"""GANDA_ORANG answers as clerical labels, and the model's precision on them.

    labels_table(con) -> frame(unique_id_l, unique_id_r, clerical_match_score)
    evaluate_labels(warehouse, tanggal=None, threshold=None) -> LabelReport

A region's BUKAN_MASALAH on a GANDA_ORANG pair is a labelled non-match
(clerical_match_score 0); SUDAH_DIPERBAIKI (one record struck as a duplicate) is a
labelled match (1). The latest decision on a pair counts. The evaluation scores the
labelled pairs with the committed model, weighed for that night as the nightly linkage
weighs it (model.for_night), through Splink's
`linker.evaluation.accuracy_analysis_from_labels_table(..., output_type="table")`
on the records of the latest night the warehouse holds (TMS records included: a
record struck as a duplicate is still a record of the pair).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import polars as pl

from coklit_dq.tanggapan import store

LABELS_SQL = f"""
SELECT id_l AS unique_id_l, id_r AS unique_id_r,
       CASE WHEN cocok THEN 1.0 ELSE 0.0 END AS clerical_match_score
FROM {store.with_arrival("tanggapan_label")}
QUALIFY row_number() OVER (PARTITION BY id_l, id_r {store.LATEST_FIRST}) = 1
ORDER BY 1, 2
"""


def labels_table(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The latest clerical decision on every GANDA_ORANG pair the regions answered."""
    if not store.has_schema(con):
        return pl.DataFrame(
            schema={
                "unique_id_l": pl.String,
                "unique_id_r": pl.String,
                "clerical_match_score": pl.Float64,
            }
        )
    return con.sql(LABELS_SQL).pl()


@dataclass
class LabelReport:
    tanggal: date | None
    n_labels: int
    n_match: int
    n_non_match: int
    n_scored: int  # labelled pairs whose two records the night holds
    threshold: float
    precision: float | None  # tp / (tp + fp) at the threshold, on the labelled pairs
    tp: int
    fp: int

    def __str__(self) -> str:
        p = "n/a" if self.precision is None else f"{self.precision:.4f}"
        return (
            f"clerical labels (regions' answers, night {self.tanggal}): {self.n_labels} pairs "
            f"({self.n_match} same person, {self.n_non_match} not the same person), "
            f"{self.n_scored} scored; at match probability {self.threshold:g}: "
            f"precision {p} (tp {self.tp}, fp {self.fp})"
        )


def _records(con: duckdb.DuckDBPyConnection, tanggal: date) -> Any:
    """The night's records prepared as for the linkage, TMS included (arrow); after
    orang.prepare of the same night (its _link_kec)."""
    from coklit_dq.link.orang import PREP_COLUMNS
    from coklit_dq.link.sql import PREP_BASE, PREP_SELECT

    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _link_ini AS
        WITH src AS (
          {PREP_BASE} FROM pemilih WHERE tanggal_ekspor = $tanggal
          QUALIFY row_number() OVER (PARTITION BY id_pemilih ORDER BY baris NULLS LAST) = 1
        )
        {PREP_SELECT} FROM src""",
        {"tanggal": tanggal},
    )
    return con.sql(f"SELECT {', '.join(PREP_COLUMNS)} FROM _link_ini").to_arrow_table()


def evaluate_labels(
    warehouse_path: str, tanggal: date | None = None, threshold: float | None = None
) -> LabelReport:
    """Precision of the committed model on the regions' clerical decisions."""
    from coklit_dq import warehouse
    from coklit_dq.link import model as mdl
    from coklit_dq.link import orang
    from coklit_dq.link.orang import TF_SQL
    from linkage import settings as model_settings

    cut = threshold if threshold is not None else float(model_settings.THRESHOLD_MATCH_PROBABILITY)
    con = warehouse.connect(warehouse_path)
    try:
        labels = labels_table(con)
        night = tanggal or con.execute("SELECT max(tanggal_ekspor) FROM pemilih").fetchall()[0][0]
        model: dict[str, Any] = {}
        if night is not None:
            # the model as the nightly linkage weighed that night (its records that are
            # not TMS: its prior and the u it has), not as it was trained
            orang.prepare(con, night)
            model = mdl.for_night(con, mdl.load_model())
        records = _records(con, night) if night is not None else None
        tf = {c: con.sql(sql).to_arrow_table() for c, sql in TF_SQL.items()} if night else {}
    finally:
        con.close()
    n_match = int((labels["clerical_match_score"] >= 0.5).sum())
    report = LabelReport(night, labels.height, n_match, labels.height - n_match, 0, cut, None, 0, 0)
    if records is None or labels.is_empty():
        return report
    ids = set(records.column("unique_id").to_pylist())
    held = labels.filter(pl.col("unique_id_l").is_in(ids) & pl.col("unique_id_r").is_in(ids))
    report.n_scored = held.height
    if held.is_empty():
        return report
    model = {**model, "retain_matching_columns": True}
    db_api = mdl.duckdb_api()
    linker, _ = mdl._linker(db_api, {"link_rekaman": records}, model, tf)
    lbl = linker.table_management.register_labels_table(
        db_api.register(held.to_arrow(), table_name="tanggapan_labels")
    )
    table = linker.evaluation.accuracy_analysis_from_labels_table(
        lbl,
        output_type="table",
        threshold_match_probability=0.5,
        # exact weights: Splink rounds them to 0.1 by default, which moves a pair just
        # above the cut below it
        match_weight_round_to_nearest=None,
    ).as_pandas_dataframe()
    # the truth space: one row per threshold; take the first at or above the cut
    rows = table[table["truth_threshold"] >= _weight(cut)].sort_values("truth_threshold")
    if rows.empty:
        return report
    r = rows.iloc[0]
    report.tp, report.fp = int(r["tp"]), int(r["fp"])
    report.precision = report.tp / (report.tp + report.fp) if report.tp + report.fp else None
    return report


def _weight(p: float) -> float:
    """A match probability as a Splink match weight (log2 of the odds)."""
    import math

    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log2(p / (1 - p))
