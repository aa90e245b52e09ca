"""A night folder under any fsspec root: its manifest, its files, their bytes.

Local folders are read in place. Remote roots (s3://, sftp://, ...) are copied
file by file into a temporary folder, hashing while copying, so each byte
crosses the network once and DuckDB then reads local files.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit

import fsspec
from fsspec.implementations.local import LocalFileSystem

from coklit_dq.contract import EXPORT_FORMAT, EXTENSIONS

CHUNK = 8 * 1024 * 1024
_SHA = re.compile(r"[0-9a-f]{64}")
_PEMILIH = re.compile(r"pemilih/(\d{2})\.(parquet|csv\.gz)")
_TABLE = re.compile(r"(wilayah|tps|pantarlih)\.(parquet|csv\.gz)")


class IngestError(RuntimeError):
    """The night cannot be read at all (no folder, no usable manifest, nothing in it)."""


def public_url(url: str) -> str:
    """`url` without user name or password, for logs, messages and the runs table."""
    parts = urlsplit(url)
    if not parts.netloc or "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


@dataclass(frozen=True)
class ListedFile:
    path: str
    rows: int
    sha256: str
    index: int = -1  # its place in the manifest's `files`


@dataclass(frozen=True)
class FaultyEntry:
    """A manifest entry with a plain path whose rows or sha256 is not of export-v1: an
    error of that file (export-v1 "Bad input"), set aside alone; the rest is used."""

    index: int
    path: str
    field: str  # rows | sha256
    expected: str
    found: str


@dataclass(frozen=True)
class RejectedEntry:
    """A manifest entry whose path is not a plain relative path of the night (`../`,
    absolute, ...): set aside alone, never opened. `index` is its place in `files`."""

    index: int
    path: str
    why: str


@dataclass(frozen=True)
class Manifest:
    tanggal: date
    dibuat: datetime
    files: tuple[ListedFile, ...]
    rejected: tuple[RejectedEntry, ...] = ()
    faulty: tuple[FaultyEntry, ...] = ()


class SymlinkError(OSError):
    """A path of the night is, or passes through, a symbolic link: never followed."""


class SpecialFileError(OSError):
    """A path of the night is a named pipe, socket or device: never opened (reading one
    would wait for a writer that never comes, or never end)."""


def special_kind(info: dict[str, Any]) -> str | None:
    """What a listing entry of fsspec is when it is neither a regular file, a folder nor
    a link (None otherwise): "a named pipe", "a socket", "a device"."""
    mode = info.get("permissions", info.get("mode"))
    if isinstance(mode, int) and stat.S_IFMT(mode):
        if stat.S_ISFIFO(mode):
            return "a named pipe"
        if stat.S_ISSOCK(mode):
            return "a socket"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            return "a device"
    if info.get("type") not in ("file", "directory", "link", None) and not is_link(info):
        return "not a regular file"
    return None


def open_local(path: str) -> BinaryIO:
    """A local file opened for reading only if it is a regular file, without following a
    link: one made or swapped in after the listing is refused here (O_NOFOLLOW), and a
    named pipe or device is opened without waiting (O_NONBLOCK) and refused on its fstat."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SpecialFileError(errno.EINVAL, "not a regular file; never read")
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def unsafe_path(path: str) -> str | None:
    """Why `path` is not a plain relative path inside the night folder (None if it is).

    Only plain names joined by `/`: no absolute path, no `..` or `.` part, no empty
    part, no backslash, drive or control character (so it cannot leave the folder
    on any filesystem fsspec opens, nor be a URL)."""
    if path.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", path):
        return "an absolute path"
    if "\\" in path or any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        return "a backslash or control character"
    if "://" in path:
        return "a URL"
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "a '..', '.' or empty path part"
    return None


def classify(rel: str) -> tuple[str | None, str | None, str | None]:
    """(tabel, kode_prov, format) of a path of the night; Nones if not an export-v1 file."""
    m = _PEMILIH.fullmatch(rel)
    if m:
        return "pemilih", m.group(1), m.group(2)
    m = _TABLE.fullmatch(rel)
    if m:
        return m.group(1), None, m.group(2)
    return None, None, None


def parse_manifest(raw: bytes, where: str, tanggal: date) -> Manifest:
    """Check manifest.json against export-v1; raise IngestError naming `where` otherwise.

    An entry whose path leaves the night (`rejected`) or whose rows or sha256 is not
    of export-v1 (`faulty`) is kept aside alone: an error of that file, not of the night."""

    def bad(what: str) -> IngestError:
        return IngestError(f"{where}: {what}; expected export-v1 ({EXPORT_FORMAT}) manifest")

    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise IngestError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise bad("not a JSON object")
    if doc.get("format") != EXPORT_FORMAT:
        raise bad(f"format is {doc.get('format')!r}")
    if doc.get("tanggal_ekspor") != tanggal.isoformat():
        raise bad(f"tanggal_ekspor is {doc.get('tanggal_ekspor')!r}, not {tanggal.isoformat()}")
    try:
        dibuat = datetime.fromisoformat(str(doc.get("dibuat")))
    except ValueError:
        raise bad(f"dibuat {doc.get('dibuat')!r} is not an ISO 8601 timestamp") from None
    files = doc.get("files")
    if not isinstance(files, list):
        raise bad("'files' is not a list")
    out: list[ListedFile] = []
    rejected: list[RejectedEntry] = []
    faulty: list[FaultyEntry] = []
    seen: set[str] = set()
    for i, entry in enumerate(files):
        if not isinstance(entry, dict):
            raise bad(f"files[{i}] is not an object")
        path, rows, sha = entry.get("path"), entry.get("rows"), entry.get("sha256")
        if not isinstance(path, str) or not path:
            raise bad(f"files[{i}].path is not a non-empty string")
        if path in seen:
            raise bad(f"{path!r} listed twice")
        why = unsafe_path(path)
        if why is not None:  # this entry alone is set aside; the rest of the night is used
            seen.add(path)
            rejected.append(RejectedEntry(i, path, why))
            continue
        seen.add(path)
        # a count or digest that is not one is an error of that file alone
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            faulty.append(FaultyEntry(i, path, "rows", "a count (an integer >= 0)", repr(rows)))
        elif not isinstance(sha, str) or not _SHA.fullmatch(sha.lower()):
            faulty.append(FaultyEntry(i, path, "sha256", "64 hex digits", repr(sha)))
        else:
            out.append(ListedFile(path, rows, sha.lower(), i))
    return Manifest(
        tanggal=tanggal,
        dibuat=dibuat,
        files=tuple(out),
        rejected=tuple(rejected),
        faulty=tuple(faulty),
    )


class NightFolder:
    """`<root>/<YYYY-MM-DD>/` on any fsspec filesystem."""

    def __init__(self, source: str, tanggal: date, storage_options: dict[str, Any]) -> None:
        self.source = source
        self.tanggal = tanggal
        self.fs, base = fsspec.core.url_to_fs(source, **storage_options)
        self.base = f"{base.rstrip('/')}/{tanggal.isoformat()}"
        self.url = f"{public_url(source).rstrip('/')}/{tanggal.isoformat()}"
        self.local = isinstance(self.fs, LocalFileSystem)
        self._links: set[str] = set()
        self._special: dict[str, str] = {}

    def list_files(self) -> list[str]:
        """Every file under the night folder, relative to it; raises when there is none."""
        try:
            exists = self.fs.isdir(self.base)
        except Exception as exc:  # network, auth, ...: the night cannot be read
            raise IngestError(f"{self.url}: cannot open the night folder ({exc})") from exc
        if not exists:
            raise IngestError(f"{self.url}: no such night folder")
        found = self.fs.find(self.base, detail=True)
        prefix = self.base.rstrip("/") + "/"
        rel = sorted(p[len(prefix) :] if p.startswith(prefix) else p for p in found)
        # remote stores with links (SFTP): the listing's own entry type says so (sshfs
        # lists with READDIR, whose attributes are the link's, as lstat); a listed link is
        # never descended into, so a link to a folder is one entry here
        self._links = {
            p[len(prefix) :] if p.startswith(prefix) else p
            for p, info in found.items()
            if is_link(info)
        }
        self._special = {
            p[len(prefix) :] if p.startswith(prefix) else p: kind
            for p, info in found.items()
            if (kind := special_kind(info)) is not None
        }
        if not rel:
            raise IngestError(f"{self.url}: the night folder is empty")
        return rel

    def read_manifest(self, files: list[str]) -> Manifest:
        where = f"{self.url}/manifest.json"
        if "manifest.json" not in files:
            raise IngestError(f"{where}: manifest absent ({len(files)} other file(s) present)")
        if self.is_symlink("manifest.json"):
            raise IngestError(f"{where}: a symbolic link; links in the export are never followed")
        if self.special("manifest.json"):
            raise IngestError(f"{where}: {self.special('manifest.json')}, not a regular file")
        src = f"{self.base}/manifest.json"
        with open_local(src) if self.local else self.fs.open(src, "rb") as fh:
            raw = fh.read()
        return parse_manifest(raw, where, self.tanggal)

    def is_symlink(self, rel: str) -> bool:
        """Whether `rel`, or a folder on its way below the night folder, is a symbolic link
        (`link_in_path`, with the links `list_files` saw)."""
        return link_in_path(self.fs, self.base, rel, self._links)

    def special(self, rel: str) -> str | None:
        """What `rel` is when the listing said it is a named pipe, socket or device."""
        return self._special.get(rel)

    def fetch(self, rel: str, tmp: Path) -> tuple[Path, str]:
        """A local path holding the file's bytes, and their sha256 (computed in chunks).

        Raises SymlinkError for a symbolic link (never followed, see `is_symlink`)."""
        if unsafe_path(rel) is not None:
            raise OSError(errno.EINVAL, "not a plain relative path of the night")
        src = f"{self.base}/{rel}"
        h = hashlib.sha256()
        if self.local:
            if self.is_symlink(rel):
                raise SymlinkError("a symbolic link; links are never followed")
            with open_local(src) as fh:
                while chunk := fh.read(CHUNK):
                    h.update(chunk)
            return Path(src), h.hexdigest()
        if self.is_symlink(rel):
            raise SymlinkError("a symbolic link; links are never followed")
        dest = tmp / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.fs.open(src, "rb", block_size=CHUNK) as fin, dest.open("wb") as fout:
            while chunk := fin.read(CHUNK):
                h.update(chunk)
                fout.write(chunk)
        return dest, h.hexdigest()


def link_in_path(fs: Any, base: str, rel: str, links: set[str]) -> bool:
    """Whether `rel` below the folder `base` of `fs`, or a folder on its way, is a
    symbolic link. Local folders: lstat of each part. Remote stores: `links`, the paths
    (relative to `base`) their listing said are links (`is_link`; SFTP says `link`, a
    listed link is never descended into; S3 has no links)."""
    if not isinstance(fs, LocalFileSystem):
        parts = rel.split("/")
        return any("/".join(parts[:i]) in links for i in range(1, len(parts) + 1))
    here = Path(base)
    for part in rel.split("/"):
        here = here / part
        try:
            if stat.S_ISLNK(os.lstat(here).st_mode):
                return True
        except OSError as exc:  # no such file, or a name no file can have here
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG):
                return False
            raise
    return False


def is_link(info: dict[str, Any]) -> bool:
    """Whether a listing entry of fsspec is a symbolic link (any filesystem's way of saying)."""
    mode = info.get("permissions", info.get("mode"))
    return (
        info.get("type") == "link"
        or bool(info.get("islink"))
        or (isinstance(mode, int) and stat.S_ISLNK(mode))
    )


def file_format(rel: str) -> str | None:
    for ext in EXTENSIONS:
        if rel.endswith("." + ext):
            return ext
    return None
