# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB ?= sqlite+aiosqlite:///var/demo.db

.PHONY: run test lint typecheck pytest openapi bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) (Python 3.11+) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: set up, migrate a SQLite database, load the demo city, serve on http://127.0.0.1:8000
run: $(STAMP)
	SHARING_DATABASE_URL=$(DEMO_DB) $(BIN)/sharing migrate
	SHARING_DATABASE_URL=$(DEMO_DB) $(BIN)/sharing demo
	SHARING_DATABASE_URL=$(DEMO_DB) $(BIN)/sharing serve --host 127.0.0.1 --port 8000

## test: set up, then ruff, mypy --strict and the whole test suite
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q -ra

## openapi: regenerate the committed OpenAPI document after changing routes
openapi: $(STAMP)
	$(BIN)/sharing openapi --output openapi/openapi.json

## bench: run the benchmarks (they print their figures; not part of the tests)
bench: $(STAMP)
	$(BIN)/python bench/access_flow.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
