"""Read the inbox once a night: every response file not read before, applied or set aside.

    read_inbox(con, tanggal, settings) -> InboxResult

Layout (tanggapan-v1): <inbox>/<YYYY-MM-DD>/<kode_prov>/<kode_kab>/tanggapan.xlsx|.csv,
under any fsspec root. The path decides the night answered and the region; its
parts are checked as codes (prov 2 digits, kab 4 starting with prov) and never
built from a file's content. A file's sha256 decides "already read": the same
bytes read again change nothing. A file set aside for its place (a folder that is
not a date, a province or a kab/kota, a file too deep) is keyed by its place and
content, so the region that moves the same file to the right place has it read.
Each file is stored (bytes included, up to the size cap) with its rows in one
transaction, so nothing a region sent is lost and a crash midway leaves the file to
be read again tomorrow.

Every file and name of the inbox is hostile: a symbolic link is set aside and
never read (as in ingest; stored under the sha256 of `link:<path>`, since its
bytes are never read), a file deeper than the layout is set aside with its
reason, and an unexpected error while checking or storing one file sets that
file aside (stored, so it is not read again) and the other files go on. Names
from the inbox appear in log lines only as `shown_name` gives them (masked, on
one line): a region may name a folder after a voter's nik. A rerun of an older
night reads nothing (see read_inbox).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

import duckdb
import fsspec
import polars as pl
from fsspec.implementations.local import LocalFileSystem

from coklit_dq import warehouse
from coklit_dq.config import Settings
from coklit_dq.contract import PROVINCE_CODES
from coklit_dq.ingest.quarantine import shown_name
from coklit_dq.ingest.source import is_link, link_in_path, open_local, special_kind
from coklit_dq.privacy import scrub
from coklit_dq.tanggapan import store
from coklit_dq.tanggapan.reader import MAX_BYTES, Unreadable, read_rows
from coklit_dq.tanggapan.units import VERSION, fingerprint_sql
from coklit_dq.tanggapan.validate import Applied, SetAside, check_rows

log = logging.getLogger("coklit_dq.tanggapan")

NAMES = ("tanggapan.xlsx", "tanggapan.csv")
MISPLACED = "letak berkas tidak sesuai format kotak masuk"
WRONG_NAME = "nama berkas harus tanggapan.xlsx atau tanggapan.csv"
CHUNK = 1 << 20
# files are looked for this deep (the layout is 4): deeper ones are set aside as out of
# place; the bound only guards against a filesystem that would follow a folder link
MAX_DEPTH = 16
LINK = "berkas berupa tautan (symlink), bukan berkas biasa; tautan tidak pernah dibuka"
SPECIAL = "berkas khusus (pipe, soket atau perangkat), bukan berkas biasa; tidak pernah dibuka"
FAILED = "berkas tidak dapat diproses karena kesalahan sistem; kesalahan ini dicatat untuk Pusdatin"
NOT_UTF8 = "nama folder atau berkas bukan teks UTF-8"


@dataclass
class InboxResult:
    """What a night did with the inbox (no personal data: paths, counts, reasons)."""

    tanggal: date
    used: list[str] = field(default_factory=list)
    set_aside: list[dict[str, str]] = field(default_factory=list)  # path + reason
    already_read: int = 0
    rows_applied: int = 0
    rows_set_aside: int = 0
    later_night: date | None = None  # a rerun of an older night: the inbox was not read
    for_later: int = 0  # files answering a list of this night or later: left for then


@dataclass(frozen=True)
class InboxPath:
    rel: str
    tanggal_daftar: date | None
    kode_prov: str | None
    kode_kab: str | None
    problem: str | None  # why the path itself is not acceptable


# What an operating system or an open spreadsheet leaves beside a file (Finder's
# .DS_Store, Explorer's Thumbs.db and desktop.ini, Excel's ~$ lock file): no answer, not
# told to the region as one refused
SYSTEM_FILES = ("thumbs.db", "desktop.ini")


def _system_file(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return name.startswith((".", "~$")) or name.lower() in SYSTEM_FILES


def parse_path(rel: str, tonight: date) -> InboxPath | None:
    """Check `<date>/<prov>/<kab>/tanggapan.*`; None for a file to leave for a later night.

    A name that is not UTF-8 is kept escaped (`shown_name`): it can be stored and shown."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return InboxPath(shown_name(rel), None, None, None, NOT_UTF8)
    parts = rel.split("/")
    if len(parts) < 4:
        return InboxPath(rel, None, None, None, MISPLACED)
    # deeper than the layout, or another name: set aside, told to the region its folder names
    wrong = MISPLACED if len(parts) > 4 else None if parts[3] in NAMES else WRONG_NAME
    d, prov, kab = parts[:3]
    try:
        tanggal = date.fromisoformat(d) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) else None
    except ValueError:
        tanggal = None
    if tanggal is None:
        return InboxPath(rel, None, None, None, "folder tanggal bukan YYYY-MM-DD")
    if tanggal >= tonight:
        return None  # answers a list not published yet: read on a later night
    if not (re.fullmatch(r"\d{2}", prov) and prov in PROVINCE_CODES):
        return InboxPath(rel, tanggal, None, None, "kode provinsi pada folder tidak sah")
    if not (re.fullmatch(r"\d{4}", kab) and kab.startswith(prov)):
        return InboxPath(rel, tanggal, prov, None, "kode kabupaten/kota pada folder tidak sah")
    return InboxPath(rel, tanggal, prov, kab, wrong)


def _open(fs: Any, path: str) -> Any:
    """A local file is opened only if regular, without following a link or waiting on a
    pipe (one made after the listing: `open_local`)."""
    if isinstance(fs, LocalFileSystem):
        return open_local(path)
    return fs.open(path, "rb")


def _read(fs: Any, path: str) -> tuple[str, int, bytes | None]:
    """sha256, size and (when within the cap) the bytes of a file, read in chunks."""
    h = hashlib.sha256()
    size = 0
    kept = bytearray()
    with _open(fs, path) as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
            if size <= MAX_BYTES:
                kept += chunk
    return h.hexdigest(), size, bytes(kept) if size <= MAX_BYTES else None


def _mtime(fs: Any, path: str) -> datetime | None:
    try:
        info = fs.info(path)
    except OSError:
        return None
    m = info.get("mtime") or info.get("LastModified") or info.get("last_modified")
    if isinstance(m, int | float):
        return datetime.fromtimestamp(m, UTC)
    return m if isinstance(m, datetime) else None


def _list(fs: Any, root: str) -> list[tuple[str, str | None]]:
    """Every file under the inbox, relative to it, and why it is never opened: it is (or
    lies under) a symbolic link (`link_in_path`, as ingest decides it), or it is a named
    pipe, socket or device (`special_kind`); None for a regular file."""
    if not fs.exists(root):
        return []
    found = fs.find(root, maxdepth=MAX_DEPTH, detail=True)
    base = root.rstrip("/") + "/"
    rel = {p: p[len(base) :] for p in found if p.startswith(base)}
    links = {r for p, r in rel.items() if is_link(found[p])}

    def never_opened(p: str, r: str) -> str | None:
        if link_in_path(fs, root.rstrip("/"), r, links):
            return LINK
        return SPECIAL if special_kind(found[p]) else None

    return sorted((r, never_opened(p, r)) for p, r in rel.items())


def _known(con: duckdb.DuckDBPyConnection, sha: str) -> bool:
    return bool(
        con.execute("SELECT count(*) FROM tanggapan_berkas WHERE sha256 = ?", [sha]).fetchall()[0][
            0
        ]
    )


_TYPES: dict[str, pl.DataType] = {
    "baris": pl.Int64(),
    "tanggal_daftar": pl.Date(),
    "tanggal_proses": pl.Date(),
    "diterima": pl.Datetime("us", "UTC"),
}


def _insert(
    con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]], key: tuple[str, ...]
) -> None:
    """Rows of one file into `table` in one statement (a file may hold a million rows:
    one INSERT each took a quarter of an hour); the first row of a `key` counts."""
    if not rows:
        return
    schema = {c: _TYPES.get(c, pl.String()) for c in rows[0]}
    df = pl.DataFrame(rows, schema=schema, orient="row").unique(key, keep="first")
    cols = ", ".join(df.columns)
    con.register("_tanggapan_baris_simpan", df.to_arrow())
    try:
        con.execute(
            f"INSERT OR IGNORE INTO {table} ({cols}) SELECT {cols} FROM _tanggapan_baris_simpan"
        )
    finally:
        con.unregister("_tanggapan_baris_simpan")


def _store(
    con: duckdb.DuckDBPyConnection,
    *,
    tanggal: date,
    p: InboxPath,
    sha: str,
    size: int,
    data: bytes | None,
    mtime: datetime | None,
    reason: str | None,
    applied: list[Applied],
    aside: list[SetAside],
    n_rows: int,
) -> None:
    now = datetime.now(UTC)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "INSERT INTO tanggapan_berkas (sha256, path, tanggal_daftar, kode_prov, kode_kab, "
            "diterima, waktu_berkas, tanggal_proses, ukuran, isi, state, reason, n_baris, "
            "n_dipakai, n_ditolak, malam_sebelum) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                sha,
                p.rel,
                p.tanggal_daftar,
                p.kode_prov,
                p.kode_kab,
                now,
                mtime,
                tanggal,
                size,
                data,
                "set_aside" if reason else "used",
                reason,
                n_rows,
                len(applied),
                len(aside),
                warehouse.previous_night(con, tanggal),
            ],
        )
        where = {
            "sha256": sha,
            "tanggal_daftar": p.tanggal_daftar,
            "diterima": now,
            "tanggal_proses": tanggal,
        }
        _insert(
            con,
            "tanggapan_ditolak",
            [
                {**where, "lokasi": s.row.lokasi, "baris": s.row.baris, "kode_prov": p.kode_prov,
                 "kode_kab": p.kode_kab, "kolom": s.kolom, "alasan_tolak": s.alasan,
                 **{c: s.row.values[c] for c in store.ROW_COLUMNS}}
                for s in aside
            ],
            key=("lokasi", "kolom"),
        )  # fmt: skip
        used = []
        for a in applied:
            v = dict(a.row.values)
            v.update({k: ("" if x is None else str(x)) for k, x in a.unit.items()})
            v["kode_temuan"] = a.row.values["kode_temuan"].strip().upper()
            v["tanggapan"] = a.tanggapan
            used.append(
                {**where, "lokasi": a.row.lokasi, "baris": a.row.baris, "kode_prov": a.kode_prov,
                 "kode_kab": a.kode_kab, "kunci": a.kunci,
                 **{c: v[c] for c in store.ROW_COLUMNS}}
            )  # fmt: skip
        _insert(con, "tanggapan_dipakai", used, key=("lokasi",))
        if applied:
            listed = p.tanggal_daftar
            _fingerprint(con, sha, listed if listed and _records_kept(con, listed) else tanggal)
            _labels(con, sha)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _records_kept(con: duckdb.DuckDBPyConnection, tanggal: date) -> bool:
    """Whether the warehouse still holds the records of night `tanggal` (retention)."""
    row = con.execute("SELECT 1 FROM pemilih WHERE tanggal_ekspor = ? LIMIT 1", [tanggal])
    return bool(row.fetchall())


def refresh_fingerprints(con: duckdb.DuckDBPyConnection) -> None:
    """Fingerprints stored by an earlier version of units.fingerprint_sql taken again, on
    the night they were taken on (the answered list's, else the reading night's) while the
    warehouse holds its records; the others stay, and their answers lapse visibly."""
    files = con.execute(
        "SELECT DISTINCT d.sha256, d.tanggal_daftar, d.tanggal_proses FROM tanggapan_dipakai d "
        "WHERE d.sidik IS NOT NULL AND NOT starts_with(d.sidik, ?)",
        [VERSION],
    ).fetchall()
    for sha, listed, read in files:
        night = listed if _records_kept(con, listed) else read
        if _records_kept(con, night):
            _fingerprint(con, sha, night)


def _fingerprint(con: duckdb.DuckDBPyConnection, sha: str, tanggal: date) -> None:
    """The unit's fingerprint on night `tanggal`, on the rows of this file (BUKAN_MASALAH
    holds while it stays the same). The night is the answered list's: the data the region
    looked at, so a record changed between the list and the night that reads the answer
    is listed again. Only when that night's records were pruned is it the reading night."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _tanggapan_sidik AS
        {
            fingerprint_sql(
                "(SELECT lokasi, kode_temuan, nullif(id_pemilih, '') AS id_pemilih, "
                "nullif(kode_desa, '') AS kode_desa, "
                "TRY_CAST(nullif(no_tps, '') AS INTEGER) AS no_tps, "
                "nullif(id_pantarlih, '') AS id_pantarlih "
                "FROM tanggapan_dipakai WHERE sha256 = $sha)"
            )
        }
        """,
        {"sha": sha, "tanggal": tanggal},
    )
    con.execute(
        "UPDATE tanggapan_dipakai d SET sidik = s.sidik FROM _tanggapan_sidik s "
        "WHERE d.sha256 = ? AND d.lokasi = s.lokasi",
        [sha],
    )
    con.execute("DROP TABLE IF EXISTS _tanggapan_sidik")


def _labels(con: duckdb.DuckDBPyConnection, sha: str) -> None:
    """GANDA_ORANG answers as clerical labels on each pair of the answered group."""
    con.execute(
        """
        INSERT OR IGNORE INTO tanggapan_label
        SELECT DISTINCT least(d.id_pemilih, t.id_pemilih), greatest(d.id_pemilih, t.id_pemilih),
               d.tanggapan = 'SUDAH_DIPERBAIKI', d.tanggal_daftar, d.diterima, d.kode_kab,
               d.sha256, d.lokasi
        FROM tanggapan_dipakai d
        JOIN temuan t ON t.tanggal_ekspor = d.tanggal_daftar AND t.kode_temuan = 'GANDA_ORANG'
         AND t.id_kelompok = d.id_kelompok AND t.id_pemilih <> d.id_pemilih
        WHERE d.sha256 = ? AND d.kode_temuan = 'GANDA_ORANG'
          AND d.tanggapan IN ('BUKAN_MASALAH', 'SUDAH_DIPERBAIKI')
        """,
        [sha],
    )


def _has_list(con: duckdb.DuckDBPyConnection, tanggal: date) -> bool:
    return bool(
        con.execute("SELECT count(*) FROM runs WHERE tanggal_ekspor = ?", [tanggal]).fetchall()[0][
            0
        ]
        or con.execute(
            "SELECT count(*) FROM temuan WHERE tanggal_ekspor = ?", [tanggal]
        ).fetchall()[0][0]
    )


def read_inbox(con: duckdb.DuckDBPyConnection, tanggal: date, settings: Settings) -> InboxResult:
    """Read every response under settings.inbox not read before; apply or set aside.

    A rerun of an older night (a later night has run) reads nothing: what arrived since
    belongs to the newest night, and the rerun gives what its first run gave."""
    store.ensure_schema(con)
    refresh_fingerprints(con)
    result = InboxResult(tanggal=tanggal)
    later = warehouse.next_night(con, tanggal)
    if later is not None:
        log.info("inbox not read for %s: a later night (%s) has run and reads it", tanggal, later)
        result.later_night = later
        return result
    fs, root = fsspec.core.url_to_fs(settings.inbox, **settings.storage_options)
    for rel, never_opened in _list(fs, root):
        if _system_file(rel):
            continue
        p = parse_path(rel, tanggal)
        if p is None:
            result.for_later += 1
            continue
        full = f"{root.rstrip('/')}/{rel}"
        shown = shown_name(rel)  # for log lines
        if never_opened:  # its key is its path, so it is stored once
            sha, size, data = hashlib.sha256(f"link:{p.rel}".encode()).hexdigest(), 0, None
        else:
            try:
                sha, size, data = _read(fs, full)
            except OSError as exc:  # not read: tried again on the next night
                why = exc.strerror or type(exc).__name__
                log.warning("response %r cannot be read: %s", shown, why)
                continue
        if p.problem is not None:  # set aside for its place: the same bytes put in the
            # right place are another file, read then (its key: place + content)
            sha = hashlib.sha256(f"letak:{p.rel}:{sha}".encode()).hexdigest()
        if _known(con, sha):
            result.already_read += 1
            continue
        # the bytes are kept of answer files only: a region's scans or photos dropped in the
        # inbox stay there, and are never copied into the warehouse (size and hash are)
        kept = data if rel.rsplit("/", 1)[-1] in NAMES else None
        save = partial(_store, con, tanggal=tanggal, p=p, sha=sha, size=size, data=kept)
        try:
            reason, applied, aside, n_rows = _check(con, p, data, never_opened)
            save(
                mtime=None if never_opened else _mtime(fs, full),
                reason=reason,
                applied=applied,
                aside=aside,
                n_rows=n_rows,
            )
        except Exception as exc:  # one file never stops the others' answers
            log.error(
                "response %r set aside after an unexpected error: %s: %r",
                shown,
                type(exc).__name__,
                (scrub(str(exc)) or "")[:200],
            )
            reason, applied, aside = FAILED, [], []
            try:
                save(mtime=None, reason=reason, applied=[], aside=[], n_rows=0)
            except Exception as again:  # not stored: read again tomorrow
                log.error("response %r not stored: %s", shown, type(again).__name__)
        if reason:
            result.set_aside.append({"path": rel, "reason": reason})
            log.warning("response %r set aside: %s", shown, reason)
        else:
            result.used.append(rel)
            log.info("response %r: %d rows applied, %d set aside", shown, len(applied), len(aside))
        result.rows_applied += len(applied)
        result.rows_set_aside += len(aside)
    if result.for_later:
        log.info(
            "%d response file(s) answer the list of %s or a later night: left for that night",
            result.for_later,
            tanggal,
        )
    return result


def _check(
    con: duckdb.DuckDBPyConnection, p: InboxPath, data: bytes | None, problem: str | None
) -> tuple[str | None, list[Applied], list[SetAside], int]:
    """(reason set aside whole, rows applied, rows set aside, rows answered) of one file."""
    reason = problem or p.problem
    if reason is None and data is None:
        reason = f"berkas lebih besar dari {MAX_BYTES // (1024 * 1024)} MB"
    if reason is None and p.tanggal_daftar is not None and not _has_list(con, p.tanggal_daftar):
        reason = "tidak ada daftar temuan untuk tanggal pada folder"
    if reason is not None:
        return reason, [], [], 0
    assert data is not None and p.tanggal_daftar is not None and p.kode_kab is not None
    try:
        rows = read_rows(p.rel, data)
    except Unreadable as exc:
        return str(exc), [], [], 0
    applied, aside = check_rows(con, rows, p.tanggal_daftar, p.kode_kab)
    return None, applied, aside, len(rows)
