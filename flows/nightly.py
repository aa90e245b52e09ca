"""The nightly flow: one night of coklit, start to end, as Prefect tasks.

    pull-and-verify -> validate -> link -> diff -> publish -> notify -> finish

A night with a quarantined file still runs every step and publishes every
other region, then ends as a FAILED flow run whose message names the file.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow

from coklit_dq import pipeline
from coklit_dq.config import resolve_settings
from flows import tasks
from flows.artifacts import publish_artifacts

WIB = ZoneInfo("Asia/Jakarta")


def default_night(now: datetime | None = None) -> date:
    """The export a 01:00 WIB run reads: the day before, in WIB."""
    return (now or datetime.now(WIB)).astimezone(WIB).date() - timedelta(days=1)


@flow(name="nightly-coklit", flow_run_name="nightly-{tanggal}", log_prints=False)
def nightly_coklit(
    source: str,
    tanggal: date | None = None,
    outbox: str | None = None,
    warehouse: str | None = None,
    election: str | None = None,
    *,
    inbox: str | None = None,
) -> dict[str, Any]:
    """Ingest, check, link, diff, publish and notify one night of the export."""
    night = tanggal or default_night()
    settings = resolve_settings(
        outbox=outbox, warehouse=warehouse, election=election, inbox=inbox
    )
    with pipeline.open_night(settings, source, night) as run:
        try:
            tasks.pull_and_verify(run)
            tasks.validate(run)
        except Exception as exc:
            run.fatal = True
            result = tasks.finish(run, exc)
        else:
            try:
                tasks.link(run)
                tasks.diff(run)
                tasks.publish(run)
            except Exception as exc:  # closed as failed, never left 'running'
                run.fatal = True
                result = tasks.finish(run, exc)
            else:
                state = tasks.notify(run, return_state=True)
                if state.is_failed():
                    pipeline.step_failed(run, "notify", _exception(state))
                result = tasks.finish(run)
    publish_artifacts(result)
    if not result.ok:
        raise pipeline.NightFailed(result)
    return result.to_dict()


def _exception(state: Any) -> BaseException:
    try:
        state.result()
    except BaseException as exc:
        return exc
    return RuntimeError(state.message or "failed")
