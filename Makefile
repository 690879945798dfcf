# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project -path dbt_project/target -prune -o \( -name '*.sql' -o -name '*.yml' \) -print 2>/dev/null)

.PHONY: setup run test lint bench manifest clean

setup: $(STAMP) $(MANIFEST)

# A venv with every dependency at the version pinned in requirements.lock.
$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --constraint requirements.lock --editable '.[dev]'
	touch $@

# dagster-dbt loads the manifest at import time: parse once here (and in a test fixture).
$(MANIFEST): $(STAMP) $(DBT_SOURCES)
	$(BIN)/python -m pipeline.dbt_manifest
manifest: $(MANIFEST)

run: setup
	$(BIN)/ltv up

test: setup
	sh scripts/ensure-chromium.sh
	sh scripts/ensure-postgres.sh
	sh scripts/ensure-java.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n 2

lint: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs .pytest_cache .ruff_cache
