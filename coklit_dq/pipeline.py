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
exclusive, non-blocking lock on `<warehouse>.lock`; a second run of any night
against the same warehouse fails at once with `WarehouseBusy` and touches
nothing. (DuckDB itself also refuses a second writing process.)
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from coklit_dq import warehouse
from coklit_dq.config import Settings
from coklit_dq.privacy import scrub

log = logging.getLogger("coklit_dq.pipeline")

T = TypeVar("T")

STEPS = ("ingest", "validate", "link", "diff", "publish", "notify")
LINK_CODES = ("GANDA_NIK", "GANDA_ORANG")


class WarehouseBusy(RuntimeError):
    """Another process is running a night against the same warehouse."""


class NightFailed(RuntimeError):
    """A night that ran but did not use every file or finish every step."""

    def __init__(self, result: NightResult) -> None:
        super().__init__(result.message)
        self.result = result


@dataclass
class NightResult:
    """What a night did: typed, JSON-friendly, no personal data."""

    tanggal: date
    state: str  # done | failed
    message: str
    used: list[str] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)  # path + reason
    provinces_loaded: list[str] = field(default_factory=list)
    provinces_missing: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # "<step>: <error>"
    findings_by_code: dict[str, int] = field(default_factory=dict)
    findings_by_kab: dict[str, int] = field(default_factory=dict)
    provinces: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    outbox: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "done"

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
    ingest: Any = None  # IngestResult
    raw_rules: Any = None  # pl.DataFrame
    raw_link: Any = None  # pl.DataFrame | None
    lifecycle: Any = None
    published: Any = None
    fatal: bool = False
    failures: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


# --- locking and connections ---------------------------------------------------


@contextmanager
def warehouse_lock(path: str) -> Iterator[None]:
    """Hold `<warehouse>.lock` exclusively for the block; fail at once if taken."""
    if path == ":memory:":
        yield
        return
    lock_path = Path(f"{path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = lock_path.read_text(encoding="utf-8").strip() or "another process"
            raise WarehouseBusy(
                f"warehouse {path} is in use by {holder}; not running a second night at once"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def open_night(settings: Settings, source: str, tanggal: date) -> Iterator[NightRun]:
    """Lock and open the warehouse for one night."""
    with warehouse_lock(settings.warehouse):
        con = warehouse.connect(settings.warehouse)
        run = NightRun(con=con, settings=settings, source=source, tanggal=tanggal)
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


@contextmanager
def timed(run: NightRun, step: str) -> Iterator[None]:
    log.info("step %s started", step, extra={"step": step, "phase": "start"})
    t0 = time.perf_counter()
    try:
        yield
    except BaseException as exc:
        run.timings[step] = round(time.perf_counter() - t0, 3)
        log.warning(
            "step %s failed: %s", step, _one_line(exc), extra={"step": step, "phase": "failed"}
        )
        if isinstance(exc, SystemExit):
            raise StepExited(f"step {step} called sys.exit({exc.code!r})") from exc
        raise
    run.timings[step] = round(time.perf_counter() - t0, 3)
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


def _guard(run: NightRun, step: str, fn: Callable[[], T]) -> T | None:
    """Run a step whose failure is reported but does not stop the night."""
    try:
        with timed(run, step):
            return fn()
    except Exception as exc:
        log.debug("step %s failed", step, exc_info=True)
        step_failed(run, step, exc)
        return None


# --- the steps ---------------------------------------------------------------------


def ingest(run: NightRun) -> Any:
    """Stage 1: verify the night's files, quarantine the bad ones, load the rest.

    Raises when the night cannot be read at all (no folder, no manifest)."""
    from coklit_dq.ingest import ingest_night

    with timed(run, "ingest"):
        run.ingest = ingest_night(run.con, run.source, run.tanggal, run.settings)
    return run.ingest


def validate(run: NightRun) -> Any:
    """Stages 2-3: every rule of the catalog except the linkage codes."""
    from coklit_dq.rules import run_rules

    with timed(run, "validate"):
        run.raw_rules = run_rules(run.con, run.tanggal, run.settings)
    return run.raw_rules


def link(run: NightRun) -> Any:
    """Stage 4: GANDA_NIK and GANDA_ORANG. A failure is reported, not fatal."""

    def _link() -> Any:
        from coklit_dq.link import run_linkage

        return run_linkage(run.con, run.tanggal, run.settings)

    run.raw_link = _guard(run, "link", _link)
    return run.raw_link


def diff(run: NightRun) -> Any:
    """Stage 5: record tonight's findings against the history (BARU/BERULANG/selesai)."""
    import polars as pl

    from coklit_dq.contract import empty_raw_findings
    from coklit_dq.lifecycle import record_findings

    parts = [run.raw_rules if run.raw_rules is not None else empty_raw_findings()]
    if run.raw_link is not None:
        parts.append(run.raw_link)
    raw = pl.concat(parts, how="vertical_relaxed")
    with timed(run, "diff"):
        run.lifecycle = record_findings(run.con, run.tanggal, raw)
        if run.raw_link is None:
            # Linkage did not run: its findings of last night are unknown, not resolved.
            placeholders = ", ".join("?" for _ in LINK_CODES)
            run.con.execute(
                f"DELETE FROM temuan_selesai WHERE tanggal_selesai = ? "
                f"AND kode_temuan IN ({placeholders})",
                [run.tanggal, *LINK_CODES],
            )
    return run.lifecycle


def publish(run: NightRun) -> Any:
    """Stage 6: the outbox for the night (atomic replace)."""
    from coklit_dq.publish import publish_night
    from coklit_dq.tanggapan import read_inbox

    # tanggapan-v1: the regions' responses, after the diff and before publishing;
    # a failure is reported, not fatal (the lists go out without tonight's answers)
    _guard(run, "tanggapan", lambda: read_inbox(run.con, run.tanggal, run.settings))
    with timed(run, "publish"):
        run.published = publish_night(run.con, run.tanggal, run.settings)
    return run.published


def notify(run: NightRun, *, raise_errors: bool = False) -> None:
    """Stage 7: email each region. A failure is reported, not fatal."""

    def _notify() -> None:
        from coklit_dq.publish.notify import notify_regions

        notify_regions(run.con, run.tanggal, run.published, run.settings)

    if raise_errors:  # the flow's task retries, then reports
        with timed(run, "notify"):
            _notify()
        return
    _guard(run, "notify", _notify)


def finish(run: NightRun, error: BaseException | None = None) -> NightResult:
    """Close the night in the warehouse and say what it did."""
    result = summarize(run, error)
    warehouse.finish_run(run.con, run.tanggal, result.state, result.message)
    return result


def run_steps(run: NightRun) -> NightResult:
    """Every step in order on an open night; the Prefect flow does the same as tasks."""
    try:
        ingest(run)
        validate(run)
    except Exception as exc:
        log.exception("night %s stopped", run.tanggal)
        run.fatal = True
        return finish(run, exc)
    try:
        link(run)
        diff(run)
        publish(run)
    except Exception as exc:  # the night is closed as failed, never left 'running'
        log.exception("night %s stopped", run.tanggal)
        run.fatal = True
        return finish(run, exc)
    notify(run)
    return finish(run)


def run_night(settings: Settings, source: str, tanggal: date) -> NightResult:
    """One night, start to end, without Prefect."""
    with open_night(settings, source, tanggal) as run:
        return run_steps(run)


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


def _quarantined(ingest_result: Any) -> list[dict[str, Any]]:
    out = []
    for q in getattr(ingest_result, "quarantined", None) or []:
        path = getattr(q, "path", None) or (q.get("path") if isinstance(q, dict) else str(q))
        reason = getattr(q, "reason", None) or (q.get("reason") if isinstance(q, dict) else {})
        out.append({"path": str(path), "reason": reason_text(reason)})
    return out


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
        used=sorted(str(p) for p in (getattr(ing, "used", None) or [])),
        quarantined=quarantined,
        provinces_loaded=sorted(getattr(ing, "provinces_loaded", None) or []),
        provinces_missing=sorted(getattr(ing, "provinces_missing", None) or []),
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
        result.message = (
            f"night {run.tanggal} done: {len(result.used)} files used, {total} findings"
        )
    return result
