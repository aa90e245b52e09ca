"""Stages 2-3: prepare facts in DuckDB, let Great Expectations decide, render findings.

    run_rules(con, tanggal, settings) -> pl.DataFrame (contract.RAW_FINDING_SCHEMA)
    run_rules_night(...) -> RulesResult: the same findings, and the night's Data
        Docs written to <warehouse dir>/datadocs/<date>/index.html

Every rule of expectations/rules/ that has a `periksa` block is run (the
linkage codes have none). A rule's `periksa` names the prepared table it reads,
the GX expectations that must hold there (a row failing any of them is a
finding; `alasan` of the first one it fails says why) and the keterangan
template. Great Expectations validates each prepared table where it is (its SQL
engine on this DuckDB connection); GX's failing row ids are joined back to the
prepared table in DuckDB to build the findings, so no Python loop ever touches
a record.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from coklit_dq import bahasa, warehouse
from coklit_dq.config import Settings
from coklit_dq.contract import (
    NIK_POLA,
    NKK_POLA,
    PROVINCE_CODES,
    RAW_FINDING_SCHEMA,
    empty_raw_findings,
)
from coklit_dq.rules.catalog import CatalogError, Rule, did_you_mean, fill_settings, load_catalog
from coklit_dq.rules.gx_adapter import Check, GxRunner, Outcome, check_expectation
from coklit_dq.rules.prepare import TABLES, Night, drop_prepared, night_of, prepare
from coklit_dq.rules.results import Validation, build_data_docs, keep_results

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periksa:
    """A rule's `periksa` block in typed form, its settings filled in."""

    rule: Rule
    tabel: str
    checks: tuple[Check, ...]
    alasan: tuple[str | None, ...]  # per check: why a row failing it is a finding
    keterangan: str
    nilai: Mapping[str, str]
    id_kelompok: str | None
    butuh_malam_lalu: bool
    kecuali: tuple[str, ...]  # codes whose finding on a row replaces this one's


def election_values(settings: Settings) -> dict[str, Any]:
    e = settings.election
    return {
        "kode": e.kode,
        "nama": e.nama,
        "hari_pemungutan": e.hari_pemungutan.isoformat(),
        "maks_pemilih_per_tps": e.maks_pemilih_per_tps,
        "usia_minimum": e.usia_minimum,
        "kode_tms_valid": list(e.kode_tms_valid),
        "lahir_paling_lambat": e.lahir_paling_lambat.isoformat(),
    }


# Patterns of the contracts a rule may name (`${kontrak.x}`): written once in contract.py.
KONTRAK: dict[str, Any] = {
    "nik_pola": NIK_POLA,
    "nkk_pola": NKK_POLA,
    "kode_provinsi": list(PROVINCE_CODES),
}


def periksa_of(rule: Rule, settings: Settings) -> Periksa:
    """The rule's `periksa` block, typed, its settings filled in and each expectation
    as GX takes it (gx_adapter.check_expectation). A mistake raises CatalogError naming
    the rule file: a rule set that does not load stops the night (docs/stages.md)."""
    try:
        return _periksa_of(rule, settings)
    except (ValueError, KeyError, TypeError) as exc:
        text = " ".join(str(exc.args[0] if isinstance(exc, KeyError) else exc).split())
        if isinstance(exc, KeyError):
            text = f"periksa: missing {text}"
        raise CatalogError(f"{rule.path or rule.kode_temuan}: {text}") from None


def _periksa_of(rule: Rule, settings: Settings) -> Periksa:
    spec = rule.spec["periksa"]
    sources = {
        "election": election_values(settings),
        "parameter": rule.parameter,
        "kontrak": KONTRAK,
    }
    # texts a region reads get dates and numbers written for it; queries get them raw
    spec = {
        **spec,
        "keterangan": fill_settings(spec["keterangan"], sources, bahasa.teks),
        "expectations": [
            {**e, "alasan": fill_settings(e.get("alasan"), sources, bahasa.teks)}
            for e in spec.get("expectations") or []
        ],
    }
    spec = fill_settings(spec, sources)
    tabel = spec["tabel"]
    if tabel not in TABLES:
        raise ValueError(
            f"periksa.tabel: unknown prepared table {tabel!r}{did_you_mean(str(tabel), TABLES)}"
        )
    exps = spec.get("expectations") or []
    if not exps:
        raise ValueError("periksa.expectations is empty")
    checks = tuple(
        Check(rule.kode_temuan, str(e["type"]), dict(e.get("kwargs") or {}), i)
        for i, e in enumerate(exps)
    )
    for c in checks:
        try:
            check_expectation(c)
        except ValueError as exc:
            raise ValueError(f"periksa.expectations item {c.urutan + 1}: {exc}") from None
    return Periksa(
        rule=rule,
        tabel=tabel,
        checks=checks,
        alasan=tuple(e.get("alasan") for e in exps),
        keterangan=str(spec["keterangan"]),
        nilai={k: str(v) for k, v in (spec.get("nilai") or {}).items()},
        id_kelompok=spec.get("id_kelompok"),
        butuh_malam_lalu=bool(spec.get("butuh_malam_lalu", False)),
        kecuali=tuple(spec.get("kecuali") or ()),
    )


def rules_to_run(settings: Settings) -> list[Periksa]:
    return [periksa_of(r, settings) for r in load_catalog().values() if "periksa" in r.spec]


# --- rendering: failing rows -> findings ---------------------------------------------

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _template_sql(text: str, p: Periksa) -> list[str]:
    """A text with {name} placeholders (a column of the prepared row or a `nilai`) as
    DuckDB string expressions to concatenate."""
    parts: list[str] = []
    pos = 0
    text = " ".join(text.split())
    for m in _PLACEHOLDER.finditer(text):
        if m.start() > pos:
            parts.append(_lit(text[pos : m.start()]))
        name = m.group(1)
        if name in p.nilai:
            expr = f"({p.nilai[name]})"
        elif name == "alasan":
            expr = alasan_sql(p)
        else:
            expr = f'p."{name}"'
        parts.append(f"coalesce(CAST({expr} AS VARCHAR), '-')")
        pos = m.end()
    if pos < len(text):
        parts.append(_lit(text[pos:]))
    return parts


def alasan_sql(p: Periksa) -> str:
    """Why the row is a finding: the `alasan` of the first expectation it failed."""
    whens = [
        f"WHEN {i} THEN {' || '.join(_template_sql(a, p)) or _lit('')}"
        for i, a in enumerate(p.alasan)
        if a
    ]
    return f"(CASE u.urutan {' '.join(whens)} END)" if whens else "NULL"


def keterangan_sql(p: Periksa) -> str:
    """The keterangan template as a DuckDB string expression over the prepared row `p`."""
    parts = _template_sql(p.keterangan, p)
    parts.append(_lit(" " + " ".join(p.rule.tindakan.split())))
    return " || ".join(parts)


def findings_sql(p: Periksa) -> str:
    t = TABLES[p.tabel]
    return f"""
SELECT {_lit(p.rule.kode_temuan)} AS kode_temuan, {_lit(p.rule.tingkat)} AS tingkat,
       left(p.kode_desa, 2) AS kode_prov, left(p.kode_desa, 4) AS kode_kab,
       left(p.kode_desa, 6) AS kode_kec, p.kode_desa,
       {"p.no_tps" if t.no_tps else "NULL"}::INTEGER AS no_tps,
       {"p.id_pemilih" if t.id_pemilih else "NULL"}::VARCHAR AS id_pemilih,
       {"p.id_pantarlih" if t.id_pantarlih else "NULL"}::VARCHAR AS id_pantarlih,
       ({p.id_kelompok or "NULL"})::VARCHAR AS id_kelompok,
       {keterangan_sql(p)} AS keterangan,
       ({t.kunci})::VARCHAR AS kunci,
       p.rid
FROM prep_gagal_{t.name} p
JOIN gx_urutan u ON u.rid = p.rid AND u.kode_temuan = {_lit(p.rule.kode_temuan)}
"""


# --- the run ---------------------------------------------------------------------------


def validate_tables(
    con: duckdb.DuckDBPyConnection, rules: list[Periksa], runner: GxRunner
) -> Validation:
    """Run each prepared table's suite where the table is; (kode_temuan, rid, urutan) that failed.

    GX's SQL engine turns every expectation into queries DuckDB runs over the
    prepared table on this connection; the failing row ids come back from GX.
    """
    by_table: dict[str, list[Periksa]] = {}
    for p in rules:
        by_table.setdefault(p.tabel, []).append(p)
    failed: list[pl.DataFrame] = []
    outcomes: list[tuple[str, str, Outcome]] = []
    reports: list[tuple[str, str, str]] = []
    for tabel, ps in by_table.items():
        suite = runner.suite(f"coklit_{tabel}", [c for p in ps for c in p.checks])
        result, report = runner.validate(tabel, TABLES[tabel].facts, suite)
        reports.append((tabel, BATCH, report))
        for o in result:
            outcomes.append((tabel, BATCH, o))
            if o.failed_rids:
                failed.append(
                    pl.DataFrame(
                        {"kode_temuan": o.kode_temuan, "rid": o.failed_rids, "urutan": o.urutan},
                        schema=GAGAL_SCHEMA,
                    )
                )
    gagal = pl.concat(failed) if failed else pl.DataFrame(schema=GAGAL_SCHEMA)
    return Validation(apply_kecuali(gagal, rules), outcomes, reports)


# the one batch of a prepared table: all of it (kept as a column of gx_validasi/gx_laporan)
BATCH = "semua"
GAGAL_SCHEMA = {"kode_temuan": pl.String, "rid": pl.Int64, "urutan": pl.Int32}


def apply_kecuali(gagal: pl.DataFrame, rules: list[Periksa]) -> pl.DataFrame:
    """Drop a rule's failing rows that a rule it names in `kecuali` reports already."""
    for p in rules:
        for other in p.kecuali:
            covered = gagal.filter(pl.col("kode_temuan") == other).select("rid").unique()
            mine = pl.col("kode_temuan") == p.rule.kode_temuan
            gagal = pl.concat(
                [gagal.filter(~mine), gagal.filter(mine).join(covered, on="rid", how="anti")]
            )
    return gagal


def render(
    con: duckdb.DuckDBPyConnection, rules: list[Periksa], gagal: pl.DataFrame
) -> pl.DataFrame:
    codes = set(gagal["kode_temuan"].unique().to_list())
    selects = [findings_sql(p) for p in rules if p.rule.kode_temuan in codes]
    if not selects:
        return empty_raw_findings()
    con.register("gx_gagal", gagal.to_arrow())
    try:
        # per code and row: the first expectation it failed (its `alasan` is shown)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE gx_urutan AS SELECT kode_temuan, rid, "
            "min(urutan) AS urutan FROM gx_gagal GROUP BY ALL"
        )
        # the failing rows of each prepared table, with every column, once
        for tabel in sorted({p.tabel for p in rules if p.rule.kode_temuan in codes}):
            t = TABLES[tabel]
            kode = ", ".join(_lit(p.rule.kode_temuan) for p in rules if p.tabel == tabel)
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE prep_gagal_{tabel} AS SELECT * FROM {t.table} "
                f"WHERE rid IN (SELECT rid FROM gx_urutan WHERE kode_temuan IN ({kode}))"
            )
        union = " UNION ALL ".join(selects)
        # One finding per code and unit: a record listed twice (GANDA_ID) is one unit.
        sql = f"""
        SELECT * EXCLUDE (rid) FROM ({union})
        QUALIFY row_number() OVER (PARTITION BY kode_temuan, kunci ORDER BY rid) = 1
        ORDER BY kode_temuan, kunci
        """
        out = pl.from_arrow(con.sql(sql).to_arrow_table())
    finally:
        con.unregister("gx_gagal")
        con.execute("DROP TABLE IF EXISTS temp.gx_urutan")
    assert isinstance(out, pl.DataFrame)
    return out.select(pl.col(c).cast(t) for c, t in RAW_FINDING_SCHEMA.items())


def night_values(night: Night) -> dict[str, Any]:
    """`${malam.x}`: what a rule's texts may say about the night."""
    return {
        "tanggal": night.tanggal.isoformat(),
        "lalu": night.lalu.isoformat() if night.lalu else "",
        "dibuat": night.dibuat.isoformat() if night.dibuat else "",
    }


def with_night(p: Periksa, night: Night) -> Periksa:
    src = {"malam": night_values(night)}
    return dataclasses.replace(
        p,
        keterangan=fill_settings(p.keterangan, src, bahasa.teks),
        nilai=fill_settings(dict(p.nilai), src),
        alasan=tuple(fill_settings(a, src, bahasa.teks) for a in p.alasan),
    )


@dataclass(frozen=True)
class RulesResult:
    """A night's rules: the findings and where the night's Data Docs were written."""

    findings: pl.DataFrame  # contract.RAW_FINDING_SCHEMA
    datadocs: Path | None  # <datadocs_dir>/<date>/index.html; None without a local folder


def datadocs_dir(settings: Settings) -> Path | None:
    """Where the nights' Data Docs go (for Pusdatin; never the outbox): the setting
    `data_docs`, else `datadocs/` beside the warehouse file. None when there is no
    local folder (a warehouse in memory, a remote root)."""
    if settings.data_docs:
        return None if "://" in settings.data_docs else Path(settings.data_docs)
    if settings.warehouse == ":memory:":
        return None
    return Path(settings.warehouse).resolve().parent / "datadocs"


def run_rules_night(
    con: duckdb.DuckDBPyConnection, tanggal: date, settings: Settings
) -> RulesResult:
    """`run_rules`, then the night's Data Docs written beside the warehouse."""
    out = run_rules(con, tanggal, settings)
    t0 = time.perf_counter()
    where = datadocs_dir(settings)
    docs = build_data_docs(con, tanggal, where) if where is not None else None
    log.info("Data Docs for %s: %.2f s", tanggal, time.perf_counter() - t0)
    return RulesResult(out, docs)


def run_rules(con: duckdb.DuckDBPyConnection, tanggal: date, settings: Settings) -> pl.DataFrame:
    """Every deterministic finding of the night (all codes but GANDA_NIK and GANDA_ORANG)."""
    night: Night = night_of(con, tanggal)
    absent = warehouse.tables_set_aside(con, tanggal)
    rules = [
        with_night(p, night)
        for p in rules_to_run(settings)
        if (night.lalu is not None or not p.butuh_malam_lalu)
        and not (set(p.rule.butuh_tabel) & absent)
        and (night.dibuat is not None or not p.rule.spec["periksa"].get("butuh_dibuat"))
    ]
    if absent:
        log.warning("no %s file used tonight: rules needing it skipped", ", ".join(sorted(absent)))
    if night.dibuat is None:
        log.warning("no manifest time (runs.dibuat) for %s: rules needing it skipped", tanggal)
    t1 = time.perf_counter()
    bahasa.register_sql(con)  # tanggal_id / waktu_id for the rules' texts
    try:
        prepare(con, night, settings)
        t2 = time.perf_counter()
        with GxRunner(con) as runner:
            validation = validate_tables(con, rules, runner)
        t3 = time.perf_counter()
        keep_results(con, tanggal, validation)
        out = render(con, rules, validation.gagal)
    finally:
        drop_prepared(con)
    log.info(
        "rules for %s: %d findings (prepare %.2f s, Great Expectations %.2f s, render %.2f s)",
        tanggal,
        out.height,
        t2 - t1,
        t3 - t2,
        time.perf_counter() - t3,
    )
    return out
