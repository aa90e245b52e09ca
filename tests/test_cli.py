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


def test_bad_date_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["nightly", "--source", "x", "--date", "2024-13-01"])
    assert exc.value.code == 2
    assert "not a date" in capsys.readouterr().err


def test_clean_night_exits_zero_with_default_outbox_and_warehouse(
    prefect_api, tmp_path: Path, capsys, monkeypatch
):
    export = tmp_path / "export"
    make_night(export, N1, voters=600)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("COKLIT_DQ_OUTBOX", raising=False)
    monkeypatch.delenv("COKLIT_DQ_WAREHOUSE", raising=False)
    code = main(["nightly", "--source", str(export), "--date", N1.isoformat()])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert (work / "coklit-dq.duckdb").is_file()  # default warehouse: ./coklit-dq.duckdb
    assert (work / "outbox" / N1.isoformat() / "nasional" / "temuan.parquet").is_file()
    assert f"outbox: outbox/{N1}" in out.out


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
