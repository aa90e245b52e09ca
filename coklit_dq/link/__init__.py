"""Stage 4: duplicates. GANDA_NIK (exact, SQL) and GANDA_ORANG (Splink, DuckDB or Spark).

run_linkage(con, tanggal, settings) -> pl.DataFrame in RAW_FINDING_SCHEMA
"""

from __future__ import annotations

import logging
import os
import time
from datetime import date
from typing import Any

import duckdb
import polars as pl

from coklit_dq.config import LINKAGE_BACKENDS
from coklit_dq.link import findings as fnd
from coklit_dq.link.graph import connected_components, consistent_edges
from coklit_dq.link.sql import register_macros

log = logging.getLogger("coklit_dq.link")

__all__ = ["ganda_nik", "ganda_orang", "register_macros", "run_linkage"]


def _tingkat() -> dict[str, str]:
    from coklit_dq.rules.catalog import load_catalog

    cat = load_catalog()
    return {k: cat[k].tingkat for k in ("GANDA_NIK", "GANDA_ORANG")}


def _full_requested(settings: Any) -> bool:
    flag = getattr(settings, "linkage_full", None)
    if flag is not None:
        return bool(flag)
    return os.environ.get("COKLIT_DQ_LINKAGE_FULL", "").strip().lower() in ("1", "true", "yes")


def ganda_nik(con: duckdb.DuckDBPyConnection, tanggal: date, *, mask: bool = True) -> pl.DataFrame:
    """GANDA_NIK findings of the night."""
    register_macros(con)
    fnd.ganda_nik_members(con, tanggal)
    return fnd.findings(con, tanggal, tingkat=_tingkat(), mask=mask)


def ganda_orang(
    con: duckdb.DuckDBPyConnection,
    tanggal: date,
    *,
    backend: str = "duckdb",
    full: bool = False,
    mask: bool = True,
    model: dict[str, Any] | None = None,
    threshold: float | None = None,
    settings: Any = None,
) -> pl.DataFrame:
    """GANDA_ORANG findings of the night (scores the night's changes first)."""
    from coklit_dq.link import orang
    from coklit_dq.link.model import load_model
    from linkage import settings as model_settings

    register_macros(con)
    model = model or load_model()
    orang.score(con, tanggal, backend=backend, full=full, model=model, settings=settings)
    clusters_of(con, threshold or model_settings.THRESHOLD_MATCH_PROBABILITY)
    fnd.ganda_orang_members(con, "_link_sisi", "_link_klaster", model)
    return fnd.findings(con, tanggal, tingkat=_tingkat(), mask=mask)


def clusters_of(con: duckdb.DuckDBPyConnection, threshold: float) -> None:
    """_link_sisi (edges at the threshold, each record with people who link to each other)
    and _link_klaster (unique_id, klaster)."""
    from coklit_dq.link import orang

    orang.edges(con, threshold, "_link_sisi")
    consistent_edges(con, "_link_sisi")
    connected_components(con, "_link_sisi", "_link_klaster")


def run_linkage(
    con: duckdb.DuckDBPyConnection, tanggal: date, settings: Any, *, full: bool | None = None
) -> pl.DataFrame:
    """GANDA_NIK and GANDA_ORANG for the night, in RAW_FINDING_SCHEMA.

    `full=True` (or settings.linkage_full / COKLIT_DQ_LINKAGE_FULL=1) re-links every
    record instead of only the night's changes."""
    mask = bool(getattr(settings, "mask_ids", True))
    backend = str(getattr(settings, "linkage_backend", "duckdb") or "duckdb")
    if backend not in LINKAGE_BACKENDS:  # resolve_settings checks it; a caller's own object
        raise ValueError(f"linkage_backend must be one of {LINKAGE_BACKENDS}, not {backend!r}")
    t0 = time.perf_counter()
    nik = ganda_nik(con, tanggal, mask=mask)
    t1 = time.perf_counter()
    orang_df = ganda_orang(
        con,
        tanggal,
        backend=backend,
        full=_full_requested(settings) if full is None else full,
        mask=mask,
        settings=settings,
    )
    log.info(
        "GANDA_NIK %d findings in %.1f s; GANDA_ORANG %d findings in %.1f s",
        nik.height,
        t1 - t0,
        orang_df.height,
        time.perf_counter() - t1,
    )
    return pl.concat([nik, orang_df], how="vertical")
