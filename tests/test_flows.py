"""The nightly and backfill flows: failure behaviour, rerun after a kill, a second trigger.

Flow tests share one prefect_test_harness (the session fixture `prefect_api` of
flow_fixtures); unit tests of tasks call `.fn()` with no server.
"""

import os
import pickle
import signal
import subprocess
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import polars as pl
import pytest
from flow_fixtures import (
    PYTHON,
    REPO,
    make_night,
    relist,
    stop,
    subprocess_env,
)

from coklit_dq import warehouse
from coklit_dq.config import resolve_settings
from coklit_dq.pipeline import (
    NightFailed,
    NightResult,
    NightRun,
    Step,
    StepError,
    WarehouseBusy,
    finish,
    scrubbed,
    warehouse_lock,
)
from flows import tasks
from flows.artifacts import render_summary
from flows.nightly import default_night

N1, N2 = date(2024, 7, 1), date(2024, 7, 2)


# --- unit tests: no server -----------------------------------------------------------


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth of its code (lazy imports included)."""
    import ast

    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            names |= {a.value for a in node.args if isinstance(a, ast.Constant)}
    return names


def test_the_library_never_imports_flows():
    """coklit_dq is the library; flows/ wraps it (and holds the console script)."""
    files = sorted((REPO / "coklit_dq").rglob("*.py"))
    assert len(files) > 40
    wrappers = ("flows", "prefect")  # the orchestration around the library
    offenders = {
        str(f.relative_to(REPO)): sorted(
            m for m in _imported_modules(f) if m.split(".")[0] in wrappers
        )
        for f in files
    }
    assert {f: m for f, m in offenders.items() if m} == {}


def test_the_checker_sees_a_lazy_import_of_flows(tmp_path: Path):
    f = tmp_path / "m.py"
    f.write_text("def g():\n    from flows.nightly import nightly_coklit\n", encoding="utf-8")
    assert "flows.nightly" in _imported_modules(f)


def test_steps_and_tasks_hand_on_one_typed_night_run():
    """What passes between steps is the typed NightRun: no Any on the way."""
    import typing

    from coklit_dq import pipeline

    for step in pipeline.STEPS:
        hints = typing.get_type_hints(step.fn)
        assert hints == {"run": NightRun, "return": type(None)}, step.name
        task = tasks.TASKS[step.name]
        assert typing.get_type_hints(task.fn) == {"run": NightRun, "return": type(None)}
    import polars

    from coklit_dq.ingest.night import IngestResult
    from coklit_dq.lifecycle import LifecycleResult
    from coklit_dq.publish import PublishResult

    stages = {"pl": polars, "IngestResult": IngestResult, "LifecycleResult": LifecycleResult,
              "PublishResult": PublishResult}  # fmt: skip
    fields = typing.get_type_hints(NightRun, localns=stages)
    assert all("Any" not in str(t) for t in fields.values()), fields
    result_fields = typing.get_type_hints(NightResult)
    assert all("Any" not in str(t) for t in result_fields.values()), result_fields


def test_default_night_is_the_day_before_in_jakarta():
    wib = timezone(timedelta(hours=7))
    assert default_night(datetime(2024, 7, 2, 1, 0, tzinfo=wib)) == N1
    # 18:30 UTC on 1 July is already 01:30 WIB on 2 July
    assert default_night(datetime(2024, 7, 1, 18, 30, tzinfo=UTC)) == N1


HOLDER = """
import sys, time
from coklit_dq.pipeline import warehouse_lock
with warehouse_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_warehouse_lock_makes_a_second_writer_wait_or_refuses_it(tmp_path: Path):
    import time

    wh = str(tmp_path / "w.duckdb")
    script = tmp_path / "holder.py"
    script.write_text(HOLDER, encoding="utf-8")
    child = subprocess.Popen(
        [PYTHON, str(script), wh, "3"], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseBusy, match="in use by pid"), warehouse_lock(wh, wait=False):
            pass
        t0 = time.monotonic()
        with warehouse_lock(wh):  # waits for the other process (3 s), then holds it
            assert time.monotonic() - t0 > 1.5
            with warehouse_lock(wh):  # re-entrant in the holding process (backfill -> nightly)
                pass
    finally:
        stop(child)
    # a killed holder never leaves the warehouse locked
    child = subprocess.Popen(
        [PYTHON, str(script), wh, "60"], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        with warehouse_lock(wh, wait=False):
            pass
    finally:
        stop(child)


def test_retry_condition_retries_io_errors_only():
    from prefect.states import Failed

    def retried(exc: BaseException) -> bool:
        publish = tasks.TASKS["publish"]
        return tasks.retry_on_io_error(publish, None, Failed(data=exc))  # type: ignore[arg-type]

    assert retried(ConnectionResetError("peer reset"))
    assert retried(TimeoutError("slow bucket"))
    assert not retried(FileNotFoundError("no night folder"))
    assert not retried(ValueError("bad manifest"))
    # what a task raises is the scrubbed StepError: it keeps whether to retry
    assert retried(scrubbed(ConnectionResetError("peer reset")))
    assert not retried(scrubbed(FileNotFoundError("no night folder")))


def test_a_failing_task_raises_one_masked_line_without_the_original():
    def boom(run):
        raise ValueError("row 7: nik 3204054107880001 duplicated")

    task = tasks.step_task(Step("boom", boom, stops=True))
    with pytest.raises(StepError) as info:
        task.fn(None)  # the function Prefect runs: what it raises is what Prefect logs
    exc = info.value
    assert "3204054107880001" not in str(exc) and "320405********01" in str(exc)
    assert exc.__cause__ is None and exc.__suppress_context__
    assert pickle.loads(pickle.dumps(exc)).args == exc.args


def test_night_failed_survives_pickling_with_its_result():
    result = NightResult(tanggal=N1, state="failed", message="night 2024-07-01 failed: x")
    again = pickle.loads(pickle.dumps(NightFailed(result)))
    assert isinstance(again, NightFailed) and again.result == result


def test_finish_task_closes_the_night_in_runs(tmp_path: Path):
    settings = resolve_settings(warehouse=str(tmp_path / "w.duckdb"), outbox=str(tmp_path / "o"))
    con = warehouse.connect(settings.warehouse)
    run = NightRun(con=con, settings=settings, source=str(tmp_path), tanggal=N1)
    run.failures.append("link: RuntimeError: boom")
    result = finish(run)
    assert result.state == "failed" and "link: RuntimeError: boom" in result.message
    assert con.execute("SELECT state, message FROM runs").fetchall() == [("failed", result.message)]
    con.close()


def test_summary_names_files_and_counts_without_personal_data():
    result = NightResult(
        tanggal=N1,
        state="failed",
        message="night 2024-07-01 failed: set aside pemilih/32.parquet (truncated)",
        used=["wilayah.parquet", "pemilih/31.csv.gz"],
        quarantined=[{"path": "pemilih/32.parquet", "reason": "truncated; expected 120 rows"}],
        findings_by_code={"GANDA_NIK": 4, "KK_TERPISAH": 2},
        findings_by_kab={"3101": 6},
        timings={"ingest": 1.5, "publish": 0.25},
    )
    md = render_summary(result)
    for text in ("FAILED", "pemilih/32.parquet", "pemilih/31.csv.gz", "| GANDA_NIK | 4 |"):
        assert text in md
    assert "| 3101 | 6 |" in md and "| ingest | 1.50 |" in md


# --- flow tests: one harness ------------------------------------------------------------


def _run(export: Path, night: date, out: Path, wh: Path):
    from flows.cli import run_flow

    return run_flow(str(export), night, str(out), str(wh))


def state_of(outbox: Path, wh: Path) -> dict:
    """Everything a rerun must reproduce: outbox files and the warehouse's history."""
    files = sorted(str(p.relative_to(outbox)) for p in outbox.rglob("*") if p.is_file())
    csvs = {str(p.relative_to(outbox)): p.read_bytes() for p in sorted(outbox.rglob("*.csv"))}
    nasional = {
        str(p.relative_to(outbox)): pl.read_parquet(p).sort(pl.all()).rows()
        for p in sorted(outbox.rglob("nasional/temuan.parquet"))
    }
    con = duckdb.connect(str(wh), read_only=True)
    q = {
        "temuan": "SELECT * FROM temuan ORDER BY ALL",
        "temuan_selesai": "SELECT * FROM temuan_selesai ORDER BY ALL",
        "runs": "SELECT tanggal_ekspor, state, message FROM runs ORDER BY ALL",
        "files": "SELECT tanggal_ekspor, path, state, rows FROM files ORDER BY ALL",
        "pemilih": "SELECT tanggal_ekspor, count(*) FROM pemilih GROUP BY 1 ORDER BY 1",
        "agregat": "SELECT * FROM agregat_desa ORDER BY ALL",
    }
    db = {k: con.execute(sql).fetchall() for k, sql in q.items()}
    con.close()
    return {"files": files, "csv": csvs, "nasional": nasional, "db": db}


@pytest.fixture(scope="module")
def two_nights(tmp_path_factory) -> Path:
    export = tmp_path_factory.mktemp("export")
    make_night(export, N1, voters=1200)
    make_night(export, N2, voters=1200, drop=6)
    return export


@pytest.fixture(scope="module")
def group_key() -> str:
    """One warehouse secret for the baseline and the reruns compared with it: group ids
    (GANDA_NIK / GANDA_ORANG id_kelompok) are keyed per warehouse by design, so two
    warehouses agree on them only when they share the key."""
    from coklit_dq.privacy import new_group_key

    return new_group_key()


def _with_key(wh: Path, key: str) -> None:
    """Create the warehouse `wh` with the group-id secret `key`."""
    con = warehouse.connect(str(wh))
    con.execute("UPDATE rahasia SET nilai = ? WHERE nama = 'kelompok'", [key])
    con.close()


@pytest.fixture(scope="module")
def baseline(prefect_api, two_nights, group_key, tmp_path_factory):
    """Both nights, uninterrupted, through the backfill flow."""
    from flows.backfill import backfill_coklit

    base = tmp_path_factory.mktemp("baseline")
    out, wh = base / "outbox", base / "w.duckdb"
    _with_key(wh, group_key)
    outcome = backfill_coklit(N1, N2, source=str(two_nights), outbox=str(out), warehouse=str(wh))
    assert outcome == {N1.isoformat(): "done", N2.isoformat(): "done"}
    return state_of(out, wh)


def test_backfill_ran_both_nights_once(baseline):
    runs = baseline["db"]["runs"]
    assert [(r[0], r[1]) for r in runs] == [(N1, "done"), (N2, "done")]
    assert baseline["db"]["temuan"], "the planted-free night still has findings? check stages"


def test_quarantined_file_publishes_other_regions_and_fails_naming_it(prefect_api, tmp_path: Path):
    from prefect.client.orchestration import get_client

    export = tmp_path / "export"
    night = make_night(export, N1, voters=1200)
    # the manifest agrees with the damaged bytes: the file fails only when read, which
    # happens in one of ingest's worker threads
    relist(night, "pemilih/32.parquet", data=b"PAR1 not a parquet file")
    out, wh = tmp_path / "outbox", tmp_path / "w.duckdb"
    code, result, message = _run(export, N1, out, wh)
    assert code == 1
    assert "pemilih/32.parquet" in message
    assert [q["path"] for q in result.quarantined] == ["pemilih/32.parquet"]
    # every other region is published: province 31's kabupaten/kota have their files
    kabs = {p.parent.name for p in (out / N1.isoformat()).glob("31/*/temuan.csv")}
    assert kabs == {"3101", "3171"}
    assert (out / N1.isoformat() / "nasional" / "temuan.parquet").is_file()
    assert not list((out / N1.isoformat()).rglob("*.reason.json"))  # quarantine stays out
    con = duckdb.connect(str(wh), read_only=True)
    (state, msg) = con.execute("SELECT state, message FROM runs").fetchone()
    con.close()
    assert state == "failed" and "pemilih/32.parquet" in msg

    # the flow run itself ended FAILED, its message naming the file, with artifacts
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(limit=50)
        mine = [r for r in runs if r.name == f"nightly-{N1}" and r.state and r.state.is_failed()]
        assert mine and any("pemilih/32.parquet" in (r.state.message or "") for r in mine)
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[mine[0].id]))
        )
        from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[r.id for r in mine]))
        )
    # its line reaches the run's log from the worker thread
    assert any("quarantined 'pemilih/32.parquet'" in lg.message for lg in logs)
    keys = {a.key for a in arts}
    assert {"coklit-nightly-summary", "coklit-nightly-provinces"} <= keys
    md = next(a.data for a in arts if a.key == "coklit-nightly-summary")
    assert "pemilih/32.parquet" in str(md)


CHILD = """
import logging, sys
from datetime import date
h = logging.StreamHandler(sys.stderr)
h.setFormatter(logging.Formatter("STEP %(message)s"))
logging.getLogger("coklit_dq.pipeline").addHandler(h)
logging.getLogger("coklit_dq.pipeline").setLevel(logging.INFO)
from flows.cli import run_nightly_cli
sys.exit(run_nightly_cli(sys.argv[1], date.fromisoformat(sys.argv[2]), sys.argv[3], sys.argv[4]))
"""


def _start_child(api: str, export: Path, night: date, out: Path, wh: Path) -> subprocess.Popen:
    # A script file, not `python -c`: under -c pyspark (imported by GX) takes itself for a
    # doctest run and exits 0 on import.
    script = wh.parent / "child_nightly.py"
    script.write_text(CHILD, encoding="utf-8")
    return subprocess.Popen(
        [PYTHON, str(script), str(export), night.isoformat(), str(out), str(wh)],
        cwd=REPO,
        env=subprocess_env(api),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


def _wait_line(proc: subprocess.Popen, needle: str) -> list[str]:
    seen = []
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"child ended before {needle!r}:\n{''.join(seen[-30:])}")


def test_killed_midway_then_rerun_equals_uninterrupted(
    prefect_api, two_nights, baseline, group_key, tmp_path: Path
):
    out, wh = tmp_path / "outbox", tmp_path / "w.duckdb"
    _with_key(wh, group_key)
    assert _run(two_nights, N1, out, wh)[0] == 0
    child = _start_child(prefect_api, two_nights, N2, out, wh)
    try:
        _wait_line(child, "STEP step ingest done")
        os.kill(child.pid, signal.SIGKILL)  # midway: the night is loaded, nothing recorded yet
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        stop(child)
    code, _, message = _run(two_nights, N2, out, wh)
    assert code == 0, message
    assert state_of(out, wh) == baseline


def test_a_night_run_behind_a_later_one_runs_it_again_as_a_subflow(
    prefect_api, two_nights, baseline, group_key, tmp_path: Path, capsys
):
    """Night 1's export came late: night 2 ran first (against nothing), then night 1. The
    flow runs night 2 again after it, so the history is the in-order one, and the command
    says so."""
    from flows.cli import run_nightly_cli

    out, wh = tmp_path / "outbox", tmp_path / "w.duckdb"
    _with_key(wh, group_key)
    assert _run(two_nights, N2, out, wh)[0] == 0
    assert state_of(out, wh) != baseline
    assert run_nightly_cli(str(two_nights), N1, str(out), str(wh)) == 0
    assert f"later nights run again: {N2} (done)" in capsys.readouterr().out
    assert state_of(out, wh) == baseline


def test_second_trigger_while_running_waits_then_runs_and_corrupts_nothing(
    prefect_api, two_nights, baseline, group_key, tmp_path: Path, caplog
):
    out, wh = tmp_path / "outbox", tmp_path / "w.duckdb"
    _with_key(wh, group_key)
    assert _run(two_nights, N1, out, wh)[0] == 0
    child = _start_child(prefect_api, two_nights, N2, out, wh)
    try:
        _wait_line(child, "STEP step ingest started")
        # the second trigger waits for the warehouse (its lock), then runs
        with caplog.at_level("INFO", logger="coklit_dq.pipeline"):
            code, _, message = _run(two_nights, N2, out, wh)
        assert code == 0, message
        waited = [r.getMessage() for r in caplog.records if "waiting for it" in r.getMessage()]
        assert waited and f"pid {child.pid}" in waited[0]
        assert child.wait(timeout=120) == 0
    finally:
        stop(child)
    assert state_of(out, wh) == baseline


def test_a_step_calling_sys_exit_fails_the_night_instead_of_ending_it(tmp_path: Path):
    from coklit_dq.pipeline import StepExited, timed

    settings = resolve_settings(warehouse=str(tmp_path / "w.duckdb"), outbox=str(tmp_path / "o"))
    con = warehouse.connect(settings.warehouse)
    run = NightRun(con=con, settings=settings, source=str(tmp_path), tanggal=N1)
    with (
        pytest.raises(StepExited, match=r"step validate called sys.exit\(0\)"),
        timed(run, "validate"),
    ):
        raise SystemExit(0)
    assert "validate" in run.timings
    con.close()


def test_a_failing_publish_closes_the_night_as_failed_not_running(tmp_path: Path, monkeypatch):
    import coklit_dq.publish
    from coklit_dq.pipeline import run_night

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(coklit_dq.publish, "publish_night", full_disk)
    export = tmp_path / "export"
    make_night(export, N1, voters=300)
    wh = tmp_path / "w.duckdb"
    settings = resolve_settings(outbox=str(tmp_path / "o"), warehouse=str(wh))
    result = run_night(settings, str(export), N1)
    assert result.state == "failed"
    assert any(f.startswith("stopped:") for f in result.failures), result.failures
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("SELECT state FROM runs").fetchall() == [("failed",)]
    con.close()


@pytest.mark.parametrize("folder", ["outbox", "quarantine"])
def test_an_outbox_or_quarantine_that_cannot_be_written_fails_before_anything_is_recorded(
    tmp_path: Path, folder: str
):
    """Found at publish, the night's findings were already history the regions never
    received (the next night lists them BERULANG). Now it stops in open_night."""
    from coklit_dq.pipeline import FolderUnusable, run_night

    export = tmp_path / "export"
    make_night(export, N1, voters=300)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    wh = tmp_path / "wh" / "w.duckdb"
    paths = {"outbox": str(tmp_path / "o"), "quarantine": str(tmp_path / "q")}
    paths[folder] = str(blocker / folder)
    settings = resolve_settings(warehouse=str(wh), **paths)
    with pytest.raises(FolderUnusable, match=f"{folder}.* {blocker} is not a folder"):
        run_night(settings, str(export), N1)
    assert not wh.exists()  # no night recorded: the warehouse was never opened


def test_a_recipients_file_that_is_not_there_fails_the_night_after_publishing(tmp_path: Path):
    """With a mail server set, mail was asked for: a mistyped COKLIT_DQ_RECIPIENTS is an
    error naming the path (exit 1 by hand, a Failed run and Pusdatin's mail deployed),
    not a night that ends "done" having mailed nobody. The lists are published first."""
    from coklit_dq.pipeline import run_night

    export = tmp_path / "export"
    make_night(export, N1, voters=300)
    missing = tmp_path / "etc" / "penerima.yaml"
    settings = resolve_settings(
        outbox=str(tmp_path / "o"),
        warehouse=str(tmp_path / "w.duckdb"),
        smtp_host="127.0.0.1",
        recipients_file=missing,
    )
    result = run_night(settings, str(export), N1)
    assert result.state == "failed"
    assert result.failures == [f"notify: FileNotFoundError: no recipients file at {missing} "
                               "(COKLIT_DQ_RECIPIENTS): no region was mailed"]  # fmt: skip
    assert str(missing) in result.message
    assert (tmp_path / "o" / N1.isoformat() / "nasional" / "temuan.parquet").is_file()


def test_error_lines_never_carry_a_full_nik():
    from coklit_dq.pipeline import _one_line

    line = _one_line(ValueError("bad row nik=3204054107880001 in pemilih/32.parquet"))
    assert "3204054107880001" not in line and "320405********01" in line


def test_a_backfill_mails_the_regions_once_for_the_last_night_of_its_range(
    tmp_path: Path, monkeypatch
):
    """Each night of the range is a nightly subflow (stood in for here); only the last
    mails the regions and runs the nights after the range again."""
    from flows import backfill

    calls: list[tuple[date, bool, bool]] = []

    class Completed:
        message = ""

        def is_completed(self) -> bool:
            return True

    def nightly(source: str, night: date, **kw: object) -> Completed:
        calls.append((night, bool(kw.get("mail", True)), bool(kw.get("later", True))))
        return Completed()

    monkeypatch.setattr(backfill, "nightly_coklit", nightly)
    n3 = date(2024, 7, 3)
    for night in (N1, N2, n3):
        (tmp_path / "export" / night.isoformat()).mkdir(parents=True)
    backfill.backfill_coklit.fn(
        N1,
        n3,
        source=str(tmp_path / "export"),
        outbox=str(tmp_path / "o"),
        warehouse=str(tmp_path / "w.duckdb"),
    )
    assert calls == [(N1, False, False), (N2, False, False), (n3, True, True)]
