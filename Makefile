# The two commands of the README: `make demo` and `make test`.
# Each creates and fills .venv on first use (only Python 3.11 and pip needed).
PYTHON ?= python3
VENV ?= .venv
# The suite runs in two worker processes (pytest-xdist), a test module per worker:
# much of it waits on real servers and subprocesses. PYTEST_WORKERS=0 runs it in one.
PYTEST_WORKERS ?= 2
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/coklit-dq demo --workdir demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf demo .pytest_cache
