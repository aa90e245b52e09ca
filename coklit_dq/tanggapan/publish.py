"""What the publication needs from the answers: small functions the publish code calls.

    tg = TanggapanNight.load(con, tanggal)
    daftar, ditandai = tg.split(findings)      # the region lists / sheet "Ditandai bukan masalah"
    tg.section("kab" | "prov" | "nasional", kode)  # HTML for the pages (escaped)
    write_sheet(workbook, ditandai)            # the sheet, every cell a string, never a formula

Texts a region wrote (alasan) are hostile: shown escaped, digit runs that may be
a nik/nkk masked, cut to a length, never a formula in a workbook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import jinja2
import polars as pl
from markupsafe import Markup

from coklit_dq import bahasa
from coklit_dq.privacy import mask_digit_runs, mask_niks
from coklit_dq.tanggapan import apply, store

SHEET = "Ditandai bukan masalah"
MASIH = "DILAPORKAN SUDAH DIPERBAIKI, MASIH DITEMUKAN"
BERUBAH = "DITANDAI BUKAN MASALAH, TETAPI DATANYA BERUBAH SEJAK ITU; PERIKSA LAGI"
# the prefix of a listed finding's keterangan, by its mark (apply.TANDA)
AWALAN = {"DIPERBAIKI_MASIH_ADA": MASIH, "BUKAN_MASALAH_BERUBAH": BERUBAH}
MAX_TEXT = 300
MAX_PAGE_ROWS = 200
MAX_DITOLAK_PAGE = 50  # refused rows on a region's page (the workbook has MAX_DITOLAK)


def tanggal_id(d: date | None) -> str:
    return "–" if d is None else bahasa.tanggal_id(d)


def safe_text(text: str | None) -> str:
    """A region's free text for display: digit runs of 11+ and grouped niks masked, cut
    to MAX_TEXT."""
    if not text:
        return ""
    return mask_digit_runs(text, 11)[:MAX_TEXT]


def _key(df: pl.DataFrame) -> pl.Expr:
    return pl.concat_str(
        [pl.col(c).cast(pl.String).fill_null("") for c in apply.KEY], separator="|"
    )


# What a region sent that tonight's run read and set aside: whole files (kolom and lokasi
# empty) and rows, with the file's path. Only files whose folder names a region; the first
# MAX_DITOLAK per region, with how many there are (n_semua): a file of a million bad rows
# is told in a few lines, not copied into a workbook.
MAX_DITOLAK = 2000
DITOLAK_SQL = f"""
WITH d AS (
SELECT b.kode_kab, b.path AS berkas, NULL::VARCHAR AS lokasi, NULL::VARCHAR AS kolom,
       b.reason AS alasan_tolak,
       {", ".join(f"NULL::VARCHAR AS {c}" for c in store.ROW_COLUMNS)}, 0 AS urut
FROM tanggapan_berkas b
WHERE b.tanggal_proses = $tanggal AND b.state = 'set_aside' AND b.kode_kab IS NOT NULL
UNION ALL
SELECT d.kode_kab, b.path, d.lokasi, d.kolom, d.alasan_tolak,
       {", ".join(f"d.{c}" for c in store.ROW_COLUMNS)}, d.baris AS urut
FROM tanggapan_ditolak d JOIN tanggapan_berkas b USING (sha256)
WHERE d.tanggal_proses = $tanggal AND d.kode_kab IS NOT NULL
)
SELECT *, count(*) OVER (PARTITION BY kode_kab) AS n_semua FROM d
QUALIFY row_number() OVER (PARTITION BY kode_kab ORDER BY berkas, urut, kolom) <= {MAX_DITOLAK}
ORDER BY kode_kab, berkas, urut, kolom
"""
# sheet "Tanggapan ditolak": column -> header
DITOLAK_COLUMNS = {
    "berkas": "berkas",
    "lokasi": "baris",
    "kolom": "kolom",
    "alasan_tolak": "alasan ditolak",
    # what the row said, under headers that are not the contract's: a workbook sent back
    # whole must not answer again with the rows refused the night before
    **{c: f"{c} (dikirim)" for c in store.ROW_COLUMNS},
}
DITOLAK_SHEET = "Tanggapan ditolak"


@dataclass
class TanggapanNight:
    tanggal: date
    marks: pl.DataFrame  # apply.night_marks
    kab: pl.DataFrame  # apply.region_figures per kode_kab (ranked)
    prov: pl.DataFrame
    nasional: pl.DataFrame
    # files and rows read tonight and set aside (DITOLAK_SQL), every text made safe
    ditolak: pl.DataFrame | None = None

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection, tanggal: date) -> TanggapanNight:
        try:
            store.ensure_schema(con)
        except duckdb.Error:  # a read-only warehouse that never read an inbox
            return cls.empty(tanggal)
        return cls(
            tanggal=tanggal,
            marks=apply.night_marks(con, tanggal),
            kab=apply.region_figures(con, tanggal, "kode_kab"),
            prov=apply.region_figures(con, tanggal, "kode_prov"),
            nasional=apply.region_figures(con, tanggal, "nasional"),
            ditolak=_ditolak(con, tanggal),
        )

    @classmethod
    def empty(cls, tanggal: date) -> TanggapanNight:
        """No answers at all (the warehouse has no response tables)."""
        marks = pl.DataFrame(
            schema={
                **{c: pl.String for c in ("kode_prov", "kode_kab", "kunci", "tanda")},
                **{c: pl.String for c in apply.KEY},
                "no_tps": pl.Int32,
                "tanggapan": pl.String,
                "alasan": pl.String,
                "tanggal_daftar": pl.Date,
            }
        )
        figures = pl.DataFrame(
            schema={"kode_prov": pl.String, "kode_kab": pl.String, "n_dikirim": pl.Int64}
        )
        return cls(tanggal, marks, figures, figures, figures)

    def notes(self, kode_kab: str) -> list[str]:
        """Lines for the first sheet of region `kode_kab`'s workbook: what the answers it
        sent did to tonight's list, and what was set aside, with the sheet to look at."""
        mine = self.marks.filter(pl.col("kode_kab") == kode_kab)
        n = dict(mine.group_by("tanda").len().iter_rows())
        out = []
        if keluar := n.get("BUKAN_MASALAH", 0) + n.get("PUSDATIN", 0):
            out.append(f"Tanggapan wilayah: {_ribuan(keluar)} temuan tidak dimuat di daftar "
                       f"(lihat lembar \"{SHEET}\").")  # fmt: skip
        for tanda, text in (
            ("DIPERBAIKI_MASIH_ADA", "dilaporkan sudah diperbaiki tetapi masih ditemukan"),
            ("BUKAN_MASALAH_BERUBAH", "pernah ditandai bukan masalah tetapi datanya berubah"),
        ):
            if n.get(tanda):
                out.append(f"Tanggapan wilayah: {_ribuan(n[tanda])} temuan {text} (keterangannya "
                           f"diawali {AWALAN[tanda]}).")  # fmt: skip
        ditolak = self.ditolak_of(kode_kab)
        if ditolak is not None:
            n_tolak = _ribuan(int(ditolak["n_semua"][0]))
            out.append(f"Tanggapan wilayah: {n_tolak} baris atau berkas disisihkan malam ini "
                       f"(lihat lembar \"{DITOLAK_SHEET}\").")  # fmt: skip
        return out

    def ditolak_of(self, kode_kab: str) -> pl.DataFrame | None:
        """What region `kode_kab` sent that tonight's run set aside (None: nothing)."""
        if self.ditolak is None:
            return None
        part = self.ditolak.filter(pl.col("kode_kab") == kode_kab)
        return part if part.height else None

    def split(self, findings: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(the region lists, the findings marked not a problem), same columns as `findings`
        (the second with tanggapan, alasan, tanggal_daftar and tanda added).

        Reported fixed but still found: keterangan starts with MASIH; marked not a problem
        but its unit's data changed since: with BERUBAH (AWALAN)."""
        m = self.marks.select(
            _key(self.marks).alias("_k"), "tanda", "alasan", "tanggal_daftar"
        ).unique("_k")
        j = findings.with_columns(_key(findings).alias("_k")).join(m, on="_k", how="left")
        keluar = pl.col("tanda").is_in(list(apply.KELUAR)).fill_null(False)
        awalan = pl.col("tanda").replace_strict(AWALAN, default=None, return_dtype=pl.String)
        masih = awalan.is_not_null()
        tag = pl.format(
            "{} (tanggapan atas daftar {}). ",
            awalan,
            pl.col("tanggal_daftar").map_elements(tanggal_id, return_dtype=pl.String),
        )
        daftar = (
            j.filter(~keluar)
            .with_columns(
                keterangan=pl.when(masih.fill_null(False))
                .then(pl.concat_str([tag, pl.col("keterangan").fill_null("")]))
                .otherwise(pl.col("keterangan"))
            )
            .select(findings.columns)
        )
        ditandai = (
            j.filter(keluar)
            .drop("_k")
            .with_columns(pl.col("alasan").map_elements(safe_text, return_dtype=pl.String))
        )
        return daftar, ditandai

    def _rows(self, tanda: str, where: pl.Expr) -> list[dict[str, Any]]:
        df = self.marks.filter((pl.col("tanda") == tanda) & where).sort("kode_kab", "kunci")
        return [
            {
                **r,
                # the finding's ids as the warehouse holds them: a nik used as one masked
                **{c: _safe_unit(r[c]) for c in ("id_pemilih", "id_pantarlih") if r.get(c)},
                "alasan": safe_text(r["alasan"]),
                "tanggal_daftar": tanggal_id(r["tanggal_daftar"]),
            }
            for r in df.head(MAX_PAGE_ROWS).drop("kunci").to_dicts()
        ] + ([{"lagi": df.height - MAX_PAGE_ROWS}] if df.height > MAX_PAGE_ROWS else [])

    def section(
        self, level: str, kode: str | None = None, names: dict[str, str] | None = None
    ) -> Markup:
        """The pages' part on answers: figures per region, PERLU_BANTUAN (province and
        national), GANDA_NIK forwarded to Pusdatin (national)."""
        names = names or {}
        ditolak: list[dict[str, Any]] = []
        ditolak_lagi = 0
        if level == "kab":
            where = pl.col("kode_kab") == kode
            figures = self.kab.filter(where)
            part = self.ditolak_of(kode or "")
            if part is not None:
                ditolak = part.head(MAX_DITOLAK_PAGE).to_dicts()
                ditolak_lagi = int(part["n_semua"][0]) - len(ditolak)
        elif level == "prov":
            where = pl.col("kode_prov") == kode
            figures = self.kab.filter(where)
        else:
            where = pl.lit(True)
            figures = self.kab
        figures = figures.with_columns(
            nama=pl.col("kode_kab").replace_strict(names, default=pl.col("kode_kab"))
        )
        return Markup(
            _env()
            .get_template("bagian.html.j2")
            .render(
                level=level,
                wilayah=figures.to_dicts(),
                bantuan=self._rows("PERLU_BANTUAN", where) if level != "kab" else [],
                pusdatin=self._rows("PUSDATIN", where) if level == "nasional" else [],
                ditolak=ditolak,
                ditolak_lagi=ditolak_lagi,
                names=names,
            )
        )


def _ditolak(con: duckdb.DuckDBPyConnection, tanggal: date) -> pl.DataFrame:
    """DITOLAK_SQL of the night, every text a region wrote (or named) made safe."""
    df = con.sql(DITOLAK_SQL, params={"tanggal": tanggal}).pl().drop("urut")
    free = ("berkas", "alasan", "petugas")  # free text: every run that may be a nik masked
    units = [c for c in df.columns if c not in (*free, "kode_kab", "n_semua")]
    return df.with_columns(
        *(pl.col(c).map_elements(safe_text, return_dtype=pl.String) for c in free),
        # ids and codes as the region sent them (a 12-digit id_pemilih is how it finds the
        # row), but a nik typed into one, however written, and 13-15 digits still masked
        *(pl.col(c).map_elements(_safe_unit, return_dtype=pl.String) for c in units),
    )


def _safe_unit(text: str | None) -> str:
    """An id or code a region sent, masked as the findings' free text is (FREE_TEXT)."""
    return mask_niks(text)[:MAX_TEXT] if text else ""


def _env() -> jinja2.Environment:
    from coklit_dq.publish.html import environment  # the pages' one Jinja setup

    return environment("coklit_dq.tanggapan")


# sheet column -> header (the contract's names where there is one)
# whose record, where, what, and the answer (review-reader P2-6), under words a region
# reads (the answer sheets keep the contract's names; this one is not read back)
SHEET_COLUMNS = {
    "kode_temuan": "Kode temuan",
    "nama_kec": "Kecamatan",
    "nama_desa": "Desa/Kelurahan",
    "no_tps": "TPS",
    "nama": "Nama",
    "keterangan": "Keterangan",
    "tanda": "Ditandai",
    "alasan": "Alasan",
    "tanggal_daftar": "Tanggapan atas daftar",
    "pertama_ditemukan": "Pertama ditemukan",
    "id_pemilih": "ID pemilih",
    "id_pantarlih": "ID Pantarlih",
    "id_kelompok": "ID kelompok",
    "kode_desa": "Kode desa",
}
TANDA_TEKS = {
    "BUKAN_MASALAH": "bukan masalah (tidak dimuat di daftar selama datanya tidak berubah)",
    "PUSDATIN": "NIK dipakai dua orang: diteruskan ke Pusdatin",
}


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, date):
        return tanggal_id(v)
    return str(v)


def write_sheet(workbook: Any, ditandai: pl.DataFrame | None) -> None:
    """Add the sheet "Ditandai bukan masalah" to an xlsxwriter workbook; every cell is
    written with write_string, so no value ever becomes a formula or a link."""
    ws = workbook.add_worksheet(SHEET)
    head = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    cols = [c for c in SHEET_COLUMNS if ditandai is not None and c in ditandai.columns]
    for i, c in enumerate(cols):
        ws.write_string(0, i, SHEET_COLUMNS[c], head)
        ws.set_column(i, i, 60 if c in ("keterangan", "alasan") else 18)
    if ditandai is None or ditandai.is_empty():
        ws.write_string(1, 0, "Belum ada temuan yang ditandai bukan masalah.")
        return
    for r, row in enumerate(ditandai.select(cols).iter_rows(named=True), start=1):
        for i, c in enumerate(cols):
            v = TANDA_TEKS.get(row[c], row[c]) if c == "tanda" else row[c]
            ws.write_string(r, i, _cell(v))
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, ditandai.height, len(cols) - 1)


def _ribuan(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def rejected_headline(ditolak: pl.DataFrame) -> str:
    """What the region must do about the files and rows set aside: a whole file (no row)
    was not read at all, a row alone was set aside while the rest of its file was used."""
    whole = ditolak["lokasi"].is_null()
    text = ["Tanggapan yang dibaca malam ini tetapi disisihkan."]
    if whole.any():
        text.append(
            "Baris tanpa nomor baris: seluruh berkas itu tidak dibaca; perbaiki sesuai "
            "alasannya (misalnya ganti nama berkas menjadi tanggapan.xlsx) lalu kirim lagi."
        )
    if not whole.all():
        text.append(
            "Baris bernomor: hanya baris itu yang disisihkan, baris lain dari berkas yang "
            'sama sudah dipakai; isi lagi tanggapan yang benar di lembar "Semua temuan" '
            "(lembar ini tidak dibaca) lalu kirim lagi ke kotak masuk."
        )
    return " ".join(text)


def write_rejected_sheet(workbook: Any, ditolak: pl.DataFrame) -> None:
    """Add the sheet "Tanggapan ditolak": what the region sent that was set aside, file by
    file and row by row, with the reason; every cell written with write_string."""
    ws = workbook.add_worksheet(DITOLAK_SHEET)
    head = workbook.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1})
    ws.write_string(0, 0, rejected_headline(ditolak))
    cols = list(DITOLAK_COLUMNS)
    for i, c in enumerate(cols):
        ws.write_string(1, i, DITOLAK_COLUMNS[c], head)
        ws.set_column(i, i, 40 if c in ("berkas", "alasan_tolak", "alasan") else 16)
    for r, row in enumerate(ditolak.select(cols).iter_rows(named=True), start=2):
        for i, c in enumerate(cols):
            ws.write_string(r, i, _cell(row[c]))
    n = int(ditolak["n_semua"][0])
    if n > ditolak.height:
        ws.write_string(
            ditolak.height + 2,
            0,
            f"… dan {_ribuan(n - ditolak.height)} baris lain yang disisihkan (hanya "
            f"{_ribuan(ditolak.height)} pertama yang ditampilkan).",
        )
    ws.freeze_panes(2, 0)
    ws.autofilter(1, 0, ditolak.height + 1, len(cols) - 1)
