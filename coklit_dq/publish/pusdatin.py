"""Pages for Pusdatin beside the national page (nasional/…): what to drill into.

    proses.html   the night's run record: the run, every file used or set aside with
                  its reason (masked), timings the warehouse holds
    kamus.html    data dictionary: every published column and value (publish.glossary),
                  every finding code from the catalog
    tautan.html   a sample of tonight's GANDA_ORANG pairs: per field, the comparison
                  level the pair reached and its weight (log2 m/u) from the committed
                  Splink model (linkage/model.json); Splink's own charts are h14's
and where the night's Great Expectations Data Docs are (`data_docs_index`).
All values are ids, codes, counts and masked reasons: no name, nik or address.
"""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from coklit_dq.config import Settings
from coklit_dq.publish import glossary
from coklit_dq.publish.data import _reason_message

MODEL = Path(__file__).resolve().parents[2] / "linkage" / "model.json"
SAMPLE_PAIRS = 25


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchall()[0][0]
    )


def data_docs_index(settings: Settings, tanggal: date) -> Path | None:
    """The night's Data Docs index (written by the rules stage, `rules.datadocs_dir`)."""
    from coklit_dq.rules.engine import datadocs_dir

    folder = datadocs_dir(settings)
    if folder is None:
        return None
    index = folder / tanggal.isoformat() / "index.html"
    return index.resolve() if index.is_file() else None


def run_record(con: duckdb.DuckDBPyConnection, tanggal: date) -> dict[str, Any]:
    """The night's runs row, its files and the timings the warehouse holds."""
    con.complete()
    run = con.execute(
        "SELECT started_at, finished_at, state, dibuat FROM runs WHERE tanggal_ekspor = ?",
        [tanggal],
    ).fetchall()
    files = con.execute(
        "SELECT path, coalesce(tabel, '-'), coalesce(kode_prov, '-'), rows, state, reason "
        "FROM files WHERE tanggal_ekspor = ? ORDER BY state DESC, path",
        [tanggal],
    ).fetchall()
    timings: list[tuple[str, str]] = []
    if run and run[0][0] and run[0][1]:
        timings.append(("seluruh malam", _detik((run[0][1] - run[0][0]).total_seconds())))
    if _has_table(con, "link_malam"):
        for mode, detik in con.execute(
            "SELECT mode, detik FROM link_malam WHERE tanggal_ekspor = ?", [tanggal]
        ).fetchall():
            timings.append((f"pencocokan data ganda ({mode})", _detik(detik)))
    return {
        "run": run[0] if run else None,
        "files": [
            (p, t, k, r, "dipakai" if s == "used" else "dikarantina", _reason_message(why) or "")
            for p, t, k, r, s, why in files
        ],
        "timings": timings,
    }


def _detik(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f} detik".replace(".", ",")


def dictionary() -> dict[str, Any]:
    return {
        "kolom": list(glossary.KOLOM.items()),
        "nilai": glossary.NILAI,
        "kode": glossary.codes(),
    }


def _levels(model: dict[str, Any]) -> dict[str, dict[int, tuple[str, float | None]]]:
    """Per comparison: gamma value -> (label, weight log2(m/u)); gamma counts down from the
    first non-null level to 0 (Splink's order), -1 is the null level."""
    out: dict[str, dict[int, tuple[str, float | None]]] = {}
    for comp in model["comparisons"]:
        levels = comp["comparison_levels"]
        real = [lv for lv in levels if not lv.get("is_null_level")]
        table: dict[int, tuple[str, float | None]] = {}
        for i, lv in enumerate(real):
            m, u = lv.get("m_probability"), lv.get("u_probability")
            w = math.log2(m / u) if m and u else None
            table[len(real) - 1 - i] = (str(lv.get("label_for_charts", "")), w)
        table[-1] = ("kosong", 0.0)
        out[comp["output_column_name"]] = table
    return out


def linkage_sample(con: duckdb.DuckDBPyConnection, tanggal: date) -> dict[str, Any]:
    """Tonight's probable-duplicate pairs (a sample, strongest first), field by field."""
    if not MODEL.is_file() or not _has_table(con, "link_pasangan"):
        return {"fields": [], "pairs": []}
    levels = _levels(json.loads(MODEL.read_text(encoding="utf-8")))
    fields = list(levels)
    gammas = ", ".join(f"p.gamma_{f}" for f in fields)
    con.complete()
    rows = con.execute(
        f"""
        SELECT p.id_l, p.id_r, p.match_probability, p.match_weight, {gammas}
        FROM link_pasangan p
        WHERE p.id_l IN (SELECT id_pemilih FROM temuan WHERE tanggal_ekspor = $1
                         AND kode_temuan = 'GANDA_ORANG')
          AND p.id_r IN (SELECT id_pemilih FROM temuan WHERE tanggal_ekspor = $1
                         AND kode_temuan = 'GANDA_ORANG')
        ORDER BY p.match_probability DESC, p.id_l, p.id_r LIMIT {SAMPLE_PAIRS}
        """,
        [tanggal],
    ).fetchall()
    pairs = []
    for r in rows:
        cells = []
        for f, g in zip(fields, r[4:], strict=True):
            label, w = levels[f].get(-1 if g is None else int(g), ("?", None))
            cells.append((label, "–" if w is None else f"{w:+.1f}".replace(".", ",")))
        prob = f"{100 * r[2]:.1f}%".replace(".", ",") if r[2] is not None else "–"
        weight = f"{r[3]:.1f}".replace(".", ",") if r[3] is not None else "–"
        pairs.append({"a": r[0], "b": r[1], "peluang": prob, "bobot": weight, "medan": cells})
    return {"fields": fields, "pairs": pairs}
