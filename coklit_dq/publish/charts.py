"""Charts as inline SVG strings: no library, no script, no network.

Each function takes plain Python values (a few dozen at most: kecamatan,
kabupaten, nights) and returns one `<svg>` element ready to drop into a page.
Text is escaped; sizes are in CSS pixels and the SVG scales to its container.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

TINGKAT_WARNA = {"TINGGI": "#c0392b", "SEDANG": "#e67e22", "RENDAH": "#f1c40f"}
WARNA_PROGRES = "#2e86c1"
WARNA_SISA = "#d6dbdf"
SERI = ("#2e86c1", "#c0392b", "#e67e22", "#27ae60", "#8e44ad", "#7f8c8d")
FONT = "font-family='Segoe UI, Helvetica, Arial, sans-serif'"


def _num(x: float) -> str:
    if x == int(x):
        return f"{int(x):,}".replace(",", ".")
    return f"{x:,.1f}".replace(",", "X").replace(".", ",").replace("X", ".")


# The smallest text of a chart is 12 units; it may shrink to 11 px on a narrow screen,
# never more: below that width the chart scrolls inside its own box (.grafik).
MIN_TEXT, MIN_PX = 12, 11


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    least = math.ceil(width * MIN_PX / MIN_TEXT)
    return (
        f"<svg class='chart' role='img' viewBox='0 0 {width} {height}' width='100%' "
        f"style='max-width:{width}px;min-width:{least}px' {FONT}>"
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _empty(title: str, width: int = 640) -> str:
    return _svg(
        width,
        60,
        [
            "<text x='10' y='35' font-size='14' fill='#566573'>"
            "Belum ada data untuk grafik ini.</text>"
        ],
        title,
    )


def progress_bars(
    labels: Sequence[str], done: Sequence[float], total: Sequence[float], title: str
) -> str:
    """One horizontal bar per label: the share of `total` that is `done`, with the %."""
    if not labels:
        return _empty(title)
    label_w, bar_w, row_h, top = 230, 340, 24, 10
    width = label_w + bar_w + 190  # room for "100,0% (1.234.567/1.234.567)"
    height = top + row_h * len(labels) + 10
    body = []
    for i, (lab, d, t) in enumerate(zip(labels, done, total, strict=True)):
        y = top + i * row_h
        share = min(d / t, 1.0) if t else 0.0
        over = t and d > t
        body.append(
            f"<text x='{label_w - 8}' y='{y + 16}' font-size='12' text-anchor='end' "
            f"fill='#1b2631'>{escape(_short(lab, 34))}</text>"
            f"<rect x='{label_w}' y='{y + 4}' width='{bar_w}' height='16' fill='{WARNA_SISA}' "
            f"rx='3'/>"
            f"<rect x='{label_w}' y='{y + 4}' width='{bar_w * share:.1f}' height='16' "
            f"fill='{'#c0392b' if over else WARNA_PROGRES}' rx='3'/>"
            f"<text x='{label_w + bar_w + 8}' y='{y + 16}' font-size='12' fill='#1b2631'>"
            f"{_pct(d, t)} ({_num(d)}/{_num(t)})</text>"
        )
    return _svg(width, height, body, title)


def hbars(
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    colors: Sequence[str] | None = None,
    suffix: str = "",
) -> str:
    """Horizontal bars scaled to the largest value, the value written after each bar."""
    if not labels:
        return _empty(title)
    label_w, bar_w, row_h, top = 260, 330, 24, 10
    width = label_w + bar_w + 90
    height = top + row_h * len(labels) + 10
    vmax = max(*values, 1e-9)
    decimals = any(float(v) != int(v) for v in values)

    def fmt(v: float) -> str:  # one decimal on every bar when any value has one
        if not decimals:
            return _num(v)
        return f"{v:,.1f}".replace(",", "X").replace(".", ",").replace("X", ".")

    body = []
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row_h
        color = colors[i] if colors else WARNA_PROGRES
        body.append(
            f"<text x='{label_w - 8}' y='{y + 16}' font-size='12' text-anchor='end' "
            f"fill='#1b2631'>{escape(_short(lab, 38))}</text>"
            f"<rect x='{label_w}' y='{y + 4}' width='{max(bar_w * v / vmax, 1):.1f}' "
            f"height='16' fill='{color}' rx='3'/>"
            f"<text x='{label_w + bar_w * v / vmax + 6:.1f}' y='{y + 16}' font-size='12' "
            f"fill='#1b2631'>{fmt(v)}{escape(suffix)}</text>"
        )
    return _svg(width, height, body, title)


def lines(
    x_labels: Sequence[str],
    series: dict[str, Sequence[float]],
    title: str,
    y_suffix: str = "",
    y_max: float | None = None,
) -> str:
    """A line per series over the nights, with points, a legend and a few gridlines."""
    if not x_labels or not series:
        return _empty(title)
    width, height = 680, 260
    left, right, top, bottom = 60, 20, 30, 50
    pw, ph = width - left - right, height - top - bottom
    vmax = y_max if y_max is not None else _nice_max(max(max(v) for v in series.values() if v))
    n = len(x_labels)

    def px(i: int) -> float:
        return left + (pw * i / (n - 1) if n > 1 else pw / 2)

    def py(v: float) -> float:
        return top + ph - ph * v / vmax

    body = []
    for k in range(5):
        v = vmax * k / 4
        y = py(v)
        body.append(
            f"<line x1='{left}' x2='{width - right}' y1='{y:.1f}' y2='{y:.1f}' "
            f"stroke='#e5e8e8'/><text x='{left - 6}' y='{y + 4:.1f}' font-size='12' "
            f"text-anchor='end' fill='#566573'>{_num(round(v, 1))}{escape(y_suffix)}</text>"
        )
    step = max(1, n // 8)
    for i, lab in enumerate(x_labels):
        if i % step == 0 or i == n - 1:
            body.append(
                f"<text x='{px(i):.1f}' y='{height - bottom + 18}' font-size='12' "
                f"text-anchor='middle' fill='#566573'>{escape(lab)}</text>"
            )
    for j, (name, vals) in enumerate(series.items()):
        color = TINGKAT_WARNA.get(name, SERI[j % len(SERI)])
        pts = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(vals))
        body.append(f"<polyline points='{pts}' fill='none' stroke='{color}' stroke-width='2.5'/>")
        body += [
            f"<circle cx='{px(i):.1f}' cy='{py(v):.1f}' r='3.5' fill='{color}'>"
            f"<title>{escape(name)} {escape(x_labels[i])}: {_num(v)}</title></circle>"
            for i, v in enumerate(vals)
        ]
        lx = left + j * 150
        body.append(
            f"<rect x='{lx}' y='{height - 18}' width='12' height='12' fill='{color}'/>"
            f"<text x='{lx + 17}' y='{height - 8}' font-size='12' fill='#1b2631'>"
            f"{escape(name)}</text>"
        )
    return _svg(width, height, body, title)


def _nice_max(v: float, ticks: int = 4) -> float:
    """The smallest 1/2/2.5/5 x 10^k >= v whose quarter ticks are whole numbers."""
    if v <= ticks:
        return float(ticks)
    step = v / ticks
    mag = 10 ** math.floor(math.log10(step))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= step and float(m * mag).is_integer():
            return m * mag * ticks
    return math.ceil(step) * ticks


def _pct(d: float, t: float) -> str:
    return f"{100 * d / t:.1f}%".replace(".", ",") if t else "–"


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
