"""A response file's bytes -> its answered rows, or `Unreadable` with the reason.

Columns are found BY HEADER NAME (case, spaces and hyphens ignored: "Kode temuan"
is `kode_temuan`) on every sheet of a workbook that has them, or in a csv. Every
cell is hostile data: a formula (`=...`, read with openpyxl's data_only=False) is
text and never evaluated; values are cut to MAX_CELL characters; the file, the
workbook's unpacked size and the rows are capped. Only rows with a `tanggapan`
are returned: the rest of a returned workbook is the list itself.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from coklit_dq.tanggapan.publish import DITOLAK_SHEET, SHEET
from coklit_dq.tanggapan.store import ROW_COLUMNS

MAX_BYTES = 25 * 1024 * 1024  # a returned temuan.xlsx of a big kab/kota is a few MB
MAX_UNPACKED = 250 * 1024 * 1024  # an xlsx is a zip: refuse zip bombs before opening
MAX_ROWS = 1_000_000  # data rows read, answered or not, over all sheets (list + families)
MAX_CELL = 1000  # characters kept of a cell
HEADER_ROWS = 10  # a header may sit below a title; looked for in the first rows

# a csv field may be as long as the file (Python's default of 131072 chars set a whole
# file aside for one long alasan); every cell is then cut to MAX_CELL as in a workbook
csv.field_size_limit(max(csv.field_size_limit(), MAX_BYTES))

REQUIRED = ("kode_temuan", "tanggapan")
# Sheets of the workbook the pipeline wrote that are no list to answer: sent back whole,
# their rows (last night's refused answers, the findings set aside) are not answers again.
NOT_ANSWERS = frozenset({SHEET, DITOLAK_SHEET})
UNIT = ("id_pemilih", "id_pantarlih", "kode_desa")  # at least one of these


class Unreadable(ValueError):
    """A file set aside whole; the message is the reason (Bahasa Indonesia, no values)."""


@dataclass(frozen=True)
class Row:
    lokasi: str  # "Semua temuan!12" or "12" (csv): where to look in the file
    baris: int  # 1-based row in its sheet/file
    values: dict[str, str]  # ROW_COLUMNS -> text ("" when empty)


def header_key(value: Any) -> str:
    """'Kode  Temuan ' -> 'kode_temuan'."""
    return re.sub(r"[\s\-]+", "_", str(value or "").strip().lower())


def cell_text(value: Any) -> str:
    """A cell as text, never evaluated: 3.0 -> '3', '=SUM(A1)' stays '=SUM(A1)'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, datetime | date):
        text = value.isoformat()
    else:
        text = str(value)
    return text.strip()[:MAX_CELL]


def _columns(header: list[Any]) -> dict[str, int] | None:
    """Contract column -> index, when this row is a header carrying the contract columns."""
    keys = [header_key(h) for h in header]
    found: dict[str, int] = {}
    for i, k in enumerate(keys):
        if k in ROW_COLUMNS and k not in found:
            found[k] = i
    if all(c in found for c in REQUIRED) and any(c in found for c in UNIT):
        return found
    return None


def _missing(header_rows: list[list[Any]]) -> str:
    best: set[str] = set()
    for h in header_rows:
        keys = {header_key(x) for x in h} & set(ROW_COLUMNS)
        if len(keys) > len(best):
            best = keys
    need = [c for c in REQUIRED if c not in best]
    if not any(c in best for c in UNIT):
        need.append("/".join(UNIT))
    return ", ".join(need)


def _answered(cols: dict[str, int], row: tuple[Any, ...] | list[Any]) -> dict[str, str] | None:
    values = {c: (cell_text(row[i]) if i < len(row) else "") for c, i in cols.items()}
    if not values.get("tanggapan"):
        return None
    return {c: values.get(c, "") for c in ROW_COLUMNS}


def _header(rows: Any, headers_seen: list[list[Any]]) -> tuple[int, dict[str, int]] | None:
    """(row number, contract column -> index) of the first of the first HEADER_ROWS rows
    that carries the contract columns; None when none does."""
    for n, row in enumerate(rows, start=1):
        if n > HEADER_ROWS:
            return None
        headers_seen.append(list(row))
        cols = _columns(list(row))
        if cols is not None:
            return n, cols
    return None


# A vertical merged range of the sheet: its column (0-based) and its first and last row.
Merge = tuple[int, int, int]


def _data_rows(
    rows: Any,
    cols: dict[str, int],
    first: int,
    sheet: str | None,
    budget: list[int],
    *,
    merges: Sequence[Merge] = (),
) -> list[Row]:
    """Answered rows of `rows`, the first numbered `first`. A merged range in a contract
    column gives its one value to every line of the list it spans (a region merges the
    answer cells of three rows for "these three are all fine"; Excel keeps the value in
    the top cell only)."""
    starts: dict[int, list[tuple[int, int]]] = {}
    for col, top, last in merges:
        if col in cols.values() and last > top:
            starts.setdefault(top, []).append((col, last))
    spread: dict[int, tuple[Any, int]] = {}  # column -> (the range's value, its last row)
    unit = [cols[c] for c in ("kode_temuan", *UNIT) if c in cols]
    out: list[Row] = []
    for n, cells in enumerate(rows, start=first):
        budget[0] += 1
        if budget[0] > MAX_ROWS:
            raise Unreadable(f"lebih dari {MAX_ROWS:,} baris".replace(",", "."))
        row = (
            _spread(list(cells), n, starts.get(n, ()), spread, unit)
            if spread or n in starts
            else cells
        )
        values = _answered(cols, row)
        if values is not None:
            out.append(Row(f"{sheet}!{n}" if sheet else str(n), n, values))
    return out


def _spread(
    row: list[Any],
    n: int,
    starting: Any,
    spread: dict[int, tuple[Any, int]],
    unit: list[int],
) -> list[Any]:
    for col in [c for c, (_, last) in spread.items() if last < n]:
        del spread[col]
    is_line = any(i < len(row) and cell_text(row[i]) for i in unit)
    for col, (value, _) in spread.items():
        if is_line and not cell_text(row[col] if col < len(row) else None):
            row.extend([None] * (col + 1 - len(row)))
            row[col] = value
    for col, last in starting:
        spread[col] = (row[col] if col < len(row) else None, last)
    return row


MAX_MERGES = 100_000
_MERGE = re.compile(
    rb"<(?:\w+:)?mergeCell\b[^>]*?\bref=[\"']([A-Za-z]{1,3})(\d{1,7}):([A-Za-z]{1,3})(\d{1,7})[\"']"
)


def _merges(archive: zipfile.ZipFile, member: str) -> list[Merge]:
    """The merged ranges a sheet's XML declares (openpyxl's read-only mode ignores
    them), read as bytes: one pass, no XML parser."""
    from openpyxl.utils.cell import column_index_from_string

    out: list[Merge] = []
    tail = b""
    with archive.open(member) as f:
        while chunk := f.read(1 << 20):
            buf = tail + chunk
            end = 0
            for m in _MERGE.finditer(buf):
                c1, r1, _, r2 = m.groups()
                out.append((column_index_from_string(c1.decode().upper()) - 1, int(r1), int(r2)))
                end = m.end()
                if len(out) > MAX_MERGES:
                    raise Unreadable("terlalu banyak sel yang digabung")
            tail = buf[max(end, len(buf) - 256) :]
    return out


def read_xlsx(data: bytes) -> list[Row]:
    import openpyxl

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            unpacked = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise Unreadable("bukan berkas xlsx yang dapat dibaca") from None
    if unpacked > MAX_UNPACKED:
        raise Unreadable("isi berkas xlsx terlalu besar setelah dibuka")
    try:
        wb = openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=False, keep_links=False
        )
    except Exception:  # openpyxl raises many kinds on a damaged workbook
        raise Unreadable("bukan berkas xlsx yang dapat dibaca") from None
    budget = [0]
    headers: list[list[Any]] = []
    out: list[Row] = []
    found = False
    try:
        for ws in wb.worksheets:
            if ws.title in NOT_ANSWERS:
                continue
            # the sheet's stored <dimension> is not trusted: a writer that left it stale
            # would cut rows or columns off
            ws.reset_dimensions()
            header = _header(ws.iter_rows(max_row=HEADER_ROWS, values_only=True), headers)
            if header is None:
                continue
            found = True
            n, cols = header
            # only as wide as the contract columns: a stray cell far right does not
            # widen every row
            rows = ws.iter_rows(min_row=n + 1, max_col=max(cols.values()) + 1, values_only=True)
            merges = _merges(wb._archive, ws._worksheet_path)  # both pinned (openpyxl 3.1)
            out.extend(_data_rows(rows, cols, n + 1, ws.title, budget, merges=merges))
    except Unreadable:
        raise
    except Exception:
        raise Unreadable("bukan berkas xlsx yang dapat dibaca") from None
    finally:
        wb.close()
    if not found:
        raise Unreadable(f"kolom tidak ditemukan pada lembar mana pun: {_missing(headers)}")
    return out


def read_csv(data: bytes) -> list[Row]:
    """Rows of a csv in UTF-8 (with or without BOM), else cp1252 (the bytes are kept as
    sent by the caller either way)."""
    try:
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # Excel's "Unicode Text": UTF-16, tabs
            text = data.decode("utf-16")
        else:
            text = data.decode("utf-8-sig")
    except UnicodeDecodeError:  # Excel on Windows saves csv in cp1252 by default
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise Unreadable("bukan teks UTF-8 atau Windows-1252") from None
    if "\x00" in text:
        raise Unreadable(
            "bukan berkas teks UTF-8 (berisi karakter NUL; mungkin UTF-16 tanpa penanda "
            "BOM): simpan ulang sebagai CSV UTF-8"
        )
    headers: list[list[Any]] = []
    try:
        for delimiter in _delimiters(text):
            it = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
            tried: list[list[Any]] = []
            header = _header(it, tried)
            headers.extend(tried)
            if header is not None:
                n, cols = header
                return _data_rows(it, cols, n + 1, None, [0])
    except csv.Error:
        raise Unreadable("berkas csv rusak") from None
    raise Unreadable(f"kolom tidak ditemukan: {_missing(headers)}")


def _delimiters(text: str) -> list[str]:
    """Separators to try, the likeliest first (the one the first line uses most): a
    title line above the header may use none of them."""
    first = text.split("\n", 1)[0]
    return sorted((";", ",", "\t"), key=first.count, reverse=True)


def read_rows(name: str, data: bytes) -> list[Row]:
    """The answered rows of `tanggapan.xlsx` or `tanggapan.csv` (by file name)."""
    if len(data) > MAX_BYTES:
        raise Unreadable(f"berkas lebih besar dari {MAX_BYTES // (1024 * 1024)} MB")
    if not data:
        raise Unreadable("berkas kosong")
    if name.endswith(".xlsx"):
        return read_xlsx(data)
    if name.endswith(".csv"):
        return read_csv(data)
    raise Unreadable("nama berkas bukan tanggapan.xlsx atau tanggapan.csv")
