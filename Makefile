# Learner Ledger — the two commands are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := libs/shared_events libs/eventlog services/profiles services/evidence services/pathways services/notifications ledgerctl
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES))
SOURCES := libs services ledgerctl tests bench conftest.py

.DEFAULT_GOAL := help
.PHONY: help install run test lint format typecheck contracts pytest bench docs clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python constraints.txt requirements-dev.txt $(PYPROJECTS)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt \
		$(addprefix -e ,$(PACKAGES)) -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP) ## Create .venv (if missing) and install every package, pinned by constraints.txt

run: install ## Start NATS, the four services and the HTTP APIs on this machine (no Docker)
	$(BIN)/ledgerctl dev

test: install lint typecheck contracts pytest ## Lint, type-check, import contracts and the whole test suite

lint: install ## ruff lint and format check
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix $(SOURCES)
	$(BIN)/ruff format $(SOURCES)

typecheck: install ## mypy over every package
	$(BIN)/mypy libs/shared_events/src libs/eventlog/src services/*/src ledgerctl/src

contracts: install ## import-linter: services independent, domain/ free of I/O
	$(BIN)/lint-imports

pytest: install ## The pytest suite: unit, service and integration tests against real NATS and SQL
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install ## Benchmarks: appends, projector throughput, profile latency, evidence, pathways, notifications — beside raw nats-py
	$(BIN)/python bench/append.py
	$(BIN)/python bench/profile_latency.py
	$(BIN)/python bench/evidence.py
	$(BIN)/python bench/pathways.py
	$(BIN)/python bench/notifications.py
	$(BIN)/python bench/stages.py

docs: install ## Export JSON Schema for every event and the AsyncAPI document to docs/schemas/
	$(BIN)/ledgerctl schemas export docs/schemas

clean: ## Remove the virtualenv and local state
	rm -rf $(VENV) .ledger
