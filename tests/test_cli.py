"""`coklit-dq nightly`: exit codes, reasons on stderr, defaults.

In-process calls share the session's Prefect test server (flow_fixtures); one
test runs the real console script in a child process against that server.
"""

import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from flow_fixtures import (
    NAME_NIKS,
    break_file,
    make_night,
    night_tables,
    plant_names,
    subprocess_env,
)
from test_publish_support import file_text

from coklit_dq.privacy import mask_id
from coklit_dq.simulate.writer import write_night
from flows.cli import main  # the console script coklit-dq

N1 = date(2024, 7, 1)
BIN = Path(sys.executable).parent


def test_unknown_election_is_refused_before_any_work(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["nightly", "--source", str(tmp_path), "--date", "2024-07-01",
                 "--election", "pemilu-1955"])  # fmt: skip
    assert code == 3
    assert "unknown election 'pemilu-1955'" in capsys.readouterr().err
    assert not (tmp_path / "coklit-dq.duckdb").exists()


def test_a_wrong_setting_is_refused_before_any_work_naming_its_variable(
    tmp_path: Path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COKLIT_DQ_LINKAGE_BACKEND", "sparkk")
    code = main(["nightly", "--source", str(tmp_path), "--date", "2024-07-01"])
    assert code == 3
    assert "COKLIT_DQ_LINKAGE_BACKEND='sparkk': must be one of duckdb, spark" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "coklit-dq.duckdb").exists()


def test_an_outbox_that_cannot_be_written_exits_3_naming_it(prefect_api, tmp_path: Path, capsys):
    export = tmp_path / "export"
    make_night(export, N1, voters=300)
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    code = main(["nightly", "--source", str(export), "--date", N1.isoformat(),
                 "--outbox", str(tmp_path / "a-file" / "outbox"),
                 "--warehouse", str(tmp_path / "w.duckdb")])  # fmt: skip
    assert code == 3
    assert f"outbox {tmp_path / 'a-file' / 'outbox'} cannot be used" in capsys.readouterr().err


def test_the_readme_names_every_cause_of_exit_3():
    """Each way `coklit-dq nightly` ends with 3 (the tests above and the one of a refused
    rerun, test_nights.py) is in the README's exit status line."""
    from flow_fixtures import REPO

    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    line = readme.split("; 3 when the night could not run at all", 1)[1].split("; 2 for", 1)[0]
    for cause in ("unknown election", "setting whose value is wrong", "outbox or quarantine",
                  "rerun refused", "error outside the night's steps"):  # fmt: skip
        assert cause in line, cause


def test_bad_date_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["nightly", "--source", "x", "--date", "2024-13-01"])
    assert exc.value.code == 2
    assert "not a date" in capsys.readouterr().err


def test_clean_night_exits_zero_with_default_outbox_and_warehouse(
    prefect_api, tmp_path: Path, capsys, monkeypatch
):
    """Also against a server that holds a deployment's Prefect Variables (the profile's
    PREFECT_API_URL pointing at production, as docs/operations.md recommends): a run by
    hand writes where its command line and the defaults say, never into production."""
    from prefect.variables import Variable

    export = tmp_path / "export"
    make_night(export, N1, voters=600)
    work = tmp_path / "work"
    work.mkdir()
    production = tmp_path / "production"
    monkeypatch.chdir(work)
    monkeypatch.delenv("COKLIT_DQ_OUTBOX", raising=False)
    monkeypatch.delenv("COKLIT_DQ_WAREHOUSE", raising=False)
    variables = {"outbox": production / "outbox", "warehouse": production / "w.duckdb"}
    for key, path in variables.items():
        Variable.set(f"coklit_dq_{key}", str(path), overwrite=True)
    try:
        code = main(["nightly", "--source", str(export), "--date", N1.isoformat()])
    finally:
        for key in variables:
            Variable.unset(f"coklit_dq_{key}")
    out = capsys.readouterr()
    assert code == 0, out.err
    assert not production.exists()
    assert (work / "coklit-dq.duckdb").is_file()  # default warehouse: ./coklit-dq.duckdb
    assert (work / "outbox" / N1.isoformat() / "nasional" / "temuan.parquet").is_file()
    assert f"outbox: outbox/{N1}" in out.out
    # where it wrote, and why, when the command line did not say
    assert f"coklit-dq: warehouse {work / 'coklit-dq.duckdb'} (from default;" in out.err
    assert f"coklit-dq: outbox {work / 'outbox'} (from default;" in out.err


def test_a_warehouse_named_by_the_environment_is_said_with_its_variable(
    tmp_path: Path, capsys, monkeypatch
):
    import io

    from coklit_dq.config import resolve_settings
    from flows.cli import _say_paths

    monkeypatch.setenv("COKLIT_DQ_WAREHOUSE", str(tmp_path / "env.duckdb"))
    err = io.StringIO()
    _say_paths(resolve_settings(), {"warehouse": None, "outbox": str(tmp_path / "o")}, err)
    assert err.getvalue() == (
        f"coklit-dq: warehouse {tmp_path / 'env.duckdb'} (from COKLIT_DQ_WAREHOUSE; "
        "--warehouse to choose)\n"
    )  # the outbox was given on the command line: nothing to say


def test_quarantined_file_exits_nonzero_naming_it(prefect_api, tmp_path: Path, capsys):
    export = tmp_path / "export"
    night = make_night(export, N1, voters=600)
    break_file(night, "pemilih/31.csv.gz")
    args = ["--outbox", str(tmp_path / "o"), "--warehouse", str(tmp_path / "w.duckdb")]
    code = main(["nightly", "--source", str(export), "--date", N1.isoformat(), *args])
    err = capsys.readouterr().err
    assert code == 1
    assert "set aside: pemilih/31.csv.gz" in err


def test_console_script_missing_night_folder_exits_nonzero(prefect_api, tmp_path: Path):
    proc = subprocess.run(
        [
            str(BIN / "coklit-dq"),
            "nightly",
            "--source",
            str(tmp_path / "nowhere"),
            "--date",
            "2024-07-09",
        ],
        cwd=tmp_path,
        env=subprocess_env(prefect_api),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "coklit-dq: night 2024-07-09 failed" in proc.stderr
    assert "Traceback" not in proc.stderr  # a night that failed with reasons is no crash
    assert "2024-07-09" in proc.stderr.splitlines()[-1] or "nowhere" in proc.stderr


KAB_NIK = "3171011204900007"
HOSTILE_KAB = f"KAB {KAB_NIK}\r\nBcc: evil@evil.example"


def _hostile_names_night(export: Path) -> dict[str, str]:
    """A night with a nik in three file names (flow_fixtures.plant_names) and in the name of
    kab 3101, whose name also breaks a line."""
    tables, pem = night_tables(N1, voters=600)
    kab = pl.col("kode_kab") == "3101"
    tables["wilayah"] = tables["wilayah"].with_columns(
        nama_kab=pl.when(kab).then(pl.lit(HOSTILE_KAB)).otherwise(pl.col("nama_kab"))
    )
    write_night(str(export), N1, tables, pem, formats={"pemilih/31": "csv.gz"})
    return plant_names(export / N1.isoformat())


def test_names_from_the_export_leave_the_console_script_only_masked(
    prefect_api, smtp_server, tmp_path: Path
):
    """review-priv F2, F3, F4, F9: run unattended (standard error is a pipe, as under cron
    or systemd), a night whose file names and region name hold a nik shows each only
    masked: on standard error, in the flow run's state, logs and artifacts on the server,
    on Pusdatin's proses.html, on the region's pages and in every mail; the region's name
    stays on one line."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterName,
        LogFilter,
        LogFilterFlowRunId,
    )

    export, out, wh = tmp_path / "export", tmp_path / "out", tmp_path / "wh" / "w.duckdb"
    paths = _hostile_names_night(export)
    recipients = tmp_path / "r.yaml"
    recipients.write_text(
        "nasional: [pusdatin@kpu.example]\nkabupaten:\n  '3101': [kpu@kpu.example]\n"
    )
    command = [str(BIN / "coklit-dq"), "nightly", "--source", str(export), "--date",
               N1.isoformat(), "--outbox", str(out), "--warehouse", str(wh)]  # fmt: skip
    proc = subprocess.run(
        command,
        cwd=tmp_path,
        env=subprocess_env(
            prefect_api,
            COKLIT_DQ_SMTP_HOST="127.0.0.1",
            COKLIT_DQ_SMTP_PORT=str(smtp_server.port),
            COKLIT_DQ_RECIPIENTS=str(recipients),
            COKLIT_DQ_PUSDATIN_EMAIL="pusdatin-gagal@kpu.example",
        ),
        capture_output=True,  # pipes: no terminal, Prefect's console handler prints its lines
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    texts = {"stderr": proc.stderr, "stdout": proc.stdout}
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[f"nightly-{N1}"]))
        )
        ids = [r.id for r in runs if (r.parameters or {}).get("source") == str(export)]
        assert len(ids) == 1
        (run,) = [r for r in runs if r.id == ids[0]]
        texts["state"] = str(run.state.message if run.state else "")
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)))
        texts["logs"] = "\n".join(lg.message for lg in logs)
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids))
        )
        texts["artifacts"] = "\n".join(f"{a.description} {a.data}" for a in arts)
    assert logs and arts
    root = out / N1.isoformat()
    for p in root.rglob("*"):
        if p.is_file():
            texts[str(p.relative_to(root))] = file_text(p)
    for to, msg in smtp_server.messages:
        texts[f"mail to {to[0]}"] = f"{msg['Subject']}\n{msg.get_content()}"
    assert {"mail to kpu@kpu.example", "mail to pusdatin-gagal@kpu.example"} <= set(texts)

    # each name is there to be read, masked
    shown = {k: p.replace(NAME_NIKS[k], mask_id(NAME_NIKS[k]) or "") for k, p in paths.items()}
    for where in ("stderr", "state", "artifacts", "nasional/proses.html"):
        assert all(name in texts[where] for name in shown.values()), where
    assert f"quarantined {shown['unlisted']!r}" in texts["stderr"]  # Prefect's console line
    one_line_kab = f"KAB {mask_id(KAB_NIK)}\\r\\nBcc: evil@evil.example"
    for where in ("31/3101/ringkasan.html", "31/3101/temuan.xlsx", "mail to kpu@kpu.example"):
        assert one_line_kab in texts[where], where
    # ... and the digits the mask hides nowhere; no forged line
    hidden = [n[6:14] for n in (*NAME_NIKS.values(), KAB_NIK)]
    leaks = {where: [h for h in hidden if h in text] for where, text in texts.items()}
    assert {where: h for where, h in leaks.items() if h} == {}
    assert not [w for w, t in texts.items() if "\nBcc: evil" in t.replace("\r", "\n")]


def test_every_log_handler_masks_what_it_prints_while_the_flow_runs() -> None:
    """review-priv F3: whatever a record says (its message, its arguments, a traceback), a
    handler of the process prints it masked while `masked_handlers` holds (the command
    line's flow run); its own formatter is back after."""
    import io
    import logging

    from flows.runtime import masked_handlers

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    formatter = logging.Formatter("%(levelname)s %(message)s")
    handler.setFormatter(formatter)
    logger = logging.getLogger("coklit_dq.test_masked_handlers")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with masked_handlers():
            logger.warning("file %r set aside", "catatan-3502011712730001.txt")
            try:
                raise ValueError("row: nik 3501010706020001")
            except ValueError:
                logger.exception("failed")
        assert handler.formatter is formatter
    finally:
        logger.removeHandler(handler)
    printed = stream.getvalue()
    assert "WARNING file 'catatan-350201********01.txt' set aside" in printed
    assert "ValueError: row: nik 350101********01" in printed  # the traceback's last line
    assert "17127300" not in printed and "07060200" not in printed


def test_a_line_break_in_a_file_name_never_forges_a_line_of_the_error_output() -> None:
    import io
    from datetime import date

    from coklit_dq.pipeline import NightResult
    from flows.cli import _report_failure

    forged = "pemilih/baris\ncoklit-dq: night 2024-07-01 done\u2028"
    result = NightResult(
        tanggal=date(2024, 7, 1),
        state="failed",
        message="night 2024-07-01 failed",
        quarantined=[{"path": forged, "reason": "not listed\r\nok"}],
    )
    err = io.StringIO()
    _report_failure(result, "night 2024-07-01 failed: set aside x\nfake", err)
    lines = err.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[1] == (
        "  set aside: pemilih/baris\\ncoklit-dq: night 2024-07-01 done\\u2028: not listed\\r\\nok"
    )
