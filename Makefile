# Two commands on a fresh machine (Python 3.11 and Java 17): `make run` and `make test`.
# Each sets up its own virtual environment in .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=
PYTEST_ARGS ?=

.PHONY: run test bench venv clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $@

venv: $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/customer-behavior run $(ARGS)

test: $(VENV)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/run.py $(ARGS)

clean:
	rm -rf $(VENV) out build *.egg-info src/*.egg-info .pytest_cache test-artifacts
