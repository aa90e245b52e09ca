"""Label-free training of the GANDA_ORANG model (``coklit-dq linkage train``).

u by random sampling, m by expectation maximisation on blocks that leave the
trained fields free. nik's u-probabilities are declared and fixed in
linkage/settings.py (NIK_U_PROBABILITIES): random pairs of different people
never agree on a nik or come one keystroke near it, so sampling cannot see them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from linkage import settings as model_settings

log = logging.getLogger("coklit_dq.link")


def train_model(
    records: Any,
    *,
    max_pairs: float = 5e6,
    seed: int = 1,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Train on prepared records (arrow/pandas); write and return the model dict."""
    from splink import Linker

    from coklit_dq.link.model import duckdb_api

    db_api = duckdb_api()
    sdf = db_api.register(records, table_name="link_latih")
    linker = Linker(sdf, model_settings.settings_creator(), log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        ["l.nik = r.nik", "l.nama_norm = r.nama_norm AND l.tgl = r.tgl"], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    for rule in model_settings.em_blocking_rules():
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )
    model = floor_m(linker.misc.save_model_to_json(), model_settings.M_FLOOR)
    if out is not None:
        Path(out).write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    return model


def floor_m(model: dict[str, Any], floor: float) -> dict[str, Any]:
    """Raise every non-null level's m to at least `floor`, renormalising each comparison."""
    for comp in model["comparisons"]:
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        ms = [max(float(lv.get("m_probability") or 0.0), floor) for lv in levels]
        total = sum(ms)
        for lv, m in zip(levels, ms, strict=True):
            lv["m_probability"] = m / total
    return model
