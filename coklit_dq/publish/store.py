"""Writing a night into the outbox so that it is either complete or not there.

Any fsspec root (a local folder, s3://, sftp://). Every file of the night is
written into a staging location first; only when all are written is the night
put in place, and the completion marker `<date>/_SELESAI.json` is written last:

- local folder: staging is `<root>/.staging-<date>-<id>/` beside the night (0700 while
  it is written: it holds region lists with names; the complete night gets the modes of
  the operator's umask, `privacy.shared_modes`); the
  swap is two renames (old night aside, staging in), then the old one is
  deleted. A run killed between the two renames is repaired by the next run
  (the set-aside night is put back if no new one is in place).
- remote store: staging is `<root>/.staging/<date>-<id>/`; the swap removes the
  old marker first (from then on the night does not look complete), replaces
  the night's files, then writes the marker.

A consumer trusts a night only when its marker is there. Republishing a night
replaces its files; nothing of the old publication is left beside them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from coklit_dq.privacy import shared_modes

log = logging.getLogger("coklit_dq.publish")

MARKER = "_SELESAI.json"


class UnsafePath(ValueError):
    """A file name that would resolve outside the night's folder (defence in depth: the
    codes that make folders are validated before; this refuses whatever slips through)."""


_SAFE_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


def check_rel(rel: str) -> str:
    """`rel` if it is a plain relative path of the night (names of letters, digits, `_`,
    `-` and `.` joined by `/`, none `.` or `..`); raises UnsafePath otherwise."""
    parts = rel.split("/") if isinstance(rel, str) else [""]
    if not all(_SAFE_PART.fullmatch(p) and p not in (".", "..") for p in parts):
        raise UnsafePath(
            f"refusing to write {rel!r}: it is not a plain path inside the night's folder"
        )
    return rel


class InjectedFailure(RuntimeError):
    """Raised by a writer told to fail after N files (tests of a crash midway)."""


def _display(url: str) -> str:
    """The outbox URL without credentials (user:password@) for messages and logs."""
    if "://" not in url:
        return url
    proto, rest = url.split("://", 1)
    host, _, path = rest.partition("/")
    host = host.rsplit("@", 1)[-1]
    return f"{proto}://{host}/{path}" if path else f"{proto}://{host}"


def _share(folder: Path) -> None:
    """A complete night gets the modes the operator's umask gives (privacy.shared_modes):
    while staged it was owner-only (its folder 0700; files made in the night's run 0600)."""
    dir_mode, file_mode = shared_modes()
    for here, _, files in os.walk(folder):  # never into a linked folder
        Path(here).chmod(dir_mode)
        for name in files:
            p = Path(here, name)
            if not p.is_symlink():  # a link planted in the staging is never followed
                p.chmod(file_mode)


class NightWriter:
    """Stage the files of one night, then put them in place at once."""

    def __init__(
        self,
        url: str,
        tanggal: date,
        storage_options: dict[str, Any] | None = None,
        *,
        fail_after: int | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.tanggal = tanggal
        self.fs, root = fsspec.core.url_to_fs(url, **(storage_options or {}))
        self.root = root.rstrip("/")
        self.local = isinstance(self.fs, LocalFileSystem)
        self.fail_after = fail_after
        self.written: list[str] = []
        self._token = uuid.uuid4().hex[:12]
        day = tanggal.isoformat()
        self.night = f"{self.root}/{day}"
        if self.local:
            self.staging = f"{self.root}/.staging-{day}-{self._token}"
        else:
            self.staging = f"{self.root}/.staging/{day}-{self._token}"
        self._dirs: set[str] = set()

    @property
    def night_url(self) -> str:
        return f"{_display(self.url)}/{self.tanggal.isoformat()}"

    # --- staging -------------------------------------------------------------------------

    def begin(self) -> None:
        if self.local:
            self._recover_local()
            root = Path(self.root)
            for d in [*reversed(root.parents), root]:  # the outbox is the operator's, not
                if not d.is_dir():  # owner-only: folders made for it get the umask's mode
                    d.mkdir()
                    d.chmod(shared_modes()[0])
            Path(self.staging).mkdir(mode=0o700)  # a night in the making: owner only
            return
        for stale in self.fs.glob(f"{self.root}/.staging/{self.tanggal.isoformat()}-*"):
            self.fs.rm(stale, recursive=True)  # left by a killed earlier run of this night

    def write(self, rel: str, data: bytes) -> None:
        """Stage one file of the night (`rel` relative to the night folder)."""
        check_rel(rel)
        if self.fail_after is not None and len(self.written) >= self.fail_after:
            raise InjectedFailure(f"writer told to fail after {self.fail_after} files ({rel})")
        path = f"{self.staging}/{rel}"
        if self.local:
            p = Path(path)
            staging = os.path.realpath(self.staging)
            if not os.path.realpath(p).startswith(staging + os.sep):  # a link on the way
                raise UnsafePath(f"refusing to write {rel!r}: it resolves outside the night")
            if str(p.parent) not in self._dirs:
                p.parent.mkdir(parents=True, exist_ok=True)
                self._dirs.add(str(p.parent))
            p.write_bytes(data)
        else:
            parent = path.rsplit("/", 1)[0]
            if parent not in self._dirs:
                self.fs.makedirs(parent, exist_ok=True)
                self._dirs.add(parent)
            self.fs.pipe_file(path, data)
        self.written.append(rel)

    def abort(self) -> None:
        """Drop the staging area (best effort); the published night is untouched."""
        try:
            if self.local:
                shutil.rmtree(self.staging, ignore_errors=True)
            elif self.fs.exists(self.staging):
                self.fs.rm(self.staging, recursive=True)
        except Exception:  # never hide the error that made us abort
            log.warning("could not remove staging area %s", _display(self.staging), exc_info=True)

    # --- the swap ----------------------------------------------------------------------

    def commit(self, marker: dict[str, Any]) -> None:
        """Put the staged night in place; the completion marker is the last thing written."""
        body = json.dumps(marker, ensure_ascii=False, indent=2, default=str).encode("utf-8")
        if self.local:
            self._commit_local(body)
        else:
            self._commit_remote(body)

    def _commit_local(self, marker: bytes) -> None:
        staging, night = Path(self.staging), Path(self.night)
        (staging / MARKER).write_bytes(marker)
        _share(staging)
        aside = Path(f"{self.root}/.lama-{self.tanggal.isoformat()}-{self._token}")
        if night.exists():
            night.replace(aside)
        staging.replace(night)
        shutil.rmtree(aside, ignore_errors=True)

    def _commit_remote(self, marker: bytes) -> None:
        fs, night = self.fs, self.night
        if fs.exists(f"{night}/{MARKER}"):
            fs.rm_file(f"{night}/{MARKER}")  # from now on the old night is not complete
        if fs.exists(night):
            fs.rm(night, recursive=True)
        made: set[str] = set()
        for rel in self.written:
            parent = f"{night}/{rel}".rsplit("/", 1)[0]
            if parent not in made:
                fs.makedirs(parent, exist_ok=True)
                made.add(parent)
            fs.mv(f"{self.staging}/{rel}", f"{night}/{rel}")
        fs.pipe_file(f"{night}/{MARKER}", marker)
        if fs.exists(self.staging):
            fs.rm(self.staging, recursive=True)
        try:  # the shared staging folder, when nothing else is staged in it
            fs.invalidate_cache()
            if not fs.ls(f"{self.root}/.staging", detail=False):
                fs.rm(f"{self.root}/.staging", recursive=True)
        except Exception as exc:  # a store without folders, or one in use: harmless
            log.debug("staging folder kept: %s", exc)

    def _recover_local(self) -> None:
        """Repair what a killed earlier run of this night left behind."""
        root, day = Path(self.root), self.tanggal.isoformat()
        if not root.is_dir():
            return
        night = Path(self.night)
        for aside in sorted(root.glob(f".lama-{day}-*")):
            if not night.exists() and (aside / MARKER).is_file():
                aside.replace(night)  # killed between the two renames: put it back
                log.warning("restored the previous publication of %s", day)
            else:
                shutil.rmtree(aside, ignore_errors=True)
        for stale in root.glob(f".staging-{day}-*"):
            shutil.rmtree(stale, ignore_errors=True)
