"""The `coklit-dq` command (the console script): the library's command line, plus the
two commands that start the nightly flow.

`coklit-dq nightly` and `coklit-dq demo` call the flow the deployment runs
(flows.nightly.nightly_coklit), in this process; every other subcommand is
coklit_dq.cli's and never imports Prefect. The library (coklit_dq) does not
import this package: this module hands its two commands to coklit_dq.cli.main.

Which Prefect API the flow reports to: PREFECT_API_URL when it is set (the
long-lived server of docs/operations.md; also set it in the Prefect profile,
`prefect config set PREFECT_API_URL=...`, so a run by hand reports there; it still
writes where its command line, COKLIT_DQ_* or the defaults say, never where the
deployment's Prefect Variables point), else
a temporary local server that Prefect starts once per process and stops at
exit. What each costs: `benchmarks/bench_flow_overhead.py`, whose figures
docs/operations.md quotes.

Exit status: 0 only when every file of the night was used and every step
finished; 1 when the night ran but set a file aside or a step failed; 3 when
it could not run at all (bad settings, a rerun refused); a warehouse in use
by another run is waited for. The reasons go to standard error.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from coklit_dq import cli as library_cli
from coklit_dq.config import Settings, origin, resolve_settings
from coklit_dq.privacy import one_line, scrub

if TYPE_CHECKING:  # the pipeline (DuckDB) and Prefect load only for the flow's commands
    from rich.progress import Progress, TaskID

    from coklit_dq.pipeline import NightResult

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 3

STEP_LABELS = {
    "ingest": "pull and verify",
    "validate": "validate",
    "link": "link duplicates",
    "diff": "diff with history",
    "tanggapan": "read the regions' answers",
    "publish": "publish",
    "notify": "notify regions",
}


class _ProgressHandler(logging.Handler):
    """Turns the pipeline's step log records into a rich progress display."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(logging.INFO)
        self.progress = progress
        self.ids: dict[str, TaskID] = {}

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


def run_flow(
    source: str,
    tanggal: date,
    outbox: str | None = None,
    warehouse: str | None = None,
    election: str | None = None,
    *,
    inbox: str | None = None,
) -> tuple[int, NightResult | None, str]:
    """Run the nightly flow once: (exit status, the night's result if any, message)."""
    from coklit_dq.pipeline import NightFailed
    from flows.nightly import nightly_coklit
    from flows.runtime import masked_handlers

    with masked_handlers():  # Prefect's console lines are the operator's journal (cron)
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
        result: NightResult = state.result()
        return EXIT_OK, result, result.message
    err = state.result(raise_on_failure=False)
    if isinstance(err, NightFailed):
        return EXIT_FAILED, err.result, err.result.message
    if isinstance(err, BaseException):
        return EXIT_ERROR, None, f"{type(err).__name__}: {err}"
    return EXIT_ERROR, None, state.message or "the nightly flow did not complete"


class _ReasonsNotTracebacks(logging.Filter):
    """Prefect logs a failed flow run's exception with its traceback. A night that ended
    with its reasons (NightFailed) or was refused (SnapshotGone, a folder it cannot write,
    a wrong setting) is reported by this command in words (`_report_failure`): on a data or
    setting problem a traceback reads like a crash. The one line stays, without the
    traceback; any other exception keeps it."""

    def filter(self, record: logging.LogRecord) -> bool:
        from coklit_dq.config import SettingsError
        from coklit_dq.pipeline import FolderUnusable, NightFailed
        from coklit_dq.warehouse import SnapshotGone

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, NightFailed | SnapshotGone | FolderUnusable | SettingsError):
            record.exc_info, record.exc_text = None, None
        return True


def _shown(text: str) -> str:
    """A text of the run as this command prints it: nik/nkk masked, on one line (the
    message of an unexpected error may quote anything)."""
    return one_line(scrub(text) or "")


def _report_failure(result: NightResult | None, message: str, err: TextIO) -> None:
    err.write(f"coklit-dq: {_shown(message)}\n")
    if result is None:
        return
    for q in result.quarantined:
        err.write(f"  set aside: {_shown(q['path'])}: {_shown(q['reason'])}\n")
    for f in result.failures:
        err.write(f"  failed: {_shown(f)}\n")


def _say_paths(settings: Settings, given: dict[str, str | None], err: TextIO) -> None:
    """Name the warehouse and outbox the night writes when the command line did not: a
    run by hand never writes where an environment variable or a default sent it
    unnoticed (the deployment's Prefect Variables are not read here: flows.runtime)."""
    for name, value in given.items():
        if value:
            continue
        path = str(getattr(settings, name))
        shown = path if "://" in path else str(Path(path).resolve())
        err.write(
            f"coklit-dq: {name} {one_line(shown)} (from {origin(name)}; --{name} to choose)\n"
        )


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

    The flow resolves the settings (once, flows.runtime.settings_for_run, over
    config.resolve_settings); a run by hand reads no Prefect Variable, so resolving
    them here first gives the same settings, and a typo (an unknown election, a
    wrong setting) is refused before Prefect starts.
    """
    interactive = sys.stderr.isatty()
    if interactive:  # the progress display replaces Prefect's INFO lines on a terminal
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    try:
        settings = resolve_settings(
            source=source, outbox=outbox, warehouse=warehouse, election=election, inbox=inbox
        )
    except ValueError as exc:
        sys.stderr.write(f"coklit-dq: {exc}\n")
        return EXIT_ERROR
    _say_paths(settings, {"warehouse": warehouse, "outbox": outbox}, sys.stderr)
    args = (source, tanggal, outbox, warehouse, election)
    logging.getLogger("prefect.flow_runs").addFilter(_ReasonsNotTracebacks())
    if interactive:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from flows.runtime import terminal_logs

        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        with terminal_logs(_ProgressHandler(progress)), progress:
            code, result, message = run_flow(*args, inbox=inbox)
    else:
        code, result, message = run_flow(*args, inbox=inbox)
    if code == EXIT_OK:
        where = result.outbox if result is not None else ""
        sys.stdout.write(f"{message}\noutbox: {where}/{tanggal}\n")
        if result is not None and result.redone:  # review-eng F3: say what else changed
            again = ", ".join(f"{n} ({state})" for n, state in sorted(result.redone.items()))
            sys.stdout.write(f"later nights run again: {again}\n")
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
    if sys.stderr.isatty():  # a terminal shows the demo's own lines, not Prefect's INFO
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from coklit_dq.simulate import simulate
    from coklit_dq.simulate.responses import simulate_responses

    root = Path(workdir).resolve()
    export, outbox, wh = root / "export", root / "outbox", root / "coklit-dq.duckdb"
    root.mkdir(parents=True, exist_ok=True)
    simulate(str(export), voters=voters, nights=2, seed=1)
    out = sys.stdout
    out.write(f"simulated {voters} voters, two nights, into {export}\n")
    worst = EXIT_OK
    inbox = root / "inbox"  # tanggapan-v1: simulated answers to each night's lists
    for night in _night_folders(export):
        code, result, message = run_flow(str(export), night, str(outbox), str(wh), inbox=str(inbox))
        worst = max(worst, code)
        out.write(f"\nnight {night}: {'ok' if code == EXIT_OK else 'FAILED'}: {_shown(message)}\n")
        for kode, n in (result.findings_by_code if result is not None else {}).items():
            out.write(f"  {kode:<24} {n:>7}\n")
        answered = simulate_responses(str(outbox), night, str(inbox), seed=1)
        n_regions = answered.pop("wilayah", 0)
        told = ", ".join(f"{n} {kind}" for kind, n in answered.items())
        out.write(f"  {n_regions} regions answered the list of {night}: {told}\n")
    out.write(
        f"\nresults:\n  outbox     {outbox}  (per kabupaten/kota: temuan.csv, temuan.xlsx, "
        f"ringkasan.html; nasional/)\n  warehouse  {wh}\n"
    )
    return worst


def _nightly(args: argparse.Namespace) -> int:
    return run_nightly_cli(
        source=args.source,
        tanggal=args.tanggal,
        outbox=args.outbox,
        warehouse=args.warehouse,
        election=args.election,
        inbox=args.inbox,
    )


def _demo(args: argparse.Namespace) -> int:
    return run_demo(args.workdir, voters=args.voters)


FLOW_COMMANDS = {"nightly": _nightly, "demo": _demo}


def main(argv: list[str] | None = None) -> int:
    """The command line `coklit-dq`, callable in a process that goes on (tests)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # else a line per API call
    return library_cli.main(argv, flow_commands=FLOW_COMMANDS)


_EXIT = {"status": 1}  # what the process ends with when main did not say


def console() -> None:
    """The console script: `main`, then an exit without the interpreter's teardown.

    Once every exit handler has run (Prefect's: the last logs and events sent to
    the API, its temporary server stopped; logging's), freeing the modules of a
    night (Great Expectations, pandas, Splink, DuckDB) object by object only
    delays the exit status, by seconds (bench_flow_overhead.py, "after").
    """
    atexit.register(_end_now)  # registered before Prefect's, so it runs after them
    try:
        _EXIT["status"] = main()
    except SystemExit as exc:  # argparse: --help (0), a usage error (2)
        _EXIT["status"] = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        raise
    sys.exit(_EXIT["status"])


def _end_now() -> None:
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_EXIT["status"])


if __name__ == "__main__":
    console()
