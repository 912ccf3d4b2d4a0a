# The two set-up commands: `make demo` and `make test`. Both bootstrap .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-quick test test-fast lint typecheck bench gpu-check gpu-report clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/deletion-sdk demo --workdir .demo

demo-quick: $(STAMP)
	$(BIN)/deletion-sdk demo --workdir .demo --quick

# PostgreSQL tests use DELETION_SDK_TEST_POSTGRES_URL, else the local server (found or started);
# without one they are skipped and the run ends with a warning that counts them.
test: $(STAMP)
	./scripts/ensure-chromium.sh
	./scripts/ensure-postgres.sh $(BIN)/python -m pytest -q

test-fast: $(STAMP)
	./scripts/ensure-postgres.sh $(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/ledger_throughput.py --json

gpu-check: $(STAMP)
	$(BIN)/python -m pytest -q -m gpu

# On a CUDA machine: gpu-check plus the training, unlearning, forgetting-quality and qualification
# benchmarks at short sizes; JSON to $$OUT (default benchmarks/out/gpu/).
gpu-report: $(STAMP)
	./scripts/gpu-check.sh

clean-venv:
	rm -rf $(VENV)
