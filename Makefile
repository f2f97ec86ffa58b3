# Kindred — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)
PYTEST_ARGS ?=
# pytest-xdist workers: each starts its own embedded PostgreSQL and broker (conftest.py); whole
# files go to one worker (--dist loadfile) because class/module fixtures share state per file
PYTEST_WORKERS ?= 2

.PHONY: help demo test lint format types imports migrations-check pytest browser bench-ingest bench-identity clean install

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || (echo "Python 3.11 is required" && exit 1)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP) ## create .venv and install Kindred with pinned dependencies

demo: $(STAMP) ## run the product on embedded PostgreSQL + Kafka with sample data (http://127.0.0.1:8000)
	$(BIN)/kindred demo

test: $(STAMP) lint types imports migrations-check pytest ## the whole check suite (what CI runs)

lint: $(STAMP) ## ruff lint + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## apply ruff formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

types: $(STAMP) ## mypy (strict) on the packages
	$(BIN)/mypy

imports: $(STAMP) ## import-linter layer contracts
	$(BIN)/lint-imports

migrations-check: $(STAMP) ## alembic upgrade head + alembic check on an empty embedded database
	@bash .ci/migrations-check

browser: ## Debian's Chromium for the browser tests (apt-get; Playwright never downloads one)
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || { \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

pytest: $(STAMP) browser ## the test suite (integration tests start embedded PostgreSQL + broker)
	$(BIN)/pytest -m "not slow" -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench-ingest: $(STAMP) ## ingest benchmark (JSON)
	$(BIN)/kindred bench ingest --events 50000

bench-identity: $(STAMP) ## identity benchmark on FEBRL3 (JSON)
	$(BIN)/kindred bench identity --dataset febrl3

clean: ## stop embedded services and remove local state
	-$(BIN)/kindred infra down
	rm -rf .kindred
