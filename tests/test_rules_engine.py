"""The rule engine's plumbing: rule files, GX batches, kept results, offline Data Docs."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from scenarios.world import fixture_night

from coklit_dq import warehouse
from coklit_dq.config import resolve_settings
from coklit_dq.rules import load_catalog, run_rules
from coklit_dq.rules.engine import batch_plan, rules_to_run, validate_tables
from coklit_dq.rules.gx_adapter import GxRunner, expectation_class, resolve_kwargs
from coklit_dq.rules.prepare import TABLES, drop_prepared, night_of, prepare
from coklit_dq.rules.results import build_data_docs

T1, T2 = date(2024, 7, 1), date(2024, 7, 2)
SETTINGS = resolve_settings()


@pytest.fixture
def con():
    c = warehouse.connect(":memory:")
    yield c
    c.close()


def test_every_rule_file_compiles_to_a_gx_expectation():
    rules = rules_to_run(SETTINGS)
    assert {p.rule.kode_temuan for p in rules} == set(load_catalog()) - {"GANDA_NIK", "GANDA_ORANG"}
    for p in rules:
        assert p.tabel in TABLES
        expectation_class(p.check.type)(**dict(p.check.kwargs))  # GX accepts the kwargs
        assert "{" not in p.keterangan.replace("{", "", 0) or re.search(
            r"\{[a-z_]+\}", p.keterangan
        )
        assert not re.search(r"\$\{", json.dumps(dict(p.check.kwargs)))


def test_thresholds_come_from_settings_and_parameters():
    kw = resolve_kwargs(
        {"column": "n", "max_value": "${election.maks_pemilih_per_tps}"},
        {"maks_pemilih_per_tps": 300},
        {},
    )
    assert kw == {"column": "n", "max_value": 300}
    with pytest.raises(ValueError, match="no parameter"):
        resolve_kwargs({"max_value": "${parameter.nope}"}, {}, {})
    pemilu = resolve_settings(election="pemilu-2024")
    by_code = {p.rule.kode_temuan: p for p in rules_to_run(pemilu)}
    assert by_code["TPS_MELEBIHI_KAPASITAS"].check.kwargs["max_value"] == 300
    assert by_code["PENURUNAN_TAJAM"].check.kwargs["max_value"] == 5.0
    assert by_code["PANTARLIH_BELUM_SINKRON"].check.kwargs["max_value"] == 48


def test_batch_plan_packs_provinces_and_keeps_big_ones_alone():
    plan = batch_plan([("11", 3), ("12", 4), ("31", 10), ("32", 2), ("33", 1)], limit=8)
    assert plan == [["11", "12"], ["31"], ["32", "33"]]


def test_small_batches_give_the_same_findings(con):
    fixture_night(con, T1)
    fixture_night(con, T2, drop=7)
    whole = run_rules(con, T2, SETTINGS)
    night = night_of(con, T2)
    prepare(con, night, SETTINGS)
    try:
        rules = rules_to_run(SETTINGS)
        small = validate_tables(con, rules, GxRunner(), batch_rows=100)
    finally:
        drop_prepared(con)
    batches = {b for t, b, _ in small.outcomes if t == "rekaman"}
    assert len(batches) > 2 and any("#" in b for b in batches)  # provinces cut in parts
    per_code = dict(small.gagal.group_by("kode_temuan").len().iter_rows())
    assert per_code == dict(whole.group_by("kode_temuan").len().iter_rows())
    assert per_code["DATA_HILANG"] == 14
    assert not con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'prep%'"
    ).fetchall()[0][0]


def test_results_kept_and_data_docs_offline(con, tmp_path):
    fixture_night(con, T1)
    fixture_night(con, T2, drop=3)
    out = run_rules(con, T2, SETTINGS)
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
    text = (index.parent / "rekaman_lalu-31_32.html").read_text(encoding="utf-8")
    assert "coklit_rekaman_lalu" in text and "hilang" in text
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert not re.search(r"<(script|link|img)[^>]*(src|href)=\"https?://", html), page.name


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
