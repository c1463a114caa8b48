# Two commands on a fresh machine (Python 3.11 and Java 17): `make run` and `make test`.
# Each sets up its own virtual environment in .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=
PYTEST_ARGS ?=
# Test files run on this many pytest-xdist workers (each with its own SparkSession); 1 = in this process.
TEST_WORKERS ?= 2
# A second environment with the latest PySpark 3.5 (LTS), for `make test-spark35` (.ci/run runs it).
VENV35 ?= .venv-spark35
BIN35 := $(VENV35)/bin
# The subset that runs on PySpark 3.5: ingest, the catalog, the pipeline end to end on local
# mode and on a standalone cluster (Spark Connect is tested on 4.x: 3.5's wheel has no server).
# The killed-driver test (atomic outputs, spark-submit) is not about the Spark version: 4.x runs it.
SPARK35_TESTS ?= tests/test_ingest.py tests/test_ingest_e2e.py tests/test_catalog.py tests/test_cluster.py::test_python_api_runs_on_the_existing_session tests/test_cluster.py::test_cluster_run_survives_losing_an_executor

.PHONY: run test test-spark35 bench venv clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[spark,test,bench]'
	touch $@

venv: $(VENV)/.installed

$(BIN35)/activate:
	$(PYTHON) -m venv $(VENV35)

$(VENV35)/.installed: pyproject.toml | $(BIN35)/activate
	$(BIN35)/pip install -q --upgrade pip
	# PySpark 3.5's pandas API (imported by pyspark.testing) still uses np.NaN: NumPy 1.x, and a pyarrow built for it.
	$(BIN35)/pip install -q -e '.[test]' 'pyspark>=3.5,<3.6' 'numpy<2' 'pyarrow<19'
	touch $@

test-spark35: $(VENV35)/.installed
	$(BIN35)/python -m pytest -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile $(SPARK35_TESTS) $(PYTEST_ARGS)

run: $(VENV)/.installed
	$(BIN)/customer-behavior run $(ARGS)

# Lint and types first (pyproject.toml [tool.ruff], [tool.mypy]). No `ruff format --check`: the
# formatter would rewrite 59 of 102 files (it explodes the code's packed one-line literals).
test: $(VENV)/.installed
	$(BIN)/ruff check src && $(BIN)/mypy src
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/run.py $(ARGS)

clean:
	rm -rf $(VENV) $(VENV35) out build *.egg-info src/*.egg-info .pytest_cache test-artifacts
