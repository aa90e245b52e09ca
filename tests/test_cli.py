"""`coklit-dq nightly`: exit codes, reasons on stderr, defaults.

In-process calls share the session's Prefect test server (flow_fixtures); one
test runs the real console script in a child process against that server.
"""

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from flow_fixtures import break_file, make_night, subprocess_env

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
