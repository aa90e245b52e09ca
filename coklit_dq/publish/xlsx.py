"""temuan.xlsx: a kabupaten/kota's findings for people, in Bahasa Indonesia.

Sheets, in order:
  Ringkasan        counts by prioritas, kind and tingkat, kecamatan, temuan baru/berulang
  Semua temuan     every row in desa-officer order, the contract's columns in its order
                   (reports-v1 + v1.1, then tanggapan, alasan, petugas of
                   tanggapan-v1, with a dropdown on tanggapan): the sheet a region
                   fills and sends back. Codes a person rarely needs are hidden.
  <one per family> (expectations/families.yaml) the rows a region fixes itself
  Untuk Pusdatin   rows only Pusdatin can fix (ditangani_oleh PUSDATIN)
  Perubahan belum diperbaiki   (when there are) changes to records found on earlier
                   nights that still stand (lifecycle.standing_findings): the contract
                   lists a change on its night only
  Per TPS, Per Pantarlih   counts to share out the work
  Penjelasan       every column and code (codes from the catalog's YAML)
All sheets print A4 landscape, fit to width, header repeated (see `sheets`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import xlsxwriter

from coklit_dq.contract import FINDING_COLUMNS, STATUS_TEMUAN, TINGKAT
from coklit_dq.publish import glossary
from coklit_dq.publish.sheets import Col, new_workbook, print_setup, set_widths, table, tanggal_id
from coklit_dq.publish.tables import desa_order

SEMUA = "Semua temuan"  # the sheet tanggapan-v1 reads back: keep its name and headers
PUSDATIN = "Untuk Pusdatin"
ANSWER_COLUMNS = ("tanggapan", "alasan", "petugas")
_W = {
    "prioritas": 9, "nama_kec": 14, "nama_desa": 14, "no_tps": 7, "rt": 4, "rw": 4,
    "nama": 18, "jenis_kelamin": 13, "usia": 5, "alamat": 16, "kode_temuan": 25, "tingkat": 8,
    "keterangan": 46, "ditangani_oleh": 14, "status_temuan": 13, "pertama_ditemukan": 17,
    "id_pemilih": 14, "id_pantarlih": 16, "tanggapan": 18, "alasan": 18, "petugas": 12,
}  # fmt: skip
# codes a person rarely needs: in the sheet (a program reads them), hidden
_HIDDEN = ("tanggal_ekspor", "kode_prov", "kode_kab", "kode_kec", "kode_desa", "id_kelompok")
# the all-rows sheet: reports-v1's columns in its order (v1, then v1.1: "in every
# kabupaten/kota's temuan.csv and temuan.xlsx ... after the columns of v1"), then the
# answer of tanggapan-v1. The family sheets are the ones laid out for reading.
SEMUA_KEYS = (*FINDING_COLUMNS, *ANSWER_COLUMNS)
SEMUA_COLS: tuple[Col, ...] = tuple(
    Col(k, k, _W.get(k, 10), wrap=k == "keterangan", hidden=k in _HIDDEN) for k in SEMUA_KEYS
)
# a family's sheet, to print and work through: where, who, what (the rest is on SEMUA)
FAMILY_COLS: tuple[Col, ...] = (
    Col("prioritas", "Prioritas", 8), Col("nama_desa", "Desa/Kelurahan", 16),
    Col("no_tps", "TPS", 5), Col("nama", "Nama", 18),
    Col("keterangan", "Keterangan", 60, wrap=True), Col("id_pemilih", "ID pemilih", 14),
    Col("status_label", "Status", 11),
)  # fmt: skip
# earlier nights' changes that still stand: the family columns, and since when
BERLANJUT = "Perubahan belum diperbaiki"
BERLANJUT_COLS: tuple[Col, ...] = (
    *(c for c in FAMILY_COLS if c.key != "status_label"),
    Col("kode_temuan", "Kode temuan", 20),
    Col("ditangani_oleh", "Ditangani oleh", 12),
    Col("sejak", "Terlihat sejak ekspor", 16),
)
BERLANJUT_NOTE = (
    "{n} perubahan data pemilih dari malam sebelumnya (data hilang, perubahan status tidak "
    'wajar) belum diperbaiki: lihat lembar "' + BERLANJUT + '".'
)
STATUS_LABEL = {"BARU": "Temuan baru", "BERULANG": "Berulang"}
NO_FINDINGS = "Tidak ada temuan pada kelompok ini malam ini."


def sheet_name(title: str) -> str:
    """A valid Excel sheet name (no []:*?/\\, at most 31 characters)."""
    return "".join("-" if ch in "[]:*?/\\" else ch for ch in title)[:31]


def _by(rows: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Counts per `keys`: all, per prioritas, per tingkat, temuan baru."""
    return (
        rows.group_by(keys)
        .agg(
            pl.len().alias("n"),
            *[(pl.col("prioritas") == p).sum().alias(f"p{p}") for p in (1, 2, 3)],
            *[(pl.col("tingkat") == t).sum().alias(t) for t in TINGKAT],
            (pl.col("status_temuan") == "BARU").sum().alias("baru"),
        )
        .sort(keys, nulls_last=True)
    )


_COUNT_COLS = (
    Col("n", "Jumlah", 8), Col("p1", "Prioritas 1", 10), Col("p2", "Prioritas 2", 10),
    Col("p3", "Prioritas 3", 10), Col("TINGGI", "TINGGI", 8), Col("SEDANG", "SEDANG", 8),
    Col("RENDAH", "RENDAH", 8), Col("baru", "Temuan baru", 10),
)  # fmt: skip
# the per-TPS and per-Pantarlih tables: how much work, and how urgent
_WORK_COLS = tuple(c for c in _COUNT_COLS if c.key not in TINGKAT)


def summary_tables(rows: pl.DataFrame) -> list[tuple[str, tuple[Col, ...], pl.DataFrame]]:
    """The summary sheet's tables: (title, columns, frame)."""
    prio = pl.DataFrame({"prioritas": [1, 2, 3]}, schema={"prioritas": pl.Int8}).join(
        rows.group_by("prioritas").agg(n=pl.len()), on="prioritas", how="left"
    )
    kind = _by(rows, ["prioritas", "kode_temuan", "judul", "ditangani_oleh"])
    kec = _by(rows, ["kode_kec", "nama_kec"])
    status = pl.DataFrame({"s": list(STATUS_TEMUAN)}).join(
        rows.group_by("status_temuan").agg(n=pl.len()), left_on="s", right_on="status_temuan",
        how="left",
    ).with_columns(s=pl.col("s").replace_strict(STATUS_LABEL))  # fmt: skip
    return [
        ("Temuan per prioritas (kerjakan prioritas 1 lebih dulu)",
         (Col("prioritas", "Prioritas", 34), Col("n", "Jumlah", 10)), prio.fill_null(0)),
        ("Temuan per jenis", (Col("prioritas", "Prioritas", 34), Col("judul", "Temuan", 30),
          Col("kode_temuan", "Kode temuan", 24), Col("ditangani_oleh", "Ditangani oleh", 12),
          *_COUNT_COLS), kind),
        ("Temuan per kecamatan", (Col("nama_kec", "Kecamatan", 34),
          Col("kode_kec", "Kode kecamatan", 30), *_COUNT_COLS), kec),
        ("Temuan baru dan berulang", (Col("s", "Status", 34), Col("n", "Jumlah", 10)),
         status.fill_null(0)),
    ]  # fmt: skip


def build_xlsx(
    rows: pl.DataFrame,
    families: dict[str, str],
    *,
    judul: str,
    tanggal: date,
    catatan: list[str],
    n_selesai: int,
    ditandai: pl.DataFrame | None = None,
    ditolak: pl.DataFrame | None = None,
    berlanjut: pl.DataFrame | None = None,
) -> bytes:
    """The workbook as bytes. `rows`: the region's findings joined with the catalog;
    `berlanjut`: its changes of earlier nights that still stand."""
    rows = desa_order(rows)
    wb, buf = new_workbook()
    f = _formats(wb)
    _summary(wb, f, rows, judul=judul, tanggal=tanggal, catatan=catatan, n_selesai=n_selesai)

    ws = wb.add_worksheet(SEMUA)
    data = rows.with_columns(*[pl.lit(None, pl.String).alias(c) for c in ANSWER_COLUMNS])
    end = _sheet(ws, f, SEMUA_COLS, data, "Semua temuan")
    col = [c.key for c in SEMUA_COLS].index("tanggapan")
    ws.data_validation(1, col, max(end - 1, 1), col, {
        "validate": "list", "source": list(glossary.TANGGAPAN),
        "input_title": "Tanggapan", "input_message": "Pilih salah satu.",
    })  # fmt: skip

    local = rows.filter(~pl.col("ditangani_oleh").eq_missing("PUSDATIN"))
    for code, title in families.items():
        part = local.filter(pl.col("keluarga") == code)
        _sheet(wb.add_worksheet(sheet_name(title)), f, FAMILY_COLS, part, title)
    pusat = rows.filter(pl.col("ditangani_oleh").eq_missing("PUSDATIN"))
    _sheet(wb.add_worksheet(PUSDATIN), f, FAMILY_COLS, pusat, "Hanya dapat diperbaiki Pusdatin")
    if berlanjut is not None and berlanjut.height:
        part = desa_order(berlanjut).with_columns(
            sejak=pl.col("tanggal_perubahan").map_elements(tanggal_id, return_dtype=pl.String)
        )
        _sheet(wb.add_worksheet(BERLANJUT), f, BERLANJUT_COLS, part, BERLANJUT)

    tps_cols = (
        Col("nama_kec", "Kecamatan", 16),
        Col("nama_desa", "Desa/Kelurahan", 16),
        Col("kode_desa", "Kode desa", 12),
        Col("no_tps", "TPS", 6),
        *_WORK_COLS,
    )
    tps = _by(
        rows.filter(pl.col("no_tps").is_not_null()),
        ["kode_kec", "nama_kec", "kode_desa", "nama_desa", "no_tps"],
    )
    _sheet(wb.add_worksheet("Per TPS"), f, tps_cols, tps, "Temuan per TPS")
    pan_cols = (Col("id_pantarlih", "ID Pantarlih", 16), *tps_cols)
    pan = _by(
        rows.filter(pl.col("id_pantarlih").is_not_null()),
        ["id_pantarlih", "kode_kec", "nama_kec", "kode_desa", "nama_desa", "no_tps"],
    )
    _sheet(wb.add_worksheet("Per Pantarlih"), f, pan_cols, pan, "Temuan per Pantarlih")  # fmt: skip
    _explain(wb.add_worksheet("Penjelasan"), f)
    if ditandai is not None and ditandai.height:  # tanggapan-v1: "Ditandai bukan masalah"
        from coklit_dq.tanggapan import write_sheet

        write_sheet(wb, ditandai)
    if ditolak is not None and ditolak.height:  # what the region sent that was set aside
        from coklit_dq.tanggapan import write_rejected_sheet

        write_rejected_sheet(wb, ditolak)
    wb.close()
    return buf.getvalue()


def _formats(wb: xlsxwriter.Workbook) -> dict[str, Any]:
    return {
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "section": wb.add_format({"bold": True, "font_color": "#1F4E79"}),
        "note": wb.add_format({"italic": True, "font_color": "#922B21"}),
        "header": wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1,
                                 "text_wrap": True, "valign": "top"}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
        "plain": wb.add_format({"valign": "top"}),
    }  # fmt: skip


def _sheet(ws: Any, f: dict[str, Any], cols: tuple[Col, ...], df: pl.DataFrame, foot: str) -> int:
    set_widths(ws, cols)
    if "status_label" in [c.key for c in cols]:
        df = df.with_columns(status_label=pl.col("status_temuan").replace_strict(STATUS_LABEL))
    rows = df.select(c.key for c in cols).rows() if df.height else []
    if not rows:
        ws.write_string(1, 0, NO_FINDINGS, f["note"])
    end = table(ws, 0, cols, rows, header=f["header"], wrap=f["wrap"], plain=f["plain"])
    ws.freeze_panes(1, 0)
    print_setup(ws, 0, len(cols), foot)
    return end


def _summary(wb: Any, f: dict[str, Any], rows: pl.DataFrame, *, judul: str, tanggal: date,
             catatan: list[str], n_selesai: int) -> None:  # fmt: skip
    ws = wb.add_worksheet("Ringkasan")
    ws.write_string(0, 0, judul, f["title"])
    ws.write_string(1, 0, f"Data ekspor tanggal {tanggal_id(tanggal)}")
    ws.write_string(2, 0, f"Jumlah temuan malam ini: {rows.height}; temuan malam sebelumnya "
                    f"yang sudah selesai: {n_selesai}")  # fmt: skip
    ws.write_string(3, 0, f"Semua baris ada di lembar \"{SEMUA}\" (urut kecamatan, desa, TPS, "
                    "RT, RW, nama); isi kolom tanggapan dan alasan di sana.")  # fmt: skip
    r = 4
    for line in catatan:
        ws.write_string(r, 0, line, f["note"])
        r += 1
    widths = [34, 30, 24, 12, 10, 10, 10, 10, 8, 8, 8, 10]
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    for title, cols, frame in summary_tables(rows):
        r += 1
        ws.write_string(r, 0, title, f["section"])
        values = frame.select(c.key for c in cols).rows()
        r = table(ws, r + 1, cols, values, header=f["header"], wrap=f["wrap"], filters=False)
    print_setup(ws, 0, len(widths), "Ringkasan", grid=False)


def _explain(ws: Any, f: dict[str, Any]) -> None:
    """Every column, code and value of the workbook, explained."""
    ws.set_column(0, 0, 24)
    ws.set_column(1, 1, 60)
    ws.set_column(2, 2, 60)
    ws.write_string(0, 0, "Penjelasan kolom dan kode", f["title"])
    cols: tuple[Col, ...] = (Col("a", "Kolom", 24), Col("b", "Arti", 60, wrap=True))
    r = table(ws, 2, cols, list(glossary.KOLOM.items()), header=f["header"], wrap=f["wrap"],
              filters=False)  # fmt: skip
    cols = (Col("a", "Kode temuan", 24), Col("b", "Temuan (prioritas, tingkat, ditangani oleh)",
            60, wrap=True), Col("c", "Yang harus dilakukan", 60, wrap=True))  # fmt: skip
    codes = [(k["kode_temuan"], f"{k['judul']} (prioritas {k['prioritas']}, {k['tingkat']}, "
              f"{k['ditangani_oleh']})", k["tindakan"]) for k in glossary.codes()]  # fmt: skip
    r = table(ws, r + 1, cols, codes, header=f["header"], wrap=f["wrap"], filters=False)
    cols = (Col("a", "Isian", 24), Col("b", "Nilai", 60), Col("c", "Arti", 60, wrap=True))
    table(ws, r + 1, cols, list(glossary.NILAI), header=f["header"], wrap=f["wrap"], filters=False)
    print_setup(ws, 2, 3, "Penjelasan", grid=False)


def sheet_rows(findings: pl.DataFrame, catalog: pl.DataFrame) -> pl.DataFrame:
    """Findings with the catalog's titles and families, in desa-officer order."""
    return desa_order(
        findings.join(catalog, on="kode_temuan", how="left").with_columns(
            judul=pl.col("judul").fill_null(pl.col("kode_temuan")),
            keluarga=pl.col("keluarga").fill_null("lain"),
            nama_keluarga=pl.col("nama_keluarga").fill_null("Lainnya"),
            urutan_keluarga=pl.col("urutan_keluarga").fill_null(99),
        )
    )


def families_with_rest(rows: pl.DataFrame, families: dict[str, str]) -> dict[str, Any]:
    """The catalog's families, plus "Lainnya" when a finding's code is not in the catalog."""
    out: dict[str, Any] = dict(families)
    if rows.filter(pl.col("keluarga") == "lain").height:
        out["lain"] = "Lainnya"
    return out
