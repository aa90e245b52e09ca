"""A night as plain functions, in order, with no Prefect (docs/design.md).

    run_night(settings, source, tanggal) -> NightResult

Each step is one function taking the open `NightRun` (the warehouse
connection, the settings, what earlier steps produced); `flows/` wraps the
same functions as Prefect tasks, so the logic lives here and in the stage
modules, never in the flow. Every step is timed and logged with
`extra={"step": name, "phase": "start" | "done" | "failed"}`, which the
command line turns into a progress display.

Failure policy of a night:
- a quarantined file: every later stage still runs and every other region is
  published; the night ends failed, naming the file(s);
- linkage failing or unavailable: the rules' findings are still recorded and
  published; the night ends failed naming the step;
- ingest or the rules failing: nothing is recorded or published (publishing
  without the rules would report every open finding as resolved);
- recording or publishing failing: the night ends failed (never left
  'running'), naming the step.

Only one process writes a warehouse at a time: `warehouse_lock` takes an
exclusive lock on `<warehouse>.lock`; a second run of any night against the
same warehouse waits for it, then runs (or, with wait=False, fails at once
with `WarehouseBusy`, touching nothing). DuckDB itself also refuses a second
writing process.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from coklit_dq import warehouse
from coklit_dq.config import Settings
from coklit_dq.ingest.quarantine import (
    Quarantined,
    QuarantineWriter,
    quarantine_root,
    shown_name,
)
from coklit_dq.ingest.quarantine import reason as make_reason
from coklit_dq.privacy import one_line, owner_only_files, scrub

if TYPE_CHECKING:  # the stages are imported lazily by the steps
    import polars as pl

    from coklit_dq.ingest.night import IngestResult
    from coklit_dq.lifecycle import LifecycleResult
    from coklit_dq.publish import PublishResult

log = logging.getLogger("coklit_dq.pipeline")

LINK_CODES = ("GANDA_NIK", "GANDA_ORANG")

ProvinceValue = str | int | None  # a cell of NightResult.provinces


class WarehouseBusy(RuntimeError):
    """Another process is running a night against the same warehouse."""


class NightFailed(RuntimeError):
    """A night that ran but did not use every file or finish every step."""

    def __init__(self, result: NightResult) -> None:
        super().__init__(result.message)
        self.result = result

    def __reduce__(self) -> tuple[Any, ...]:
        # Unpickled by whoever reads the failed run's result (Prefect's API client):
        # rebuild from the result, not from the message args (AttributeError before).
        return (type(self), (self.result,))


@dataclass
class NightResult:
    """What a night did: typed, JSON-friendly, no personal data."""

    tanggal: date
    state: str  # done | failed
    message: str
    used: list[str] = field(default_factory=list)
    # path (as `shown_name` gives it: masked), reason; each on one line
    quarantined: list[dict[str, str]] = field(default_factory=list)
    provinces_loaded: list[str] = field(default_factory=list)
    provinces_missing: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # "<step>: <error>"
    findings_by_code: dict[str, int] = field(default_factory=dict)
    findings_by_kab: dict[str, int] = field(default_factory=dict)
    provinces: list[dict[str, ProvinceValue]] = field(default_factory=list)  # PROVINCE_SQL
    timings: dict[str, float] = field(default_factory=dict)
    outbox: str = ""
    # later nights run again after this one (`later_nights_to_redo`): night -> done | failed
    redone: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.state == "done"

    def add_redone(self, night: date, again: NightResult | None, why: str = "") -> None:
        """Record a later night run again after this one; a failure fails this result."""
        if again is not None and again.ok:
            self.redone[night.isoformat()] = "done"
            return
        self.redone[night.isoformat()] = "failed"
        self.state = "failed"
        self.message += (
            f"; later night {night} run again and failed: {why or (again.message if again else '')}"
        )

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["tanggal"] = self.tanggal.isoformat()
        return d


@dataclass
class NightRun:
    """The state of a night in progress, handed from step to step."""

    con: duckdb.DuckDBPyConnection
    settings: Settings
    source: str
    tanggal: date
    ingest: IngestResult | None = None
    raw_rules: pl.DataFrame | None = None
    raw_link: pl.DataFrame | None = None  # None: the linkage did not run
    lifecycle: LifecycleResult | None = None
    published: PublishResult | None = None
    fatal: bool = False
    failures: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    # night_digest of this night before the run (None: the warehouse did not hold it)
    digest_before: str | None = None
    # email the regions (of the later nights run again after a backfill only the newest
    # list is mailed: `redo_plan`)
    mail: bool = True


# --- locking and connections ---------------------------------------------------


_LOCKS_HELD: dict[str, int] = {}  # lock file -> depth, held by this process


@contextmanager
def warehouse_lock(path: str, *, wait: bool = True) -> Iterator[None]:
    """Hold `<warehouse>.lock` exclusively for the block: the warehouse's one writer.

    Every run that writes the warehouse takes it: nightly or backfill, CLI or
    deployment. A run that finds it taken waits for it (`wait=True`, logging
    who holds it), then runs; with `wait=False` it fails at once with
    WarehouseBusy. The kernel releases the lock when its process ends, killed
    or not, so a killed run never leaves the warehouse locked. Re-entrant
    within a process: a backfill holds it for its whole range and its nightly
    subflows run inside it, so no other run lands between two of its nights.
    """
    if path == ":memory:":
        yield
        return
    lock_path = Path(f"{path}.lock").resolve()
    key = str(lock_path)
    if key in _LOCKS_HELD:
        _LOCKS_HELD[key] += 1
        try:
            yield
        finally:
            _LOCKS_HELD[key] -= 1
        return
    lock_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the warehouse's folder
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = lock_path.read_text(encoding="utf-8").strip() or "another process"
            if not wait:
                raise WarehouseBusy(
                    f"warehouse {path} is in use by {holder}; not running a second night at once"
                ) from None
            log.warning("warehouse %s is in use by %s: waiting for it", path, holder)
            t0 = time.perf_counter()
            fcntl.flock(fd, fcntl.LOCK_EX)
            log.info("warehouse %s free after %.0f s", path, time.perf_counter() - t0)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        _LOCKS_HELD[key] = 1
        try:
            with owner_only_files():  # the writer's files: WAL, DuckDB temp, quarantine
                yield
        finally:
            del _LOCKS_HELD[key]
    finally:
        os.close(fd)  # closing the descriptor releases the lock


class FolderUnusable(RuntimeError):
    """A folder the night must write (outbox, quarantine) that cannot be made or written."""


def check_writable(root: str, what: str) -> None:
    """Raise FolderUnusable unless the local folder `root` can be made and written to.

    Nothing is made: the nearest folder of `root` that exists must be a folder in
    which a file can be created (tried, then removed: permission bits say nothing for
    root or a read-only mount). A remote root (s3://, sftp://) is left to the step
    that writes it, which retries on I/O errors.
    """
    if "://" in root and not root.startswith("file://"):
        return
    path = Path(root.removeprefix("file://")).absolute()
    try:
        here = next(p for p in (path, *path.parents) if p.exists() or p == p.parent)
        if not here.is_dir():
            raise FolderUnusable(f"{what} {root} cannot be used: {here} is not a folder")
        fd, probe = tempfile.mkstemp(prefix=".coklit-dq-probe-", dir=here)
        os.close(fd)
        Path(probe).unlink()
    except OSError as exc:
        raise FolderUnusable(
            f"{what} {root} cannot be used: {exc.strerror or exc} ({exc.filename or path})"
        ) from None


@contextmanager
def open_night(
    settings: Settings, source: str, tanggal: date, *, mail: bool = True
) -> Iterator[NightRun]:
    """Lock and open the warehouse for one night.

    Refuses, before anything is recorded: an outbox or quarantine folder that cannot
    be written (FolderUnusable; else the night would be history the regions never
    received), and a rerun whose previous night's snapshot was pruned
    (warehouse.SnapshotGone).
    """
    from coklit_dq.ingest.quarantine import quarantine_root

    check_writable(settings.outbox, "outbox")
    check_writable(quarantine_root(settings), "quarantine folder")
    with warehouse_lock(settings.warehouse):
        con = warehouse.connect_settings(settings)
        try:
            warehouse.check_rerun(con, tanggal)
        except BaseException:
            con.close()
            raise
        run = NightRun(con=con, settings=settings, source=source, tanggal=tanggal, mail=mail)
        if warehouse.held_after(con, tanggal):  # only then can this run change later nights
            run.digest_before = night_digest(con, tanggal)
            # the regions hold a newer list: an older one is history (a later night this run
            # changes is run again and mailed, redo_plan; review-diff24 F8)
            run.mail = False
        unfinished = con.execute(
            "SELECT tanggal_ekspor FROM runs WHERE state = 'running' AND tanggal_ekspor < ? "
            "ORDER BY 1",
            [tanggal],
        ).fetchall()
        for (night,) in unfinished:  # we hold the lock: that run is dead
            log.warning(
                "night %s did not finish (its run was stopped): it counts as not run; "
                "run it again, and the nights after it are run again with it",
                night,
            )
        try:
            yield run
        finally:
            con.close()
            # Prefect keeps task inputs alive after the run; drop the connection
            # so DuckDB's objects are freed before the interpreter exits.
            run.con = None  # type: ignore[assignment]


class StepExited(RuntimeError):
    """A step's code called sys.exit(): the step failed, whatever the exit code said.

    (pyspark, imported by Great Expectations, exits 0 on import when it believes
    it runs doctests, e.g. under `python -c`.)"""


# The run record's step timings (read by the national page's proses.html): one row per
# night and step, replaced when the step runs again; `selesai` tells a rerun's rows apart.
STEP_TIMES_DDL = (
    "CREATE TABLE IF NOT EXISTS langkah_malam (tanggal_ekspor DATE, langkah VARCHAR, "
    "detik DOUBLE, hasil VARCHAR, selesai TIMESTAMPTZ, PRIMARY KEY (tanggal_ekspor, langkah))"
)


def record_step_time(run: NightRun, step: str, hasil: str) -> None:
    """Keep a step's time in the warehouse (langkah_malam); never fails the step."""
    try:
        run.con.execute(STEP_TIMES_DDL)
        run.con.execute(
            "INSERT OR REPLACE INTO langkah_malam VALUES (?, ?, ?, ?, now())",
            [run.tanggal, step, run.timings[step], hasil],
        )
    except (duckdb.Error, AttributeError) as exc:  # an aborted transaction, no connection
        log.warning("time of step %s not recorded: %s", step, _one_line(exc))


@contextmanager
def timed(run: NightRun, step: str) -> Iterator[None]:
    log.info("step %s started", step, extra={"step": step, "phase": "start"})
    t0 = time.perf_counter()
    try:
        yield
    except BaseException as exc:
        run.timings[step] = round(time.perf_counter() - t0, 3)
        record_step_time(run, step, "failed")
        log.warning(
            "step %s failed: %s", step, _one_line(exc), extra={"step": step, "phase": "failed"}
        )
        if isinstance(exc, SystemExit):
            raise StepExited(f"step {step} called sys.exit({exc.code!r})") from exc
        raise
    run.timings[step] = round(time.perf_counter() - t0, 3)
    record_step_time(run, step, "done")
    log.info(
        "step %s done in %.2f s",
        step,
        run.timings[step],
        extra={"step": step, "phase": "done"},
    )


def _one_line(exc: BaseException) -> str:
    """An error as one line for logs, runs.message and artifacts, nik/nkk masked."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {scrub(text[0]) if text else ''}"


def step_failed(run: NightRun, step: str, exc: BaseException) -> None:
    run.failures.append(f"{step}: {_one_line(exc)}")


class StepError(RuntimeError):
    """A step's failure as the orchestrator sees it: one scrubbed line, no raw values.

    Prefect logs a task's exception text and stores it on the server, so what
    leaves a step is this (see `scrubbed`), never the stage's own exception,
    whose text may quote a record. `transient` keeps whether a second try can
    cure it (an I/O error), for the flow's retry policy.
    """

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient

    def __reduce__(self) -> tuple[Any, ...]:  # picklable (Prefect persists task results)
        return (type(self), (str(self), self.transient))


NOT_TRANSIENT = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def is_transient(exc: BaseException) -> bool:
    """Errors a second try can cure (network, storage hiccups); a missing folder is not."""
    if isinstance(exc, StepError):
        return exc.transient
    if isinstance(exc, NOT_TRANSIENT):
        return False
    return isinstance(exc, (OSError, TimeoutError, ConnectionError))


def scrubbed(exc: BaseException) -> StepError:
    """`exc` as a StepError: type and first line, nik/nkk masked (privacy.scrub)."""
    if isinstance(exc, StepError):
        return exc
    return StepError(_one_line(exc), transient=is_transient(exc))


# --- the steps ---------------------------------------------------------------------


def ingest(run: NightRun) -> None:
    """Stage 1: verify the night's files, quarantine the bad ones, load the rest.

    Raises when the night cannot be read at all (no folder, no manifest). A
    province whose record count collapsed is set aside (`set_aside_collapsed`).
    """
    from coklit_dq.ingest import ingest_night

    with timed(run, "ingest"):
        run.ingest = ingest_night(run.con, run.source, run.tanggal, run.settings)
        warehouse.clear_carried(run.con, run.tanggal)
        set_aside_collapsed(run)


@contextmanager
def without_pyspark() -> Iterator[None]:
    """For the block, `import pyspark` fails as if it were not installed.

    Great Expectations imports pyspark whenever it is installed (about a second of
    the night, and under `python -c` pyspark takes itself for a doctest run and
    ends the process); the rules never use Spark. Only the Spark linkage needs
    it, and imports it itself (coklit_dq.link.spark), outside this block.
    """
    if "pyspark" in sys.modules:  # already loaded (a Spark linkage ran in this process)
        yield
        return
    sys.modules["pyspark"] = None  # type: ignore[assignment]  # the import system's "absent"
    try:
        yield
    finally:
        if sys.modules.get("pyspark", 0) is None:
            del sys.modules["pyspark"]


def validate(run: NightRun) -> None:
    """Stages 2-3: every rule of the catalog except the linkage codes."""
    from coklit_dq.rules import run_rules_night

    with timed(run, "validate"), without_pyspark():
        rules = run_rules_night(run.con, run.tanggal, run.settings)
        run.raw_rules = rules.findings


def link(run: NightRun) -> None:
    """Stage 4: GANDA_NIK and GANDA_ORANG. A failure is reported, not fatal."""
    from coklit_dq.link import run_linkage

    with timed(run, "link"):
        run.raw_link = run_linkage(run.con, run.tanggal, run.settings)


def diff(run: NightRun) -> None:
    """Stage 5: record tonight's findings against the history (BARU/BERULANG/selesai)."""
    import polars as pl

    from coklit_dq.contract import empty_raw_findings
    from coklit_dq.lifecycle import record_findings

    parts = [run.raw_rules if run.raw_rules is not None else empty_raw_findings()]
    if run.raw_link is not None:
        parts.append(run.raw_link)
    raw = pl.concat(parts, how="vertical_relaxed")
    with timed(run, "diff"):
        run.lifecycle = record_findings(
            run.con, run.tanggal, raw, hari_pemungutan=run.settings.election.hari_pemungutan
        )
        if run.raw_link is None:
            # Linkage did not run: its findings of last night are unknown, not resolved.
            placeholders = ", ".join("?" for _ in LINK_CODES)
            run.con.execute(
                f"DELETE FROM temuan_selesai WHERE tanggal_selesai = ? "
                f"AND kode_temuan IN ({placeholders})",
                [run.tanggal, *LINK_CODES],
            )


def tanggapan(run: NightRun) -> None:
    """tanggapan-v1: the regions' responses, after the diff and before publishing.

    A failure is reported, not fatal: the lists go out without tonight's answers."""
    from coklit_dq.tanggapan import read_inbox

    with timed(run, "tanggapan"):
        read_inbox(run.con, run.tanggal, run.settings)


def publish(run: NightRun) -> None:
    """Stage 6: the outbox for the night (atomic replace)."""
    from coklit_dq.publish import publish_night

    with timed(run, "publish"):
        run.published = publish_night(run.con, run.tanggal, run.settings)


def notify(run: NightRun) -> None:
    """Stage 7: email each region. A failure is reported, not fatal."""
    from coklit_dq.publish.notify import notify_regions

    with timed(run, "notify"):
        if not run.mail:
            log.info("night %s is not the newest list: no email sent", run.tanggal)
            return
        notify_regions(run.con, run.tanggal, run.published, run.settings)


@dataclass(frozen=True)
class Step:
    """One step of the night: its function and what its failure means.

    stops: a failure closes the night as failed at once (nothing later runs);
    otherwise the failure is reported and the night goes on.
    io: the step reads or writes outside the warehouse (the export root, the
    outbox, the mail server): the flow retries it on transient errors.
    """

    name: str
    fn: Callable[[NightRun], None]
    stops: bool
    io: bool = False


# The night, in order: the one place its sequence and failure policy are written.
# (Ingest or the rules failing: nothing is recorded or published, since publishing
# without the rules would report every open finding as resolved.)
STEPS: tuple[Step, ...] = (
    Step("ingest", ingest, stops=True, io=True),
    Step("validate", validate, stops=True),
    Step("link", link, stops=False),
    Step("diff", diff, stops=True),
    Step("tanggapan", tanggapan, stops=False, io=True),
    Step("publish", publish, stops=True, io=True),
    Step("notify", notify, stops=False, io=True),
)
STEP_NAMES = tuple(s.name for s in STEPS)


def call_directly(step: Step, run: NightRun) -> None:
    step.fn(run)


def finish(run: NightRun, error: BaseException | None = None) -> NightResult:
    """Close the night in the warehouse and say what it did.

    A province not loaded tonight keeps its last loaded snapshot for tomorrow
    (warehouse.carry_forward); snapshots beyond settings.snapshot_retention_nights
    are pruned (default: none).
    """
    if run.ingest is not None:
        carried = warehouse.carry_forward(run.con, run.tanggal)
        if carried:
            log.info(
                "provinces not loaded on %s keep their last loaded snapshot: %s",
                run.tanggal,
                ", ".join(carried),
            )
        warehouse.prune_snapshots(run.con, run.tanggal, run.settings.snapshot_retention_nights)
    result = summarize(run, error)
    warehouse.finish_run(run.con, run.tanggal, result.state, result.message)
    return result


def run_steps(run: NightRun, call: Callable[[Step, NightRun], None] = call_directly) -> NightResult:
    """Every step in order on an open night, with the night's failure policy.

    `call` runs one step: directly here, as a Prefect task in flows/nightly.py.
    """
    for step in STEPS:
        try:
            call(step, run)
        except Exception as exc:
            if step.stops:  # the night is closed as failed, never left 'running'
                log.warning("night %s stopped at %s", run.tanggal, step.name)
                run.fatal = True
                return finish(run, exc)
            step_failed(run, step.name, exc)
    return finish(run)


# --- a night run behind later ones ------------------------------------------------------

# What a night leaves that later nights read: its snapshot (the records and tables they
# compare with), the files it used and its findings (found and resolved, with their
# lifecycle and words). Each table summed as row hashes: order-independent, one pass, no
# string of the whole night (a national night holds millions of findings).
_DIGEST_TABLES = {
    "pemilih": "tanggal_ekspor", "tps": "tanggal_ekspor", "pantarlih": "tanggal_ekspor",
    "wilayah": "tanggal_ekspor", "agregat_desa": "tanggal_ekspor",
    "snapshot_dibawa": "tanggal_ekspor", "files": "tanggal_ekspor",
    "temuan": "tanggal_ekspor", "temuan_selesai": "tanggal_selesai",
    "perubahan_berlanjut": "tanggal_ekspor",
}  # fmt: skip
_DIGEST_SQL = "SELECT " + ", ".join(
    f"(SELECT count(*) || ':' || coalesce(sum(hash(t)::HUGEINT), 0) FROM {table} t "
    f"WHERE t.{col} = $1)"
    for table, col in _DIGEST_TABLES.items()
)


def night_digest(con: duckdb.DuckDBPyConnection, tanggal: date) -> str | None:
    """One digest of what night `tanggal` left for later nights; None when the warehouse
    does not hold it (never run, stopped, unreadable: warehouse.is_held)."""
    if not warehouse.is_held(con, tanggal):
        return None
    return "/".join(str(v) for v in con.execute(_DIGEST_SQL, [tanggal]).fetchall()[0])


def later_nights_to_redo(run: NightRun) -> list[date]:
    """The nights after this one the warehouse holds, when this run changed what they were
    computed from: a night run late behind them (a backfill), a stopped night run again,
    a night rerun on a corrected export. Each compared with and continued this night's
    findings as they were, so each is run again, in order, to give what a run of every
    night in order gives. [] when this night left what it left before (a plain rerun)."""
    later = warehouse.held_after(run.con, run.tanggal)
    if not later or night_digest(run.con, run.tanggal) == run.digest_before:
        return []
    return later


@dataclass(frozen=True)
class Redo:
    """A later night to run again: from the source it was read from, mailed if newest."""

    tanggal: date
    source: str
    mail: bool


def redo_plan(run: NightRun) -> list[Redo]:
    """`later_nights_to_redo` with, for each, where its export was read from (`runs.source`,
    unless it is where tonight's is: then tonight's, with its credentials) and whether its
    regions are mailed again (only the newest: the older lists are history)."""
    later = later_nights_to_redo(run)
    if not later:
        return []
    from coklit_dq.ingest.source import public_url

    here = public_url(run.source).rstrip("/")
    rows = dict(
        run.con.execute(
            "SELECT tanggal_ekspor, source FROM runs WHERE list_contains(?, tanggal_ekspor)",
            [later],
        ).fetchall()
    )
    plan = []
    for night in later:
        was = (rows.get(night) or "").rstrip("/")
        plan.append(Redo(night, run.source if was in ("", here) else was, night == later[-1]))
    for r in plan:
        log.warning(
            "night %s is run again (from %s): %s changed what it was computed from",
            r.tanggal,
            public_url(r.source),
            run.tanggal,
        )
    return plan


def run_night(
    settings: Settings, source: str, tanggal: date, *, later: bool = True, mail: bool = True
) -> NightResult:
    """One night, start to end, without Prefect; then, with `later`, the later nights
    `redo_plan` names (the flow does the same with subflows)."""
    with warehouse_lock(settings.warehouse):
        with open_night(settings, source, tanggal, mail=mail) as run:
            result = run_steps(run)
            redo = redo_plan(run) if later else []
        for r in redo:
            again = run_night(settings, r.source, r.tanggal, later=False, mail=r.mail)
            result.add_redone(r.tanggal, again)
    return result


# --- plausibility of a province's dump ---------------------------------------------


COLLAPSE_SQL = """
WITH tonight AS (
  SELECT kode_prov, any_value(path) AS path, sum(rows) AS n FROM files
  WHERE tanggal_ekspor = $1 AND tabel = 'pemilih' AND state = 'used' GROUP BY kode_prov
), last AS (
  SELECT kode_prov, tanggal_ekspor, sum(rows) AS n FROM files
  WHERE tanggal_ekspor < $1 AND tabel = 'pemilih' AND state = 'used'
  GROUP BY kode_prov, tanggal_ekspor
  QUALIFY row_number() OVER (PARTITION BY kode_prov ORDER BY tanggal_ekspor DESC) = 1
)
SELECT t.kode_prov, t.path, t.n, l.tanggal_ekspor, l.n
FROM tonight t LEFT JOIN last l USING (kode_prov)
WHERE coalesce(t.n, 0) = 0 OR coalesce(t.n, 0) < $2 * l.n
ORDER BY 1
"""


def set_aside_collapsed(run: NightRun) -> list[str]:
    """Set aside each province whose dump is empty or collapsed; returns their codes.

    A province file with no records, or fewer than settings.collapse_threshold
    of its last loaded night's, is not taken as real (it would mark every open
    finding of the province resolved and report thousands of DATA_HILANG): its
    rows are dropped, its file is recorded as quarantined with the reason, and
    the night goes on like with any file set aside.
    """
    threshold = run.settings.collapse_threshold
    rows = run.con.execute(COLLAPSE_SQL, [run.tanggal, threshold]).fetchall()
    writer = QuarantineWriter(quarantine_root(run.settings), run.tanggal)
    out = []
    for prov, path, n, last_night, last_n in rows:
        if last_night is None:
            message = f"province {prov}: the file holds no records"
        else:
            message = (
                f"province {prov}: {n or 0} records against {last_n} on {last_night}, "
                f"its last loaded night (below the collapse threshold {threshold:g}); "
                "an empty or truncated dump is not taken as real"
            )
        why = make_reason(path, message)
        con = run.con
        con.execute(
            "UPDATE files SET state = 'quarantined', reason = ? WHERE tanggal_ekspor = ? "
            "AND tabel = 'pemilih' AND kode_prov = ?",
            [json.dumps(why, ensure_ascii=False), run.tanggal, prov],
        )
        con.execute(
            "DELETE FROM pemilih WHERE tanggal_ekspor = ? AND left(kode_desa, 2) = ?",
            [run.tanggal, prov],
        )
        con.execute(
            "DELETE FROM agregat_desa WHERE tanggal_ekspor = ? AND kode_prov = ?",
            [run.tanggal, prov],
        )
        writer.put(path, None, why)
        log.warning("set aside %r: %s", shown_name(path), message)
        ing = run.ingest
        if ing is not None:
            ing.used = [p for p in ing.used if p != path]
            ing.quarantined.append(Quarantined(path=path, reason=why))
            ing.provinces_loaded = [p for p in ing.provinces_loaded if p != prov]
            ing.rows.pop(path, None)
        out.append(prov)
    return out


def reason_text(reason: Any) -> str:
    """A quarantine reason (dict or JSON) as one line: message, line/column, expected."""
    if isinstance(reason, str):
        try:
            reason = json.loads(reason)
        except ValueError:
            return reason
    if not isinstance(reason, dict):
        return str(reason)
    bits = [str(reason.get("message") or "")]
    for key in ("line", "column", "expected", "found"):
        if reason.get(key) not in (None, ""):
            bits.append(f"{key} {reason[key]}")
    return "; ".join(b for b in bits if b)


# --- the night's summary ---------------------------------------------------------------


def _quarantined(ing: IngestResult | None) -> list[dict[str, str]]:
    """The files set aside as the run's message, artifacts and command line show them: the
    name as `shown_name` gives it (masked, one line; the export chose it), the reason on
    one line."""
    quarantined = ing.quarantined if ing is not None else []
    return [
        {"path": shown_name(str(q.path)), "reason": one_line(reason_text(q.reason))}
        for q in quarantined
    ]


def _counts(con: duckdb.DuckDBPyConnection, sql: str, tanggal: date) -> dict[str, int]:
    return {str(k): int(n) for k, n in con.execute(sql, [tanggal]).fetchall()}


PROVINCE_SQL = """
WITH f AS (
  SELECT kode_prov, any_value(path) AS file, any_value(state) AS state, sum(rows) AS rekaman
  FROM files WHERE tanggal_ekspor = $1 AND tabel = 'pemilih' GROUP BY kode_prov
), t AS (
  SELECT kode_prov, count(*) AS temuan,
         count(*) FILTER (WHERE tingkat = 'TINGGI') AS tinggi,
         count(*) FILTER (WHERE status_temuan = 'BARU') AS baru
  FROM temuan WHERE tanggal_ekspor = $1 GROUP BY kode_prov
), k AS (
  SELECT kode_prov, count(DISTINCT kode_kab) AS kab FROM wilayah
  WHERE tanggal_ekspor = $1 GROUP BY kode_prov
)
SELECT coalesce(f.kode_prov, t.kode_prov) AS kode_prov, f.file, coalesce(f.state, 'absent') AS
       berkas, coalesce(f.rekaman, 0) AS rekaman, coalesce(k.kab, 0) AS kab_kota,
       coalesce(t.temuan, 0) AS temuan, coalesce(t.tinggi, 0) AS tinggi,
       coalesce(t.baru, 0) AS baru
FROM f FULL JOIN t USING (kode_prov) LEFT JOIN k ON k.kode_prov = coalesce(f.kode_prov, t.kode_prov)
WHERE coalesce(f.kode_prov, t.kode_prov) IS NOT NULL
ORDER BY 1
"""


def summarize(run: NightRun, error: BaseException | None = None) -> NightResult:
    """The night's figures from the warehouse (aggregates only: no personal data)."""
    ing = run.ingest
    quarantined = _quarantined(ing)
    result = NightResult(
        tanggal=run.tanggal,
        state="done",
        message="",
        used=sorted(str(p) for p in ing.used) if ing else [],
        quarantined=quarantined,
        provinces_loaded=sorted(ing.provinces_loaded) if ing else [],
        provinces_missing=sorted(ing.provinces_missing) if ing else [],
        failures=list(run.failures),
        timings=dict(run.timings),
        outbox=run.settings.outbox,
    )
    if error is not None:
        result.failures.append(f"stopped: {_one_line(error)}")
    try:
        result.findings_by_code = _counts(
            run.con,
            "SELECT kode_temuan, count(*) FROM temuan WHERE tanggal_ekspor = ? "
            "GROUP BY 1 ORDER BY 1",
            run.tanggal,
        )
        result.findings_by_kab = _counts(
            run.con,
            "SELECT kode_kab, count(*) FROM temuan WHERE tanggal_ekspor = ? "
            "AND kode_kab IS NOT NULL GROUP BY 1 ORDER BY 1",
            run.tanggal,
        )
        cur = run.con.execute(PROVINCE_SQL, [run.tanggal])
        names = [d[0] for d in cur.description]
        result.provinces = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    except duckdb.Error as exc:  # a stage's table not there yet: figures stay empty
        log.warning("no figures for %s: %s", run.tanggal, _one_line(exc))
    reasons = [f"set aside {q['path']} ({q['reason']})" for q in quarantined]
    if run.fatal or quarantined or result.failures:
        result.state = "failed"
        result.message = f"night {run.tanggal} failed: " + "; ".join(reasons + result.failures)
    else:
        total = sum(result.findings_by_code.values())
        listed = run.published.n_temuan if run.published is not None else total
        out = total - listed
        answered = f" ({out} answered out of the regions' lists)" if out > 0 else ""
        result.message = (
            f"night {run.tanggal} done: {len(result.used)} files used, {total} findings{answered}"
        )
    return result
