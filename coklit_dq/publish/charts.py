"""Charts as inline SVG strings: no library, no script, no network.

Each function takes plain Python values (a few dozen at most: kecamatan,
kabupaten, nights) and returns the chart drawn twice, as two `<svg>` elements
ready to drop into a page:

- `sempit`, for a phone (360-640 px): each name on its own line above its bar,
  fewer ticks, text 13 units in a 360-unit-wide drawing;
- `lebar`, for wider screens and print: names beside the bars, text 12 units in
  a 560-unit-wide drawing (half of a 1366-px desktop page; one per row below).

Both scale to their container (a viewBox, width 100 %, no minimum width), so
nothing is cut off; each is drawn for the width it is shown at, so its text
stays at least 11 CSS px. The page's CSS shows one of them (base.html.j2:
`svg.chart.sempit` below 640 px, `svg.chart.lebar` otherwise and in print).
Text is escaped; a value or a name is never cut by the drawing's edge: room is
measured for it (`_text_w`), a name longer than its room ends in "…".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

TINGKAT_WARNA = {"TINGGI": "#c0392b", "SEDANG": "#e67e22", "RENDAH": "#f1c40f"}
WARNA_PROGRES = "#2e86c1"
WARNA_SISA = "#d6dbdf"
SERI = ("#2e86c1", "#c0392b", "#e67e22", "#27ae60", "#8e44ad", "#7f8c8d")
FONT = "font-family='Segoe UI, Helvetica, Arial, sans-serif'"
TEKS, PUDAR = "#1b2631", "#566573"


@dataclass(frozen=True)
class Ukuran:
    """One drawing's size: its width in units, its text size, how far it may grow on
    screen (`grow` x width, in CSS px), where a bar's name goes, the height of a line
    chart's plot and how many ticks its axes get."""

    nama: str
    width: int
    font: int
    grow: float
    names_above: bool
    plot_h: int
    x_ticks: int
    y_ticks: int


# The narrow drawing shown in a 322-px container (a 360-px phone) scales by 0.89:
# 13-unit text is 11.6 px; on a 420-px phone it grows to 382 px wide (14 px text).
SEMPIT = Ukuran("sempit", 360, 13, 1.25, names_above=True, plot_h=150, x_ticks=4, y_ticks=2)
LEBAR = Ukuran("lebar", 560, 12, 1.0, names_above=False, plot_h=170, x_ticks=7, y_ticks=4)


def _num(x: float) -> str:
    if x == int(x):
        return f"{int(x):,}".replace(",", ".")
    return f"{x:,.1f}".replace(",", "X").replace(".", ",").replace("X", ".")


# Widths of characters in em, measured in Chromium: at least those of DejaVu Sans, the
# widest font a page may fall back to (Arial, Helvetica, Segoe UI and Roboto are narrower)
_NARROW, _WIDE = set(" .,:;'!|()[]/-ijlIft"), set("MWmw%@")


def _text_w(text: str, size: float) -> float:
    """About how many units `text` takes at font size `size` (never much less)."""
    em = 0.0
    for ch in text:
        if ch in _NARROW:
            em += 0.34
        elif ch in _WIDE:
            em += 0.92
        elif ch.isdigit():
            em += 0.64
        elif ch.isupper():
            em += 0.7
        else:
            em += 0.6
    return em * size


def _fit(text: str, size: float, room: float) -> str:
    """`text`, or as much of it as fits in `room` units followed by "…"."""
    if _text_w(text, size) <= room:
        return text
    while text and _text_w(text + "…", size) > room:
        text = text[:-1]
    return text.rstrip() + "…"


def _svg(u: Ukuran, height: float, body: list[str], title: str) -> str:
    return (
        f"<svg class='chart {u.nama}' role='img' viewBox='0 0 {u.width} {math.ceil(height)}' "
        f"width='100%' style='max-width:{round(u.width * u.grow)}px' {FONT}>"
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _both(draw: Callable[[Ukuran], str]) -> str:
    """The chart for a phone, then for wider screens and print (see module doc)."""
    return draw(SEMPIT) + draw(LEBAR)


def _empty(title: str) -> str:
    def draw(u: Ukuran) -> str:
        return _svg(
            u,
            2.5 * u.font + 10,
            [
                f"<text x='0' y='{1.5 * u.font + 5}' font-size='{u.font + 1}' fill='{PUDAR}'>"
                "Belum ada data untuk grafik ini.</text>"
            ],
            title,
        )

    return _both(draw)


def _text(x: float, y: float, text: str, size: int, whole: str = "", **attrs: str) -> str:
    """A <text>; `whole`: the full text of a shortened one, shown on hover."""
    extra = "".join(f" {k.replace('_', '-')}='{v}'" for k, v in attrs.items())
    hover = f"<title>{escape(whole)}</title>" if whole and whole != text else ""
    return f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}'{extra}>{hover}{escape(text)}</text>"


def _rows(
    u: Ukuran,
    labels: Sequence[str],
    values: Sequence[str],
    bar: Callable[[int, float, float, float], list[str]],
    title: str,
    *,
    min_bar: float,
) -> str:
    """Rows of a name, a bar and its value. Narrow: the name on a line of its own above
    the bar and value; wide: name, bar, value side by side. `bar(i, x, y, w)` draws row
    i's bar in the box at x, y of width w (height: the font size + 4)."""
    f = u.font
    value_w = max(_text_w(v, f) for v in values) + 8
    name_w = max(_text_w(lab, f) for lab in labels) + 8
    if u.names_above:
        label_w, row_h, bar_dy, top = 0.0, 2 * f + 16, f + 6, 4
    else:
        label_w, row_h, bar_dy, top = min(name_w, u.width - value_w - min_bar), f + 12, 4, 6
    bar_w = u.width - label_w - value_w
    body = []
    for i, lab in enumerate(labels):
        y = top + i * row_h
        if u.names_above:
            body.append(_text(0, y + f, _fit(lab, f, u.width), f, lab, fill=TEKS))
        else:
            name = _fit(lab, f, label_w - 8)
            body.append(
                _text(label_w - 8, y + bar_dy + f, name, f, lab, fill=TEKS, text_anchor="end")
            )
        body += bar(i, label_w, y + bar_dy, bar_w)
    return _svg(u, top + row_h * len(labels) + 4, body, title)


def progress_bars(
    labels: Sequence[str], done: Sequence[float], total: Sequence[float], title: str
) -> str:
    """One horizontal bar per label: the share of `total` that is `done`, with the %
    and both counts after the bar."""
    if not labels:
        return _empty(title)
    values = [f"{_pct(d, t)} ({_num(d)}/{_num(t)})" for d, t in zip(done, total, strict=True)]

    def draw(u: Ukuran) -> str:
        f = u.font

        def bar(i: int, x: float, y: float, w: float) -> list[str]:
            d, t = done[i], total[i]
            share = min(d / t, 1.0) if t else 0.0
            color = "#c0392b" if t and d > t else WARNA_PROGRES
            return [
                f"<rect x='{x:.1f}' y='{y:.1f}' width='{w:.1f}' height='{f + 4}' "
                f"fill='{WARNA_SISA}' rx='3'/>",
                f"<rect x='{x:.1f}' y='{y:.1f}' width='{w * share:.1f}' height='{f + 4}' "
                f"fill='{color}' rx='3'/>",
                _text(x + w + 6, y + f, values[i], f, fill=TEKS),
            ]

        return _rows(u, labels, values, bar, title, min_bar=160)

    return _both(draw)


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
    vmax = max(*values, 1e-9)
    decimals = any(float(v) != int(v) for v in values)

    def fmt(v: float) -> str:  # one decimal on every bar when any value has one
        if not decimals:
            return _num(v)
        return f"{v:,.1f}".replace(",", "X").replace(".", ",").replace("X", ".")

    texts = [fmt(v) + suffix for v in values]

    def draw(u: Ukuran) -> str:
        f = u.font

        def bar(i: int, x: float, y: float, w: float) -> list[str]:
            length = w * values[i] / vmax
            color = colors[i] if colors else WARNA_PROGRES
            return [
                f"<rect x='{x:.1f}' y='{y:.1f}' width='{max(length, 1):.1f}' height='{f + 4}' "
                f"fill='{color}' rx='3'/>",
                _text(x + max(length, 1) + 6, y + f, texts[i], f, fill=TEKS),
            ]

        return _rows(u, labels, texts, bar, title, min_bar=180)

    return _both(draw)


def _x_ticks(n: int, most: int) -> list[int]:
    """Which of n nights get a date under the axis: at most `most`, evenly spread,
    always the first and the newest."""
    if n <= most:
        return list(range(n))
    step = math.ceil((n - 1) / (most - 1))
    picks = list(range(0, n - 1, step))
    if (n - 1) - picks[-1] < step * 0.6:  # too close to the newest: its date wins
        picks.pop()
    return [*picks, n - 1]


def lines(
    x_labels: Sequence[str],
    series: dict[str, Sequence[float]],
    title: str,
    y_suffix: str = "",
    y_max: float | None = None,
) -> str:
    """A line per series over the nights, with points, a few gridlines and a legend
    that wraps onto more lines when the names do not fit on one."""
    if not x_labels or not series:
        return _empty(title)
    vmax = y_max if y_max is not None else _nice_max(max(max(v) for v in series.values() if v))
    n = len(x_labels)
    colors = [TINGKAT_WARNA.get(name, SERI[j % len(SERI)]) for j, name in enumerate(series)]

    def draw(u: Ukuran) -> str:
        f = u.font
        width = u.width
        tick_texts = [_num(round(vmax * k / u.y_ticks, 1)) + y_suffix for k in range(u.y_ticks + 1)]
        # the first and the newest night's dates are centred under their points: room
        # for half of each beside the plot
        left = max(max(_text_w(t, f) for t in tick_texts) + 8, _text_w(x_labels[0], f) / 2 + 2)
        right = max(_text_w(x_labels[-1], f) / 2, 6) + 4
        top, plot_h = f, u.plot_h
        pw = width - left - right

        def px(i: int) -> float:
            return left + (pw * i / (n - 1) if n > 1 else pw / 2)

        def py(v: float) -> float:
            return top + plot_h - plot_h * v / vmax

        body = []
        for k, tick in enumerate(tick_texts):
            y = py(vmax * k / u.y_ticks)
            grid = (
                f"<line x1='{left:.1f}' x2='{width - right:.1f}' y1='{y:.1f}' y2='{y:.1f}' "
                "stroke='#e5e8e8'/>"
            )
            body.append(grid + _text(left - 6, y + f / 3, tick, f, fill=PUDAR, text_anchor="end"))
        axis_y = top + plot_h + f + 6
        for i in _x_ticks(n, u.x_ticks):
            body.append(_text(px(i), axis_y, x_labels[i], f, fill=PUDAR, text_anchor="middle"))
        for (name, vals), color in zip(series.items(), colors, strict=True):
            pts = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(vals))
            body.append(
                f"<polyline points='{pts}' fill='none' stroke='{color}' stroke-width='2.5'/>"
            )
            body += [
                f"<circle cx='{px(i):.1f}' cy='{py(v):.1f}' r='3.5' fill='{color}'>"
                f"<title>{escape(name)} {escape(x_labels[i])}: {_num(v)}</title></circle>"
                for i, v in enumerate(vals)
            ]
        # the legend: one entry per series, onto a new line when the next does not fit
        lx, ly = left, axis_y + f + 8
        for name, color in zip(series, colors, strict=True):
            entry_w = f + 5 + _text_w(name, f) + 18
            if lx > left and lx + entry_w > width:
                lx, ly = left, ly + f + 8
            body.append(
                f"<rect x='{lx:.1f}' y='{ly - f + 1:.1f}' width='{f}' height='{f}' "
                f"fill='{color}'/>" + _text(lx + f + 5, ly, name, f, fill=TEKS)
            )
            lx += entry_w
        return _svg(u, ly + 6, body, title)

    return _both(draw)


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
