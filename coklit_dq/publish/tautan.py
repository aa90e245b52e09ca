"""nasional/tautan.html: a sample of tonight's GANDA_ORANG pairs, field by field, with
Splink's own charts of the model as that night weighed its pairs (the committed
linkage/model.json with the night's prior and u, kept in link_malam.model_malam), saved
offline.

    linkage_sample(con, tanggal) -> {"fields", "pairs", "grafik"}

- the table: per pair and field, the comparison level the pair reached (the model's own
  label) and its weight log2(m/u);
- Splink's match weights chart (every level of every field) and its waterfall chart of
  the sampled pairs (one pair at a time, chosen with the slider), built by Splink
  (`Settings.match_weights_chart`, `records_to_waterfall_data`, `WaterfallChart`) and
  drawn by the Vega, Vega-Lite and Vega-Embed copies Splink ships, inlined once in the
  page: no CDN, the page opens offline.

Privacy: the waterfall is built with Splink's `remove_sensitive_data` (no compared value
at all); then only VALUES_SHOWN are put back, in the form Pusdatin's pages may show: the
nik masked as everywhere (first 6 + last 2 digits), sex and desa code as exported. No
name, birth date, birthplace, nkk or address reaches the page.

The stored pairs (link_pasangan) keep each field's level and the final weight, not the
term-frequency adjustments of names and birth dates; the chart shows what the final
weight holds beyond the fields' weights as one "penyesuaian frekuensi" bar.
"""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any

import duckdb
from markupsafe import Markup

from coklit_dq.privacy import mask_id

SAMPLE_PAIRS = 25
# field (comparison) -> SQL over pemilih of the value shown; every other value stays hidden.
# Export values are hostile: sex only as L/P, the desa only as a valid desa code (never a
# nik smuggled into it); the nik is masked (MASKED) before it is charted.
VALUES_SHOWN = {
    "nik": "nik",
    "jenis_kelamin": "CASE WHEN jenis_kelamin IN ('L', 'P') THEN jenis_kelamin END",
    "wilayah": "CASE WHEN regexp_full_match(kode_desa, '[0-9]{10}') THEN kode_desa END",
}
MASKED = {"nik"}
TF_BAR = "tf_frekuensi"
# Splink's chart texts in Indonesian (the chart definitions are Splink's, in English)
TEKS_GRAFIK = {
    "Match weights waterfall chart": "Bobot kecocokan satu pasangan (grafik air terjun Splink)",
    "How each comparison contributes to the final match score": (
        "Sumbangan setiap medan pada skor akhir; geser penggeser untuk pasangan lain"
    ),
    "Comparison column": "Medan",
    "Value (L)": "Nilai (kiri)",
    "Value (R)": "Nilai (kanan)",
    "Label": "Tingkat kecocokan",
    "SQL condition": "Syarat SQL",
    "Comparison vector value": "Nilai gamma",
    "Bayes factor = m/u": "Faktor Bayes = m/u",
    "Match weight = log2(m/u)": "Bobot = log2(m/u)",
    "Cumulative match probability": "Peluang kumulatif",
    "Match weight description": "Keterangan bobot",
    "Column": "Medan",
    "Match Weight": "Bobot",
    "Probability": "Peluang",
    "Model parameters (components of final match weight)": "Bobot setiap tingkat kecocokan",
    "Comparison": "Medan",
    "Comparison level": "Tingkat",
    "Starting match weight (prior)": "Bobot awal (prior)",
    "Partial match weights (components of final match weight)": (
        "Bobot setiap tingkat kecocokan dalam model (komponen bobot akhir)"
    ),
    "Use mousewheel to zoom": "Gulir untuk memperbesar",
    "Prior (starting) match weight": "Bobot awal (prior)",
    "Comparison level match weight = log2(m/u)": "Bobot tingkat kecocokan = log2(m/u)",
    "Match weight": "Bobot",
    "Comparison name": "Medan",
    "M probability": "Peluang m",
    "U probability": "Peluang u",
    "m probability description": "Arti peluang m",
    "u probability description": "Arti peluang u",
    "Equivalent match weight": "Bobot setara",
    "Probability two random records match": "Peluang dua data acak adalah orang yang sama",
}
# bar names (column_name) the waterfall's expressions test, renamed in data and spec alike
BATANG = {"Prior": "awal", "Final score": "skor akhir"}
# vega's number format in Indonesian: decimal comma, thousands point
LOCALE = {"decimal": ",", "thousands": ".", "grouping": [3], "currency": ["Rp", ""]}


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchall()[0][0]
    )


def _koma(x: float, fmt: str) -> str:
    return format(x, fmt).replace(".", ",")


def _levels(model: dict[str, Any]) -> dict[str, dict[int, tuple[str, float | None]]]:
    """Per comparison: gamma value -> (label, weight log2(m/u)); gamma counts down from the
    first non-null level to 0 (Splink's order), -1 is the null level."""
    out: dict[str, dict[int, tuple[str, float | None]]] = {}
    for comp in model["comparisons"]:
        real = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        table: dict[int, tuple[str, float | None]] = {}
        for i, lv in enumerate(real):
            m, u = lv.get("m_probability"), lv.get("u_probability")
            w = math.log2(m / u) if m and u else None
            table[len(real) - 1 - i] = (str(lv.get("label_for_charts", "")), w)
        table[-1] = ("kosong", 0.0)
        out[comp["output_column_name"]] = table
    return out


def night_model(con: duckdb.DuckDBPyConnection, tanggal: date) -> dict[str, Any] | None:
    """The model as the linkage of night `tanggal` weighed its pairs (link_malam.model_malam:
    the committed model with that night's prior and u), when the warehouse keeps it."""
    if not _has_table(con, "link_malam"):
        return None
    cols = {r[0] for r in con.execute("DESCRIBE link_malam").fetchall()}
    if "model_malam" not in cols:
        return None
    rows = con.execute(
        "SELECT model_malam FROM link_malam WHERE tanggal_ekspor = ?", [tanggal]
    ).fetchall()
    return json.loads(rows[0][0]) if rows and rows[0][0] else None


def linkage_sample(con: duckdb.DuckDBPyConnection, tanggal: date) -> dict[str, Any]:
    """Tonight's probable-duplicate pairs (a sample, strongest first), field by field,
    with Splink's charts of them."""
    from linkage import settings as model_settings

    empty: dict[str, Any] = {"fields": [], "pairs": [], "grafik": None}
    if not model_settings.MODEL_PATH.is_file() or not _has_table(con, "link_pasangan"):
        return empty
    model = night_model(con, tanggal) or json.loads(
        model_settings.MODEL_PATH.read_text(encoding="utf-8")
    )
    levels = _levels(model)
    fields = list(levels)
    gammas = ", ".join(f"p.gamma_{f}" for f in fields)
    shown = ", ".join(f"l.{f} AS {f}_l, r.{f} AS {f}_r" for f in VALUES_SHOWN if f in levels)
    values = ", ".join(f"any_value({sql}) AS {f}" for f, sql in VALUES_SHOWN.items())
    con.complete()
    cur = con.execute(
        f"""
        WITH g AS (SELECT DISTINCT id_pemilih FROM temuan
                   WHERE tanggal_ekspor = $1 AND kode_temuan = 'GANDA_ORANG'),
        v AS (SELECT id_pemilih, {values} FROM pemilih
              WHERE tanggal_ekspor = $1 AND id_pemilih IN (SELECT id_pemilih FROM g) GROUP BY 1)
        SELECT p.id_l, p.id_r, p.match_probability, p.match_weight, {gammas}{", " + shown if shown else ""}
        FROM link_pasangan p
        LEFT JOIN v l ON l.id_pemilih = p.id_l LEFT JOIN v r ON r.id_pemilih = p.id_r
        WHERE p.id_l IN (SELECT id_pemilih FROM g) AND p.id_r IN (SELECT id_pemilih FROM g)
        ORDER BY p.match_probability DESC, p.id_l, p.id_r LIMIT {SAMPLE_PAIRS}
        """,  # noqa: E501
        [tanggal],
    )
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    if not rows:
        return empty
    pairs = []
    for r in rows:
        cells = []
        for f in fields:
            g = r[f"gamma_{f}"]
            label, w = levels[f].get(-1 if g is None else int(g), ("?", None))
            cells.append((label, "–" if w is None else _koma(w, "+.1f")))
        pairs.append(
            {
                "a": r["id_l"],
                "b": r["id_r"],
                "peluang": "–" if r["match_probability"] is None
                else _koma(100 * r["match_probability"], ".1f") + "%",
                "bobot": "–" if r["match_weight"] is None else _koma(r["match_weight"], ".1f"),
                "medan": cells,
            }
        )  # fmt: skip
    return {"fields": fields, "pairs": pairs, "grafik": splink_charts(model, rows)}


def _waterfall_records(settings_obj: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Splink's waterfall data of the pairs, with every compared value removed (Splink's
    remove_sensitive_data), then VALUES_SHOWN put back (the nik masked)."""
    from splink.internals.waterfall_chart import records_to_waterfall_data

    comps = settings_obj.comparisons
    prior = math.log2(
        settings_obj._probability_two_random_records_match
        / (1 - settings_obj._probability_two_random_records_match)
    )
    records = []
    for r in rows:
        rec: dict[str, Any] = {"match_weight": r["match_weight"]}
        fields_w, tf_hit = 0.0, []
        for c in comps:
            g = r[c._gamma_column_name]
            rec[c._gamma_column_name] = -1 if g is None else int(g)
            cl = c._get_comparison_level_by_comparison_vector_value(rec[c._gamma_column_name])
            if not cl.is_null_level:
                fields_w += cl._log2_bayes_factor
            rec[c._mw_tf_adj_column_name] = 0.0
            if cl._has_tf_adjustments:
                tf_hit.append(c.output_column_name)
        rec["_tf"] = (r["match_weight"] - prior - fields_w, tf_hit)
        records.append(rec)
    data = records_to_waterfall_data(records, settings_obj, True)
    for d in data:
        r, rec = rows[d["record_number"]], records[d["record_number"]]
        col = d["column_name"]
        if col in VALUES_SHOWN and f"{col}_l" in r:
            left, right = r[f"{col}_l"], r[f"{col}_r"]
            if col in MASKED:
                left, right = mask_id(left), mask_id(right)
            d["value_l"], d["value_r"] = left or "", right or ""
        if d.get("term_frequency_adjustment"):  # Splink's tf bars: one bar with the rest
            rest, hit = rec["_tf"]
            first = bool(hit) and col == "tf_" + hit[0]
            d["log2_bayes_factor"] = rest if first and abs(rest) > 0.005 else 0.0
            d["bayes_factor"] = 2 ** d["log2_bayes_factor"]
            if first:
                d["column_name"] = TF_BAR
                d["label_for_charts"] = "penyesuaian frekuensi nilai (" + ", ".join(hit) + ")"
                d["bayes_factor_description"] = (
                    "bobot akhir dikurangi bobot awal dan bobot setiap medan: penyesuaian "
                    "frekuensi nama/tanggal lahir yang umum atau langka"
                )
    return data


def _translate(node: Any) -> Any:
    """Splink's chart definition with its texts in Indonesian: whole texts (titles, tooltip
    names) from TEKS_GRAFIK, and the two bar names its expressions test (BATANG)."""
    if isinstance(node, dict):
        return {k: _translate(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_translate(v) for v in node]
    if isinstance(node, str):
        if node in TEKS_GRAFIK:
            return TEKS_GRAFIK[node]
        for en, idn in BATANG.items():
            node = node.replace(f"'{en}'", f"'{idn}'").replace(f'"{en}"', f'"{idn}"')
    return node


def splink_charts(model: dict[str, Any], rows: list[dict[str, Any]]) -> Markup:
    """Splink's match weights chart of the model and waterfall chart of `rows`, as one HTML
    fragment that draws them with Splink's own Vega libraries, inlined (offline)."""
    from splink import SettingsCreator
    from splink.internals.charts import WaterfallChart
    from splink.internals.html_utils import json_for_html, load_chart_libraries

    from coklit_dq.link.model import splink_settings

    settings_obj = SettingsCreator.from_path_or_dict(splink_settings(model)).get_settings("duckdb")
    weights = settings_obj.match_weights_chart()
    weights.set_width_height(width=360)
    waterfall = WaterfallChart(_waterfall_records(settings_obj, rows), filter_nulls=True)
    wf = waterfall.chart_dict
    wf["params"][0]["bind"]["max"] = len(rows) - 1  # one step per pair (Splink counts bars)
    wf["params"][0]["bind"]["name"] = "pasangan ke- (0 = yang terkuat) "
    for row in wf["data"]["values"]:
        row["column_name"] = BATANG.get(row["column_name"], row["column_name"])
        row["label_for_charts"] = TEKS_GRAFIK.get(row["label_for_charts"], row["label_for_charts"])
    specs = {"grafik-bobot": _translate(weights.chart_dict), "grafik-air-terjun": _translate(wf)}
    libs = load_chart_libraries()
    scripts = "".join(f"<script>{libs[n]}</script>" for n in ("vega", "vega-lite", "vega-embed"))
    options = json_for_html({"renderer": "svg", "actions": False, "formatLocale": LOCALE})
    embeds = "".join(
        f"vegaEmbed(document.getElementById({json_for_html(k)}), {json_for_html(s)}, "
        f"{options}).catch(function (e) {{ document.getElementById({json_for_html(k)})"
        ".textContent = 'Grafik tidak dapat digambar: ' + e.message; });"
        for k, s in specs.items()
    )
    return Markup(f"{scripts}<script>{embeds}</script>")
