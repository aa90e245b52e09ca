"""The deployment for real: a Prefect server with its scheduler, a process work
pool, `prefect deploy` from prefect.yaml exactly as docs/operations.md says, a
worker, and what an unattended night needs (issue 9):

- the 01:00 WIB schedule creates flow runs (not only "has a schedule");
- a deployed run without its paths fails at once, touching nothing (no `.lock`
  in the checkout), and Pusdatin is mailed; with the paths as Prefect
  Variables a run with no parameters reads the night before in WIB, is named
  after it, and its step lines (niks masked, no GX chatter) are on the server;
- a failed night's result is readable through the API (NightFailed with its
  result), and Pusdatin gets a mail through the project's SMTP path;
- a nightly run that fires during a backfill waits, then runs.

One server and one worker for the module; every process started here is
stopped by its PID (process group) in the fixture's `finally`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from flow_fixtures import REPO, break_file, free_port, make_night, stop, wait_for

from flows.nightly import default_night

pytestmark = [pytest.mark.server, pytest.mark.slow]

BIN = Path(sys.executable).parent
WIB = ZoneInfo("Asia/Jakarta")
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
NIK16 = re.compile(r"(?<!\d)\d{16}(?!\d)")


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@dataclass
class Stack:
    tmp: Path
    api: str
    env: dict[str, str]
    logs: Path
    inbox: Inbox
    export: Path
    outbox: Path
    wh: Path
    started: list[subprocess.Popen] = field(default_factory=list)

    def prefect(self, *args: str, cwd: Path | None = None, ok: bool = True) -> str:
        proc = subprocess.run(
            [str(BIN / "prefect"), "--no-prompt", *args],
            env=self.env,
            cwd=cwd or self.tmp,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if ok:
            assert proc.returncode == 0, f"prefect {args}:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout + proc.stderr

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api, timeout=20)

    def deployment(self, name: str) -> dict:
        with self.client() as c:
            return c.get(f"/deployments/name/{name}/{name}").json()

    def run(self, name: str, **parameters: Any) -> dict:
        """Create a run of the deployment, as `prefect deployment run` does. The server's
        SQLite is shared with its scheduler, which is writing scheduled runs at the same
        moment: a write can fail with a server error (seen as an answer without an `id`),
        and Prefect's own client retries those, so this does too."""
        dep = self.deployment(name)
        for attempt in range(6):
            with self.client() as c:
                r = c.post(
                    f"/deployments/{dep['id']}/create_flow_run", json={"parameters": parameters}
                )
            if r.status_code < 500 and r.status_code != 429:
                break
            time.sleep(1 + attempt)
        assert r.is_success, f"create_flow_run: HTTP {r.status_code}: {r.text[:500]}"
        run: dict = r.json()
        return run

    def wait(self, run_id: str, timeout: float = 240) -> dict:
        def finished() -> dict | None:
            with self.client() as c:
                fr = c.get(f"/flow_runs/{run_id}").json()
            return fr if fr["state"]["type"] in TERMINAL else None

        return wait_for(finished, timeout=timeout, interval=1, what=f"flow run {run_id}")

    def worker_log(self) -> str:
        return (self.logs / "worker.log").read_text(errors="replace")[-6000:]


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    from aiosmtpd.controller import Controller

    tmp = tmp_path_factory.mktemp("stack")
    logs = tmp / "logs"
    logs.mkdir()
    inbox = Inbox()
    smtp_port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "COKLIT_DQ_"))}
    env.update(
        PREFECT_HOME=str(tmp / "prefect-home"),
        PREFECT_API_URL=api,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="false",
        # the scheduler looks every 2 s instead of every 60 s
        PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="2",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="5",
        PWD=str(REPO),
        # the worker's environment: mail, no paths (they come from Prefect Variables)
        COKLIT_DQ_SMTP_HOST="127.0.0.1",
        COKLIT_DQ_SMTP_PORT=str(smtp_port),
        COKLIT_DQ_PUSDATIN_EMAIL="pusdatin@kpu.example",
        COKLIT_DQ_DUCKDB_THREADS="1",
    )
    s = Stack(
        tmp=tmp,
        api=api,
        env=env,
        logs=logs,
        inbox=inbox,
        export=tmp / "export",
        outbox=tmp / "outbox",
        wh=tmp / "wh" / "w.duckdb",
    )
    try:
        server = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=tmp,
            stdout=(logs / "server.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        s.started.append(server)

        def healthy() -> bool:
            assert server.poll() is None, (logs / "server.log").read_text(errors="replace")
            try:
                return httpx.get(f"{api}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, timeout=120, interval=0.5, what="prefect server health")
        s.prefect("work-pool", "create", "coklit-process", "--type", "process")
        # docs/operations.md step 3: deploy from the checkout, no paths in the environment
        out = s.prefect("deploy", "--all", cwd=REPO)
        assert "nightly-coklit" in out and "backfill-coklit" in out
        worker = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", "coklit-process"],
            env=env,
            cwd=tmp,
            stdout=(logs / "worker.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        s.started.append(worker)
        yield s
    finally:
        for proc in reversed(s.started):
            stop(proc)
        smtp.stop()
        server_log = logs / "server.log"
        if server_log.exists():  # the pinned stack's scheduler never errs (issue 9)
            assert "Can't evaluate bulk DML" not in server_log.read_text(errors="replace")


def test_the_schedule_creates_runs_at_0100_wib(stack: Stack):
    dep = stack.deployment("nightly-coklit")
    assert dep["parameters"] == {}, "no paths are baked into the deployment"
    (sched,) = dep["schedules"]
    assert (sched["schedule"]["cron"], sched["schedule"]["timezone"]) == (
        "0 1 * * *",
        "Asia/Jakarta",
    )

    def scheduled() -> list[dict]:
        with stack.client() as c:
            runs = c.post(
                "/flow_runs/filter",
                json={
                    "flow_runs": {
                        "deployment_id": {"any_": [dep["id"]]},
                        "state": {"type": {"any_": ["SCHEDULED"]}},
                    }
                },
            ).json()
        return [r for r in runs if r.get("auto_scheduled")]

    runs = wait_for(scheduled, timeout=90, interval=1, what="the scheduler to create runs")
    starts = sorted(datetime.fromisoformat(r["expected_start_time"]).astimezone(WIB) for r in runs)
    assert len(starts) >= 3
    assert {(t.hour, t.minute) for t in starts} == {(1, 0)}
    assert starts[1] - starts[0] == timedelta(days=1)
    assert starts[0] > datetime.now(WIB)


def _left_in_checkout() -> set[Path]:
    """What a night run from the checkout (the worker's cwd) would leave there."""
    return {
        p for pattern in ("*.lock", "*.duckdb", "outbox", "datadocs") for p in REPO.glob(pattern)
    }


def test_a_deployed_run_without_paths_fails_at_once_touching_nothing(stack: Stack):
    """Only the source is set (a Variable): the outbox and the warehouse are missing, and
    the run must not fall back to defaults in the checkout (the worker's cwd)."""
    make_night(stack.export, date(2024, 7, 1), voters=300)
    stack.prefect("variable", "set", "coklit_dq_source", str(stack.export), "--overwrite")
    before = _left_in_checkout()
    run = stack.run("nightly-coklit", tanggal="2024-07-01")
    fr = stack.wait(run["id"])
    assert fr["state"]["type"] == "FAILED", fr["state"]
    message = fr["state"]["message"]
    assert "not set for this deployed run" in message, message
    for missing in ("coklit_dq_outbox", "coklit_dq_warehouse", "coklit_dq_inbox"):
        assert missing in message, message
    assert "coklit_dq_source" not in message, message
    assert _left_in_checkout() == before
    wait_for(lambda: stack.inbox.messages, timeout=30, what="the failure mail")
    mail = stack.inbox.messages.pop()
    assert mail["To"] == "pusdatin@kpu.example" and "GAGAL" in mail["Subject"]
    assert "1 Juli 2024" in mail["Subject"]


def test_a_scheduled_run_reads_last_night_in_wib_with_paths_from_variables(stack: Stack):
    night = default_night()
    make_night(stack.export, night, voters=300)
    for key, value in (
        ("source", stack.export),
        ("outbox", stack.outbox),
        ("warehouse", stack.wh),
        ("inbox", stack.tmp / "inbox"),
    ):
        stack.prefect("variable", "set", f"coklit_dq_{key}", str(value), "--overwrite")
    run = stack.run("nightly-coklit")  # what the scheduler sends: no parameters
    fr = stack.wait(run["id"])
    assert fr["state"]["type"] == "COMPLETED", (fr["state"], stack.worker_log())
    assert fr["name"] == f"nightly-{night}"
    assert (stack.outbox / night.isoformat() / "nasional" / "temuan.parquet").is_file()
    # the worker ships its log lines in batches: the run can be COMPLETED on the
    # server a moment before its last lines arrive, so wait for the last step's line
    deadline = time.monotonic() + 60
    while True:
        with stack.client() as c:
            logs = c.post(
                "/logs/filter",
                json={"logs": {"flow_run_id": {"any_": [run["id"]]}}, "limit": 200},
            ).json()
        lines = [(entry["name"], entry["message"]) for entry in logs]
        text = "\n".join(f"{n}: {m}" for n, m in lines)
        if "step notify done" in text or time.monotonic() > deadline:
            break
        time.sleep(1)
    for step in ("ingest", "validate", "link", "diff", "publish", "notify"):
        assert f"step {step} done" in text, text[-3000:]
    assert "no recipients" in text or "notified" in text  # what notify did is visible
    assert not [n for n, _ in lines if n.startswith("great_expectations")]
    assert not NIK16.search(text), "a full nik reached the server's logs"
    assert len(lines) < 80, f"{len(lines)} log lines: chatter is back"


def test_a_failed_night_is_readable_through_the_api_and_mails_pusdatin(stack: Stack):
    night = date(2024, 7, 1)
    break_file(make_night(stack.export, night, voters=300), "pemilih/32.parquet")
    stack.inbox.messages.clear()
    run = stack.run("nightly-coklit", tanggal=night.isoformat())
    fr = stack.wait(run["id"])
    assert fr["state"]["type"] == "FAILED"
    assert "pemilih/32.parquet" in fr["state"]["message"]
    # the result as an API client reads it (the worker's result storage)
    script = stack.tmp / "read_result.py"
    script.write_text(
        "import sys\n"
        "from prefect.client.orchestration import get_client\n"
        "with get_client(sync_client=True) as c:\n"
        "    state = c.read_flow_run(sys.argv[1]).state\n"
        "err = state.result(raise_on_failure=False)\n"
        "print(type(err).__name__, [q['path'] for q in err.result.quarantined])\n",
        encoding="utf-8",
    )
    out = subprocess.run(
        [sys.executable, str(script), run["id"]],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "NightFailed ['pemilih/32.parquet']"
    wait_for(lambda: stack.inbox.messages, timeout=30, what="the failure mail")
    body = stack.inbox.messages[-1].get_content()
    assert "pemilih/32.parquet" in body and "1 Juli 2024" in stack.inbox.messages[-1]["Subject"]


def test_a_nightly_run_during_a_backfill_waits_then_runs(stack: Stack):
    nights = [date(2024, 8, d) for d in (1, 2, 3)]
    for i, night in enumerate(nights):
        make_night(stack.export, night, voters=300, drop=i)
    backfill = stack.run("backfill-coklit", start="2024-08-01", end="2024-08-02")

    def holding() -> bool:
        with stack.client() as c:
            fr = c.get(f"/flow_runs/{backfill['id']}").json()
            assert fr["state"]["type"] not in TERMINAL, fr["state"]
            return fr["state"]["type"] == "RUNNING"

    wait_for(holding, timeout=120, interval=0.5, what="the backfill to start")
    time.sleep(2)
    nightly = stack.run("nightly-coklit", tanggal="2024-08-03")
    fr_b = stack.wait(backfill["id"], timeout=300)
    fr_n = stack.wait(nightly["id"], timeout=300)
    assert fr_b["state"]["type"] == "COMPLETED", (fr_b["state"], stack.worker_log())
    assert fr_n["state"]["type"] == "COMPLETED", (fr_n["state"], stack.worker_log())
    with stack.client() as c:
        tasks = c.post(
            "/task_runs/filter",
            json={"flow_runs": {"id": {"any_": [nightly["id"]]}}, "task_runs": {}},
        ).json()
    first_step = min(datetime.fromisoformat(t["start_time"]) for t in tasks if t["start_time"])
    backfill_end = datetime.fromisoformat(fr_b["end_time"])
    assert first_step >= backfill_end - timedelta(seconds=2), (first_step, backfill_end)
    assert datetime.fromisoformat(fr_n["start_time"]) < backfill_end  # it fired meanwhile
