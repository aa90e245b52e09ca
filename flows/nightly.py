"""The nightly flow: one night of coklit, start to end, each step a Prefect task.

The steps, their order and the failure policy are pipeline.STEPS and
pipeline.run_steps; this flow only decides where the settings come from
(flows.runtime) and makes each step a task. The warehouse's one writer is
pipeline.warehouse_lock (taken by open_night): a run that fires while another
run holds it waits, then runs.
A night with a quarantined file still runs every step and publishes every
other region, then ends as a FAILED flow run whose message names the file;
Pusdatin is mailed (settings.pusdatin_email).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from prefect import flow

from coklit_dq import pipeline
from flows import runtime, tasks
from flows.artifacts import publish_artifacts

WIB = ZoneInfo("Asia/Jakarta")


def default_night(now: datetime | None = None) -> date:
    """The export a 01:00 WIB run reads: the day before, in WIB."""
    return (now or datetime.now(WIB)).astimezone(WIB).date() - timedelta(days=1)


def night_run_name() -> str:
    """`nightly-<night>`, also for a scheduled run that passes no tanggal."""
    from prefect.runtime import flow_run

    tanggal = flow_run.parameters.get("tanggal")
    return f"nightly-{tanggal or default_night()}"


@flow(
    name="nightly-coklit",
    flow_run_name=night_run_name,
    log_prints=False,
    persist_result=True,  # a failed run's NightFailed is readable through the API
    on_failure=[runtime.mail_failure],
    on_crashed=[runtime.mail_failure],
    on_completion=[runtime.forget_settings],
    on_cancellation=[runtime.forget_settings],
)
def nightly_coklit(
    source: str | None = None,
    tanggal: date | None = None,
    outbox: str | None = None,
    warehouse: str | None = None,
    election: str | None = None,
    *,
    inbox: str | None = None,
    later: bool = True,
    mail: bool = True,
) -> pipeline.NightResult:
    """Ingest, check, link, diff, publish and notify one night of the export.

    The parameters are what an operator may set (`--param source=...`); left
    out, they are read at run time (flows.runtime.settings_for_run), once, into
    the run's one `Settings`. A night that did not use every file or finish
    every step raises `NightFailed` carrying its `NightResult`. With `later`, the
    later nights this one changed (pipeline.redo_plan: a backfill, a stopped night run
    again) are run again after it, in order, each a subflow, only the newest mailed.
    """
    night = tanggal or default_night()
    settings = runtime.settings_for_run(
        source=source, outbox=outbox, warehouse=warehouse, election=election, inbox=inbox
    )
    assert settings.source is not None  # settings_for_run refuses a run without one
    with runtime.logs_to_prefect(), pipeline.warehouse_lock(settings.warehouse):
        with pipeline.open_night(settings, settings.source, night, mail=mail) as run:
            result = pipeline.run_steps(run, tasks.call_as_task)
            redo = pipeline.redo_plan(run) if later else []
        publish_artifacts(result)
        for r in redo:
            n = r.tanggal
            state = nightly_coklit(
                r.source,
                n,
                outbox=settings.outbox,
                warehouse=settings.warehouse,
                election=settings.election.kode,
                inbox=settings.inbox,
                later=False,
                mail=r.mail,
                return_state=True,
            )
            again = state.result(raise_on_failure=False) if state.is_completed() else None
            result.add_redone(
                n,
                again if isinstance(again, pipeline.NightResult) else None,
                "" if state.is_completed() else str(state.message),
            )
    if not result.ok:
        raise pipeline.NightFailed(result)
    return result
