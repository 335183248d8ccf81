# Everything a fresh clone needs: `make demo` and `make test` create the virtualenv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test test-fast lint typecheck bench bench-history clean iam-policy

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "mllens needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/mllens demo

test: install
	$(BIN)/python -m pytest -n 2 -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not emulator and not postgres"

lint: install
	$(BIN)/ruff check agent checks migrations tests bench

typecheck: install
	$(BIN)/mypy

# Scan benchmark under AWS-like latency and limits: make bench ARGS='--rescan --serial'
bench: install
	$(BIN)/python bench/scan_bench.py $(ARGS)

# Findings-history benchmark on SQLite and PostgreSQL: make bench-history ARGS='--engines sqlite'
bench-history: install
	$(BIN)/python bench/history_bench.py $(ARGS)

# Regenerate the shipped IAM policies after a collector's actions change (tests/test_iam.py).
iam-policy: install
	$(BIN)/mllens iam-policy --out-dir deploy/iam

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info
