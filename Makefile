# Two set-up commands on a fresh machine: `make demo` and `make test`. `make ui` opens Dagster.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel keeps CI and laptops off a multi-GB CUDA download. GPU users: `make TORCH="torch"`
# (or any CUDA build of torch >= 2.4 installed into .venv beforehand; an installed torch is kept).
TORCH ?= torch==2.13.0

.PHONY: install install-dev demo test lint instance ui bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[dev,scale]"
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/python -m signals_assets.demo

# Lint and format check, the definitions as dg loads them, then the tests.
test: install-dev lint
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg check defs
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=15

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Dagster's instance directory, prepared once: dagster.yaml copied in and the instance's tables created
# (`dagster instance migrate`), so that two first runs started together never race to create them.
DAGSTER_HOME ?= $(CURDIR)/.dagster_home

instance: install
	mkdir -p "$(DAGSTER_HOME)" && cp -n dagster.yaml "$(DAGSTER_HOME)/dagster.yaml"
	DAGSTER_HOME="$(DAGSTER_HOME)" $(BIN)/dagster instance migrate >/dev/null

ui: instance
	DAGSTER_HOME="$(DAGSTER_HOME)" $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $${PORT:-3000}

bench: install-dev
	$(BIN)/python bench/scoring.py
	$(BIN)/python bench/week.py

clean:
	rm -rf $(VENV) data .dagster_home .tmp_dagster_home_* *.egg-info
