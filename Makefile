# One entry point for people, the README and CI. `make run` and `make test` are
# all a fresh clone needs (Python 3.11+); the database starts itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
STAMP  := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest migrate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install  ## serve on 127.0.0.1:$(PORT), creating development data on first start
	$(BIN)/bucket-syncs serve --port $(PORT)

migrate: install
	$(BIN)/bucket-syncs migrate

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest  ## what CI runs

clean:
	rm -rf $(VENV) .data .mypy_cache .ruff_cache .pytest_cache
