"""The README's quick start, run as written, in a fresh folder.

Every command of the quick start's code block is taken from README.md itself, and
each `make` target is expanded by make (`make -n`) into the commands it wraps (the
venv exists already: `-o .venv/.installed` keeps make from reinstalling it), so a
change to the README or the Makefile changes what runs here.

- `make demo` runs as its recipe does, in a fresh folder, against the session's
  Prefect test server (a run by hand starts its own, see docs/operations.md); with
  fewer voters than the README's 50 000, to keep the suite fast (the only change).
  Then the visible outcome the README promises: exit 0, each night's line, the
  regions' answers, the results block, and the files it tells you to open.
- `make test` is what is running now: its recipe must be ruff (lint, then the format
  check), mypy and pytest, which is what the README says it runs; ruff runs here on the
  checkout (pytest
  inside pytest would recurse, mypy takes longer than this file's budget).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from flow_fixtures import REPO, subprocess_env

README = REPO / "README.md"
DEMO_VOTERS = "3000"  # the README's demo: 50 000 (see the module docstring)


def quick_start_commands() -> list[str]:
    """The commands of the first code block under '## Quick start' (comments dropped)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = section.split("```", 2)[1]
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line]


def recipe(target: str) -> list[list[str]]:
    """The commands `make <target>` runs, as make itself expands them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    out = subprocess.run(  # the suite may itself run under `make test`: no make[1] lines
        ["make", "-n", "--no-print-directory", "-o", ".venv/.installed", target],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [shlex.split(line) for line in out.splitlines() if line.strip()]


def test_the_quick_start_is_make_demo_then_make_test():
    assert quick_start_commands() == ["make demo", "make test"]


def test_make_test_runs_ruff_mypy_and_the_suite_as_the_readme_says():
    commands = recipe("test")
    tools = [Path(c[0]).name for c in commands]
    assert tools == ["ruff", "ruff", "mypy", "python"], commands
    assert commands[0][1] == "check" and commands[1][1:3] == ["format", "--check"]
    assert commands[3][1:3] == ["-m", "pytest"]
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")  # what CI runs
    for command in commands[:2]:  # the lint and the formatting, on this checkout
        ruff = subprocess.run(
            [str(REPO / command[0]), *command[1:]],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        assert ruff.returncode == 0, ruff.stdout + ruff.stderr


@pytest.mark.slow
def test_make_demo_in_a_fresh_folder_shows_what_the_readme_says(prefect_api, tmp_path: Path):
    (demo,) = recipe("demo")
    assert Path(demo[0]).name == "coklit-dq" and demo[1] == "demo", demo
    argv = [str(REPO / demo[0]), *demo[1:], "--voters", DEMO_VOTERS]
    proc = subprocess.run(
        argv,
        cwd=tmp_path,  # a fresh folder: the demo writes only under it
        env=subprocess_env(prefect_api),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    workdir = tmp_path / demo[demo.index("--workdir") + 1]

    # what the README shows of the output, line by line
    assert f"simulated {DEMO_VOTERS} voters, two nights, into {workdir / 'export'}" in out
    answered = r"( \(\d+ answered out of the regions' lists\))?"
    for night in ("2024-07-01", "2024-07-02"):
        assert re.search(
            rf"^night {night}: ok: night {night} done: \d+ files used, \d+ findings{answered}$",
            out,
            re.M,
        ), out
        assert re.search(rf"^  \d+ regions answered the list of {night}: \d+ \w+", out, re.M)
    assert re.search(r"^  GANDA_NIK +\d+$", out, re.M)
    assert f"  outbox     {workdir / 'outbox'}" in out
    assert f"  warehouse  {workdir / 'coklit-dq.duckdb'}" in out

    # the files the README tells you to open, where it says they are
    kab = workdir / "outbox" / "2024-07-02" / "32" / "3201"
    for name in ("ringkasan.html", "temuan.xlsx", "temuan.csv"):
        assert (kab / name).is_file(), sorted(p.name for p in kab.parent.rglob("*"))[:20]
    assert (workdir / "outbox" / "2024-07-02" / "nasional").is_dir()
    assert (workdir / "coklit-dq.duckdb").is_file()
    # "it works offline": the page loads nothing from the network
    html = (kab / "ringkasan.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
