"""The rule engine's plumbing: rule files, GX batches, kept results, offline Data Docs."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date

import polars as pl
import pytest
import sqlalchemy as sa
from scenarios.world import fixture_night

from coklit_dq import warehouse
from coklit_dq.config import EXPECTATIONS_DIR, resolve_settings
from coklit_dq.contract import schema
from coklit_dq.rules import load_catalog, run_rules, run_rules_night
from coklit_dq.rules.catalog import fill_settings
from coklit_dq.rules.engine import rules_to_run
from coklit_dq.rules.gx_adapter import Check, GxRunner, expectation_class
from coklit_dq.rules.prepare import TABLES, drop_prepared, night_of, prepare
from coklit_dq.rules.results import build_data_docs

T1, T2 = date(2024, 7, 1), date(2024, 7, 2)
SETTINGS = resolve_settings()


@pytest.fixture
def con():
    c = warehouse.connect(":memory:")
    yield c
    c.close()


def test_every_rule_decides_with_built_in_gx_expectations():
    """Each rule's condition is a list of Great Expectations' own expectations (no custom
    class is needed so far), with every setting filled in."""
    import great_expectations.expectations as gxe

    rules = rules_to_run(SETTINGS)
    assert {p.rule.kode_temuan for p in rules} == set(load_catalog()) - {"GANDA_NIK", "GANDA_ORANG"}
    for p in rules:
        assert p.tabel in TABLES and p.checks, p.rule.kode_temuan
        for c in p.checks:
            cls = expectation_class(c.type)
            assert cls.__module__.startswith("great_expectations.expectations.core"), c.type
            assert getattr(gxe, cls.__name__) is cls
            cls(**c.gx_kwargs())  # GX accepts the kwargs
            assert "${" not in json.dumps(dict(c.kwargs)), (p.rule.kode_temuan, c.kwargs)
        assert "${election" not in p.keterangan and "${parameter" not in p.keterangan


# columns that are values of the export itself (not made by prepare.sql)
EXPORT_COLUMNS = (
    set(schema("pemilih").names())
    | set(schema("pantarlih").names())
    | {
        "nilai_tidak_valid"  # set by the ingest
    }
)


def test_prepared_tables_hold_facts_not_verdicts(con):
    """No prepared column is a TRUE/FALSE flag, and a null check is only ever made on a
    value of the export (never on a column the SQL computed)."""
    fixture_night(con, T1)
    fixture_night(con, T2, drop=3)
    prepare(con, night_of(con, T2), SETTINGS)
    try:
        for t in TABLES.values():
            types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {t.facts})")
                         .fetchall())  # fmt: skip
            assert "BOOLEAN" not in types.values(), (t.facts, types)
    finally:
        drop_prepared(con)
    null_checks = ("expect_column_values_to_be_null", "expect_column_values_to_not_be_null")
    for p in rules_to_run(SETTINGS):
        for c in p.checks:
            if c.type in null_checks:
                assert c.kwargs["column"] in EXPORT_COLUMNS, (p.rule.kode_temuan, c.kwargs)


def test_one_placeholder_syntax_for_settings():
    sources = {"election": {"maks_pemilih_per_tps": 300, "kode_tms_valid": [1, 2]},
               "parameter": {"batas_jam": 48}}  # fmt: skip
    kw = fill_settings(
        {"column": "n", "max_value": "${election.maks_pemilih_per_tps}",
         "value_set": "${election.kode_tms_valid}", "row_condition": "x > ${parameter.batas_jam}",
         "later": "${malam.tanggal}"},
        sources,
    )  # fmt: skip
    assert kw == {"column": "n", "max_value": 300, "value_set": [1, 2],
                  "row_condition": "x > 48", "later": "${malam.tanggal}"}  # fmt: skip
    with pytest.raises(ValueError, match="no parameter setting 'nope'"):
        fill_settings({"max_value": "${parameter.nope}"}, sources)
    pemilu = resolve_settings(election="pemilu-2024")
    by_code = {p.rule.kode_temuan: p for p in rules_to_run(pemilu)}
    assert by_code["TPS_MELEBIHI_KAPASITAS"].checks[0].kwargs["max_value"] == 300
    assert by_code["PENURUNAN_TAJAM"].checks[0].kwargs["max_value"] == 5.0
    assert by_code["PANTARLIH_BELUM_SINKRON"].checks[1].kwargs["max_value"] == 48
    # the older spellings are gone from every rule file
    for path in sorted((EXPECTATIONS_DIR / "rules").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert "getvariable(" not in text, path.name
        assert not re.search(r"(?<!\$)\{(election|parameter)\.", text), path.name


TEKS = ["abc", "   ", "", "x y", " 12 ", None, "Ñoño", "a\nb"]


def test_gx_sql_engine_on_duckdb(con):
    """What GX 1.24 lacks for DuckDB and gx_adapter supplies (private API, duckdb_engine
    pinned): GX's SQL engine reads a TEMP table of the caller's connection, gives back
    every failing row id (more than its default 20), searches with a regex as Python's
    re.search does (what its pandas engine did), applies GX's own row conditions, and
    leaves the connection open and usable."""
    n = 400
    con.execute(
        "CREATE TEMP TABLE prep_uji AS SELECT range AS rid, "
        "(?::VARCHAR[])[range % ? + 1] AS teks, range % 9 AS n, "
        "CASE WHEN range % 3 = 0 THEN 'TMS' WHEN range % 3 = 1 THEN 'MS' END AS status "
        "FROM range(?)",
        [TEKS, len(TEKS), n],
    )
    rows = con.execute("SELECT rid, teks, n, status FROM prep_uji").fetchall()
    not_tms = {"type": "comparison", "column": {"name": "status"}, "operator": "!=",
               "parameter": "TMS"}  # fmt: skip
    checks = [
        Check("CARI", "expect_column_values_to_match_regex", {"column": "teks", "regex": "[^ ]"}),
        Check("UTUH", "expect_column_values_to_match_regex",
              {"column": "teks", "regex": "^[a-z]*$"}),
        Check("BUKAN", "expect_column_values_to_not_match_regex", {"column": "teks", "regex": "b"}),
        Check("HURUF", "expect_column_values_to_match_regex",
              {"column": "teks", "regex": "^[\\p{L} ]+$"}),  # RE2 classes: any script
        Check("BATAS", "expect_column_values_to_be_between",
              {"column": "n", "max_value": 5, "row_condition": not_tms}),
        Check("NIHIL", "expect_column_values_to_be_between", {"column": "n", "min_value": 0}),
        Check("NIHIL_RE", "expect_column_values_to_not_match_regex",
              {"column": "teks", "regex": "[0-9]{3}"}),
    ]  # fmt: skip
    expected = {
        "CARI": {r for r, t, _, _ in rows if t is not None and not re.search("[^ ]", t)},
        "UTUH": {r for r, t, _, _ in rows if t is not None and not re.search("^[a-z]*$", t)},
        "BUKAN": {r for r, t, _, _ in rows if t is not None and re.search("b", t)},
        "HURUF": {r for r, t, _, _ in rows
                  if t is not None and (t == "" or not all(c.isalpha() or c == " " for c in t))},
        "BATAS": {r for r, _, k, s in rows if s is not None and s != "TMS" and k > 5},
        "NIHIL": set(),
        "NIHIL_RE": set(),
    }  # fmt: skip
    queries: list[str] = []

    def seen(conn, cursor, statement, *args):
        queries.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", seen)
    try:
        with GxRunner(con) as runner:
            outcomes, report = runner.validate("uji", "prep_uji", runner.suite("uji", checks))
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", seen)
    got = {o.kode_temuan: set(o.failed_rids) for o in outcomes}
    assert got == expected
    # GX asks for no failing values, which our result format excludes (install_lean_dependencies)
    assert queries and not [q for q in queries if "unexpected_values" in q]
    # failing ids of a regex come in GX's bundled count query of their domain; the others by
    # GX's own query, only where GX counted a failure (install_ids_without_own_query): BATAS
    id_queries = [q for q in queries if re.match(r"\s*SELECT rid\b", q)]
    assert len(id_queries) == 1 and "n > " in id_queries[0]
    bundled = [q for q in queries if "list(rid) FILTER" in q]
    assert sum(q.count("list(rid) FILTER") for q in bundled) == 5  # the five regexes
    nihil = [o for o in outcomes if o.kode_temuan.startswith("NIHIL")]
    assert len(nihil) == 2 and all(o.success and o.failed_rids == [] for o in nihil)
    assert min(len(v) for k, v in expected.items() if v and k != "UTUH") > 20
    assert all(o.element_count for o in outcomes)
    assert "prep_uji" in report
    # the connection is the caller's: still open, its TEMP table still there
    assert con.execute("SELECT count(*) FROM prep_uji").fetchall() == [(n,)]


def test_gx_configurations_built_once_changes_no_result(con, monkeypatch):
    """gx_adapter.configurations_built_once and metric_ids_computed_once (private: GX's
    Expectation.configuration property and IDDict.to_id, swapped while a suite is validated)
    give the same report as GX alone, and put GX's own back."""
    from contextlib import nullcontext

    from great_expectations.core.id_dict import IDDict
    from great_expectations.expectations.expectation import Expectation

    from coklit_dq.rules import gx_adapter

    original = Expectation.__dict__["configuration"]
    to_id = IDDict.__dict__["to_id"]
    con.execute(
        "CREATE TEMP TABLE prep_uji AS SELECT range AS rid, range % 7 AS n, "
        "CASE WHEN range % 2 = 0 THEN 'TMS' END AS status FROM range(50)"
    )
    checks = [
        Check("A", "expect_column_values_to_be_between", {"column": "n", "max_value": 4}),
        Check("B", "expect_column_values_to_be_in_set",
              {"column": "status", "value_set": ["MS"]}),
        Check("C", "expect_column_pair_values_to_be_equal",
              {"column_A": "n", "column_B": "rid", "ignore_row_if": "either_value_is_missing"}),
    ]  # fmt: skip

    def report() -> tuple[list[str], object]:
        with GxRunner(con) as runner:
            outcomes, rep = runner.validate("uji", "prep_uji", runner.suite("uji", checks))
        doc = json.loads(rep)
        for r in doc["results"]:
            r["expectation_config"].pop("id", None)
        doc.pop("meta", None)
        doc.pop("statistics", None)
        return [o.result_json for o in outcomes], doc["results"]

    cached = report()
    assert Expectation.__dict__["configuration"] is original
    assert IDDict.__dict__["to_id"] is to_id
    monkeypatch.setattr(gx_adapter, "metric_ids_computed_once", nullcontext)
    assert report() == cached
    monkeypatch.setattr(gx_adapter, "configurations_built_once", nullcontext)
    assert report() == cached
    # GX's ids: one per content, True, 1 and 1.0 apart, anything not plain JSON left to GX
    with gx_adapter.metric_ids_computed_once():
        kwargs = [IDDict({"column": "n", "value": v, "mostly": None}) for v in (True, 1, 1.0)]
        assert [k.to_id() for k in kwargs] == [to_id(k) for k in kwargs]
        assert len({k.to_id() for k in kwargs}) == 3
        assert gx_adapter._plain_key(IDDict({"x": object()})) is None


def test_results_kept_and_data_docs_offline(tmp_path):
    con = warehouse.connect(str(tmp_path / "wh.duckdb"))
    fixture_night(con, T1)
    fixture_night(con, T2, drop=3)
    res = run_rules_night(con, T2, replace(SETTINGS, warehouse=str(tmp_path / "wh.duckdb")))
    out = res.findings
    # the night's Data Docs, beside the warehouse (for Pusdatin, not the outbox)
    assert res.datadocs == tmp_path / "datadocs" / "2024-07-02" / "index.html"
    assert res.datadocs.is_file()
    rows = con.execute(
        "SELECT kode_temuan, sum(unexpected_count) FROM gx_validasi WHERE tanggal_ekspor = ? "
        "GROUP BY 1",
        [T2],
    ).fetchall()
    counts = dict(rows)
    assert counts["DATA_HILANG"] == out.filter(out["kode_temuan"] == "DATA_HILANG").height == 6
    assert counts["NIK_TIDAK_VALID"] == 0

    # a rerun replaces the night's results
    def kept():
        sql = "SELECT count(*) FROM {} WHERE tanggal_ekspor = ?"
        return [
            con.execute(sql.format(t), [T2]).fetchall()[0][0] for t in ("gx_validasi", "gx_laporan")
        ]

    before = kept()
    run_rules(con, T2, SETTINGS)
    assert kept() == before and before[1] == 5
    index = build_data_docs(con, T2, tmp_path / "docs")
    pages = sorted(index.parent.glob("*.html"))
    assert len(pages) == 6  # index + rekaman, rekaman_lalu, tps, desa, pantarlih
    text = (index.parent / "rekaman_lalu-semua.html").read_text(encoding="utf-8")
    assert "coklit_rekaman_lalu" in text and "n_kini" in text
    for page in pages + sorted(res.datadocs.parent.glob("*.html")):
        html = page.read_text(encoding="utf-8")
        # nothing fetched or linked from another host: no CDN, no S3 logo, no newsletter
        assert not re.search(r"(https?:)?//[\w-]+(\.[\w-]+)+", html), page.name
        assert "http:" not in html and "https:" not in html, page.name
    con.close()


def test_codes_with_leading_zeros_read_from_csv_give_no_finding(con, tmp_path):
    """A clean night written as export-v1 (pemilih/31 as csv.gz) and ingested for real:
    niks with day/month 01 and serial 0001, nkk serials 000010..., rt '001' survive."""
    from flow_fixtures import make_night

    from coklit_dq.ingest import ingest_night

    settings = resolve_settings(warehouse=str(tmp_path / "wh.duckdb"), outbox=str(tmp_path / "o"))
    for d in (T1, T2):
        make_night(tmp_path / "src", d, voters=600)
        res = ingest_night(con, str(tmp_path / "src"), d, settings)
        assert not res.quarantined
        con.execute("UPDATE runs SET state = 'done' WHERE tanggal_ekspor = ?", [d])
    zeros = con.execute(
        "SELECT count(*) FROM pemilih WHERE tanggal_ekspor = ? AND kode_desa LIKE '31%' "
        "AND substr(nik, 9, 2) = '01' AND right(nik, 4) LIKE '000%'",
        [T2],
    ).fetchall()[0][0]
    assert zeros > 0
    assert run_rules(con, T1, SETTINGS).is_empty()
    assert run_rules(con, T2, SETTINGS).is_empty()


def test_a_unit_listed_twice_gives_the_same_finding_whatever_the_row_order():
    """A TPS listed twice in the export (hostile or broken input), both rows failing the
    same rule: the night keeps one finding per unit, and which row it shows does not depend
    on the order the rows were stored in (a rerun or a re-ingest must give the same list)."""

    def progres(order: tuple[int, int]) -> list[tuple[str, str]]:
        c = warehouse.connect(":memory:")
        try:
            fixture_night(c, T1)
            kode_desa, no_tps = c.execute(
                "SELECT kode_desa, no_tps FROM tps ORDER BY kode_desa, no_tps LIMIT 1"
            ).fetchall()[0]
            for jumlah in order:  # fewer handed down than the export holds: both fail
                c.execute(
                    "INSERT INTO tps SELECT * REPLACE (? AS jumlah_diturunkan) FROM tps "
                    "WHERE kode_desa = ? AND no_tps = ? LIMIT 1",
                    [jumlah, kode_desa, no_tps],
                )
            out = run_rules(c, T1, SETTINGS).filter(
                (pl.col("kode_temuan") == "PROGRES_MELEBIHI_DATA")
                & (pl.col("kode_desa") == kode_desa)
            )
            return sorted(zip(out["kode_desa"], out["keterangan"], strict=True))
        finally:
            c.close()

    first = progres((0, 1))
    assert len(first) == 1
    assert progres((1, 0)) == first
