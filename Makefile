# One entry point for people, the README and CI. `make run` and `make test` are
# all a fresh clone needs (Python 3.11+); the database starts itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
STAMP  := $(VENV)/.installed
# Non-Python tools the tests call, installed into the project (gitignored).
TOOLS  := .tools
DCLINT := $(TOOLS)/node_modules/.bin/dclint
DCLINT_VERSION := 3.1.0

.PHONY: install tools run test test-browser lint typecheck pytest migrate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

$(DCLINT):  ## the Compose file linter (npm); hadolint comes with the dev extras
	npm install --prefix $(TOOLS) --no-audit --no-fund --loglevel=error dclint@$(DCLINT_VERSION)

tools: $(DCLINT)

run: install  ## serve on 127.0.0.1:$(PORT), creating development data on first start
	APP_LOG_FORMAT="$${APP_LOG_FORMAT:-text}" $(BIN)/bucket-syncs serve --port $(PORT)

migrate: install
	$(BIN)/bucket-syncs migrate

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install tools
	$(BIN)/pytest

test: lint typecheck pytest  ## what CI runs

test-browser: install  ## renders /docs in headless Chromium (Debian's chromium); screenshot in test-artifacts/
	$(BIN)/pytest -m browser tests/test_browser.py

clean:
	rm -rf $(VENV) .data .mypy_cache .ruff_cache .pytest_cache $(TOOLS) test-artifacts

.PHONY: test-faults soak
test-faults: install  ## database outage, pool exhaustion, graceful shutdown (real servers; CI runs it)
	$(BIN)/pytest -m faults tests/test_faults.py

SOAK_SECONDS ?= 600
soak: install  ## SOAK_SECONDS (default 600) of steady mixed load; writes bench/results/soak-latest.json
	SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python bench/soak.py

.PHONY: test-replica
test-replica: install  ## a real streaming hot standby: read routing, lag, replica failure (CI runs it)
	$(BIN)/pytest -m replica tests/test_replica.py

.PHONY: bench
bench: install  ## the list endpoint vs ceilings and peers (< 15 min; wrk via apt); bench/results/latest.json
	$(BIN)/python bench/run.py
