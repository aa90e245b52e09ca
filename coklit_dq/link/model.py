"""The Splink side: a backend for the prepared records, training, prediction.

Splink 5 API: tables are registered on a database API first
(``DuckDBAPI().register(table)``, ``SparkAPI(spark_session=...).register(df)``),
then ``Linker(sdf, settings)``. The warehouse connection is never handed to
Splink: it works in its own in-memory DuckDB (or Spark session) on the prepared
records, and only the scored pairs above the floor come back.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from coklit_dq.config import duckdb_size
from linkage import settings as model_settings

log = logging.getLogger("coklit_dq.link")

# The columns of a scored pair handed back to the caller.
PAIR_COLUMNS = (
    "unique_id_l",
    "unique_id_r",
    "match_probability",
    "match_weight",
    "gamma_nik",
    "gamma_nama",
    "gamma_tgl_lahir",
    "gamma_jenis_kelamin",
    "gamma_tempat_lahir",
    "gamma_asal",
    "gamma_wilayah",
)


def is_duckdb(db_api: Any) -> bool:
    return bool(db_api.sql_dialect.sql_dialect_str == "duckdb")


def duckdb_api(threads: int | None = None, memory_limit: str | None = None) -> Any:
    """Splink's own in-memory DuckDB; `memory_limit` (Settings.duckdb_memory_limit, e.g.
    "2GB") caps it like the warehouse connection, spilling to a temporary folder."""
    import os
    import tempfile

    from splink import DuckDBAPI

    limit = memory_limit or os.environ.get("COKLIT_DQ_DUCKDB_MEMORY_LIMIT")
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if limit:
        try:  # the size is quoted into SQL: only DuckDB's size syntax gets there
            limit = duckdb_size(limit)
        except ValueError as exc:
            raise ValueError(f"duckdb_memory_limit={limit!r}: {exc}") from None
        con.execute(f"SET memory_limit = '{limit}'")
        # its own owner-only folder (mkdtemp), never a fixed name in the shared /tmp
        spill = tempfile.mkdtemp(prefix="coklit-dq-splink-")
        con.execute(f"SET temp_directory = '{spill}'")
    con.execute("SET preserve_insertion_order = false")
    return DuckDBAPI(connection=con)


def load_model(path: str | Path | None = None) -> dict[str, Any]:
    p = Path(path) if path else model_settings.MODEL_PATH
    model: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
    return model


_TRAINED_KEYS = ("m_probability", "u_probability")


def splink_settings(model: dict[str, Any]) -> dict[str, Any]:
    """The model as Splink reads it: without what training recorded for the nights
    (settings.TRAINING_KEY), which Splink's settings do not know."""
    return {k: v for k, v in model.items() if k != model_settings.TRAINING_KEY}


def prior_for(records: int) -> float:
    """The chance that two random records of a night of `records` records are one person
    (linkage/settings.py DUPLICATE_PAIRS_PER_RECORD): it falls as the night grows."""
    n = max(int(records), 2)
    return min(0.5, 2 * model_settings.DUPLICATE_PAIRS_PER_RECORD / (n - 1))


def for_population(
    model: dict[str, Any], records: int, night_u: dict[str, list[float]] | None = None
) -> dict[str, Any]:
    """The trained model with the prior of a night of `records` records and, for the
    comparisons of `night_u` (from `measure_night_u`), the u the night itself has; every
    m and every other u as trained."""
    out = dict(model)
    out["probability_two_random_records_match"] = prior_for(records)
    if night_u:
        out["comparisons"] = [
            _with_u(c, night_u[c["output_column_name"]])
            if c["output_column_name"] in night_u
            else c
            for c in model["comparisons"]
        ]
    return out


def for_night(
    con: duckdb.DuckDBPyConnection, model: dict[str, Any], table: str = "_link_ini"
) -> dict[str, Any]:
    """The model as a night of the records in `table` is scored: its prior and the u
    that night has (for_population of measure_night_u). The nightly linkage, training and
    the evaluation of the regions' answers all weigh a night through this."""
    n = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    return region_slip(con, for_population(model, n, measure_night_u(con, model, table)), table)


def region_slip_shares(con: duckdb.DuckDBPyConnection, table: str) -> tuple[float, float] | None:
    """(q, p) of linkage/settings.py REGION_SLIP for the records of `table`: q, the share of
    the one-keystroke variants (a digit changed, two neighbours swapped) of their niks'
    region codes that name no kecamatan of _link_kec (each code weighed by its records); p,
    the share of their niks whose code names none. None without a region reference."""
    has_ref = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = '_link_kec'"
    ).fetchall()[0][0]
    if not has_ref:
        return None
    # one pass over the night: its records per region code, known or not
    row = con.execute(
        f"""WITH g AS (
          SELECT nik_wil AS k, nik_wil_dikenal AS dikenal, count(*) AS n FROM {table}
          WHERE nik_wil_dikenal IS NOT NULL GROUP BY ALL
        ), c AS (SELECT k, n FROM g WHERE dikenal), v AS (
          SELECT n, substr(k, 1, i - 1) || d || substr(k, i + 1) AS v
          FROM c, range(1, 7) r(i), range(0, 10) dd(d) WHERE CAST(d AS VARCHAR) <> substr(k, i, 1)
          UNION ALL
          SELECT n,
                 substr(k, 1, i - 1) || substr(k, i + 1, 1) || substr(k, i, 1) || substr(k, i + 2)
          FROM c, range(1, 6) r(i) WHERE substr(k, i, 1) <> substr(k, i + 1, 1)
        )
        SELECT (SELECT coalesce(sum(n) FILTER (WHERE v NOT IN (SELECT kode_kec FROM _link_kec)),
                                0) / sum(n) FROM v),
               (SELECT coalesce(sum(n) FILTER (WHERE NOT dikenal), 0) / sum(n) FROM g)"""
    ).fetchall()[0]
    if row[0] is None or row[1] is None:
        return None
    return float(row[0]), float(row[1])


def region_slip(
    con: duckdb.DuckDBPyConnection, model: dict[str, Any], table: str
) -> dict[str, Any]:
    """The model with the m and u of REGION_SLIP's levels shared out by the night's q and p
    (region_slip_shares): per branch (the gate agrees or not), the levels of one slip in
    the region part keep their summed m and u; the one for a code no kecamatan has gets
    m * q and u * (1 - (1 - p)^2), the others the rest in their trained proportions."""
    from coklit_dq.link.train import is_gated

    shares = region_slip_shares(con, table)
    if shares is None:
        return model
    q, p = shares
    s = 1.0 - (1.0 - p) ** 2
    log.info("region slips: %.3f of one-keystroke codes unknown, %.4f of niks unknown", q, p)
    comps = []
    for comp in model["comparisons"]:
        name = comp["output_column_name"]
        if name not in model_settings.REGION_SLIP:
            comps.append(comp)
            continue
        markers, flag = model_settings.REGION_SLIP[name]
        gate = model_settings.GATES.get(name)
        levels = [dict(lv) for lv in comp["comparison_levels"]]
        for branch in (True, False):
            fam = [
                lv
                for lv in levels
                if all(mk in str(lv.get("sql_condition")) for mk in markers)
                and (gate is None or is_gated(lv, gate) == branch)
            ]
            unk = [lv for lv in fam if flag in str(lv["sql_condition"])]
            rest = [lv for lv in fam if lv not in unk]
            if len(unk) != 1 or not rest:
                raise ValueError(
                    f"linkage/settings.py REGION_SLIP[{name!r}] does not describe the levels "
                    f"of comparison {name!r} in the model: retrain or fix the declaration"
                )
            for k, share, floor in (
                ("m_probability", q, model_settings.M_FLOOR * 1e-3),
                ("u_probability", s, model_settings.U_FLOOR),
            ):
                total = sum(float(lv[k]) for lv in fam)
                others = sum(float(lv[k]) for lv in rest)
                unk[0][k] = max(total * share, floor)
                for lv in rest:
                    lv[k] = max(total * (1 - share) * float(lv[k]) / others, floor)
        comps.append({**comp, "comparison_levels": levels})
    return {**model, "comparisons": comps}


def _with_u(comp: dict[str, Any], us: list[float]) -> dict[str, Any]:
    levels = [dict(lv) for lv in comp["comparison_levels"]]
    scored = [lv for lv in levels if not lv.get("is_null_level")]
    for lv, u in zip(scored, us, strict=True):
        lv["u_probability"] = u
    return {**comp, "comparison_levels": levels}


def measure_night_u(
    con: duckdb.DuckDBPyConnection, model: dict[str, Any], table: str = "_link_ini"
) -> dict[str, list[float]]:
    """u of each comparison of linkage/settings.py NIGHT_U and NIGHT_SCALE, from the
    night's records (comparison -> u of its non-null levels, in order).

    A NIGHT_U comparison's levels are equality on nested columns, finest first (desa within
    kecamatan within ...), then "none of these"; with a gate (settings.GATES) that ladder
    comes twice, where the gate agrees (u given that it agrees, as train.gated_u measures)
    and where it does not. The share of record pairs agreeing on a set of columns is
    sum(n * (n - 1)) / (N * (N - 1)) over the groups of those columns: no sampling. One
    pass over the night (a view on incremental nights) counts the records per combination
    of every column named; the rest are sums over that small table."""
    from coklit_dq.link.train import is_gated

    wanted = [c for c in model["comparisons"] if c["output_column_name"] in _NIGHT_COMPARISONS]
    if not wanted:
        return {}
    keys = sorted(
        {
            *(k for c in model_settings.NIGHT_U.values() for k in c),
            *(model_settings.GATES[c] for c in model_settings.NIGHT_U if c in model_settings.GATES),
            *model_settings.NIGHT_SCALE.values(),
        }
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _link_u AS SELECT {', '.join(keys)}, count(*) AS n "
        f"FROM {table} GROUP BY ALL"
    )
    try:
        out: dict[str, list[float]] = {}
        for comp in wanted:
            name = comp["output_column_name"]
            levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
            if name in model_settings.NIGHT_SCALE:
                out[name] = _scaled_u(con, model, name, levels, is_gated)
                continue
            if name in model_settings.NIGHT_EXACT:
                out[name] = _exact_u(con, table, name, levels, is_gated)
                continue
            cols = model_settings.NIGHT_U[name]
            gate = model_settings.GATES.get(name)
            _check_ladder(name, levels, cols, gate, is_gated)
            n = _records(con, cols[0])
            total = max(n * (n - 1) / 2, 1.0)
            agree = [_pairs(con, (c,), cols[0]) for c in cols]
            if gate is None:
                out[name] = _ladder(agree, total)
                continue
            g = _pairs(con, (gate,), cols[0])
            g_agree = [_pairs(con, (gate, c), cols[0]) for c in cols]
            out[name] = _ladder(g_agree, max(g, 1.0)) + _ladder(
                [a - b for a, b in zip(agree, g_agree, strict=True)], max(total - g, 1.0)
            )
        return out
    finally:
        con.execute("DROP TABLE IF EXISTS _link_u")


_NIGHT_COMPARISONS = {
    *model_settings.NIGHT_U,
    *model_settings.NIGHT_SCALE,
    *model_settings.NIGHT_EXACT,
}


def _records(con: duckdb.DuckDBPyConnection, base: str | None = None) -> float:
    where = f"WHERE {base} IS NOT NULL" if base else ""
    return float(con.execute(f"SELECT sum(n) FROM _link_u {where}").fetchall()[0][0] or 0)


def _pairs(con: duckdb.DuckDBPyConnection, keys: tuple[str, ...], base: str | None) -> float:
    """Pairs of records (of those with `base` not NULL) agreeing on every column of keys."""
    where = " AND ".join(f"{k} IS NOT NULL" for k in (*keys, *((base,) if base else ())))
    row = con.execute(
        f"SELECT sum(n * (n - 1) / 2) FROM (SELECT sum(n) AS n FROM _link_u "
        f"WHERE {where} GROUP BY {', '.join(keys)})"
    ).fetchall()
    return float(row[0][0] or 0)


def pair_share(con: duckdb.DuckDBPyConnection, table: str, column: str) -> float:
    """The share of the record pairs of `table` that agree on `column` (NULL agrees with
    nothing); what the training night records for settings.NIGHT_SCALE."""
    row = con.execute(
        f"SELECT sum(n * (n - 1) / 2), sum(n) FROM (SELECT count(*) AS n FROM {table} "
        f"GROUP BY {column} HAVING {column} IS NOT NULL)"
    ).fetchall()[0]
    n_all = float(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
    return float(row[0] or 0) / max(n_all * (n_all - 1) / 2, 1.0)


def _scaled_u(
    con: duckdb.DuckDBPyConnection,
    model: dict[str, Any],
    name: str,
    levels: list[dict[str, Any]],
    is_gated: Any,
) -> list[float]:
    """The u of comparison `name`'s levels, its gated ones (settings.GATES) times tonight's
    share of pairs agreeing on settings.NIGHT_SCALE's column (from _link_u) over the
    training night's (pair_share)."""
    column = model_settings.NIGHT_SCALE[name]
    gate = model_settings.GATES[name]
    trained = model.get(model_settings.TRAINING_KEY, {}).get("pair_share", {}).get(column)
    if not trained:
        raise ValueError(
            f"model.json has no training share of pairs agreeing on {column}: retrain it"
        )
    n = _records(con)
    share = _pairs(con, (column,), None) / max(n * (n - 1) / 2, 1.0)
    factor = share / float(trained)
    log.info("u of the gated %s levels scaled by %.3g (pairs sharing %s)", name, factor, column)
    return [
        min(1.0, max(float(lv["u_probability"]) * factor, model_settings.U_FLOOR))
        if is_gated(lv, gate)
        else float(lv["u_probability"])
        for lv in levels
    ]


def _exact_u(
    con: duckdb.DuckDBPyConnection,
    table: str,
    name: str,
    levels: list[dict[str, Any]],
    is_gated: Any,
) -> list[float]:
    """The u of comparison `name`'s levels (settings.NIGHT_EXACT) with its exact-agreement
    level's u counted on the night, per branch of its gate: the share of the pairs (among
    those with the column known) agreeing on the column, among the pairs sharing the gate
    and among the others. The other levels of a branch share the rest as trained."""
    column = model_settings.NIGHT_EXACT[name]
    gate = model_settings.GATES[name]
    exact = f'"{column}_l" = "{column}_r"'
    pairs = "sum(n * (n - 1) / 2)"
    n, both, agree, gated = con.execute(
        f"""WITH g AS (SELECT "{gate}" AS g, "{column}" AS c, count(*) AS n FROM {table}
                       WHERE "{column}" IS NOT NULL GROUP BY ALL)
        SELECT sum(n),
               (SELECT {pairs} FROM g WHERE g IS NOT NULL),
               (SELECT {pairs} FROM (SELECT sum(n) AS n FROM g GROUP BY c)),
               (SELECT {pairs} FROM (SELECT sum(n) AS n FROM g WHERE g IS NOT NULL GROUP BY g))
        FROM g"""
    ).fetchall()[0]
    n = float(n or 0)
    total = n * (n - 1) / 2
    both, agree, gated = float(both or 0), float(agree or 0), float(gated or 0)
    shares = {True: both / gated if gated else None}
    shares[False] = (agree - both) / (total - gated) if total > gated else None
    us = [float(lv["u_probability"]) for lv in levels]
    for branch, share in shares.items():
        idx = [i for i, lv in enumerate(levels) if is_gated(lv, gate) == branch]
        hit = [
            i
            for i in idx
            if str(levels[i]["sql_condition"]).endswith(f"({exact})")
            or str(levels[i]["sql_condition"]).strip() == exact
        ]
        if len(hit) != 1:
            raise ValueError(
                f"linkage/settings.py NIGHT_EXACT[{name!r}] does not describe the levels of "
                f"comparison {name!r} in the model: retrain or fix the declaration"
            )
        if share is None:
            continue
        u_hit = max(share, model_settings.U_FLOOR)
        rest = [i for i in idx if i != hit[0]]
        trained = sum(us[i] for i in rest)
        for i in rest:
            us[i] = max((1 - u_hit) * us[i] / trained, model_settings.U_FLOOR)
        us[hit[0]] = u_hit
    log.info("u of %s agreeing: %s", name, ", ".join(f"{us[i]:.3g}" for i in range(len(us))))
    return us


def _ladder(agree: list[float], total: float) -> list[float]:
    """u of "agree on column k and on no finer one" for each k, then of "none": from the
    pairs agreeing on each column (finest first, each a superset of the one before)."""
    us = [agree[0] / total]
    us += [(agree[k] - agree[k - 1]) / total for k in range(1, len(agree))]
    return [max(u, model_settings.U_FLOOR) for u in (*us, (total - agree[-1]) / total)]


def _check_ladder(
    name: str, levels: list[dict[str, Any]], cols: tuple[str, ...], gate: str | None, is_gated: Any
) -> None:
    branches = [True, False] if gate else [False]
    expected = [(b, c) for b in branches for c in (*cols, None)]
    ok = len(levels) == len(expected)
    for lv, (b, c) in zip(levels, expected, strict=False):
        cond = str(lv["sql_condition"])
        ok = ok and (gate is None or is_gated(lv, gate) == b)
        ok = ok and (c is None or f'"{c}_l" = "{c}_r"' in cond)
    if not ok:
        raise ValueError(
            f"linkage/settings.py NIGHT_U[{name!r}] does not describe the levels of "
            f"comparison {name!r} in the model: retrain or fix the declaration"
        )


def model_for_dialect(model: dict[str, Any], dialect: str) -> dict[str, Any]:
    """The trained model with its SQL written for `dialect`.

    The JSON keeps SQL in the dialect it was trained on (DuckDB quotes names with
    double quotes, which Spark reads as strings), so for another backend the
    settings are rebuilt from linkage/settings.py in that dialect and the trained
    parameters copied across level by level."""
    if model.get("sql_dialect", "duckdb") == dialect:
        return model
    fresh: dict[str, Any] = model_settings.settings_creator().create_settings_dict(dialect)
    if [c["output_column_name"] for c in fresh["comparisons"]] != [
        c["output_column_name"] for c in model["comparisons"]
    ]:
        raise ValueError("model.json does not match linkage/settings.py: retrain the model")
    for new, old in zip(fresh["comparisons"], model["comparisons"], strict=True):
        if len(new["comparison_levels"]) != len(old["comparison_levels"]):
            raise ValueError(
                f"comparison {new['output_column_name']}: model.json and linkage/settings.py "
                "differ in levels: retrain the model"
            )
        for lv_new, lv_old in zip(new["comparison_levels"], old["comparison_levels"], strict=True):
            for key in _TRAINED_KEYS:
                if lv_old.get(key) is not None:
                    lv_new[key] = lv_old[key]
    fresh["probability_two_random_records_match"] = model["probability_two_random_records_match"]
    return fresh


def _linker(
    db_api: Any, tables: dict[str, Any], model: dict[str, Any], tf: Any
) -> tuple[Any, dict]:
    """A Linker on the registered tables, with the name term frequencies registered
    (`tf`: column -> table of value, tf_<column> over the whole night, so a
    night's changes are scored with the frequencies of everyone)."""
    from splink import Linker

    sdfs = {name: db_api.register(t, table_name=name) for name, t in tables.items()}
    first = next(iter(sdfs.values()))
    settings = model_for_dialect(splink_settings(model), db_api.sql_dialect.sql_dialect_str)
    # No settings validation: the model's columns are the prepared ones (PREP_COLUMNS),
    # checked when it was trained; Splink's check parses every condition with sqlglot
    # and cost 2-3 s of every night's link, incremental nights included.
    linker = Linker(first, settings, log_level=logging.WARNING, validate_settings=False)
    for col, table in tf.items():
        tf_sdf = db_api.register(table, table_name=f"link_tf_{col}")
        linker.table_management.register_term_frequency_lookup(tf_sdf, col)
    return linker, sdfs


def to_arrow(sdf: Any) -> pa.Table:
    """The scored pairs of a Splink result as an arrow table (PAIR_COLUMNS only)."""
    cols = ", ".join(PAIR_COLUMNS)
    api = sdf.db_api
    if is_duckdb(api):
        out: pa.Table = api.duckdb_con.sql(
            f"SELECT {cols} FROM {sdf.physical_name}"
        ).to_arrow_table()
        return out
    frame = sdf.as_spark_dataframe().select(*PAIR_COLUMNS).toPandas()
    return pa.Table.from_pandas(frame, preserve_index=False)


def score_within(
    db_api: Any,
    records: Any,
    model: dict[str, Any],
    tf: Any,
    floor: float = model_settings.PREDICT_FLOOR,
) -> Any:
    """Every candidate pair within `records` (arrow/pandas/Spark frame), scored."""
    linker, _ = _linker(db_api, {"link_rekaman": records}, model, tf)
    return linker.inference.predict(threshold_match_probability=floor, warning_mode="never")


def score_new(
    db_api: Any,
    changed: Any,
    *,
    standing: Any,
    model: dict[str, Any],
    tf: Any,
    floor: float = model_settings.PREDICT_FLOOR,
) -> list[Any]:
    """Pairs within `changed` and between `changed` and `standing` (incremental)."""
    linker, sdfs = _linker(db_api, {"link_berubah": changed, "link_tetap": standing}, model, tf)
    within = linker.inference.predict_within(
        sdfs["link_berubah"], threshold_match_probability=floor, warning_mode="never"
    )
    between = linker.inference.predict_between(
        sdfs["link_berubah"],
        sdfs["link_tetap"],
        threshold_match_probability=floor,
        warning_mode="never",
    )
    return [within, between]
