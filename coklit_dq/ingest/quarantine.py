"""Reasons a file is set aside, and the quarantine folder they are written to.

A reason is a dict with exactly the keys of export-v1's "Bad input" promise:
`{"file", "line", "column", "expected", "found", "message"}`. `line` is the line
of the file for CSV (the header is line 1, the first record line 2) and the
1-based data row for Parquet; it is None when the problem is the whole file.

Reasons never carry a full nik/nkk: every run of 12 or more digits is masked
(first 6 and last 2 kept), so a DuckDB error that quotes a record cannot leak it.
A file's name comes from the export too, so it is shown (in a reason, a log line,
the run's message, a page) only as `shown_name` gives it; the quarantine itself,
raw data kept owner-only, stores each file under its own name.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from coklit_dq.config import Settings
from coklit_dq.privacy import one_line, scrub

REASON_KEYS = ("file", "line", "column", "expected", "found", "message")
MAX_FOUND = 80
NAME_MAX = 255  # bytes of one name on common filesystems (ext4, xfs, zfs, SFTP servers)
MAX_NAME = 1024  # a longer path of the night is shown cut, never kept as a path
REASON_SUFFIX = ".reason.json"  # the longest suffix the writer adds to a name


def storable(rel: str) -> bool:
    """Whether `rel` can name its quarantine copy and reason file as it is: valid UTF-8
    (a name of bytes that are not cannot be written into JSON or the warehouse), each
    part with its reason suffix within NAME_MAX bytes, MAX_NAME bytes in all."""
    try:
        raw = rel.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return len(raw) <= MAX_NAME and all(
        len(part.encode("utf-8")) + len(REASON_SUFFIX) <= NAME_MAX for part in rel.split("/")
    )


def shown_name(rel: str) -> str:
    """A name from outside (a file of the export or the inbox) as any text shows it: in a
    reason, a log line, the run's message, a page. Bytes that are not UTF-8 escaped
    (`\\xff`), every nik/nkk in it masked (`privacy.scrub`: a name is as hostile as a
    value), on one line (`privacy.one_line`), at most MAX_NAME characters."""
    try:
        rel.encode("utf-8")
        text = rel
    except UnicodeEncodeError:  # a listed name: the bytes as received (surrogateescape)
        try:
            raw = rel.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a lone surrogate from a JSON escape
            raw = rel.encode("utf-8", "backslashreplace")
        text = raw.decode("utf-8", "backslashreplace")
    # masked before the line breaks become escapes (letters between a nik's digits) and
    # before the cut (a cut nik must not escape the mask)
    text = one_line(scrub(text) or "")
    return text if len(text) <= MAX_NAME else text[: MAX_NAME - 3] + "..."


def shorten(value: Any) -> str | None:
    """A found value as shown in a reason: as a name is (`shown_name`), at most MAX_FOUND
    characters."""
    if value is None:
        return None
    text = shown_name(str(value))
    return text if len(text) <= MAX_FOUND else text[: MAX_FOUND - 3] + "..."


def reason(
    file: str,
    message: str,
    *,
    line: int | None = None,
    column: str | None = None,
    expected: str | None = None,
    found: str | None = None,
    digests: bool = False,
) -> dict[str, Any]:
    """A reason; `digests=True` when expected/found are sha256 digests (never masked)."""
    return {
        "file": shown_name(file),
        "line": line,
        "column": column,
        "expected": expected if digests else scrub(expected),
        "found": found if digests else shorten(found),
        "message": scrub(message),
    }


class FileError(Exception):
    """A file of the night that cannot be used whole; carries its reason."""

    def __init__(self, reason: dict[str, Any]) -> None:
        super().__init__(reason["message"])
        self.reason = reason


@dataclass(frozen=True)
class Quarantined:
    path: str  # relative to the night folder
    reason: dict[str, Any]


def quarantine_root(settings: Settings) -> str:
    """settings.quarantine, else `<folder of the warehouse file>/quarantine`."""
    if settings.quarantine:
        return str(settings.quarantine)
    if settings.warehouse == ":memory:":
        return str(Path.cwd() / "quarantine")
    return str(Path(settings.warehouse).resolve().parent / "quarantine")


def check_not_in_outbox(quarantine: str, outbox: str) -> None:
    """Raw files are personal data: the quarantine must never be inside the outbox."""
    if "://" in quarantine or "://" in outbox:
        same = quarantine.rstrip("/") + "/"
        if same.startswith(outbox.rstrip("/") + "/"):
            raise ValueError(f"quarantine {quarantine} lies inside the outbox {outbox}")
        return
    q, o = Path(quarantine).resolve(), Path(outbox).resolve()
    if q == o or o in q.parents:
        raise ValueError(f"quarantine {quarantine} lies inside the outbox {outbox}")


PRIVATE_DIR = 0o700  # raw files of the export are personal data: owner only
PRIVATE_FILE = 0o600


class QuarantineWriter:
    """Writes `<root>/<date>/<path>` (bytes as received) and `<path>.reason.json`;
    for a used file with rows set aside, `<path>.baris.json` (their reasons).

    On a local disk, folders are made 0700 and files 0600 (owner only), whatever
    the umask. `rel` must stay inside the night's folder (checked again here)."""

    def __init__(self, root: str, tanggal: date) -> None:
        self.fs, base = fsspec.core.url_to_fs(root)
        self.root = base.rstrip("/")
        self.night = f"{self.root}/{tanggal.isoformat()}"
        self.local = isinstance(self.fs, LocalFileSystem)

    def clear(self) -> None:
        """Loading a night again replaces it: earlier copies of the night go first."""
        if self.fs.exists(self.night):
            self.fs.rm(self.night, recursive=True)

    def _target(self, rel: str) -> str:
        parts = rel.split("/")
        if rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"quarantine path {rel!r} would leave the night's folder")
        if not storable(rel):  # callers store such a file under a name of their own
            raise ValueError(f"quarantine path {shown_name(rel)!r} cannot be stored as it is")
        target = f"{self.night}/{rel}"
        if self.local:
            for d in (
                self.root,
                self.night,
                *(f"{self.night}/{'/'.join(parts[:i])}" for i in range(1, len(parts))),
            ):
                Path(d).mkdir(mode=PRIVATE_DIR, exist_ok=True)
                Path(d).chmod(PRIVATE_DIR)
        else:
            self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        return target

    def _write_text(self, path: str, text: str) -> None:
        data = text.encode("utf-8")  # before the file is made: no empty file on an error
        if self.local:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, PRIVATE_FILE)
            os.fchmod(fd, PRIVATE_FILE)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            return
        with self.fs.open(path, "wb") as fh:
            fh.write(data)

    def put(self, rel: str, local: Path | None, why: dict[str, Any]) -> str:
        target = self._target(rel)
        if local is not None and local.is_file() and not local.is_symlink():
            if self.local:
                with local.open("rb") as src:
                    fd = os.open(
                        target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, PRIVATE_FILE
                    )
                    os.fchmod(fd, PRIVATE_FILE)
                    with os.fdopen(fd, "wb") as dst:
                        shutil.copyfileobj(src, dst, 8 * 1024 * 1024)
            else:
                self.fs.put_file(str(local), target)
        doc = {k: why.get(k) for k in REASON_KEYS}
        self._write_text(f"{target}.reason.json", json.dumps(doc, ensure_ascii=False, indent=1))
        return target

    def put_rows(self, rel: str, reasons: list[dict[str, Any]], total: int) -> str:
        """The reasons of rows set aside from a used file (the first ones; `total` in all)."""
        target = self._target(rel)
        doc = {"file": rel, "rows_set_aside": total, "rows": reasons}
        self._write_text(f"{target}.baris.json", json.dumps(doc, ensure_ascii=False, indent=1))
        return target
