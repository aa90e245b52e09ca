"""Stages 6-7: the night's outbox (reports-v1) and the email to each region.

    publish_night(con, tanggal, settings) -> PublishResult

writes, for every kabupaten/kota that has records tonight (or findings, or a
province file set aside tonight):

    <outbox>/<date>/<kode_prov>/<kode_kab>/{temuan.csv, temuan.xlsx, ringkasan.html,
                                          selesai.csv (an addition: its resolved findings)}
    <outbox>/<date>/<kode_prov>/ringkasan.html
    <outbox>/<date>/nasional/{temuan.parquet, ringkasan.html, selesai.csv,
                              proses.html, kamus.html, tautan.html (for Pusdatin)}
    <outbox>/<date>/_SELESAI.json        (completion marker, written last)

into staging first, then swaps it in (see `store`). A region's files hold only
its own findings; nik/nkk in the texts are masked unless settings.mask_ids is
False. `notify.notify_regions` mails each region afterwards.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import polars as pl

from coklit_dq.config import Settings
from coklit_dq.publish import html, pusdatin, tables, tautan, xlsx
from coklit_dq.publish.model import Night
from coklit_dq.publish.store import MARKER, InjectedFailure, NightWriter
from coklit_dq.rules.catalog import load_families
from coklit_dq.tanggapan import TanggapanNight

__all__ = ["MARKER", "InjectedFailure", "PublishResult", "RegionFiles", "publish_night"]

log = logging.getLogger("coklit_dq.publish")

# reports-v1's three files, plus (an addition) the kab/kota's own resolved findings,
# so a region never needs the national selesai.csv, which holds every region's records
KAB_FILES = ("temuan.csv", "temuan.xlsx", "ringkasan.html", "selesai.csv")
MAX_WORKERS = 4
MIN_KAB_PER_WORKER = 8


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
    # regions already mailed about this publication ("nasional" for Pusdatin), so a
    # retried notify step does not send the same message twice
    notified: list[str] = field(default_factory=list)

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
    if note["state"] == "quarantined":  # the engine's reason is Pusdatin's (proses.html)
        return [
            f"PERHATIAN: berkas data pemilih provinsi ini ({note['path']}) rusak atau tidak "
            "lengkap malam ini dan disisihkan; Pusdatin sedang menanganinya. Data pemilih "
            "wilayah ini tidak diperiksa malam ini."
        ]
    return ["PERHATIAN: berkas data pemilih provinsi ini tidak diterima malam ini."]


Job = tuple[tuple[Any, ...], dict[str, Any]]


def _xlsx_job(job: Job) -> bytes:
    args, kwargs = job
    return xlsx.build_xlsx(*args, **kwargs)


def _auto_workers(n_kab: int) -> int:
    """Workbooks are the slow part (xlsxwriter is pure Python): on a big night they are
    built by parallel processes; a small night is done faster in this process."""
    if n_kab < MIN_KAB_PER_WORKER * 2:
        return 1
    # one CPU stays with this process (pages, CSV, writing); spawning pays off from 4 CPUs
    spare = (os.cpu_count() or 1) - 1
    if spare < 3:
        return 1
    return max(1, min(MAX_WORKERS, spare, n_kab // MIN_KAB_PER_WORKER))


@contextmanager
def _workbooks(jobs: list[Job], workers: int) -> Iterator[Iterator[bytes]]:
    """The workbooks' bytes in job order, built here or by a pool of `workers` processes."""
    if workers <= 1 or len(jobs) <= 1:
        yield map(_xlsx_job, jobs)
        return
    # spawn: this process holds a DuckDB connection and polars threads; never fork those
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
    try:
        yield pool.map(_xlsx_job, jobs)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _write_kab(
    writer: NightWriter,
    night: Night,
    kab: dict[str, Any],
    rows: pl.DataFrame,
    book: bytes,
    *,
    n_resolved: dict[str, int],
) -> RegionFiles:
    """The files of one kabupaten/kota (KAB_FILES); returns its line of the result."""
    prov, kode = kab["kode_prov"], kab["kode_kab"]
    folder = f"{prov}/{kode}"
    writer.write(f"{folder}/temuan.csv", tables.csv_bytes(rows))
    writer.write(f"{folder}/temuan.xlsx", book)
    page = html.kab_page(night, prov, kode, kab["nama_kab"], kab["nama_prov"])
    writer.write(f"{folder}/ringkasan.html", page.encode("utf-8"))
    resolved = night.resolved.filter(pl.col("kode_kab") == kode)
    writer.write(f"{folder}/selesai.csv", tables.csv_bytes(resolved))
    state = night.files.get(prov)
    return RegionFiles(
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


def publish_night(
    con: duckdb.DuckDBPyConnection,
    tanggal: date,
    settings: Settings,
    *,
    fail_after: int | None = None,
    workers: int | None = None,
) -> PublishResult:
    """Write the night's outbox, replacing any earlier publication of it at once.

    `fail_after` makes the writer raise InjectedFailure after that many files
    (to test that a crash midway leaves the previous publication intact).
    `workers`: processes building the workbooks (None: chosen by the night's size).
    """
    t0 = time.perf_counter()
    night = Night.load(con, tanggal, mask=settings.mask_ids)
    # tanggapan-v1: answered findings leave the region lists (own sheet), pages get figures;
    # nasional/temuan.parquet keeps every finding of the night (Pusdatin's list)
    semua = night.findings
    night.tanggapan = TanggapanNight.load(con, tanggal)
    night.findings, ditandai = night.tanggapan.split(semua)
    night.ditandai = ditandai
    kabs = night.kabupaten()
    families = load_families()
    rows_all = xlsx.sheet_rows(night.findings, night.catalog)
    by_kab = rows_all.partition_by("kode_kab", as_dict=True, include_key=True)
    n_resolved = dict(night.resolved.group_by("kode_kab").len().iter_rows())

    kab_rows = list(kabs.iter_rows(named=True))
    jobs: list[Job] = []
    for kab in kab_rows:
        prov, kode = kab["kode_prov"], kab["kode_kab"]
        rows = by_kab.get((kode,), rows_all.clear())
        # answered like the list: not a problem -> off the sheet; fixed yet standing -> said
        berlanjut, _ = night.tanggapan.split(night.berlanjut.filter(pl.col("kode_kab") == kode))
        kwargs = {
            "judul": f"Temuan data coklit {kab['nama_kab']} ({kode}), {kab['nama_prov']}",
            "tanggal": tanggal,
            "catatan": _notes(night, prov)
            + ([xlsx.BERLANJUT_NOTE.format(n=berlanjut.height)] if berlanjut.height else [])
            + night.tanggapan.notes(kode),
            "berlanjut": berlanjut,
            "n_selesai": n_resolved.get(kode, 0),
            "ditandai": ditandai.filter(pl.col("kode_kab") == kode),
            "ditolak": night.tanggapan.ditolak_of(kode),
        }
        jobs.append(((rows, xlsx.families_with_rest(rows, families)), kwargs))
    n_workers = workers if workers is not None else _auto_workers(len(jobs))

    writer = NightWriter(settings.outbox, tanggal, settings.storage_options, fail_after=fail_after)
    result = PublishResult(tanggal=tanggal, outbox=writer.url, night_url=writer.night_url)
    try:
        writer.begin()
        with _workbooks(jobs, n_workers) as books:
            for kab, job, book in zip(kab_rows, jobs, books, strict=True):
                result.regions.append(
                    _write_kab(writer, night, kab, job[0][0], book, n_resolved=n_resolved)
                )
        for (prov,), part in kabs.partition_by("kode_prov", as_dict=True).items():
            writer.write(f"{prov}/ringkasan.html", html.prov_page(night, prov, part).encode())
            result.provinces.append(prov)
        writer.write("nasional/temuan.parquet", tables.parquet_bytes(semua))
        writer.write("nasional/selesai.csv", tables.csv_bytes(night.resolved))
        docs = pusdatin.data_docs_index(settings, tanggal)
        page = html.nasional_page(night, kabs, data_docs=docs.as_uri() if docs else None)
        writer.write("nasional/ringkasan.html", page.encode())
        extra: dict[str, dict[str, Any]] = {
            "proses": {"proses": pusdatin.run_record(con, tanggal)},
            "kamus": {"kamus": pusdatin.dictionary()},
            "tautan": {"tautan": tautan.linkage_sample(con, tanggal),
                       "batas": tautan.SAMPLE_PAIRS},
        }  # fmt: skip
        for name, context in extra.items():
            text = html.pusdatin_page(night, name, **context)
            writer.write(f"nasional/{name}.html", text.encode())
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
        "published %s: %d kabupaten/kota, %d provinces, %d findings, %d files in %.1f s "
        "(%d workbook workers)",
        tanggal,
        len(result.regions),
        len(result.provinces),
        result.n_temuan,
        len(result.files) + 1,
        result.seconds,
        n_workers,
    )
    return result
