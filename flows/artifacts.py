"""The Prefect artifacts of a night: a markdown summary and a per-province table.

Only aggregates and file names: no nik, nkk, name or record id ever goes in.
"""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from coklit_dq.pipeline import STEP_NAMES, NightResult

SUMMARY_KEY = "coklit-nightly-summary"
PROVINCES_KEY = "coklit-nightly-provinces"


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_summary(result: NightResult) -> str:
    """The night in markdown: state, files, findings by kind, per region, time per step."""
    state = "✅ done" if result.ok else "❌ FAILED"
    out = [f"# coklit nightly {result.tanggal}: {state}", "", result.message, ""]
    out += [f"## Files used ({len(result.used)})", ""]
    out += [f"- `{p}`" for p in result.used] or ["(none)"]
    out += ["", f"## Files set aside ({len(result.quarantined)})", ""]
    out += [f"- `{q['path']}`: {q['reason']}" for q in result.quarantined] or ["(none)"]
    if result.provinces_missing:
        out += ["", "Provinces not in tonight's export: " + ", ".join(result.provinces_missing)]
    if result.failures:
        out += ["", "## Failures", ""] + [f"- {f}" for f in result.failures]
    total = sum(result.findings_by_code.values())
    out += ["", f"## Findings by kind ({total})", ""]
    by_code = [[k, n] for k, n in result.findings_by_code.items()]
    out.append(_table(["kode_temuan", "count"], by_code))
    out += ["", "## Findings per kabupaten/kota", ""]
    out.append(_table(["kode_kab", "count"], [[k, n] for k, n in result.findings_by_kab.items()]))
    out += ["", "## Time per step", ""]
    steps = [s for s in STEP_NAMES if s in result.timings]
    out.append(_table(["step", "seconds"], [[s, f"{result.timings[s]:.2f}"] for s in steps]))
    out += ["", f"Outbox: `{result.outbox}/{result.tanggal}`"]
    return "\n".join(out) + "\n"


def province_rows(result: NightResult) -> list[dict[str, str | int]]:
    return [{k: ("" if v is None else v) for k, v in row.items()} for row in result.provinces]


def publish_artifacts(result: NightResult) -> None:
    description = f"coklit nightly {result.tanggal}"
    create_markdown_artifact(render_summary(result), key=SUMMARY_KEY, description=description)
    rows = province_rows(result) or [{"kode_prov": "", "berkas": "none"}]
    create_table_artifact(rows, key=PROVINCES_KEY, description=description)
