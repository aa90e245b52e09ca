"""What a flow run resolves when it starts, not when it is deployed.

- Paths (`settings_for_run`): flow parameter > Prefect Variable
  (`coklit_dq_source`, `coklit_dq_outbox`, `coklit_dq_warehouse`,
  `coklit_dq_inbox`) > the worker's
  environment (`COKLIT_DQ_SOURCE`, ...). Moving a path is `prefect variable set`
  (or the worker's unit file), never a redeploy. A deployed run with a path
  unset stops before it touches anything (no `.lock` in the checkout).
  The Variables are the deployment's configuration: only a deployed run reads
  them. A run by hand (`coklit-dq nightly`) reporting to the same server uses
  its command line, COKLIT_DQ_* and the defaults, never the production paths.
- Logs (`pipeline_logs`, the one place that routes them): the pipeline's own
  log lines (logger `coklit_dq`) go to the Prefect server with nik/nkk masked
  (`logs_to_prefect`) and, on a terminal, drive the progress display
  (`terminal_logs`); Great Expectations' INFO chatter does not. Where the
  command line runs a flow, every handler of the process masks what it prints
  or ships (`masked_handlers`): under cron, systemd or CI Prefect's console
  handler writes the same records to standard error, i.e. the operator's journal.
- A failed night mails Pusdatin (`mail_failure`, the flow's failure hook).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any
from uuid import UUID

from coklit_dq.config import PATH_ENV, Settings, readable_settings, resolve_settings
from coklit_dq.privacy import scrub

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.client.schemas.objects import FlowRun
    from prefect.states import State

log = logging.getLogger("coklit_dq.flows")


class SettingsMissing(ValueError):
    """A deployed run without a path it needs: it stops before touching anything."""


def variable_name(key: str) -> str:
    """The Prefect Variable that holds a path: the environment name in lower case."""
    return PATH_ENV[key].lower()


def _variable(name: str) -> str | None:
    """The Prefect Variable `name`, None when unset. Read by deployed runs only, which
    always have an API: an error reading it fails the run rather than letting it fall
    back to other paths (another warehouse) unnoticed."""
    from prefect.variables import Variable

    value = Variable.get(name, default=None)
    return str(value) if value not in (None, "") else None


def _deployed() -> bool:
    """Whether this flow run belongs to a deployment (a subflow of a deployed run does)."""
    from prefect.runtime import deployment

    return deployment.id is not None


def settings_for_run(
    *,
    source: str | None = None,
    outbox: str | None = None,
    warehouse: str | None = None,
    election: str | None = None,
    inbox: str | None = None,
) -> Settings:
    """The run's one Settings, resolved once when it starts: its parameters > Prefect
    Variables (the paths; deployed runs only) > the environment > config/
    (coklit_dq.config)."""
    params = {
        "source": source, "outbox": outbox, "warehouse": warehouse,
        "election": election, "inbox": inbox,
    }  # fmt: skip
    overrides: dict[str, str] = {k: v for k, v in params.items() if v}
    if _deployed():
        for key in PATH_ENV:
            if key not in overrides:
                value = _variable(variable_name(key))
                if value is not None:
                    overrides[key] = value
        missing = [
            k for k, env in PATH_ENV.items() if k not in overrides and not os.environ.get(env)
        ]
        if missing:
            raise SettingsMissing(
                "not set for this deployed run: "
                + ", ".join(
                    f"{k} (Prefect Variable {variable_name(k)} or {PATH_ENV[k]} "
                    "in the worker's environment)"
                    for k in missing
                )
            )
    settings = resolve_settings(**overrides)
    if not settings.source:
        raise SettingsMissing(
            f"no export source: pass source, or set {PATH_ENV['source']} (a deployed "
            f"run: the Prefect Variable {variable_name('source')})"
        )
    run_id = _flow_run_id()
    if run_id is not None:  # for the failure hook, so it need not resolve them again
        _RESOLVED[run_id] = settings
    return settings


_RESOLVED: dict[UUID, Settings] = {}  # flow run -> its settings, until the run ends


def _flow_run_id() -> UUID | None:
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    return ctx.flow_run.id if ctx is not None and ctx.flow_run is not None else None


# --- logs on the server ---------------------------------------------------------------------


def _api_handler() -> logging.Handler:
    from prefect.logging.handlers import APILogHandler

    class MaskedAPILogHandler(APILogHandler):
        """Prefect's API log handler, nik/nkk masked in the whole formatted line."""

        def format(self, record: logging.LogRecord) -> str:
            return scrub(super().format(record)) or ""

    handler = MaskedAPILogHandler(level=logging.INFO)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    return handler


class _MaskedFormatter(logging.Formatter):
    """A handler's own formatter, the whole line it gives masked (privacy.scrub): the
    message, its arguments and a traceback alike."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()  # what a handler without one uses

    def format(self, record: logging.LogRecord) -> str:
        return scrub(self.inner.format(record)) or ""


@contextmanager
def masked_handlers() -> Iterator[None]:
    """For the block: every log handler the process has (the root's, Prefect's console and
    API handlers, any a caller added, and logging's last resort that prints a record no
    handler takes) formats through `_MaskedFormatter`; each gets its own formatter back
    after. Prefect's handlers are set up first, so they are among them."""
    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    handlers = {h for lg in loggers for h in lg.handlers}
    if logging.lastResort is not None:
        handlers.add(logging.lastResort)
    saved = [(h, h.formatter) for h in handlers if not isinstance(h.formatter, _MaskedFormatter)]
    for h, formatter in saved:
        h.setFormatter(_MaskedFormatter(formatter))
    try:
        yield
    finally:
        for h, formatter in saved:
            h.setFormatter(formatter)


QUIET = {"great_expectations": logging.WARNING, "py4j": logging.WARNING}


@contextmanager
def pipeline_logs(
    handler: logging.Handler,
    *,
    quiet: Mapping[str, int] = QUIET,
    root_handlers_level: int | None = None,
) -> Iterator[None]:
    """For the block: the pipeline's log lines (logger `coklit_dq`, INFO and up) also go
    to `handler`; the loggers in `quiet` are raised to their level; with
    `root_handlers_level`, the root logger's handlers are raised to it. Every
    level is restored after, so the flows and the command line share this one
    place that routes logs (`logs_to_prefect`, `terminal_logs`).
    """
    pipeline_log = logging.getLogger("coklit_dq")
    root_handlers = logging.getLogger().handlers if root_handlers_level is not None else []
    loggers = [pipeline_log, *(logging.getLogger(n) for n in quiet)]
    saved: list[tuple[logging.Logger | logging.Handler, int]] = [
        *((lg, lg.level) for lg in loggers),
        *((h, h.level) for h in root_handlers),
    ]
    if pipeline_log.getEffectiveLevel() > logging.INFO:
        pipeline_log.setLevel(logging.INFO)
    for name, level in quiet.items():
        lg = logging.getLogger(name)
        lg.setLevel(max(lg.level, level))
    for h in root_handlers:
        h.setLevel(max(h.level, root_handlers_level or 0))
    pipeline_log.addHandler(handler)
    try:
        yield
    finally:
        pipeline_log.removeHandler(handler)
        for obj, level in saved:
            obj.setLevel(level)


def logs_to_prefect() -> AbstractContextManager[None]:
    """Ship the pipeline's log lines to the run on the server, nik/nkk masked."""
    return pipeline_logs(_api_handler())


def terminal_logs(handler: logging.Handler) -> AbstractContextManager[None]:
    """On a terminal: the pipeline's steps drive `handler` (a progress display); only
    warnings print as lines. Prefect's run loggers are silenced there: the command
    prints the reasons of a failed night itself, without NightFailed's traceback.
    """
    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()  # importing prefect alone does not: root's handlers exist now
    silent = {"prefect.flow_runs": logging.CRITICAL, "prefect.task_runs": logging.CRITICAL}
    return pipeline_logs(handler, quiet={**QUIET, **silent}, root_handlers_level=logging.WARNING)


# --- a failed night -----------------------------------------------------------------------


def mail_failure(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
    """Failure hook: mail Pusdatin (settings.pusdatin_email) that the night failed.

    Uses the settings the run resolved; a run that failed before it had them
    (a path missing, a wrong setting) is reported with what can be read
    (config.readable_settings: the mail settings, when they are right, are enough),
    and the mail says which settings are wrong: the hook must not fail on the very
    error it reports.
    """
    from coklit_dq.publish.notify import notify_failure

    night = (flow_run.parameters or {}).get("tanggal") or flow_run.name
    try:
        reason = state.message or ""
        settings = _RESOLVED.pop(flow_run.id, None)
        if settings is None:
            settings, wrong = readable_settings()
            if wrong:
                told = "; ".join(wrong)
                said = "" if told in reason else f"; {reason}"
                reason = f"pengaturan salah (settings are wrong): {told}{said}"
        notify_failure(settings, str(night), scrub(reason) or "", flow_run.name)
    except Exception as exc:
        log.error("could not mail the failure of %s: %s", night, scrub(str(exc)))


def forget_settings(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
    """Hook of a run's end that does not mail: drop the settings kept for `mail_failure`."""
    _RESOLVED.pop(flow_run.id, None)
