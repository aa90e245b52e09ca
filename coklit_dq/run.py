"""Command-line glue: `coklit-dq nightly` and `coklit-dq demo` run the Prefect flow.

The command line is not a second implementation: it calls the same flow the
deployment runs (flows.nightly.nightly_coklit), in this process.

Which Prefect API the flow reports to:
- PREFECT_API_URL set (a real server, e.g. the one the deployment uses): the
  run appears there with its task runs and artifacts;
- unset: Prefect 3 starts a temporary local server (a uvicorn subprocess on
  127.0.0.1 backed by the SQLite database in PREFECT_HOME, ~/.prefect by
  default) the first time a flow runs in the process, reuses it for every
  further flow of the process, and stops it at exit. Measured on a 2-core
  machine: about 9 s the first time in a process (about 16 s when
  PREFECT_HOME's database is created), then about 1 s per flow run.
  `coklit-dq demo` runs both nights in one process, so it pays this once.
  See docs/operations.md.

Exit status: 0 only when every file of the night was used and every step
finished; 1 when the night ran but set a file aside or a step failed; 3 when
it could not run at all (bad settings, a rerun refused); a warehouse in use
by another run is waited for. The
reasons go to standard error.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from coklit_dq.config import DEFAULT_ELECTION, load_elections

log = logging.getLogger("coklit_dq.run")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 3

STEP_LABELS = {
    "ingest": "pull and verify",
    "validate": "validate",
    "link": "link duplicates",
    "diff": "diff with history",
    "publish": "publish",
    "notify": "notify regions",
}


def _quiet_prefect(interactive: bool) -> None:
    """Prefect's settings are read at import: set the CLI's defaults before that."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")  # no telemetry errors in offline logs
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API call otherwise
    if interactive:  # the progress display replaces Prefect's INFO lines on a terminal
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


class _ProgressHandler(logging.Handler):
    """Turns the pipeline's step log records into a rich progress display."""

    def __init__(self, progress: Any) -> None:
        super().__init__(logging.INFO)
        self.progress = progress
        self.ids: dict[str, Any] = {}

    def emit(self, record: logging.LogRecord) -> None:
        step = getattr(record, "step", None)
        phase = getattr(record, "phase", None)
        if step is None:
            return
        label = STEP_LABELS.get(step, step)
        if phase == "start":
            self.ids[step] = self.progress.add_task(label, total=1)
        elif step in self.ids:
            mark = "[green]✓[/]" if phase == "done" else "[red]✗[/]"
            self.progress.update(self.ids[step], completed=1, description=f"{mark} {label}")


@contextmanager
def _terminal_logging(handler: logging.Handler) -> Iterator[None]:
    """On a terminal: steps drive the progress display; only warnings print as lines.

    Prefect's own run loggers are silenced there: the command prints the
    reasons of a failed night itself, without the traceback of NightFailed.
    """
    import flows.nightly  # noqa: F401  (Prefect configures its logging on import)

    pipeline_log = logging.getLogger("coklit_dq.pipeline")
    quiet = [logging.getLogger(n) for n in ("prefect.flow_runs", "prefect.task_runs")]
    root = logging.getLogger()
    saved = [(h, h.level) for h in root.handlers] + [(q, q.level) for q in quiet]
    for h in root.handlers:
        h.setLevel(max(h.level, logging.WARNING))
    for q in quiet:
        q.setLevel(logging.CRITICAL)
    pipeline_log.addHandler(handler)
    try:
        yield
    finally:
        pipeline_log.removeHandler(handler)
        for obj, level in saved:
            obj.setLevel(level)


def run_flow(
    source: str,
    tanggal: date,
    outbox: str | None = None,
    warehouse: str | None = None,
    election: str | None = None,
    *,
    inbox: str | None = None,
) -> tuple[int, dict[str, Any] | None, str]:
    """Run the nightly flow once: (exit status, the night's result if any, message)."""
    from coklit_dq.pipeline import NightFailed
    from flows.nightly import nightly_coklit

    state = nightly_coklit(
        source,
        tanggal,
        outbox=outbox,
        warehouse=warehouse,
        election=election,
        inbox=inbox,
        return_state=True,
    )
    if state.is_completed():
        result = state.result()
        return EXIT_OK, result, str(result.get("message", ""))
    err = state.result(raise_on_failure=False)
    if isinstance(err, NightFailed):
        return EXIT_FAILED, err.result.to_dict(), err.result.message
    if isinstance(err, BaseException):
        return EXIT_ERROR, None, f"{type(err).__name__}: {err}"
    return EXIT_ERROR, None, state.message or "the nightly flow did not complete"


def _report_failure(result: dict[str, Any] | None, message: str, err: TextIO) -> None:
    err.write(f"coklit-dq: {message}\n")
    if not result:
        return
    for q in result.get("quarantined", []):
        err.write(f"  set aside: {q['path']}: {q['reason']}\n")
    for f in result.get("failures", []):
        err.write(f"  failed: {f}\n")


def run_nightly_cli(
    source: str,
    tanggal: date,
    outbox: str | None = None,
    warehouse: str | None = None,
    election: str | None = None,
    *,
    inbox: str | None = None,
) -> int:
    """`coklit-dq nightly`: the nightly flow on one night, its outcome as an exit status.

    The flow resolves the settings (once); only the election's name is checked
    here, so a typo is refused before Prefect starts.
    """
    interactive = sys.stderr.isatty()
    _quiet_prefect(interactive)
    code_pemilu = election or os.environ.get("COKLIT_DQ_ELECTION") or DEFAULT_ELECTION
    known = load_elections()
    if code_pemilu not in known:
        sys.stderr.write(
            f"coklit-dq: unknown election {code_pemilu!r}; configured: {', '.join(sorted(known))}\n"
        )
        return EXIT_ERROR
    args = (source, tanggal, outbox, warehouse, election)
    if interactive:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        with _terminal_logging(_ProgressHandler(progress)), progress:
            code, result, message = run_flow(*args, inbox=inbox)
    else:
        code, result, message = run_flow(*args, inbox=inbox)
    if code == EXIT_OK:
        where = (result or {}).get("outbox", "")
        sys.stdout.write(f"{message}\noutbox: {where}/{tanggal}\n")
    else:
        _report_failure(result, message, sys.stderr)
    return code


def _night_folders(export: Path) -> list[date]:
    out = []
    for p in sorted(export.iterdir()):
        try:
            out.append(date.fromisoformat(p.name))
        except ValueError:
            continue
    return out


def run_demo(workdir: str, voters: int = 50_000) -> int:
    """`coklit-dq demo`: simulate two nights and run the nightly flow on both."""
    _quiet_prefect(sys.stderr.isatty())
    from coklit_dq.simulate import simulate

    root = Path(workdir).resolve()
    export, outbox, wh = root / "export", root / "outbox", root / "coklit-dq.duckdb"
    root.mkdir(parents=True, exist_ok=True)
    simulate(str(export), voters=voters, nights=2, seed=1)
    out = sys.stdout
    out.write(f"simulated {voters} voters, two nights, into {export}\n")
    worst = EXIT_OK
    inbox = root / "inbox"  # tanggapan-v1: simulated answers to each night's lists
    for night in _night_folders(export):
        code, result, message = run_flow(
            str(export), night, str(outbox), str(wh), inbox=str(inbox)
        )
        worst = max(worst, code)
        out.write(f"\nnight {night}: {'ok' if code == EXIT_OK else 'FAILED'}: {message}\n")
        for kode, n in ((result or {}).get("findings_by_code") or {}).items():
            out.write(f"  {kode:<24} {n:>7}\n")
        from coklit_dq.simulate.responses import simulate_responses

        answered = simulate_responses(str(outbox), night, str(inbox), seed=1)
        n_regions = answered.pop("wilayah", 0)
        told = ", ".join(f"{n} {kind}" for kind, n in answered.items())
        out.write(f"  {n_regions} regions answered the list of {night}: {told}\n")
    out.write(
        f"\nresults:\n  outbox     {outbox}  (per kabupaten/kota: temuan.csv, temuan.xlsx, "
        f"ringkasan.html; nasional/)\n  warehouse  {wh}\n"
    )
    return worst
