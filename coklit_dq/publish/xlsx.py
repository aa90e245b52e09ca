"""temuan.xlsx: a kabupaten/kota's findings for people, in Bahasa Indonesia.

Sheet 1 "Ringkasan": counts by kind and tingkat, by tingkat, by kecamatan,
BARU vs BERULANG. Then one sheet per family of findings (expectations/
families.yaml, in order), sorted kecamatan -> desa -> TPS, with a frozen
header, filters and readable widths. Built from polars frames with
DataFrame.write_excel into one xlsxwriter workbook held in memory.
"""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

import polars as pl
import xlsxwriter

from coklit_dq.contract import STATUS_TEMUAN, TINGKAT

# finding column -> sheet header, in sheet order
SHEET_COLUMNS: dict[str, str] = {
    "nama_kec": "Kecamatan",
    "nama_desa": "Desa/Kelurahan",
    "kode_desa": "Kode desa",
    "no_tps": "TPS",
    "judul": "Temuan",
    "tingkat": "Tingkat",
    "id_pemilih": "ID pemilih",
    "id_pantarlih": "ID Pantarlih",
    "id_kelompok": "Kelompok",
    "keterangan": "Keterangan",
    "tindakan": "Tindakan",
    "status_temuan": "Status",
    "pertama_ditemukan": "Pertama ditemukan",
    "kode_temuan": "Kode temuan",
}
WIDTHS = {
    "Kecamatan": 20, "Desa/Kelurahan": 22, "Kode desa": 12, "TPS": 6, "Temuan": 30,
    "Tingkat": 9, "ID pemilih": 18, "ID Pantarlih": 18, "Kelompok": 22, "Keterangan": 70,
    "Tindakan": 45, "Status": 10, "Pertama ditemukan": 14, "Kode temuan": 24,
}  # fmt: skip
HEADER = {"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True}
STYLE = "Table Style Light 9"
WRAP = {"text_wrap": True, "valign": "top"}
NO_FINDINGS = "Tidak ada temuan pada kelompok ini malam ini."


def sheet_name(title: str) -> str:
    """A valid, unique-enough Excel sheet name (no []:*?/\\, at most 31 characters)."""
    return re.sub(r"[\[\]:*?/\\]", "-", title)[:31]


def _counts(df: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    return (
        df.group_by(by)
        .agg(
            Jumlah=pl.len(),
            Baru=(pl.col("status_temuan") == "BARU").sum(),
            Berulang=(pl.col("status_temuan") == "BERULANG").sum(),
        )
        .sort(by)
    )


def summary_tables(rows: pl.DataFrame) -> list[tuple[str, pl.DataFrame]]:
    """The summary sheet's tables: (title, frame) with Indonesian headers."""
    by_kind = (
        _counts(rows, ["urutan_keluarga", "nama_keluarga", "judul", "kode_temuan", "tingkat"])
        .drop("urutan_keluarga")
        .rename(
            {
                "nama_keluarga": "Kelompok",
                "judul": "Temuan",
                "kode_temuan": "Kode temuan",
                "tingkat": "Tingkat",
            }
        )
    )
    tingkat = (
        pl.DataFrame({"tingkat": list(TINGKAT)})
        .join(_counts(rows, ["tingkat"]), on="tingkat", how="left")
        .fill_null(0)
        .rename({"tingkat": "Tingkat"})
    )
    kec = (
        rows.group_by("kode_kec", "nama_kec")
        .agg(
            [(pl.col("tingkat") == t).sum().alias(t.capitalize()) for t in TINGKAT]
            + [pl.len().alias("Jumlah"), (pl.col("status_temuan") == "BARU").sum().alias("Baru")]
        )
        .sort("kode_kec", nulls_last=True)
        .with_columns(
            pl.col("nama_kec").fill_null(pl.col("kode_kec")).fill_null("(tanpa kecamatan)")
        )
        .rename({"kode_kec": "Kode kecamatan", "nama_kec": "Kecamatan"})
        .select("Kecamatan", "Kode kecamatan", pl.exclude("Kecamatan", "Kode kecamatan"))
    )
    status = (
        pl.DataFrame({"Status": list(STATUS_TEMUAN)})
        .join(
            rows.group_by("status_temuan").agg(Jumlah=pl.len()),
            left_on="Status",
            right_on="status_temuan",
            how="left",
        )
        .fill_null(0)
    )
    return [
        ("Temuan per jenis dan tingkat", by_kind),
        ("Temuan per tingkat", tingkat),
        ("Temuan per kecamatan", kec),
        ("Temuan baru dan berulang", status),
    ]


def build_xlsx(
    rows: pl.DataFrame,
    families: dict[str, str],
    *,
    judul: str,
    tanggal: date,
    catatan: list[str],
    n_selesai: int,
    ditandai: pl.DataFrame | None = None,
) -> bytes:
    """The workbook as bytes. `rows`: the region's findings joined with names and catalog."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    bold = wb.add_format({"bold": True, "font_size": 14})
    section = wb.add_format({"bold": True, "font_size": 11, "font_color": "#1F4E79"})
    note = wb.add_format({"italic": True, "font_color": "#922B21", "text_wrap": False})

    ws = wb.add_worksheet("Ringkasan")
    ws.write(0, 0, judul, bold)
    ws.write(1, 0, f"Data ekspor tanggal {tanggal.strftime('%d/%m/%Y')}")
    ws.write(
        2,
        0,
        f"Jumlah temuan malam ini: {rows.height}; temuan malam sebelumnya yang "
        f"sudah selesai: {n_selesai}",
    )
    r = 3
    for line in catatan:
        ws.write(r, 0, line, note)
        r += 1
    r += 1
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 30)
    ws.set_column(2, 6, 14)
    for title, frame in summary_tables(rows):
        ws.write(r, 0, title, section)
        r += 1
        frame.write_excel(
            wb,
            ws,
            position=(r, 0),
            table_style=STYLE,
            header_format=HEADER,
            autofilter=False,
        )
        r += max(frame.height, 1) + 3

    columns = list(SHEET_COLUMNS)
    for code, title in families.items():
        part = rows.filter(pl.col("keluarga") == code).select(columns).rename(SHEET_COLUMNS)
        name = sheet_name(title)
        if part.is_empty():
            part = pl.DataFrame(
                {h: [NO_FINDINGS if h == "Keterangan" else None] for h in SHEET_COLUMNS.values()},
                schema=part.schema,
            )
        part.write_excel(
            wb,
            name,
            table_style=STYLE,
            header_format=HEADER,
            autofilter=True,
            freeze_panes=(1, 0),
            column_widths={h: WIDTHS[h] * 7 + 10 for h in part.columns},  # pixels
            dtype_formats={pl.Date: "dd/mm/yyyy"},
            column_formats={h: WRAP for h in ("Keterangan", "Tindakan")},
        )
    if ditandai is not None and ditandai.height:  # tanggapan-v1: "Ditandai bukan masalah"
        from coklit_dq.tanggapan import write_sheet

        write_sheet(wb, ditandai)
    wb.close()
    return buf.getvalue()


def sheet_rows(
    findings: pl.DataFrame, wilayah: pl.DataFrame, catalog: pl.DataFrame
) -> pl.DataFrame:
    """Findings with region names and catalog titles, sorted kecamatan -> desa -> TPS."""
    desa = wilayah.select("kode_desa", "nama_desa")
    kec = wilayah.select("kode_kec", "nama_kec").unique("kode_kec")
    return (
        findings.join(desa, on="kode_desa", how="left")
        .join(kec, on="kode_kec", how="left")
        .join(catalog, on="kode_temuan", how="left")
        .with_columns(
            judul=pl.col("judul").fill_null(pl.col("kode_temuan")),
            keluarga=pl.col("keluarga").fill_null("lain"),
            nama_keluarga=pl.col("nama_keluarga").fill_null("Lainnya"),
            urutan_keluarga=pl.col("urutan_keluarga").fill_null(99),
        )
        .sort(
            ["kode_kec", "kode_desa", "no_tps", "kode_temuan", "id_pemilih", "id_pantarlih"],
            nulls_last=True,
        )
    )


def families_with_rest(rows: pl.DataFrame, families: dict[str, str]) -> dict[str, Any]:
    """The catalog's families, plus "Lainnya" when a finding's code is not in the catalog."""
    out: dict[str, Any] = dict(families)
    if rows.filter(pl.col("keluarga") == "lain").height:
        out["lain"] = "Lainnya"
    return out
