"""Label-free training of the GANDA_ORANG model (``coklit-dq linkage train``).

u by random sampling, m by expectation maximisation on blocks that leave the
trained fields free. nik's "same nik" u is declared and fixed in
linkage/settings.py (NIK_U_PROBABILITIES): random pairs of different people
never share a nik, so sampling cannot see it. Levels gated on agreement of a
column (settings.GATES: the nik's levels when the birth dates agree, the
proximity levels when the niks name one kabupaten, the birthplace levels when the
records are in one kab/kota) get their u measured among
sampled pairs that share that column (`gated_u`), since almost no random pair
does. The prior is not trained: it follows each night's size (model.py).
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

    from coklit_dq.link.model import duckdb_api, for_night, pair_share

    db_api = duckdb_api()
    sdf = db_api.register(records, table_name="link_latih")
    linker = Linker(sdf, model_settings.settings_creator(), log_level=logging.WARNING)
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    for rule in model_settings.em_blocking_rules():
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )
    model = floor_m(linker.misc.save_model_to_json(), model_settings.M_FLOOR)
    con = db_api.duckdb_con
    for comp, gate in model_settings.GATES.items():
        gated_u(con, "link_latih", model, comp, gate, seed=seed)
    for comp, anchor in model_settings.ANCHORS.items():
        anchored_m(con, "link_latih", model, comp, anchor)
    floor_u(model, model_settings.U_FLOOR)
    model[model_settings.TRAINING_KEY] = {
        "records": len(records),
        "pair_share": {
            c: pair_share(con, "link_latih", c) for c in model_settings.NIGHT_SCALE.values()
        },
    }
    # as a night is scored: its prior, and the u of NIGHT_U counted on its records
    model = for_night(con, model, "link_latih")
    if out is not None:
        Path(out).write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    return model


def _levels(model: dict[str, Any], comp: str) -> list[dict[str, Any]]:
    for c in model["comparisons"]:
        if c["output_column_name"] == comp:
            return list(c["comparison_levels"])
    raise KeyError(comp)


def is_gated(level: dict[str, Any], gate: str) -> bool:
    """A level of the branch where `gate` agrees: its condition is that agreement AND
    something, or that agreement alone (the branch's last level, "the gate agrees and
    nothing above does")."""
    agree = f'"{gate}_l" = "{gate}_r"'
    cond = str(level["sql_condition"]).strip()
    return cond == agree or cond.startswith(f"({agree}) AND")


def gated_u(
    con: Any, table: str, model: dict[str, Any], comp: str, gate: str, *, seed: int = 1
) -> None:
    """u of `comp`'s levels gated on `gate` (their condition begins with the gate's
    agreement), measured among up to GATE_PAIRS sampled pairs of records sharing `gate`:
    u = P(level | gate agrees). Their m, where trained, is copied from the ungated level
    of the same label (m does not depend on the gate)."""
    levels = _levels(model, comp)
    gated = [i for i, lv in enumerate(levels) if is_gated(lv, gate)]
    if not gated:
        return
    n_gate = (
        con.execute(
            f"SELECT sum(n * (n - 1) / 2) FROM (SELECT count(*) n FROM {table} "
            f'WHERE "{gate}" IS NOT NULL GROUP BY "{gate}")'
        ).fetchall()[0][0]
        or 0
    )
    # a sample of records, each paired with every other record sharing the gate
    share = min(1.0, model_settings.GATE_PAIRS / max(2.0 * float(n_gate), 1.0))
    per_million = max(1, int(share * 1_000_000))
    sample = f"hash(unique_id || '|{seed}') % 1000000 < {per_million}"
    counts = _pair_level_counts(
        con,
        table,
        levels,
        left=f"(SELECT * FROM {table} WHERE {sample})",
        on=f'l."{gate}" = r."{gate}" AND l.unique_id <> r.unique_id',
    )
    null = {i for i, lv in enumerate(levels) if lv.get("is_null_level")}
    total = sum(n for g, n in counts.items() if g not in null)
    if not total:
        return
    by_label = {
        lv.get("label_for_charts"): lv
        for i, lv in enumerate(levels)
        if i not in gated and not lv.get("is_null_level")
    }
    copied = False
    for i in gated:
        lv = levels[i]
        lv["u_probability"] = counts.get(i, 0) / total
        twin = by_label.get(lv.get("label_for_charts"))
        if twin is not None and not lv.get("fix_m_probability"):
            lv["m_probability"] = twin["m_probability"]
        if twin is not None and not lv.get("fix_m_probability"):
            copied = True
        log.info(
            "gated u of %s / %s: %.3g (%d of %d pairs sharing %s)",
            comp, lv.get("label_for_charts"), lv["u_probability"], counts.get(i, 0), total, gate,
        )  # fmt: skip
    if copied:
        # m per branch: each sums to one (P(level | the gate agrees or not, match))
        branches = (
            [lv for i, lv in enumerate(levels) if i in gated],
            [lv for i, lv in enumerate(levels) if i not in gated and i not in null],
        )
        for branch in branches:
            total_m = sum(float(lv["m_probability"]) for lv in branch)
            for lv in branch:
                lv["m_probability"] = float(lv["m_probability"]) / total_m


def _pair_level_counts(
    con: Any, table: str, levels: list[dict[str, Any]], *, left: str, on: str
) -> dict[int, int]:
    """How many pairs (l from `left`, r from `table`, joined `on`) fall at each level."""
    cols = [
        r[0]
        for r in con.execute(
            f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}'"
        ).fetchall()
    ]
    sel = ", ".join(f'l."{c}" AS "{c}_l", r."{c}" AS "{c}_r"' for c in cols)
    rows = con.execute(
        f"""WITH p AS (SELECT {sel} FROM {left} l JOIN {table} r ON {on})
            SELECT CASE {_level_case(levels)} END AS g, count(*) FROM p GROUP BY 1"""
    ).fetchall()
    return {int(g): int(n) for g, n in rows if g is not None}


def _level_case(levels: list[dict[str, Any]]) -> str:
    return " ".join(
        f"ELSE {i}" if lv["sql_condition"].strip().upper() == "ELSE"
        else f"WHEN {lv['sql_condition']} THEN {i}"
        for i, lv in enumerate(levels)
    )  # fmt: skip


def anchored_m(con: Any, table: str, model: dict[str, Any], comp: str, anchor: str) -> None:
    """m of `comp`'s levels measured among the pairs of records sharing `anchor` (a whole
    nik: one person but for one pair in 10^9), by label: every level of a label gets the
    share of those pairs at a level of that label (floored at ANCHOR_M_FLOOR), and each branch
    of a gated comparison (settings.GATES) sums to one. Left as trained when there are
    fewer than 50 such pairs."""
    levels = _levels(model, comp)
    on = f'l."{anchor}" = r."{anchor}" AND l.unique_id < r.unique_id'
    counts = _pair_level_counts(con, table, levels, left=table, on=on)
    null = {i for i, lv in enumerate(levels) if lv.get("is_null_level")}
    total = sum(n for g, n in counts.items() if g not in null)
    if total < 50:
        log.warning("anchored m of %s: %d pairs share %s, m left as trained", comp, total, anchor)
        return
    share: dict[Any, float] = {}
    for g, n in counts.items():
        if g not in null:
            label = levels[g].get("label_for_charts")
            share[label] = share.get(label, 0.0) + n / total
    gate = model_settings.GATES.get(comp)
    branches: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    for i, lv in enumerate(levels):
        if i in null:
            continue
        m = share.get(lv.get("label_for_charts"), 0.0)
        lv["m_probability"] = max(m, model_settings.ANCHOR_M_FLOOR)
        gated = gate is not None and is_gated(lv, gate)
        branches[gated].append(lv)
    for branch in branches.values():
        t = sum(float(lv["m_probability"]) for lv in branch)
        for lv in branch:
            lv["m_probability"] = float(lv["m_probability"]) / t
    log.info("anchored m of %s from %d pairs sharing %s", comp, total, anchor)


def floor_u(model: dict[str, Any], floor: float) -> dict[str, Any]:
    """Raise every non-null level's u to at least `floor` unless declared fixed."""
    for comp in model["comparisons"]:
        for lv in comp["comparison_levels"]:
            if lv.get("is_null_level") or lv.get("fix_u_probability"):
                continue
            lv["u_probability"] = max(float(lv.get("u_probability") or 0.0), floor)
    return model


def floor_m(model: dict[str, Any], floor: float) -> dict[str, Any]:
    """Raise every trained non-null level's m to at least `floor`, renormalising the
    trained levels of each comparison to the share they had (levels whose m is declared
    fixed keep it: a gated comparison's m sums to one per branch, not overall)."""
    for comp in model["comparisons"]:
        levels = [
            lv
            for lv in comp["comparison_levels"]
            if not lv.get("is_null_level") and not lv.get("fix_m_probability")
        ]
        if not levels:
            continue
        before = sum(float(lv.get("m_probability") or 0.0) for lv in levels)
        ms = [max(float(lv.get("m_probability") or 0.0), floor) for lv in levels]
        total = sum(ms)
        for lv, m in zip(levels, ms, strict=True):
            lv["m_probability"] = m / total * (before or 1.0)
    return model
