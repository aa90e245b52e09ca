"""How a response file's bytes become answered rows (coklit_dq.tanggapan.reader): the
shapes Excel and other writers give a region's answers, none of them lost silently."""

from __future__ import annotations

import io
import re
import zipfile

import openpyxl

from coklit_dq.tanggapan.reader import read_rows

HEADER = ["kode_temuan", "id_pemilih", "nama", "tanggapan", "alasan"]
LINES = [["NIK_TIDAK_VALID", f"P{i:04d}", f"NAMA {i}", "", ""] for i in range(1, 7)]


def _workbook(fill) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Semua temuan"
    ws.append(HEADER)
    for line in LINES:
        ws.append(line)
    fill(ws)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _answers(rows) -> dict[str, tuple[str, str]]:
    return {r.values["id_pemilih"]: (r.values["tanggapan"], r.values["alasan"]) for r in rows}


def test_merged_answer_cells_answer_every_line_they_span():
    def fill(ws):
        ws["D2"], ws["E2"] = "BUKAN_MASALAH", "sudah dicek ke lapangan"
        ws.merge_cells("D2:D4")  # one answer for the first three lines
        ws.merge_cells("E2:E4")
        ws["D6"] = "SUDAH_DIPERBAIKI"
        ws.merge_cells("D7:D9")  # runs past the list: rows without a line get nothing

    rows = read_rows("tanggapan.xlsx", _workbook(fill))
    assert _answers(rows) == {
        "P0001": ("BUKAN_MASALAH", "sudah dicek ke lapangan"),
        "P0002": ("BUKAN_MASALAH", "sudah dicek ke lapangan"),
        "P0003": ("BUKAN_MASALAH", "sudah dicek ke lapangan"),
        "P0005": ("SUDAH_DIPERBAIKI", ""),
    }
    assert [r.lokasi for r in rows] == [
        "Semua temuan!2",
        "Semua temuan!3",
        "Semua temuan!4",
        "Semua temuan!6",
    ]


def test_a_stale_stored_dimension_loses_no_row_and_no_column():
    def fill(ws):
        for r in range(2, 8):
            ws.cell(r, 4, "BUKAN_MASALAH")
            ws.cell(r, 5, "data benar")

    data = _workbook(fill)
    for stale in ("A1:C3", "A1:D7", "A1"):
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
            for item in src.infolist():
                body = src.read(item.filename)
                if item.filename == "xl/worksheets/sheet1.xml":
                    body, n = re.subn(
                        rb'<dimension ref="[^"]*"', f'<dimension ref="{stale}"'.encode(), body
                    )
                    assert n == 1
                dst.writestr(item, body)
        rows = read_rows("tanggapan.xlsx", out.getvalue())
        assert _answers(rows) == {f"P{i:04d}": ("BUKAN_MASALAH", "data benar") for i in range(1, 7)}


def test_a_stray_cell_far_right_does_not_widen_the_rows_read():
    def fill(ws):
        ws["D2"] = "BUKAN_MASALAH"
        ws["E2"] = "benar"
        ws["XFD7"] = "x"

    rows = read_rows("tanggapan.xlsx", _workbook(fill))
    assert _answers(rows) == {"P0001": ("BUKAN_MASALAH", "benar")}


def _csv(lines: list[list[str]], sep: str) -> str:
    return "\r\n".join(sep.join(x) for x in lines) + "\r\n"


def test_excel_unicode_text_is_read_as_utf16_with_tabs():
    text = _csv([HEADER, ["NIK_TIDAK_VALID", "P0001", "NUR'AINI", "BUKAN_MASALAH", "benar"]], "\t")
    rows = read_rows("tanggapan.csv", text.encode("utf-16"))  # BOM + UTF-16LE, as Excel
    assert _answers(rows) == {"P0001": ("BUKAN_MASALAH", "benar")}


def test_a_title_line_above_the_header_of_a_csv_is_skipped():
    for sep in (",", ";"):
        text = "Tanggapan KPU Kabupaten 7302 atas daftar 1 Juli 2024\r\n" + _csv(
            [HEADER, ["NIK_TIDAK_VALID", "P0001", "A", "SUDAH_DIPERBAIKI", ""]], sep
        )
        rows = read_rows("tanggapan.csv", text.encode())
        assert _answers(rows) == {"P0001": ("SUDAH_DIPERBAIKI", "")}
        assert rows[0].lokasi == "3"
