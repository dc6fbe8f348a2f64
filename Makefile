# Each target creates/uses the virtual environment in .venv (Python 3.11).
VENV ?= .venv
PY := $(VENV)/bin/python
SEQSWEEP := $(VENV)/bin/seqsweep
PYTHON ?= python3

.PHONY: install demo test lint typecheck bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

## make demo: a small TPE + ASHA sweep on the generated SQLite database, then its report.
demo: install
	rm -rf runs/demo
	$(SEQSWEEP) run demo --storage runs
	$(SEQSWEEP) results runs/demo --top 3

## make test: lint and type checks first (they fail fast), then the whole test suite (real Ray,
## real MariaDB, real files; the 30 slowest tests are listed at the end). `.ci/run` calls exactly this.
test: install lint typecheck
	$(PY) -m pytest -q --durations=30

## make lint: ruff's lint rules and formatting, checked (not changed).
lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

## make typecheck: mypy on the package.
typecheck: install
	$(VENV)/bin/mypy src

bench: install
	$(PY) -m benchmarks.run

clean:
	rm -rf runs .pytest_cache
