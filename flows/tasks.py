"""The steps of coklit_dq.pipeline as Prefect tasks.

Tasks receive the open `NightRun` (it holds a DuckDB connection), so none of
them hashes its inputs: cache_policy=NONE. Retries with backoff only where a
step reads or writes outside the warehouse (the export root, the outbox, the
mail server), and only for I/O errors: a missing night folder or a refused
warehouse is not retried.
"""

from __future__ import annotations

from typing import Any

from prefect import Task, task
from prefect.cache_policies import NONE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State
from prefect.tasks import exponential_backoff

from coklit_dq import pipeline

NOT_TRANSIENT = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def retry_on_io_error(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry only errors that a second try can cure (network, storage hiccups)."""
    try:
        state.result()
    except NOT_TRANSIENT:
        return False
    except (OSError, TimeoutError, ConnectionError):
        return True
    except Exception:
        return False
    return False


IO_RETRIES: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": exponential_backoff(backoff_factor=10),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_on_io_error,
}


@task(name="pull-and-verify", cache_policy=NONE, **IO_RETRIES)
def pull_and_verify(run: pipeline.NightRun) -> Any:
    return pipeline.ingest(run)


@task(name="validate", cache_policy=NONE)
def validate(run: pipeline.NightRun) -> Any:
    return pipeline.validate(run)


@task(name="link", cache_policy=NONE)
def link(run: pipeline.NightRun) -> Any:
    return pipeline.link(run)


@task(name="diff", cache_policy=NONE)
def diff(run: pipeline.NightRun) -> Any:
    return pipeline.diff(run)


@task(name="publish", cache_policy=NONE, **IO_RETRIES)
def publish(run: pipeline.NightRun) -> Any:
    return pipeline.publish(run)


@task(name="notify", cache_policy=NONE, **IO_RETRIES)
def notify(run: pipeline.NightRun) -> None:
    pipeline.notify(run, raise_errors=True)


@task(name="finish", cache_policy=NONE)
def finish(run: pipeline.NightRun, error: BaseException | None = None) -> pipeline.NightResult:
    return pipeline.finish(run, error)
