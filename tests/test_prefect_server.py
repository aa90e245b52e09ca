"""The deployment for real: a Prefect server on loopback, a process work pool,
`prefect deploy` from prefect.yaml, a worker, one triggered night.

Catches a resolver drift (prefect vs fastapi, see issue 6) in CI rather than
at 01:00. Every process started here is stopped by its PID in `finally`.
"""

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import httpx
import pytest
from flow_fixtures import REPO, free_port, make_night, stop, wait_for

pytestmark = [pytest.mark.server, pytest.mark.slow]

BIN = Path(sys.executable).parent
NIGHT = date(2024, 7, 1)
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _prefect(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> str:
    proc = subprocess.run(
        [str(BIN / "prefect"), "--no-prompt", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"prefect {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_deployment_runs_a_night_through_server_and_worker(tmp_path: Path):
    export, outbox, wh = tmp_path / "export", tmp_path / "outbox", tmp_path / "wh" / "w.duckdb"
    make_night(export, NIGHT, voters=900)
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_API_URL=api,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="5",
        PWD=str(REPO),
        COKLIT_DQ_SOURCE=str(export),
        COKLIT_DQ_OUTBOX=str(outbox),
        COKLIT_DQ_WAREHOUSE=str(wh),
    )
    started: list[subprocess.Popen] = []
    logs = tmp_path / "logs"
    logs.mkdir()
    try:
        server = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=(logs / "server.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(server)

        def healthy() -> bool:
            assert server.poll() is None, (logs / "server.log").read_text(errors="replace")
            try:
                return httpx.get(f"{api}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, timeout=90, interval=0.5, what="prefect server health")

        _prefect(["work-pool", "create", "coklit-process", "--type", "process"], env, tmp_path)
        out = _prefect(["deploy", "--name", "nightly-coklit"], env, REPO)
        assert "nightly-coklit" in out

        with httpx.Client(base_url=api, timeout=10) as client:
            dep = client.get("/deployments/name/nightly-coklit/nightly-coklit").json()
            assert dep["parameters"] == {
                "source": str(export),
                "outbox": str(outbox),
                "warehouse": str(wh),
            }
            (sched,) = dep["schedules"]
            assert sched["schedule"]["cron"] == "0 1 * * *"
            assert sched["schedule"]["timezone"] == "Asia/Jakarta"
            assert dep["concurrency_limit"] == 1 or dep["global_concurrency_limit"]["limit"] == 1
            assert dep["pull_steps"][0]["prefect.deployments.steps.set_working_directory"] == {
                "directory": str(REPO)
            }

            worker = subprocess.Popen(
                [str(BIN / "prefect"), "worker", "start", "--pool", "coklit-process"],
                env=env,
                cwd=tmp_path,
                stdout=(logs / "worker.log").open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            started.append(worker)

            run = client.post(
                f"/deployments/{dep['id']}/create_flow_run",
                json={"parameters": {"tanggal": NIGHT.isoformat()}},
            ).json()

            def finished() -> dict | None:
                fr = client.get(f"/flow_runs/{run['id']}").json()
                return fr if fr["state"]["type"] in TERMINAL else None

            fr = wait_for(finished, timeout=150, interval=1, what="the flow run to finish")
            assert fr["state"]["type"] == "COMPLETED", (
                fr["state"],
                (logs / "worker.log").read_text(errors="replace")[-4000:],
            )

            # the outbox of the night, per kabupaten/kota and national
            night_out = outbox / NIGHT.isoformat()
            assert (night_out / "nasional" / "temuan.parquet").is_file()
            assert {p.parent.name for p in night_out.glob("*/*/temuan.csv")} >= {"3101", "3201"}

            arts = client.post(
                "/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run["id"]]}}}
            ).json()
            by_key = {a["key"]: a for a in arts}
            summary = by_key["coklit-nightly-summary"]
            assert summary["type"] == "markdown"
            assert f"coklit nightly {NIGHT}" in summary["data"]
            assert "pemilih/31.csv.gz" in summary["data"]
            table = by_key["coklit-nightly-provinces"]
            assert table["type"] == "table"
            assert "31" in str(table["data"]) and "32" in str(table["data"])
            for a in arts:  # aggregates only: no nik, no names
                assert "Pemilih " not in str(a["data"])
                assert "3101010201600001" not in str(a["data"])
    finally:
        for proc in reversed(started):
            stop(proc)
