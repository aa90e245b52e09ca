"""The backfill flow: a range of nights, in order, each as a nightly subflow.

Nights are the folders named YYYY-MM-DD under the source within [start, end].
A failed night does not stop the later ones (each compares with the last
night the warehouse holds); the backfill fails when any night failed. Only the
last night of the range mails the regions. It holds
the warehouse's lock (pipeline.warehouse_lock) for the whole range: a
scheduled nightly run that fires meanwhile waits, then runs.
"""

from __future__ import annotations

import re
from datetime import date

import fsspec
from prefect import flow

from coklit_dq import pipeline
from flows import runtime
from flows.nightly import nightly_coklit

NIGHT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def nights_in(source: str, start: date, end: date) -> list[date]:
    fs, base = fsspec.core.url_to_fs(source)
    names = [p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(base, detail=False)]
    nights = sorted(date.fromisoformat(n) for n in names if NIGHT.match(n))
    return [n for n in nights if start <= n <= end]


@flow(
    name="backfill-coklit",
    flow_run_name="backfill-{start}-{end}",
    on_completion=[runtime.forget_settings],
    on_failure=[runtime.forget_settings],
    on_crashed=[runtime.forget_settings],
    on_cancellation=[runtime.forget_settings],
)
def backfill_coklit(
    start: date,
    end: date,
    *,
    source: str | None = None,
    outbox: str | None = None,
    warehouse: str | None = None,
    election: str | None = None,
    inbox: str | None = None,
) -> dict[str, str]:
    """Run every night of the source between start and end (inclusive), oldest first.

    The settings are resolved once, here; each night's subflow gets the resolved
    paths and election as its parameters, which win over Variables and environment.
    """
    settings = runtime.settings_for_run(
        source=source, outbox=outbox, warehouse=warehouse, election=election, inbox=inbox
    )
    assert settings.source is not None
    nights = nights_in(settings.source, start, end)
    if not nights:
        raise ValueError(f"no night folders under {settings.source} between {start} and {end}")
    outcome: dict[str, str] = {}
    with runtime.logs_to_prefect(), pipeline.warehouse_lock(settings.warehouse):
        for night in nights:
            state = nightly_coklit(
                settings.source,
                night,
                outbox=settings.outbox,
                warehouse=settings.warehouse,
                election=settings.election.kode,
                inbox=settings.inbox,
                later=night == nights[-1],  # nights after the range, once, after its last
                # the regions are mailed once, the list of the range's last night: the
                # older lists are history (a 30-night backfill sent 30 summaries)
                mail=night == nights[-1],
                return_state=True,
            )
            ok = state.is_completed()
            outcome[night.isoformat()] = "done" if ok else f"failed: {state.message}"
    failed = {k: v for k, v in outcome.items() if v != "done"}
    if failed:
        raise RuntimeError(
            f"{len(failed)} of {len(nights)} nights failed: "
            + "; ".join(f"{k} {v}" for k, v in failed.items())
        )
    return outcome
