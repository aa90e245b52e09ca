"""What a flow run resolves when it starts, not when it is deployed.

- Paths (`settings_for_run`): flow parameter > Prefect Variable
  (`coklit_dq_source`, `coklit_dq_outbox`, `coklit_dq_warehouse`) > the worker's
  environment (`COKLIT_DQ_SOURCE`, ...). Moving a path is `prefect variable set`
  (or the worker's unit file), never a redeploy. A deployed run with a path
  unset stops before it touches anything (no `.lock` in the checkout).
- Logs (`logs_to_prefect`): the pipeline's own log lines (logger `coklit_dq`)
  go to the Prefect server with nik/nkk masked; Great Expectations' INFO
  chatter does not.
- A failed night mails Pusdatin (`mail_failure`, the flow's failure hook).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from coklit_dq.config import PATH_ENV, Settings, resolve_settings
from coklit_dq.privacy import scrub

log = logging.getLogger("coklit_dq.flows")


class SettingsMissing(ValueError):
    """A deployed run without a path it needs: it stops before touching anything."""


def variable_name(key: str) -> str:
    """The Prefect Variable that holds a path: the environment name in lower case."""
    return PATH_ENV[key].lower()


def _variable(name: str) -> str | None:
    from prefect.variables import Variable

    try:
        value = Variable.get(name, default=None)
    except Exception as exc:  # no API reachable: the environment decides
        log.debug("Prefect Variable %s not read: %s", name, exc)
        return None
    return str(value) if value not in (None, "") else None


def _deployed() -> bool:
    from prefect.runtime import flow_run

    try:
        return flow_run.deployment_id is not None
    except Exception:
        return False


def settings_for_run(**params: Any) -> Settings:
    """The run's Settings, resolved once: parameters > Prefect Variables > environment."""
    overrides = {k: v for k, v in params.items() if v not in (None, "")}
    for key in PATH_ENV:
        if key not in overrides:
            value = _variable(variable_name(key))
            if value is not None:
                overrides[key] = value
    if _deployed():
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
            f"no export source: pass source, or set the Prefect Variable "
            f"{variable_name('source')} or {PATH_ENV['source']}"
        )
    return settings


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


QUIET = {"great_expectations": logging.WARNING, "py4j": logging.WARNING}


@contextmanager
def logs_to_prefect() -> Iterator[None]:
    """Ship the pipeline's log lines (logger `coklit_dq`) to the run on the server."""
    pipeline_log = logging.getLogger("coklit_dq")
    handler = _api_handler()
    saved = [(pipeline_log, pipeline_log.level)] + [
        (logging.getLogger(n), logging.getLogger(n).level) for n in QUIET
    ]
    if pipeline_log.getEffectiveLevel() > logging.INFO:
        pipeline_log.setLevel(logging.INFO)
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)
    pipeline_log.addHandler(handler)
    try:
        yield
    finally:
        pipeline_log.removeHandler(handler)
        for lg, level in saved:
            lg.setLevel(level)


# --- a failed night -----------------------------------------------------------------------


def mail_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Failure hook: mail Pusdatin (settings.pusdatin_email) that the night failed."""
    from coklit_dq.publish.notify import notify_failure

    params = dict(flow_run.parameters or {})
    try:
        settings = settings_for_run(
            **{k: params.get(k) for k in ("source", "outbox", "warehouse", "election")}
        )
    except Exception:  # the paths are what is missing: mail with what the environment has
        settings = resolve_settings()
    night = params.get("tanggal") or flow_run.name
    try:
        notify_failure(settings, str(night), scrub(state.message or "") or "", flow_run.name)
    except Exception as exc:
        log.error("could not mail the failure of %s: %s", night, scrub(str(exc)))
