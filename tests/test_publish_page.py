"""ringkasan.html in a real browser (Debian's headless Chromium) on phones, a tablet, a
desktop and on paper.

Driven over the DevTools protocol (tests/cdp.py); phone widths are emulated as
DevTools' device mode does, paper as the print media at an A4 page's width. A
script evaluated in the page measures what the browser laid out: the document's
scroll width against the viewport, where the key figures sit, the smallest chart
text in CSS pixels, whether a chart runs past its box, which table columns show
without scrolling, and whether a table that scrolls says so. Screenshots are kept
in the test's folder for a person to look at. The first test reads the pages'
markup only: what every chart and the print styles must be, for any browser.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cdp import CHROMIUM, Browser
from test_publish_support import N2, two_night_warehouse

from coklit_dq.config import resolve_settings
from coklit_dq.publish import publish_night

MEASURE = """(function () {
  var w = window.innerWidth, out = {viewport: w,
    scroll: document.documentElement.scrollWidth, cards: [], chartText: 1e9, charts: 0,
    drawings: 0, chartsCut: [], shown: [], tables: [], sections: []};
  document.querySelectorAll('.kartu > div').forEach(function (d) {
    var r = d.getBoundingClientRect();
    out.cards.push({text: d.innerText, left: r.left, right: r.right, w: r.width});
  });
  document.querySelectorAll('svg.chart').forEach(function (s) {
    var box = s.getBoundingClientRect();
    out.drawings += 1;
    if (box.width === 0) return;  // the drawing for the other width (charts.py)
    var vb = s.viewBox.baseVal, scale = box.width / vb.width;
    var room = s.parentElement.getBoundingClientRect();
    out.charts += 1;
    if (out.shown.indexOf(s.getAttribute('class')) < 0) out.shown.push(s.getAttribute('class'));
    if (box.right > room.right + 0.5 || box.right > w) {
      out.chartsCut.push(s.textContent.slice(0, 40));
    }
    s.querySelectorAll('text').forEach(function (t) {
      var px = parseFloat(t.getAttribute('font-size') || '12') * scale;
      if (px < out.chartText) out.chartText = px;
    });
  });
  document.querySelectorAll('.geser').forEach(function (g) {
    var box = g.getBoundingClientRect(), table = g.querySelector('table');
    var cue = g.previousElementSibling;
    out.tables.push({
      heads: Array.from(table.querySelectorAll('thead th')).map(function (th) {
        var r = th.getBoundingClientRect();
        return {text: th.innerText.trim(),
                shown: r.left >= box.left - 0.5 && r.right <= box.right + 0.5};
      }),
      scrolls: g.scrollWidth > g.clientWidth + 1,
      cue: !!(cue && cue.classList.contains('info-geser') && cue.offsetHeight > 0),
      overflow: getComputedStyle(g).overflowX,
    });
  });
  document.querySelectorAll('main > section').forEach(function (s) {
    out.sections.push({long: s.classList.contains('panjang'),
                       breakInside: getComputedStyle(s).breakInside});
  });
  return JSON.stringify(out);
})()"""
# The columns a table shows next to its name on a phone: progress, findings, priority
KEY_FIGURES = {"Progres", "Temuan", "Malam ini", "Tingkat", "Perubahan", "Per 1.000 pemilih",
               "Prioritas 1 (wilayah)", "% ditanggapi", "Perlu bantuan"}  # fmt: skip
PAGES = ["31/3101", "31", "nasional"]


@pytest.fixture(scope="module")
def outbox(tmp_path_factory):
    base = tmp_path_factory.mktemp("page")
    con, _ = two_night_warehouse(base / "w.duckdb")
    settings = resolve_settings(outbox=str(base / "outbox"), warehouse=str(base / "w.duckdb"))
    publish_night(con, N2, settings)
    con.close()
    return base / "outbox" / N2.isoformat()


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.is_file(), "needs Debian's chromium (apt-get install -y chromium; .ci/run does)"
    with Browser() as b:
        yield b


def render(browser: Browser, page: Path, width: int, shot: Path, *, media: str = "") -> dict:
    """Lay the page out at `width` CSS px (a phone below 600; `media="print"`: on paper);
    measure it, take a screenshot."""
    tab = browser.open(page.as_uri(), width=width, height=900, mobile=width < 600)
    if media:
        browser.send("Emulation.setEmulatedMedia", {"media": media}, tab.session)
    tab.screenshot(shot)
    return json.loads(tab.evaluate(MEASURE))


def test_charts_scale_to_their_box_and_the_pages_have_print_styles(outbox):
    """Every chart: a viewBox, width 100 %, no minimum width, drawn for a phone and for
    wider screens; every page: CSS that shows the right drawing and prints without
    scroll boxes or split sections."""
    for rel in PAGES:
        raw = (outbox / rel / "ringkasan.html").read_text(encoding="utf-8")
        svgs = re.findall(r"<svg class='chart [^>]*>", raw)
        assert len(svgs) >= 6 and "min-width" not in " ".join(svgs)
        for tag in svgs:
            svg = ET.fromstring(tag + "</svg>")
            assert re.fullmatch(r"0 0 \d+ \d+", svg.get("viewBox", "")), tag
            assert svg.get("width") == "100%", tag
        assert raw.count("<svg class='chart sempit'") == raw.count("<svg class='chart lebar'")
        css = raw[raw.index("<style>") : raw.index("</style>")]
        phone = css[css.index("@media (max-width: 639px)") :]
        assert "svg.chart.lebar { display: none; }" in phone.split("@media print")[0]
        printing = css[css.index("@media print") :]
        assert "break-inside: avoid" in printing.split("section.panjang")[0]
        assert re.search(r"\.geser, \.gulir[^{]*\{ overflow: visible; max-height: none;", printing)
        assert "svg.chart.lebar { display: block; }" in printing


@pytest.mark.parametrize("width", [360, 412, 768, 1366])
@pytest.mark.parametrize("rel", PAGES)
def test_page_fits_the_screen_and_shows_its_key_figures(browser, outbox, rel, width, tmp_path):
    shot = tmp_path / f"{rel.replace('/', '-')}-{width}.png"
    m = render(browser, outbox / rel / "ringkasan.html", width, shot)
    assert m["viewport"] == width
    assert m["scroll"] <= m["viewport"], m  # no horizontal page scroll
    assert len(m["cards"]) >= 6
    for card in m["cards"]:  # every key figure on screen, not cut off
        assert card["w"] > 0 and card["left"] >= 0 and card["right"] <= width, card
        assert re.search(r"\d", card["text"]), card
    assert m["chartText"] >= 11 - 0.05, m["chartText"]
    assert m["charts"] >= 3 and not m["chartsCut"], m["chartsCut"]
    assert m["drawings"] == 2 * m["charts"]  # one of each chart's two drawings is shown
    assert shot.stat().st_size > 5000


@pytest.mark.parametrize("rel", PAGES)
def test_tables_on_a_phone_show_name_and_key_figures_and_say_when_they_scroll(
    browser, outbox, rel, tmp_path
):
    m = render(browser, outbox / rel / "ringkasan.html", 360, tmp_path / "360.png")
    figures = [t for t in m["tables"] if len(t["heads"]) >= 5]
    assert len(figures) >= 2, m["tables"]
    for t in figures:
        heads = [h["text"] for h in t["heads"]]
        assert set(heads[1:3]) <= KEY_FIGURES, heads  # the key figures right after the name
        assert all(h["shown"] for h in t["heads"][:3]), t  # ... on screen without scrolling
    for t in m["tables"]:
        assert not t["scrolls"] or t["cue"], t  # a table that scrolls says so above it


@pytest.mark.parametrize("rel", PAGES)
def test_printed_page_cuts_no_column_and_has_no_scroll_box(browser, outbox, rel, tmp_path):
    # an A4 page less 12 mm margins is 703 CSS px wide
    m = render(browser, outbox / rel / "ringkasan.html", 703, tmp_path / "print.png", media="print")
    assert m["scroll"] <= m["viewport"], m
    assert m["charts"] >= 3 and not m["chartsCut"], m["chartsCut"]
    assert m["shown"] == ["chart lebar"]  # the wide drawing, names beside the bars
    kept = [sec for sec in m["sections"] if not sec["long"]]
    assert kept and all(sec["breakInside"] == "avoid" for sec in kept), m["sections"]
    assert len(m["tables"]) >= 2
    for t in m["tables"]:
        assert t["overflow"] == "visible" and not t["scrolls"], t
        assert all(h["shown"] for h in t["heads"]), t  # every column, "Kode" too
