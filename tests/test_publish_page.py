"""ringkasan.html in a real browser (Debian's headless Chromium) on a phone and a desktop.

Driven over the DevTools protocol (tests/cdp.py); phone widths are emulated as
DevTools' device mode does. A script evaluated in the page measures what the
browser laid out: the document's scroll width against the viewport, where the
key figures sit, and the smallest chart text in CSS pixels. Screenshots are
kept in the test's folder for a person to look at.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cdp import CHROMIUM, Browser
from test_publish_support import N2, two_night_warehouse

from coklit_dq.config import resolve_settings
from coklit_dq.publish import publish_night

MEASURE = """(function () {
  var w = window.innerWidth, out = {viewport: w,
    scroll: document.documentElement.scrollWidth, cards: [], chartText: 1e9, charts: 0};
  document.querySelectorAll('.kartu > div').forEach(function (d) {
    var r = d.getBoundingClientRect();
    out.cards.push({text: d.innerText, left: r.left, right: r.right, w: r.width});
  });
  document.querySelectorAll('svg.chart').forEach(function (s) {
    var vb = s.viewBox.baseVal, scale = s.getBoundingClientRect().width / vb.width;
    out.charts += 1;
    s.querySelectorAll('text').forEach(function (t) {
      var px = parseFloat(t.getAttribute('font-size') || '12') * scale;
      if (px < out.chartText) out.chartText = px;
    });
  });
  return JSON.stringify(out);
})()"""


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


def render(browser: Browser, page: Path, width: int, shot: Path) -> dict:
    """Lay the page out at `width` CSS px (a phone below 600); measure it, take a screenshot."""
    tab = browser.open(page.as_uri(), width=width, height=900, mobile=width < 600)
    tab.screenshot(shot)
    return json.loads(tab.evaluate(MEASURE))


@pytest.mark.parametrize("width", [412, 1366])
@pytest.mark.parametrize("rel", ["31/3101", "31", "nasional"])
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
    assert m["charts"] >= 3
    assert shot.stat().st_size > 5000
