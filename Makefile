# The two set-up commands: `make demo` and `make test`. Both bootstrap .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-quick test test-fast lint typecheck bench gpu-check clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/deletion-sdk demo --workdir .demo

demo-quick: $(STAMP)
	$(BIN)/deletion-sdk demo --workdir .demo --quick

test: $(STAMP)
	./scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/ledger_throughput.py --json

gpu-check: $(STAMP)
	$(BIN)/python -m pytest -q -m gpu

clean-venv:
	rm -rf $(VENV)
