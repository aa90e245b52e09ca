"""Writing tables into an xlsxwriter worksheet: safe cells, print setup, row heights.

Every data cell is written with write_string / write_number (never `write`, so
no value becomes a formula, a link or a number by accident; the workbook is
also opened with strings_to_formulas/urls/numbers off). Every sheet prints
on A4 landscape, fit to the page width, its header row repeated; a wrapped
column gets explicit row heights so LibreOffice and Excel show the same.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from coklit_dq.bahasa import tanggal_id

LINE_HEIGHT = 15.0  # points per line of 11 pt text
WORKBOOK_OPTIONS = {
    "in_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}


def new_workbook() -> tuple[xlsxwriter.Workbook, io.BytesIO]:
    buf = io.BytesIO()
    return xlsxwriter.Workbook(buf, WORKBOOK_OPTIONS), buf


@dataclass(frozen=True)
class Col:
    """One column of a sheet: the frame's column, its header, width in characters."""

    key: str
    header: str
    width: float
    wrap: bool = False
    hidden: bool = False


def print_setup(
    ws: Worksheet, header_row: int, n_cols: int, footer: str = "", *, grid: bool = True
) -> None:
    """A4 landscape, fit to page width, header repeated, narrow margins; `grid`: print
    the cell grid (lists), or not (summary, explanation)."""
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(header_row)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.set_footer(f"&L{footer}&RHalaman &P dari &N" if footer else "&RHalaman &P dari &N")
    ws.hide_gridlines(0 if grid else 1)


def cell(ws: Worksheet, r: int, c: int, value: Any, fmt: Format | None = None) -> None:
    """One data cell: text as text, numbers as numbers, dates as `2 Juli 2024`."""
    if value is None:
        if fmt is not None:
            ws.write_blank(r, c, None, fmt)
    elif isinstance(value, bool):
        ws.write_string(r, c, "ya" if value else "tidak", fmt)
    elif isinstance(value, int | float):
        ws.write_number(r, c, value, fmt)
    elif isinstance(value, date):
        ws.write_string(r, c, tanggal_id(value), fmt)
    else:
        ws.write_string(r, c, str(value), fmt)


def table(
    ws: Worksheet,
    r0: int,
    cols: Sequence[Col],
    rows: Sequence[Sequence[Any]],
    *,
    header: Format,
    wrap: Format,
    plain: Format | None = None,
    filters: bool = True,
) -> int:
    """Header row at r0 and the rows under it; returns the next free row.

    Row heights follow the longest wrapped cell, so no text overlaps the next row.
    """
    for c, col in enumerate(cols):
        ws.write_string(r0, c, col.header, header)
    wrapped = [(c, col.width) for c, col in enumerate(cols) if col.wrap]
    head_lines = max(math.ceil(len(col.header) / max(col.width, 1)) for col in cols)
    ws.set_row(r0, LINE_HEIGHT * max(1, head_lines))
    fmts = [wrap if col.wrap else plain for col in cols]
    write_string, write_number = ws.write_string, ws.write_number
    for i, values in enumerate(rows, start=r0 + 1):
        for c, value in enumerate(values):
            # the common cases first (a workbook has ~10^6 cells); `cell` for the rest
            if value is None:
                continue
            kind = type(value)
            if kind is str:
                write_string(i, c, value, fmts[c])
            elif kind is int or kind is float:
                write_number(i, c, value, fmts[c])
            else:
                cell(ws, i, c, value, fmts[c])
        lines = 1
        for c, width in wrapped:
            v = values[c]
            if v and len(v) > width:
                lines = max(lines, _lines(str(v), width))
        if lines > 1:
            ws.set_row(i, LINE_HEIGHT * lines)
    last = r0 + max(len(rows), 1)
    if filters and cols:
        ws.autofilter(r0, 0, last, len(cols) - 1)
    return last + 1


def _lines(text: str, width: float) -> int:
    """Lines a text takes in a wrapped column `width` characters wide (with margin)."""
    per_line = max(int(width * 1.05) - 1, 1)
    if "\n" not in text:
        return -(-len(text) // per_line)
    return sum(max(1, -(-len(part) // per_line)) for part in text.split("\n"))


def set_widths(ws: Worksheet, cols: Sequence[Col]) -> None:
    for c, col in enumerate(cols):
        ws.set_column(c, c, col.width, None, {"hidden": True} if col.hidden else None)
