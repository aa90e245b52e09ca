"""The steps of coklit_dq.pipeline (pipeline.STEPS) as Prefect tasks, one each.

Made from the step table, so a step added there is a task here with no edit.
Tasks receive the open `NightRun` (it holds a DuckDB connection), so none of
them hashes its inputs: cache_policy=NONE. Retries with backoff only where a
step reads or writes outside the warehouse (`Step.io`: the export root, the
outbox, the mail server), and only for I/O errors: a missing night folder or a
refused warehouse is not retried.

What leaves a task is a `pipeline.StepError`: one line, nik/nkk masked
(privacy.scrub), no chained original. Prefect logs a failed task's exception
and stores it on the server, so the stage's own exception (whose text may
quote a record) never reaches it.
"""

from __future__ import annotations

from typing import Any

from prefect import Task
from prefect.cache_policies import NONE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State
from prefect.tasks import exponential_backoff

from coklit_dq import pipeline

TASK_NAMES = {"ingest": "pull-and-verify"}  # the others are named like their step


def retry_on_io_error(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry only errors that a second try can cure (network, storage hiccups)."""
    try:
        state.result()
    except Exception as exc:
        return pipeline.is_transient(exc)
    return False


IO_RETRIES = 2  # for a step with `io`: two more tries, about 10 s then 20 s later (jittered)
IO_BACKOFF = exponential_backoff(backoff_factor=10)


def step_task(step: pipeline.Step) -> Task[[pipeline.NightRun], None]:
    """The Prefect task of one step."""

    def run_step(run: pipeline.NightRun) -> None:
        try:
            step.fn(run)
        except Exception as exc:
            raise pipeline.scrubbed(exc) from None

    return Task(
        fn=run_step,
        name=TASK_NAMES.get(step.name, step.name),
        cache_policy=NONE,
        persist_result=False,
        retries=IO_RETRIES if step.io else 0,
        retry_delay_seconds=IO_BACKOFF if step.io else 0,
        retry_jitter_factor=0.5 if step.io else None,
        retry_condition_fn=retry_on_io_error if step.io else None,
    )


TASKS = {s.name: step_task(s) for s in pipeline.STEPS}


def call_as_task(step: pipeline.Step, run: pipeline.NightRun) -> None:
    """pipeline.run_steps' `call`: the step runs as its task (retries, state, logs)."""
    TASKS[step.name](run)
