"""Stage 7: tell each region by email that its files of the night are ready.

    notify_regions(con, tanggal, result, settings) -> NotifyResult

Recipients come from settings.recipients_file (config/recipients.yaml):

    nasional: [pusdatin@...]            # the national summary
    kabupaten:
      "3101": [kpu-jakpus@..., ...]     # per kode_kab (quote the code)

One short message in Bahasa Indonesia per kabupaten/kota that has recipients
(counts, progress of the province's file, where the files are), one national
summary, all through one SMTP connection to settings.smtp_host:smtp_port.
With no smtp_host the step is skipped with a log line. Messages hold counts
and paths only: no nik, no names of voters.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import duckdb
import yaml

from coklit_dq.config import Settings
from coklit_dq.privacy import LINE_BREAKERS
from coklit_dq.publish import PublishResult, RegionFiles
from coklit_dq.publish.html import tanggal_id

log = logging.getLogger("coklit_dq.publish.notify")


@dataclass(frozen=True)
class Recipients:
    nasional: tuple[str, ...] = ()
    kabupaten: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class NotifyResult:
    sent: list[str] = field(default_factory=list)  # kode_kab, or "nasional"
    without_recipients: list[str] = field(default_factory=list)
    skipped: bool = False


def _addresses(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    return tuple(str(a).strip() for a in value if str(a).strip())


def load_recipients(path: Path) -> Recipients:
    """Read the recipients file; kode_kab keys may be written with or without quotes.

    A file that is not there is an error naming it (the notify step fails, so the
    night ends failed): read only when a mail server is set, i.e. mail was asked for,
    and a mistyped COKLIT_DQ_RECIPIENTS must not pass as "mailed nobody".
    """
    if not Path(path).is_file():
        raise FileNotFoundError(
            f"no recipients file at {path} (COKLIT_DQ_RECIPIENTS): no region was mailed"
        )
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    kab = raw.get("kabupaten") or {}
    return Recipients(
        nasional=_addresses(raw.get("nasional")),
        kabupaten={str(k): _addresses(v) for k, v in kab.items() if _addresses(v)},
    )


def _angka(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def kab_message(result: PublishResult, region: RegionFiles) -> tuple[str, str]:
    """Subject and body for one kabupaten/kota."""
    tgl = tanggal_id(result.tanggal)
    folder = f"{result.night_url}/{region.folder}"
    subject = (
        f"[Coklit] {region.nama_kab}: {_angka(region.n_temuan)} temuan data coklit "
        f"{result.tanggal.isoformat()}"
    )
    lines = [
        f"Yth. KPU {region.nama_kab},",
        "",
        f"Hasil pemeriksaan kualitas data coklit untuk data ekspor {tgl} sudah tersedia.",
        "",
    ]
    if region.berkas == "quarantined":
        lines += [
            "PERHATIAN: berkas data pemilih provinsi Anda rusak atau tidak lengkap malam ini dan",
            "disisihkan, sehingga data pemilih wilayah Anda tidak diperiksa malam ini. Pusdatin",
            "sedang menanganinya.",
            "",
        ]
    elif region.berkas == "absent":
        lines += [
            "PERHATIAN: berkas data pemilih provinsi Anda tidak diterima malam ini.",
            "",
        ]
    if region.n_temuan == 0:
        lines.append("Tidak ada temuan malam ini.")
    else:
        lines += [
            f"Temuan malam ini     : {_angka(region.n_temuan)}",
            f"  tingkat TINGGI     : {_angka(region.n_tinggi)}",
            f"  baru               : {_angka(region.n_baru)}",
            f"  berulang           : {_angka(region.n_berulang)}",
        ]
    lines += [
        f"Temuan kemarin yang sudah selesai: {_angka(region.n_selesai)}",
        "",
        "Berkas (daftar temuan per desa dan ringkasan):",
        f"  {folder}/temuan.xlsx",
        f"  {folder}/ringkasan.html",
        f"  {folder}/temuan.csv",
        "",
        "NIK dan NKK pada berkas ditampilkan tersamar. Mohon temuan ditindaklanjuti bersama",
        "PPK dan PPS sesuai kolom keterangan.",
        "",
        "Pesan ini dikirim otomatis oleh coklit-dq.",
    ]
    return subject, "\n".join(lines) + "\n"


def nasional_message(result: PublishResult) -> tuple[str, str]:
    tgl = tanggal_id(result.tanggal)
    worst = sorted(result.regions, key=lambda r: (-r.n_tinggi, -r.n_temuan, r.kode_kab))[:10]
    set_aside = sorted({r.kode_prov for r in result.regions if r.berkas != "used"})
    subject = (
        f"[Coklit] Ringkasan nasional {result.tanggal.isoformat()}: "
        f"{_angka(result.n_temuan)} temuan"
    )
    lines = [
        f"Hasil pemeriksaan kualitas data coklit untuk data ekspor {tgl} sudah terbit.",
        "",
        f"Temuan malam ini              : {_angka(result.n_temuan)}",
        f"Temuan kemarin yang selesai   : {_angka(result.n_selesai)}",
        f"Provinsi / kabupaten-kota     : {len(result.provinces)} / {len(result.regions)}",
    ]
    if set_aside:
        lines.append(f"Provinsi tanpa data malam ini : {', '.join(set_aside)}")
    if worst and worst[0].n_temuan:
        lines += ["", "Kabupaten/kota dengan temuan TINGGI terbanyak:"]
        lines += [
            f"  {r.nama_kab} ({r.kode_kab}): {_angka(r.n_tinggi)} tinggi, "
            f"{_angka(r.n_temuan)} temuan"
            for r in worst
            if r.n_temuan
        ]
    lines += [
        "",
        f"Ringkasan nasional: {result.night_url}/nasional/ringkasan.html",
        f"Semua temuan      : {result.night_url}/nasional/temuan.parquet",
        "",
        "Pesan ini dikirim otomatis oleh coklit-dq.",
    ]
    return subject, "\n".join(lines) + "\n"


def _message(settings: Settings, to: tuple[str, ...], subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = ", ".join(to)
    # a line break in a region's name (from the export's wilayah) would make a header the
    # email library refuses (or, in another one, a header injection)
    msg["Subject"] = " ".join(LINE_BREAKERS.sub(" ", subject).split())
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=settings.mail_from.rsplit("@", 1)[-1])
    msg.set_content(body, charset="utf-8")
    return msg


def notify_regions(
    con: duckdb.DuckDBPyConnection | None,
    tanggal: date,
    result: PublishResult | None,
    settings: Settings,
) -> NotifyResult:
    """Email every kabupaten/kota with recipients, and the national list.

    `con` is unused (the figures come from `result`); kept for the stage interface.
    """
    out = NotifyResult()
    if result is None:
        log.warning("nothing was published for %s: no email sent", tanggal)
        out.skipped = True
        return out
    if not settings.smtp_host:
        log.info("no SMTP host configured: email for %s skipped", tanggal)
        out.skipped = True
        return out
    recipients = load_recipients(settings.recipients_file)
    messages: list[tuple[str, EmailMessage]] = []
    for region in result.regions:
        to = recipients.kabupaten.get(region.kode_kab)
        if not to:
            out.without_recipients.append(region.kode_kab)
            continue
        messages.append((region.kode_kab, _message(settings, to, *kab_message(result, region))))
    if recipients.nasional:
        messages.append(
            ("nasional", _message(settings, recipients.nasional, *nasional_message(result)))
        )
    if not messages:
        log.info("no recipients for any region of %s: no email sent", tanggal)
        return out
    pending = [(t, m) for t, m in messages if t not in result.notified]
    if not pending:
        log.info("every region was already notified of this publication of %s", tanggal)
        return out
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=60) as smtp:
        for target, msg in pending:
            smtp.send_message(msg)
            out.sent.append(target)
            result.notified.append(target)  # a retry after a failure here skips it
    log.info(
        "notified %d regions for %s (%d kabupaten/kota without recipients)",
        len(out.sent),
        tanggal,
        len(out.without_recipients),
    )
    return out


def failure_message(tanggal: str, reason: str, run_name: str | None = None) -> tuple[str, str]:
    """Subject and body of the mail to Pusdatin about a failed night (no personal data)."""
    try:
        nama_malam = tanggal_id(date.fromisoformat(tanggal))
    except ValueError:
        nama_malam = tanggal
    subject = f"coklit-dq: pemeriksaan malam {nama_malam} GAGAL"
    lines = [
        f"Pemeriksaan data coklit untuk ekspor {nama_malam} tidak selesai dengan baik.",
        "",
        f"Run Prefect : {run_name or '-'}",
        f"Alasan      : {reason or '-'}",
        "",
        "Lihat run tersebut di Prefect (log dan artefak coklit-nightly-summary), perbaiki",
        "penyebabnya, lalu jalankan ulang malam itu (docs/operations.md).",
        "",
        "Pesan ini dikirim otomatis oleh coklit-dq.",
    ]
    return subject, "\n".join(lines) + "\n"


def notify_failure(
    settings: Settings, tanggal: str, reason: str, run_name: str | None = None
) -> bool:
    """Mail settings.pusdatin_email that a night failed; False when no one is configured.

    Same SMTP path as the regions' mail (settings.smtp_host:smtp_port). `reason`
    must already be scrubbed (the flow's failure hook does it).
    """
    if not settings.pusdatin_email:
        log.warning("night %s failed; no Pusdatin address configured: no mail sent", tanggal)
        return False
    if not settings.smtp_host:
        log.warning("night %s failed; no SMTP host configured: Pusdatin not mailed", tanggal)
        return False
    to = _addresses(settings.pusdatin_email.split(","))
    msg = _message(settings, to, *failure_message(tanggal, reason, run_name))
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=60) as smtp:
        smtp.send_message(msg)
    log.info("Pusdatin mailed: night %s failed", tanggal)
    return True
