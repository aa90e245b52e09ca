"""What Great Expectations said, kept in the warehouse; Data Docs built from it offline.

- gx_validasi: one row per expectation per batch per night (counts, success,
  GX's result without per-row lists);
- gx_laporan: one row per batch per night, GX's ExpectationSuiteValidationResult
  as JSON (failing rows sampled), from which `build_data_docs` renders pages.
Both are replaced per night, like every other table of a night.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from coklit_dq.rules.gx_adapter import Outcome, render_offline_page

GX_DDL = """CREATE TABLE IF NOT EXISTS gx_validasi (
  tanggal_ekspor DATE NOT NULL,
  tabel VARCHAR NOT NULL,      -- prepared table (suite coklit_<tabel>)
  batch VARCHAR NOT NULL,      -- province code(s), a part of a province, or 'semua'
  kode_temuan VARCHAR NOT NULL,
  expectation VARCHAR NOT NULL,
  success BOOLEAN,
  element_count BIGINT,
  unexpected_count BIGINT,
  hasil VARCHAR                -- the GX result as JSON, without per-row lists
)"""

GX_REPORT_DDL = """CREATE TABLE IF NOT EXISTS gx_laporan (
  tanggal_ekspor DATE NOT NULL,
  tabel VARCHAR NOT NULL,
  batch VARCHAR NOT NULL,
  laporan VARCHAR              -- GX's ExpectationSuiteValidationResult (JSON, rows sampled)
)"""


@dataclass
class Validation:
    gagal: pl.DataFrame  # kode_temuan, rid: every failing row
    outcomes: list[tuple[str, str, Outcome]]  # (tabel, batch, outcome)
    reports: list[tuple[str, str, str]]  # (tabel, batch, report JSON)


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: pl.DataFrame) -> None:
    con.register("_gx_baru", rows.to_arrow())
    try:
        con.execute(f"INSERT INTO {table} SELECT * FROM _gx_baru")
    finally:
        con.unregister("_gx_baru")


def keep_results(con: duckdb.DuckDBPyConnection, tanggal: date, v: Validation) -> None:
    """Replace the night's rows of gx_validasi and gx_laporan."""
    con.execute(GX_DDL)
    con.execute(GX_REPORT_DDL)
    con.execute("DELETE FROM gx_validasi WHERE tanggal_ekspor = ?", [tanggal])
    con.execute("DELETE FROM gx_laporan WHERE tanggal_ekspor = ?", [tanggal])
    if v.outcomes:
        _insert(
            con,
            "gx_validasi",
            pl.DataFrame(
                {
                    "tanggal_ekspor": [tanggal] * len(v.outcomes),
                    "tabel": [t for t, _, _ in v.outcomes],
                    "batch": [b for _, b, _ in v.outcomes],
                    "kode_temuan": [o.kode_temuan for _, _, o in v.outcomes],
                    "expectation": [o.expectation for _, _, o in v.outcomes],
                    "success": [o.success for _, _, o in v.outcomes],
                    "element_count": [o.element_count for _, _, o in v.outcomes],
                    "unexpected_count": [o.unexpected_count for _, _, o in v.outcomes],
                    "hasil": [o.result_json for _, _, o in v.outcomes],
                }
            ),
        )
    if v.reports:
        _insert(
            con,
            "gx_laporan",
            pl.DataFrame(
                {
                    "tanggal_ekspor": [tanggal] * len(v.reports),
                    "tabel": [t for t, _, _ in v.reports],
                    "batch": [b for _, b, _ in v.reports],
                    "laporan": [r for _, _, r in v.reports],
                }
            ),
        )


def build_data_docs(con: duckdb.DuckDBPyConnection, tanggal: date, out_dir: str | Path) -> Path:
    """Render the night's GX reports as HTML pages that open offline; returns index.html.

    Pages go to `<out_dir>/<tanggal>/`, one per prepared table and batch. They
    are internal (row ids only, no personal data) and never go to the outbox.
    """
    con.execute(GX_REPORT_DDL)
    rows = con.execute(
        "SELECT tabel, batch, laporan FROM gx_laporan WHERE tanggal_ekspor = ? ORDER BY 1, 2",
        [tanggal],
    ).fetchall()
    night = Path(out_dir) / tanggal.isoformat()
    night.mkdir(parents=True, exist_ok=True)
    links = []
    for tabel, batch, laporan in rows:
        name = f"{tabel}-{batch.replace('+', '_').replace('#', '-')}.html"
        (night / name).write_text(render_offline_page(laporan), encoding="utf-8")
        label = html.escape(f"{tabel} — {batch}")
        links.append(f'<li><a href="{html.escape(name)}">{label}</a></li>')
    index = night / "index.html"
    index.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Great Expectations "
        f"{tanggal}</title></head><body><h1>Validasi aturan {tanggal}</h1><ul>"
        + "".join(links)
        + "</ul></body></html>",
        encoding="utf-8",
    )
    return index
