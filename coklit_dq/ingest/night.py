"""Stage 1: one night of export-v1 into the warehouse (docs/design.md).

    ingest_night(con, source, tanggal, settings) -> IngestResult

1. open `<source>/<YYYY-MM-DD>/` and its manifest (raises IngestError when the
   night cannot be read at all: no folder, empty folder, manifest absent or not
   an export-v1 manifest);
2. each listed file: present, sha256 equal (hashed in chunks), readable with the
   contract's columns and types (Parquet decoded whole once), row count equal;
   any failure quarantines that file alone; files present but not listed are
   quarantined too; a manifest entry whose path would leave the night folder
   (`../`, absolute) and any symbolic link are set aside alone, never opened
   or copied; an entry whose rows or sha256 is not of export-v1 sets its file
   aside alone. A file whose name cannot be stored as it is (not UTF-8, too
   long) is kept under a name of ours (`_manifest/files-N`, `_unlisted/file-N`),
   its name as received in the reason, escaped and cut. Bad values and rows
   set aside inside a usable file: see readers;
3. one transaction replaces the night: runs, files, snapshots, agregat_desa,
   and prunes snapshots the checks no longer need.
"""

from __future__ import annotations

import contextvars
import logging
import os
import tempfile
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from coklit_dq.config import Settings
from coklit_dq.ingest.load import FileRow, load_night
from coklit_dq.ingest.quarantine import (
    FileError,
    Quarantined,
    QuarantineWriter,
    check_not_in_outbox,
    quarantine_root,
    reason,
    shorten,
    shown_name,
    storable,
)
from coklit_dq.ingest.readers import check_file
from coklit_dq.ingest.source import FaultyEntry, ListedFile, NightFolder, RejectedEntry, classify

log = logging.getLogger("coklit_dq.ingest")

STAGE_PREFIX = "_ingest_stage_"
# folders of the quarantine whose names are ours: a file of the night under them is
# renamed too, so no name of ours is ever a file's own
OWN_FOLDERS = ("_manifest", "_unlisted")
CHECK_WORKERS = max(1, min(4, os.cpu_count() or 1))


@dataclass
class IngestResult:
    tanggal: date
    used: list[str] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    provinces_loaded: list[str] = field(default_factory=list)
    provinces_missing: list[str] = field(default_factory=list)  # in wilayah, not in manifest
    dibuat: datetime | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)  # files used with a warning
    rows: dict[str, int] = field(default_factory=dict)  # used path -> rows
    rows_set_aside: dict[str, int] = field(default_factory=dict)  # used path -> rows not loaded
    nights_pruned: list[date] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds: fetch, check, load

    @property
    def ok(self) -> bool:
        return not self.quarantined


def drop_stages(con: duckdb.DuckDBPyConnection) -> None:
    """Staging tables left by this or an interrupted earlier ingest."""
    names = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, ?) "
        "AND database_name = current_database()",
        [STAGE_PREFIX],
    ).fetchall()
    for (name,) in names:
        con.execute(f'DROP TABLE IF EXISTS "{name}"')


class _Night:
    """What one ingest accumulates: file rows and quarantine copies."""

    def __init__(self, folder: NightFolder, qw: QuarantineWriter, tmp: Path) -> None:
        self.folder, self.qw, self.tmp = folder, qw, tmp
        self.slots: list[FileRow | Future[FileRow]] = []  # in manifest order
        self.rows: list[FileRow] = []
        self.timings: dict[str, float] = {"fetch": 0.0, "check": 0.0}

    def quarantine(
        self, rel: str, why: dict[str, Any], local: Path | None, listed: ListedFile | None
    ) -> None:
        self.slots.append(self.quarantined(rel, why, local, listed))

    def quarantined(
        self,
        rel: str,
        why: dict[str, Any],
        local: Path | None,
        listed: ListedFile | None,
        *,
        store_as: str | None = None,
        own: str | None = None,
    ) -> FileRow:
        """Set `rel` aside: its bytes (`local`) and reason in the quarantine, its row.

        A name that cannot be stored as it is (`keeps_name`) is stored and recorded
        under `own`, a name of ours (for a listed file `_manifest/files-<its index>`);
        the reason keeps the name as received, escaped and cut."""
        tabel, prov, _ = classify(rel)
        path = rel
        if not keeps_name(rel):
            if own is None:
                if listed is None:
                    raise ValueError("a file set aside under a name of ours needs that name")
                own = f"_manifest/files-{listed.index}"
            path = own
            why = {
                **why,
                "message": f"{why['message']}; its name {shorten(rel)!r} cannot be kept as "
                f"it is (not UTF-8, too long or one of ours), kept as {path}",
            }
        self.qw.put(store_as or path, local, why)
        log.warning("quarantined %r: %s", shorten(rel), why["message"])
        return FileRow(path, tabel, prov, listed.rows if listed else None, "quarantined", why)

    def fetch(self, rel: str) -> tuple[Path | None, str | None]:
        t0 = time.perf_counter()
        try:
            return self.folder.fetch(rel, self.tmp)
        except OSError as exc:
            log.warning("cannot fetch %r: %s", shown_name(rel), exc.strerror or type(exc).__name__)
            return None, None
        finally:
            self.timings["fetch"] += time.perf_counter() - t0

    def not_regular(
        self, rel: str, listed: ListedFile | None, *, own: str | None = None
    ) -> FileRow | None:
        """A symbolic link is set aside, never followed, and so is a named pipe, socket or
        device, never opened: nothing is read or copied from either."""
        kind = "a symbolic link" if self.folder.is_symlink(rel) else self.folder.special(rel)
        if kind is None:
            return None
        why = reason(
            rel,
            f"{kind}; links in the export are never followed"
            if kind == "a symbolic link"
            else f"{kind}, not a regular file; never opened",
            expected="a regular file inside the night folder",
            found=kind,
        )
        return self.quarantined(rel, why, None, listed, own=own)

    def rejected(self, entry: RejectedEntry) -> FileRow:
        """A manifest entry whose path would leave the night folder: set aside alone,
        its reason kept under a name of our own (never the entry's path)."""
        why = reason(
            entry.path,
            f"manifest entry files[{entry.index}] has a path that is {entry.why}; "
            "the entry is set aside, the file is never opened",
            expected="a relative path inside the night folder",
            found=entry.path,
        )
        own = f"_manifest/files-{entry.index}"
        return self.quarantined(entry.path, why, None, None, store_as=own, own=own)

    def faulty(self, entry: FaultyEntry, present: set[str]) -> FileRow:
        """A manifest entry whose rows or sha256 is not of export-v1: its file is set
        aside alone (its bytes kept, as for any error of a file)."""
        rel, own = entry.path, f"_manifest/files-{entry.index}"
        link = self.not_regular(rel, None, own=own)
        if link is not None:
            return link
        local = self.fetch(rel)[0] if rel in present else None
        why = reason(
            rel,
            f"manifest entry files[{entry.index}] has a {entry.field} that is not "
            f"{entry.expected}; the file is set aside",
            column=entry.field,
            expected=entry.expected,
            found=entry.found,
        )
        return self.quarantined(rel, why, local, None, own=own)


def keeps_name(rel: str) -> bool:
    """Whether a file of the night is stored and recorded under its own name."""
    return storable(rel) and rel.split("/", 1)[0] not in OWN_FOLDERS


def ingest_night(
    con: duckdb.DuckDBPyConnection, source: str, tanggal: date, settings: Settings
) -> IngestResult:
    """Verify, quarantine and load one night; see the module docstring."""
    started = datetime.now(UTC)
    qroot = quarantine_root(settings)
    check_not_in_outbox(qroot, settings.outbox)
    folder = NightFolder(source, tanggal, dict(settings.storage_options))
    present = folder.list_files()
    manifest = folder.read_manifest(present)
    present_set = set(present) - {"manifest.json"}
    listed = {f.path: f for f in manifest.files}
    named = set(listed) | {e.path for e in manifest.faulty}  # listed, if badly
    keys = Counter(classify(f.path)[:2] for f in manifest.files if classify(f.path)[0])
    qw = QuarantineWriter(qroot, tanggal)
    qw.clear()
    drop_stages(con)
    result = IngestResult(tanggal=tanggal, dibuat=manifest.dibuat)
    # CSV staging relies on insertion order: a staged row's rowid is its data row
    keep_order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()
    con.execute("SET preserve_insertion_order = true")
    try:
        with tempfile.TemporaryDirectory(prefix="coklit-ingest-") as tmp:
            night = _Night(folder, qw, Path(tmp))
            # Files are fetched and hashed one after the other here, and checked by
            # DuckDB in worker threads (one cursor each) while the next is fetched.
            t0 = time.perf_counter()
            with ThreadPoolExecutor(CHECK_WORKERS, thread_name_prefix="ingest") as pool:
                for entry in manifest.rejected:
                    night.slots.append(night.rejected(entry))
                for bad in manifest.faulty:
                    night.slots.append(night.faulty(bad, present_set))
                for i, lf in enumerate(manifest.files):
                    _one_file(con, night, pool, lf, i=i, present=present_set, keys=keys)
                for slot in night.slots:
                    night.rows.append(slot if isinstance(slot, FileRow) else slot.result())
            night.timings["check"] = time.perf_counter() - t0 - night.timings["fetch"]
            for n, rel in enumerate(sorted(present_set - named)):
                own = f"_unlisted/file-{n}"
                link = night.not_regular(rel, None, own=own)
                if link is not None:
                    night.rows.append(link)
                    continue
                local, _ = night.fetch(rel)
                night.rows.append(
                    night.quarantined(
                        rel,
                        reason(
                            rel,
                            "file present but not listed in manifest.json",
                            expected="only the files the manifest lists",
                            found="an unlisted file",
                        ),
                        local,
                        None,
                        own=own,
                    )
                )
            t0 = time.perf_counter()
            result.nights_pruned = load_night(
                con,
                tanggal,
                dibuat=manifest.dibuat,
                source=folder.url.rsplit("/", 1)[0],
                started_at=started,
                files=night.rows,
            )
            result.timings = {**night.timings, "load": time.perf_counter() - t0}
    finally:
        drop_stages(con)
        con.execute(f"SET preserve_insertion_order = {bool(keep_order[0][0])}")
    for f in night.rows:
        if f.state == "used":
            result.used.append(f.path)
            result.rows[f.path] = int(f.rows or 0)
            if f.checked is not None and f.checked.n_set_aside:
                result.rows_set_aside[f.path] = f.checked.n_set_aside
            if f.reason:
                result.warnings.append(f.reason)
        else:
            result.quarantined.append(Quarantined(f.path, f.reason or {}))
    result.provinces_loaded = sorted(
        {f.kode_prov for f in night.rows if f.state == "used" and f.kode_prov}
    )
    listed_provs = {classify(p)[1] for p in named if classify(p)[0] == "pemilih"}
    result.provinces_missing = [p for p in _known_provinces(con, tanggal) if p not in listed_provs]
    log.info(
        "night %s: %d file(s) used, %d quarantined, provinces loaded %s, missing %s",
        tanggal,
        len(result.used),
        len(result.quarantined),
        ",".join(result.provinces_loaded) or "-",
        ",".join(result.provinces_missing) or "-",
    )
    return result


def _one_file(
    con: duckdb.DuckDBPyConnection,
    night: _Night,
    pool: ThreadPoolExecutor,
    lf: ListedFile,
    *,
    i: int,
    present: set[str],
    keys: Counter[tuple[str | None, str | None]],
) -> None:
    rel = lf.path
    tabel, prov, fmt = classify(rel)
    link = night.not_regular(rel, lf)
    if link is not None:
        night.slots.append(link)
        return
    if tabel is None or fmt is None:
        local = night.fetch(rel)[0] if rel in present else None
        why = reason(
            rel,
            "listed file is not a file of export-v1",
            expected="wilayah|tps|pantarlih.<ext> or pemilih/<kode_prov>.<ext>, "
            "ext parquet or csv.gz",
            found=rel,
        )
        night.quarantine(rel, why, local, lf)
        return
    if keys[(tabel, prov)] > 1:
        what = f"pemilih {prov}" if prov else tabel
        local = night.fetch(rel)[0] if rel in present else None
        why = reason(
            rel,
            f"{what} is listed in more than one file; a table comes in one format only",
            expected="one file per table",
            found=f"{keys[(tabel, prov)]} files",
        )
        night.quarantine(rel, why, local, lf)
        return
    if rel not in present:
        why = reason(
            rel, "listed in manifest.json but absent", expected="the file", found="no such file"
        )
        night.quarantine(rel, why, None, lf)
        return
    local, sha = night.fetch(rel)
    if local is None:
        why = reason(rel, "listed file cannot be fetched", expected="the file")
        night.quarantine(rel, why, None, lf)
        return
    if sha != lf.sha256:
        why = reason(
            rel,
            "sha256 differs from the manifest",
            expected=f"sha256 {lf.sha256}",
            found=f"sha256 {sha}",
            digests=True,
        )
        night.quarantine(rel, why, local, lf)
        return
    # in a copy of this thread's context: a line the check logs belongs to the run that
    # asked for it (Prefect's log handler finds its flow run there)
    in_context = contextvars.copy_context().run
    night.slots.append(pool.submit(in_context, _check, con, night, lf, local, i))


def _check(
    con: duckdb.DuckDBPyConnection, night: _Night, lf: ListedFile, local: Path, i: int
) -> FileRow:
    """Check one fetched file on a cursor of its own (runs in a worker thread)."""
    rel = lf.path
    tabel, prov, fmt = classify(rel)
    assert tabel is not None and fmt is not None
    cur = con.cursor()
    try:
        checked = check_file(
            cur, local, rel, tabel, fmt=fmt, rows=lf.rows, stage=f"{STAGE_PREFIX}{i}", prov=prov
        )
    except FileError as exc:
        return night.quarantined(rel, exc.reason, local, lf)
    finally:
        cur.close()
    if checked.warning:
        log.warning("%s used with a warning: %s", shown_name(rel), checked.warning["message"])
    if checked.set_aside:
        night.qw.put_rows(rel, checked.set_aside, checked.n_set_aside)
    return FileRow(rel, tabel, prov, checked.rows, "used", checked.warning, checked)


def _known_provinces(con: duckdb.DuckDBPyConnection, tanggal: date) -> list[str]:
    """Provinces of tonight's wilayah, else of the latest wilayah the warehouse holds."""
    rows = con.execute(
        "SELECT DISTINCT kode_prov FROM wilayah WHERE tanggal_ekspor = "
        "(SELECT max(tanggal_ekspor) FROM wilayah WHERE tanggal_ekspor <= ?) "
        "AND kode_prov IS NOT NULL ORDER BY 1",
        [tanggal],
    ).fetchall()
    return [r[0] for r in rows]
