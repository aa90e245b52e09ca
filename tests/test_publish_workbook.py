"""temuan.xlsx and temuan.csv as a region uses them (reports-v1 v1.1, tanggapan-v1).

Sheets and their order, the all-rows sheet a region fills and sends back,
desa-officer order in every file, printing, and hostile values from the export
that must stay text in every cell.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from test_publish_support import N1, N2, load_night, raw_findings, record, two_night_warehouse

from coklit_dq import warehouse
from coklit_dq.config import resolve_settings
from coklit_dq.contract import FINDING_COLUMNS, RECORD_FIELDS
from coklit_dq.publish import publish_night
from coklit_dq.publish.tables import write_csv
from coklit_dq.publish.xlsx import SEMUA
from coklit_dq.rules.catalog import load_catalog, load_families

ANSWER = ["tanggapan", "alasan", "petugas"]
HOSTILE = {
    "nama": '=HYPERLINK("http://contoh.invalid/x","klik")',
    "alamat": "+62 812 3456 7890",
    "rt": "-1+1",
    "rw": "@SUM(A1)",
}


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    base = tmp_path_factory.mktemp("book")
    con, _ = two_night_warehouse(base / "w.duckdb")
    settings = resolve_settings(outbox=str(base / "outbox"), warehouse=str(base / "w.duckdb"))
    publish_night(con, N2, settings)
    yield base / "outbox" / N2.isoformat(), con
    con.close()


def _book(root: Path, kab: str = "3101") -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO((root / kab[:2] / kab / "temuan.xlsx").read_bytes()))


def _sheet(ws) -> tuple[list[str], list[dict]]:
    rows = list(ws.iter_rows(values_only=True))
    header = [str(c) for c in rows[0]]
    return header, [dict(zip(header, r, strict=True)) for r in rows[1:]]


def test_sheets_in_order_summary_all_rows_families_tables_explanation(night):
    root, _ = night
    wb = _book(root)
    families = [t.replace("/", "-") for t in load_families().values()]
    assert wb.sheetnames == [
        "Ringkasan",
        SEMUA,
        *families,
        "Untuk Pusdatin",
        "Per TPS",
        "Per Pantarlih",
        "Penjelasan",
    ]


def test_all_rows_sheet_has_the_contract_headers_and_a_dropdown(night):
    root, con = night
    ws = _book(root)[SEMUA]
    header, rows = _sheet(ws)
    # tanggapan-v1: a program matches these names; every header is a contract name
    # reports-v1 v1.1: temuan.xlsx carries the columns of v1, then v1.1's, in that order
    assert header == [*FINDING_COLUMNS, *ANSWER]
    hidden = {c for c, d in ws.column_dimensions.items() if d.hidden}
    shown = [
        h for i, h in enumerate(header) if openpyxl.utils.get_column_letter(i + 1) not in hidden
    ]
    assert "pertama_ditemukan" in shown  # a recurring row says since when
    for name in ("kode_temuan", "id_pemilih", "id_pantarlih", "kode_desa", "no_tps",
                 "id_kelompok", *ANSWER):  # fmt: skip
        assert name in header
    n = con.execute(
        "SELECT count(*) FROM temuan WHERE tanggal_ekspor = ? AND kode_kab = '3101'", [N2]
    ).fetchall()[0][0]
    assert len(rows) == n > 5
    (dv,) = ws.data_validations.dataValidation
    assert dv.type == "list"
    assert dv.formula1 == '"SUDAH_DIPERBAIKI,BUKAN_MASALAH,PERLU_BANTUAN"'
    col = openpyxl.utils.get_column_letter(header.index("tanggapan") + 1)
    assert str(dv.sqref).startswith(f"{col}2:{col}")
    # record-level rows say whose record it is; other rows leave those fields empty
    for r in rows:
        if r["id_pemilih"] is not None:
            assert r["nama"] and r["jenis_kelamin"] in ("L", "P") and r["usia"] > 0
        else:
            assert all(r[f] is None for f in RECORD_FIELDS)
        assert r["nama_desa"] and r["nama_kec"] and r["ditangani_oleh"] and r["prioritas"]


def test_every_file_lists_rows_in_desa_officer_order(night):
    root, _ = night
    csv_rows = pl.read_csv(root / "31" / "3101" / "temuan.csv", infer_schema=False)
    key = ["kode_kec", "kode_desa", "no_tps", "rt", "rw", "nama"]
    order = csv_rows.select(key).with_columns(pl.col("no_tps").cast(pl.Int32))
    assert order.equals(order.sort(key, nulls_last=True, maintain_order=True))
    ids = [
        (r["kode_temuan"], r["id_pemilih"], r["kode_desa"]) for r in csv_rows.iter_rows(named=True)
    ]
    _, sheet = _sheet(_book(root)[SEMUA])
    assert [(r["kode_temuan"], r["id_pemilih"], r["kode_desa"]) for r in sheet] == ids
    nat = pl.read_parquet(root / "nasional" / "temuan.parquet").filter(pl.col("kode_kab") == "3101")
    assert list(zip(nat["kode_temuan"], nat["id_pemilih"], nat["kode_desa"], strict=True)) == ids


def test_pusdatin_rows_apart_and_per_tps_and_pantarlih_tables(night):
    root, _ = night
    wb = _book(root)
    _, rows = _sheet(wb[SEMUA])
    pusat = [r for r in rows if r["ditangani_oleh"] == "PUSDATIN"]
    _, pus = _sheet(wb["Untuk Pusdatin"])
    assert {r["ID pemilih"] for r in pus if r["Keterangan"]} == {r["id_pemilih"] for r in pusat}
    listed = []
    for title in load_families().values():
        _, fam = _sheet(wb[title.replace("/", "-")])
        listed += [r["ID pemilih"] for r in fam if isinstance(r["Prioritas"], int)]
    # every row a region fixes itself is on its family's sheet, Pusdatin's are not
    assert len(listed) == len(rows) - len(pusat)
    assert not set(listed) & {r["id_pemilih"] for r in pusat if r["id_pemilih"]}
    _, tps = _sheet(wb["Per TPS"])
    with_tps = [r for r in rows if r["no_tps"] is not None]
    assert sum(r["Jumlah"] for r in tps) == len(with_tps)
    _, pan = _sheet(wb["Per Pantarlih"])
    assert sum(r["Jumlah"] for r in pan) == len([r for r in rows if r["id_pantarlih"]])


def test_explanation_sheet_explains_every_code_column_and_value(night):
    root, _ = night
    ws = _book(root)["Penjelasan"]
    text = {str(c) for row in ws.iter_rows(values_only=True) for c in row if c is not None}
    assert set(load_catalog()) <= text
    assert {*FINDING_COLUMNS, *ANSWER} <= text
    for value in ("TINGGI", "SEDANG", "RENDAH", "BARU", "BERULANG", "B", "S", "P", "PUSDATIN"):
        assert value in text
    assert {str(k) for k in range(1, 9)} <= text  # TMS codes
    for rule in load_catalog().values():  # the catalog's own texts, not a copy
        assert rule.tindakan in text


def test_every_sheet_prints_a4_landscape_fit_to_width_header_repeated(night):
    root, _ = night
    wb = _book(root)
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.page_setup.paperSize == 9, ws.title
        # fitToWidth 1 is the OOXML default (omitted); fitToHeight 0: as many pages as needed
        assert (ws.page_setup.fitToWidth or 1) == 1, ws.title
        assert ws.page_setup.fitToHeight == 0, ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.print_title_rows, ws.title
    ws = wb[SEMUA]
    header, rows = _sheet(ws)
    col = header.index("keterangan") + 1
    for i, r in enumerate(rows, start=2):  # wrapped text gets the height it needs
        lines = -(-len(r["keterangan"]) // 50)
        if lines > 1:
            assert ws.row_dimensions[i].height >= 15 * lines * 0.8, r["keterangan"]
        assert ws.cell(i, col).alignment.wrap_text


# --- hostile values -------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """One night whose names, addresses, RT/RW, desa names and ids are spreadsheet payloads."""
    base = tmp_path_factory.mktemp("hostile")
    con = warehouse.connect(base / "w.duckdb")
    _, pem = load_night(con, N1)
    first = pem["31"].sort("id_pemilih").row(0, named=True)
    sets = ", ".join(f"{k} = ?" for k in HOSTILE)
    con.execute(
        f"UPDATE pemilih SET {sets} WHERE id_pemilih = ?", [*HOSTILE.values(), first["id_pemilih"]]
    )
    con.execute("UPDATE wilayah SET nama_desa = '=1+1', nama_kec = '@kec' WHERE kode_desa = ?",
                [first["kode_desa"]])  # fmt: skip
    raw = raw_findings(pem, N1)
    evil = raw.filter(pl.col("id_pemilih") == first["id_pemilih"]).head(1)
    if evil.is_empty():
        evil = raw.filter(pl.col("kode_temuan") == "NIK_TIDAK_VALID").head(1)
    evil = evil.with_columns(
        kode_desa=pl.lit(first["kode_desa"]), kode_kec=pl.lit(first["kode_desa"][:6]),
        id_pemilih=pl.lit(first["id_pemilih"]), id_pantarlih=pl.lit("=cmd|'/C calc'!A0"),
        id_kelompok=pl.lit("-2+3"), keterangan=pl.lit("@SUM(1+1)*cmd|' /C calc'!A0"),
        kunci=pl.lit("jahat"),
    )  # fmt: skip
    record(con, N1, pl.concat([raw, evil], how="vertical_relaxed"))
    settings = resolve_settings(outbox=str(base / "outbox"), warehouse=str(base / "w.duckdb"))
    publish_night(con, N1, settings)
    yield base / "outbox" / N1.isoformat(), first
    con.close()


def test_no_cell_of_any_csv_starts_a_formula(hostile):
    root, _ = hostile
    files = list(root.rglob("*.csv"))
    assert len(files) > 4
    seen = set()
    for path in files:
        for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"))):
            for c in row:
                assert not c or c[0] not in "=+-@\t\r", (path.name, c)
                seen.add(c)
    for payload in [*HOSTILE.values(), "=1+1", "@kec", "-2+3"]:
        assert "'" + payload in seen, payload


# Payloads a first-character check misses (after spaces, invisible or full-width signs),
# and text a spreadsheet reads as a number or a date
SNEAKY = (" =1+1", "\u00a0=1+1", "\u200b@SUM(A1)", "\uff1d1+1", "\n=1+1", "  +1",
          "2024-01-01", "1E5", "(12)", "50%", "1.234,5")  # fmt: skip


def test_a_csv_neutralises_sneaky_formulas_everywhere_and_numbers_in_text_not_codes():
    df = pl.DataFrame({"nama": SNEAKY, "rt": SNEAKY, "id_pemilih": ["320000001396"] * 11})
    head, *body = csv.reader(io.StringIO(write_csv(df).decode("utf-8")))
    assert len(body) == len(SNEAKY)
    for value, cells in zip(SNEAKY, body, strict=True):
        row = dict(zip(head, cells, strict=True))
        assert row["nama"] == "'" + value  # text: neither a formula nor a number
        formula = value.lstrip(" \u00a0\u200b\n")[:1] in "=+-@\uff1d"
        assert row["rt"] == ("'" + value if formula else value)  # a code: only formulas
        assert row["id_pemilih"] == "320000001396"  # ids as exported, for programs


def test_control_characters_never_reach_a_csv():
    """A NUL makes Python's csv reader refuse the whole file; an ESC sequence recolours the
    terminal of whoever cats it. Each becomes U+FFFD; tab and line breaks stay (quoted)."""
    df = pl.DataFrame({"nama": ["ABC\x00DEF\x07\x1b[31mRED", "A\tB\nC"], "rt": ["0\x001", "001"]})
    text = write_csv(df).decode("utf-8")
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text)
    _, *rows = csv.reader(io.StringIO(text))
    assert rows == [["ABC\ufffdDEF\ufffd\ufffd[31mRED", "0\ufffd1"], ["A\tB\nC", "001"]]


def test_no_cell_of_any_workbook_is_a_formula_link_or_number_from_text(hostile):
    root, _ = hostile
    books = list(root.rglob("*.xlsx"))
    assert books
    found = set()
    for path in books:
        wb = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))
        for ws in wb.worksheets:
            assert not ws._hyperlinks, (path, ws.title)
            for row in ws.iter_rows():
                for c in row:
                    assert c.data_type != "f", (path.name, ws.title, c.coordinate, c.value)
                    if isinstance(c.value, str):
                        found.add(c.value)
        semua = wb[SEMUA] if SEMUA in wb.sheetnames else None
        if semua is not None:
            _, rows = _sheet(semua)
            for r in rows:  # ids and RT stay text, never numbers
                for k in ("id_pemilih", "rt", "rw", "kode_desa"):
                    assert r[k] is None or isinstance(r[k], str), (k, r[k])
    for payload in [*HOSTILE.values(), "=1+1", "@kec", "-2+3", "=cmd|'/C calc'!A0"]:
        assert payload in found, payload
