# Chainsight: `make reports` builds everything and writes reports/default/index.html;
# `make test` runs the test suite. Both create the environment first if needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# JupyterLab refuses to start as root unless told to (Docker, training-room machines).
LAB_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root,)
STAMP  := $(VENV)/.installed
PARAMS ?= reports/params/default.yaml
SIZE   ?= default
SEED   ?= 42

.DEFAULT_GOAL := help
.PHONY: help env spark data lab reports test lint bench constraints

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

env: $(STAMP) ## create .venv and install the project (quick when it is already there)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

spark: env ## add Apache Spark (engine: spark; needs Java 17+, e.g. apt-get install openjdk-17-jre-headless)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,spark]'

data: env ## generate the synthetic retailer (SIZE=small|default|large, SEED=42)
	$(BIN)/chainsight data --size $(SIZE) --seed $(SEED)

lab: env ## open the notebooks in JupyterLab (as root too, e.g. in Docker or a training room)
	$(BIN)/jupyter lab notebooks/ $(LAB_FLAGS)

reports: env ## run the notebooks into HTML reports (PARAMS=reports/params/<set>.yaml)
	$(BIN)/chainsight report --params $(PARAMS)

test: env ## run the tests (notebooks run on the quick parameter set)
	$(BIN)/python -m pytest -q

lint: env ## ruff on the library, tests, benchmarks and notebooks
	$(BIN)/ruff check lib tests benchmarks notebooks

bench: env ## time the heavy paths; prints figures to compare (installs the bench extra)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_profile.py
	$(BIN)/python benchmarks/bench_personas.py
	$(BIN)/python benchmarks/bench_controls.py
	$(BIN)/python benchmarks/bench_holdout.py
	$(BIN)/python benchmarks/bench_forecast.py
	$(BIN)/python benchmarks/bench_inventory.py
	$(BIN)/python benchmarks/bench_logistics.py
	$(BIN)/python benchmarks/bench_production.py
	$(BIN)/python benchmarks/bench_risk.py
	$(BIN)/python benchmarks/bench_service.py
	$(BIN)/python benchmarks/bench_cli.py

constraints: env ## re-pin constraints.txt to what is installed (after tests pass)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt
