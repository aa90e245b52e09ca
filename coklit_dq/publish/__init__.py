"""Stages 6-7: the night's outbox (reports-v1) and the email to each region.

    publish_night(con, tanggal, settings) -> PublishResult

writes, for every kabupaten/kota that has records tonight (or findings, or a
province file set aside tonight):

    <outbox>/<date>/<kode_prov>/<kode_kab>/{temuan.csv, temuan.xlsx, ringkasan.html}
    <outbox>/<date>/<kode_prov>/ringkasan.html
    <outbox>/<date>/nasional/{temuan.parquet, ringkasan.html, selesai.csv}
    <outbox>/<date>/_SELESAI.json        (completion marker, written last)

into staging first, then swaps it in (see `store`). A region's files hold only
its own findings; nik/nkk in the texts are masked unless settings.mask_ids is
False. `notify.notify_regions` mails each region afterwards.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import polars as pl

from coklit_dq.config import Settings
from coklit_dq.publish import html, tables, xlsx
from coklit_dq.publish.model import Night
from coklit_dq.publish.store import MARKER, InjectedFailure, NightWriter
from coklit_dq.rules.catalog import load_families

__all__ = ["MARKER", "InjectedFailure", "PublishResult", "RegionFiles", "publish_night"]

log = logging.getLogger("coklit_dq.publish")

KAB_FILES = ("temuan.csv", "temuan.xlsx", "ringkasan.html")


@dataclass
class RegionFiles:
    """One kabupaten/kota's publication: where, what, and its headline figures."""

    kode_prov: str
    kode_kab: str
    nama_kab: str
    nama_prov: str
    folder: str  # relative to the night folder: <kode_prov>/<kode_kab>
    files: list[str]
    n_temuan: int
    n_tinggi: int
    n_baru: int
    n_berulang: int
    n_selesai: int
    berkas: str  # the province's pemilih file tonight: used | quarantined | absent


@dataclass
class PublishResult:
    """What was published for a night, and where (no personal data)."""

    tanggal: date
    outbox: str  # the outbox root, without credentials
    night_url: str  # <outbox>/<date>
    regions: list[RegionFiles] = field(default_factory=list)
    provinces: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # relative to night_url
    n_temuan: int = 0
    n_selesai: int = 0
    seconds: float = 0.0

    def region(self, kode_kab: str) -> RegionFiles | None:
        return next((r for r in self.regions if r.kode_kab == kode_kab), None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tanggal"] = self.tanggal.isoformat()
        return d


def _notes(night: Night, kode_prov: str) -> list[str]:
    note = night.file_note(kode_prov)
    if note is None:
        return []
    if note["state"] == "quarantined":
        why = f": {note['reason']}" if note["reason"] else ""
        return [
            f"PERHATIAN: berkas data pemilih provinsi ini ({note['path']}) dikarantina malam "
            f"ini{why}. Rekaman pemilih wilayah ini tidak diperiksa malam ini."
        ]
    return ["PERHATIAN: berkas data pemilih provinsi ini tidak diterima malam ini."]


def _empty_like(df: pl.DataFrame) -> pl.DataFrame:
    return df.clear()


def publish_night(
    con: duckdb.DuckDBPyConnection,
    tanggal: date,
    settings: Settings,
    *,
    fail_after: int | None = None,
) -> PublishResult:
    """Write the night's outbox, replacing any earlier publication of it at once.

    `fail_after` makes the writer raise InjectedFailure after that many files
    (to test that a crash midway leaves the previous publication intact).
    """
    t0 = time.perf_counter()
    night = Night.load(con, tanggal, mask=settings.mask_ids)
    kabs = night.kabupaten()
    families = load_families()
    rows_all = xlsx.sheet_rows(night.findings, night.wilayah, night.catalog)
    by_kab = rows_all.partition_by("kode_kab", as_dict=True, include_key=True)
    resolved_by_kab = night.resolved.group_by("kode_kab").len()
    n_resolved = dict(resolved_by_kab.iter_rows())

    writer = NightWriter(settings.outbox, tanggal, settings.storage_options, fail_after=fail_after)
    result = PublishResult(tanggal=tanggal, outbox=writer.url, night_url=writer.night_url)
    try:
        writer.begin()
        for kab in kabs.iter_rows(named=True):
            prov, kode = kab["kode_prov"], kab["kode_kab"]
            rows = by_kab.get((kode,), _empty_like(rows_all))
            folder = f"{prov}/{kode}"
            writer.write(f"{folder}/temuan.csv", tables.csv_bytes(rows))
            writer.write(
                f"{folder}/temuan.xlsx",
                xlsx.build_xlsx(
                    rows,
                    xlsx.families_with_rest(rows, families),
                    judul=f"Temuan data coklit {kab['nama_kab']} ({kode}), {kab['nama_prov']}",
                    tanggal=tanggal,
                    catatan=_notes(night, prov),
                    n_selesai=n_resolved.get(kode, 0),
                ),
            )
            page = html.kab_page(night, prov, kode, kab["nama_kab"], kab["nama_prov"])
            writer.write(f"{folder}/ringkasan.html", page.encode("utf-8"))
            state = night.files.get(prov)
            result.regions.append(
                RegionFiles(
                    kode_prov=prov,
                    kode_kab=kode,
                    nama_kab=kab["nama_kab"],
                    nama_prov=kab["nama_prov"],
                    folder=folder,
                    files=[f"{folder}/{f}" for f in KAB_FILES],
                    n_temuan=rows.height,
                    n_tinggi=int((rows["tingkat"] == "TINGGI").sum()),
                    n_baru=int((rows["status_temuan"] == "BARU").sum()),
                    n_berulang=int((rows["status_temuan"] == "BERULANG").sum()),
                    n_selesai=n_resolved.get(kode, 0),
                    berkas=state.state if state else "absent",
                )
            )
        for (prov,), part in kabs.partition_by("kode_prov", as_dict=True).items():
            writer.write(f"{prov}/ringkasan.html", html.prov_page(night, prov, part).encode())
            result.provinces.append(prov)
        writer.write("nasional/temuan.parquet", tables.parquet_bytes(night.findings))
        writer.write("nasional/selesai.csv", tables.csv_bytes(night.resolved))
        writer.write("nasional/ringkasan.html", html.nasional_page(night, kabs).encode())
        result.files = list(writer.written)
        result.n_temuan = night.findings.height
        result.n_selesai = night.resolved.height
        writer.commit(
            {
                "format": "coklit-reports/1",
                "tanggal_ekspor": tanggal.isoformat(),
                "diterbitkan": datetime.now(UTC).isoformat(timespec="seconds"),
                "jumlah_temuan": result.n_temuan,
                "jumlah_selesai": result.n_selesai,
                "berkas": result.files,
            }
        )
    except BaseException:
        writer.abort()
        raise
    result.provinces.sort()
    result.seconds = round(time.perf_counter() - t0, 3)
    log.info(
        "published %s: %d kabupaten/kota, %d provinces, %d findings, %d files in %.1f s",
        tanggal,
        len(result.regions),
        len(result.provinces),
        result.n_temuan,
        len(result.files) + 1,
        result.seconds,
    )
    return result
