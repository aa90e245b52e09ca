"""The national page's drill-down for Pusdatin, from real stages:

- tautan.html from a night linked by the committed Splink model (test_link's planted
  duplicates): Splink's own charts drawn offline in headless Chromium, weights the
  model's, no nik unmasked;
- proses.html from a whole night run by the pipeline with one province file broken:
  files used and set aside with the reason, and each step's time.
"""

from __future__ import annotations

import json
import math
import re
import time

import polars as pl
import pytest
from cdp import CHROMIUM, Browser
from flow_fixtures import break_file, make_night
from test_link import D1, load, planted_night
from test_publish_support import N1

from coklit_dq import warehouse
from coklit_dq.config import resolve_settings
from coklit_dq.lifecycle import record_findings
from coklit_dq.link import run_linkage
from coklit_dq.privacy import mask_id
from coklit_dq.publish import publish_night, tautan
from linkage import settings as model_settings

SVG_TEXT = """(function () {
  var out = {};
  ['grafik-air-terjun', 'grafik-bobot'].forEach(function (id) {
    var s = document.querySelector('#' + id + ' svg');
    out[id] = s ? Array.from(s.querySelectorAll('text')).map(function (t) {
      return t.textContent; }) : null;
  });
  out.scroll = document.documentElement.scrollWidth; out.viewport = window.innerWidth;
  return JSON.stringify(out);
})()"""


@pytest.fixture(scope="module")
def linked(tmp_path_factory):
    """A night with GANDA_ORANG pairs found by Splink, published; its records' nik/nkk."""
    base = tmp_path_factory.mktemp("tautan")
    con = warehouse.connect(base / "w.duckdb")
    pem, wil = planted_night()
    load(con, D1, pem, wil)
    settings = resolve_settings(outbox=str(base / "outbox"), warehouse=str(base / "w.duckdb"))
    raw = run_linkage(con, D1, settings)
    assert (raw["kode_temuan"] == "GANDA_ORANG").sum() > 0
    record_findings(con, D1, raw, hari_pemungutan=settings.election.hari_pemungutan)
    publish_night(con, D1, settings)
    pairs = con.execute(  # the page's sample: pairs of two GANDA_ORANG records, strongest first
        "WITH g AS (SELECT id_pemilih FROM temuan WHERE kode_temuan = 'GANDA_ORANG') "
        "SELECT id_l, id_r, match_weight, gamma_nik FROM link_pasangan "
        "WHERE id_l IN (FROM g) AND id_r IN (FROM g) ORDER BY match_probability DESC, id_l, id_r"
    ).fetchall()
    night = tautan.night_model(con, D1)  # the model as the night weighed its pairs
    con.close()
    return base / "outbox" / D1.isoformat() / "nasional", pem, pairs, night


def test_hostile_values_beside_the_pair_never_reach_the_chart(linked, tmp_path):
    """A nik smuggled into kode_desa, a formula in jenis_kelamin: neither is charted."""
    root, _, pairs, _ = linked
    wh = root.parents[2] / "w.duckdb"
    con = warehouse.connect(wh)
    a = pairs[0][0]
    nik = con.execute("SELECT nik FROM pemilih WHERE id_pemilih = ?", [a]).fetchall()[0][0]
    con.execute(
        "UPDATE pemilih SET kode_desa = nik, jenis_kelamin = '=HYPERLINK(1)' WHERE id_pemilih = ?",
        [a],
    )
    settings = resolve_settings(outbox=str(tmp_path / "out"), warehouse=str(wh))
    publish_night(con, D1, settings)
    con.close()
    page = (tmp_path / "out" / D1.isoformat() / "nasional" / "tautan.html").read_text("utf-8")
    assert nik not in page and "HYPERLINK" not in page and mask_id(nik) in page


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.is_file(), "needs Debian's chromium (apt-get install -y chromium; .ci/run does)"
    with Browser() as b:
        yield b


def test_national_page_links_the_linkage_page(linked):
    root, _, _, _ = linked
    assert 'href="tautan.html"' in (root / "ringkasan.html").read_text(encoding="utf-8")
    assert (root / "tautan.html").is_file()


def test_linkage_page_shows_no_nik_nkk_name_or_birth_date(linked):
    root, pem, _, _ = linked
    page = (root / "tautan.html").read_text(encoding="utf-8")
    for col in ("nik", "nkk"):
        for value in pem[col].drop_nulls().unique():
            if len(value) >= 8:  # a value that short is masked whole (and would match JS)
                assert value not in page, (col, mask_id(value))
    for d in pem["tanggal_lahir"].drop_nulls().unique():
        for form in (d.isoformat(), d.strftime("%d%m%Y"), d.strftime("%d-%m-%Y")):
            assert form not in page
    for name in pem["nama"].drop_nulls().unique():
        assert name not in page
    # what is shown of a nik is its masked form, for the pairs sampled
    assert re.search(r"\d{6}\*{8}\d{2}", page)


def test_linkage_page_loads_nothing_from_outside(linked):
    page = (root := linked[0]) / "tautan.html"
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""<(script|link|img|iframe)[^>]+(src|href)\s*=\s*["']?https?:""", text)
    assert "cdn.jsdelivr" not in text.split("<script>")[0]  # the page's own HTML
    assert root.joinpath("ringkasan.html").is_file()


def test_splink_charts_draw_offline_with_the_models_weights(linked, browser, tmp_path):
    root, _, pairs, night = linked
    tab = browser.open((root / "tautan.html").as_uri(), width=412, height=900, mobile=True)
    m: dict = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # vega-embed draws after the load event
        m = json.loads(tab.evaluate(SVG_TEXT))
        if m["grafik-air-terjun"] and m["grafik-bobot"]:
            break
        time.sleep(0.2)
    tab.screenshot(tmp_path / "tautan-412.png")
    assert m["grafik-air-terjun"] and m["grafik-bobot"], m
    outside = [u for u in tab.requests() if not u.startswith(("file:", "data:", "about:"))]
    assert outside == []  # no CDN: Splink's Vega libraries are inlined
    assert m["scroll"] <= m["viewport"], m  # the charts scroll inside their box
    waterfall = " ".join(m["grafik-air-terjun"])
    # the weights are the night's (its prior and u), not the training night's: the prior of
    # this small night is far from the committed model's, and its bar is the night's
    committed = json.loads(model_settings.MODEL_PATH.read_text(encoding="utf-8"))
    assert night is not None
    p = night["probability_two_random_records_match"]
    assert p > 10 * committed["probability_two_random_records_match"]
    prior = math.log2(p / (1 - p))
    drawn = f"{prior:.2f}".replace(".", ",").replace("-", "\u2212")  # vega's minus sign
    assert drawn in waterfall, (prior, waterfall)
    levels = tautan._levels(night)
    for field in levels:  # every field the model compares has its bar
        assert field in waterfall, field
    # the first pair's nik bar carries the model's weight for the level it reached
    _, _, weight, g_nik = pairs[0]
    w_nik = levels["nik"][g_nik][1]
    assert w_nik is not None and abs(w_nik) > 1  # drawn on its bar (Splink writes |w| > 1)
    assert f"{w_nik:.2f}".replace(".", ",") in waterfall, (w_nik, waterfall)
    assert "skor akhir" in waterfall and not re.search(r"\d\.\d\d\b", waterfall)
    weights = " ".join(m["grafik-bobot"])
    assert all(f in weights for f in levels) and "NIK sama" in weights
    assert math.isfinite(weight)


def test_linkage_table_names_each_fields_level_and_weight(linked):
    root, _, pairs, night = linked
    page = (root / "tautan.html").read_text(encoding="utf-8")
    label, w = tautan._levels(night)["nik"][pairs[0][3]]
    assert label in page and f"({w:+.1f})".replace(".", ",") in page
    from test_publish_texts import _problems, _visible

    assert not _problems(_visible(page)), _problems(_visible(page))[:5]


@pytest.fixture(scope="module")
def whole_night(tmp_path_factory):
    """A night run by the pipeline (no Prefect) with province 32's file broken."""
    from coklit_dq.pipeline import run_night

    base = tmp_path_factory.mktemp("proses")
    night = make_night(base / "export", N1, voters=300)
    break_file(night, "pemilih/32.parquet")
    settings = resolve_settings(outbox=str(base / "outbox"), warehouse=str(base / "w.duckdb"))
    result = run_night(settings, str(base / "export"), N1)
    return base / "outbox" / N1.isoformat() / "nasional", result


def test_run_record_shows_files_used_and_set_aside_with_reasons_and_step_times(whole_night):
    from test_publish_texts import _problems, _visible

    root, result = whole_night
    assert result.state == "failed" and result.quarantined  # the broken file
    nat = (root / "ringkasan.html").read_text(encoding="utf-8")
    assert 'href="proses.html"' in nat
    text = _visible((root / "proses.html").read_text(encoding="utf-8"))
    assert re.search(r"pemilih/31\.\S+ pemilih 31 [\d.]+ dipakai", text), text
    assert re.search(r"pemilih/32\.parquet pemilih 32 \S+ dikarantina \S+", text), text
    for step in ("ingest", "validate", "link", "diff", "tanggapan"):  # those before publishing
        seconds = result.timings[step]
        shown = re.search(rf"\({step}\) (\d+,\d) detik selesai", text)
        assert shown, (step, text)
        assert abs(float(shown.group(1).replace(",", ".")) - seconds) <= 0.051, (step, seconds)
    # the reason is the ingest's own (an engineer's English line), the rest reads Indonesian
    reason = result.quarantined[0]["reason"].split("; ")[0]  # its message
    assert "sha256" in reason and f"dikarantina {reason}" in text
    ours = re.sub(r"pukul \d\d\.\d\d", " ", text.replace(reason, " "))  # 21.05: Indonesian time
    assert not _problems(ours), _problems(ours)[:5]


def test_run_record_table_holds_every_step_that_ran(whole_night):
    import duckdb

    root, result = whole_night
    con = duckdb.connect(str(root.parents[2] / "w.duckdb"), read_only=True)
    rows = dict(con.execute("SELECT langkah, hasil FROM langkah_malam").fetchall())
    con.close()
    assert set(rows) == set(result.timings) and set(rows.values()) == {"done"}
    assert pl.Series(list(result.timings.values())).min() >= 0
