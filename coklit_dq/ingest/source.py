"""A night folder under any fsspec root: its manifest, its files, their bytes.

Local folders are read in place. Remote roots (s3://, sftp://, ...) are copied
file by file into a temporary folder, hashing while copying, so each byte
crosses the network once and DuckDB then reads local files.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
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


@dataclass(frozen=True)
class Manifest:
    tanggal: date
    dibuat: datetime
    files: tuple[ListedFile, ...]


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
    """Check manifest.json against export-v1; raise IngestError naming `where` otherwise."""

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
    seen: set[str] = set()
    for i, entry in enumerate(files):
        if not isinstance(entry, dict):
            raise bad(f"files[{i}] is not an object")
        path, rows, sha = entry.get("path"), entry.get("rows"), entry.get("sha256")
        if not isinstance(path, str) or not path or path.startswith("/") or ".." in path:
            raise bad(f"files[{i}].path {path!r} is not a relative path")
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise bad(f"files[{i}].rows of {path} is {rows!r}, not a count")
        if not isinstance(sha, str) or not _SHA.fullmatch(sha.lower()):
            raise bad(f"files[{i}].sha256 of {path} is not 64 hex digits")
        if path in seen:
            raise bad(f"{path} listed twice")
        seen.add(path)
        out.append(ListedFile(path, rows, sha.lower()))
    return Manifest(tanggal=tanggal, dibuat=dibuat, files=tuple(out))


class NightFolder:
    """`<root>/<YYYY-MM-DD>/` on any fsspec filesystem."""

    def __init__(self, source: str, tanggal: date, storage_options: dict[str, Any]) -> None:
        self.source = source
        self.tanggal = tanggal
        self.fs, base = fsspec.core.url_to_fs(source, **storage_options)
        self.base = f"{base.rstrip('/')}/{tanggal.isoformat()}"
        self.url = f"{public_url(source).rstrip('/')}/{tanggal.isoformat()}"
        self.local = isinstance(self.fs, LocalFileSystem)

    def list_files(self) -> list[str]:
        """Every file under the night folder, relative to it; raises when there is none."""
        try:
            exists = self.fs.isdir(self.base)
        except Exception as exc:  # network, auth, ...: the night cannot be read
            raise IngestError(f"{self.url}: cannot open the night folder ({exc})") from exc
        if not exists:
            raise IngestError(f"{self.url}: no such night folder")
        found = self.fs.find(self.base)
        prefix = self.base.rstrip("/") + "/"
        rel = sorted(p[len(prefix) :] if p.startswith(prefix) else p for p in found)
        if not rel:
            raise IngestError(f"{self.url}: the night folder is empty")
        return rel

    def read_manifest(self, files: list[str]) -> Manifest:
        where = f"{self.url}/manifest.json"
        if "manifest.json" not in files:
            raise IngestError(f"{where}: manifest absent ({len(files)} other file(s) present)")
        with self.fs.open(f"{self.base}/manifest.json", "rb") as fh:
            raw = fh.read()
        return parse_manifest(raw, where, self.tanggal)

    def fetch(self, rel: str, tmp: Path) -> tuple[Path, str]:
        """A local path holding the file's bytes, and their sha256 (computed in chunks)."""
        src = f"{self.base}/{rel}"
        h = hashlib.sha256()
        if self.local:
            with Path(src).open("rb") as fh:
                while chunk := fh.read(CHUNK):
                    h.update(chunk)
            return Path(src), h.hexdigest()
        dest = tmp / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.fs.open(src, "rb", block_size=CHUNK) as fin, dest.open("wb") as fout:
            while chunk := fin.read(CHUNK):
                h.update(chunk)
                fout.write(chunk)
        return dest, h.hexdigest()


def file_format(rel: str) -> str | None:
    for ext in EXTENSIONS:
        if rel.endswith("." + ext):
            return ext
    return None
