"""How values are written in every text a region reads (Bahasa Indonesia): one date
style (`2 Juli 2024`) and decimal commas. The one place; publishing, the rules'
texts and the answers' pages all use it."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

BULAN = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
    "September", "Oktober", "November", "Desember",
)  # fmt: skip

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def tanggal_id(d: date | None) -> str:
    """2 Juli 2024 (the one date style of every text a region reads)."""
    return "" if d is None else f"{d.day} {BULAN[d.month - 1]} {d.year}"


def angka_id(x: float, digits: int = 1) -> str:
    """5,0 (a decimal comma)."""
    return f"{x:.{digits}f}".replace(".", ",")


def teks(value: Any) -> str:
    """A setting written inside a sentence for a region: dates as `2 Juli 2024`
    (also an ISO date string), fractions with a decimal comma, the rest as is."""
    if isinstance(value, datetime):
        return tanggal_id(value.date())
    if isinstance(value, date):
        return tanggal_id(value)
    if isinstance(value, float):
        return angka_id(value)
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return tanggal_id(date.fromisoformat(value))
    return str(value)


def register_sql(con: duckdb.DuckDBPyConnection) -> None:
    """The same style in DuckDB, for texts SQL writes: `tanggal_id(d)` (25 Juni 2024)
    and `waktu_id(ts)` (25 Juni 2024 pukul 04.18; give it local time)."""
    months = ", ".join(f"'{b}'" for b in BULAN)
    con.execute(
        "CREATE OR REPLACE TEMP MACRO tanggal_id(d) AS "
        f"CAST(day(d) AS VARCHAR) || ' ' || [{months}][month(d)] || ' ' || year(d)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP MACRO waktu_id(ts) AS "
        "tanggal_id(ts) || ' pukul ' || strftime(ts, '%H.%M')"
    )
