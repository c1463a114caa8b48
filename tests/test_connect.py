"""The pipeline through a real Spark Connect server (started from the installed PySpark).

One server for the module on 127.0.0.1. `run --remote` writes the same tables as a local
run of the same seed; `api.run` on a Connect session reads a catalog table and publishes
the results into a database of the server's catalog. The runs through Connect happen in
subprocesses: a Connect session in the suite's own process would switch PySpark's
functions to Connect mode for every later test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from customer_behavior import api
from customer_behavior.runio import read_manifest
from run_compare import assert_same_tables
from spark_procs import PYTHON, SRC, ConnectServer, cli, cli_env, free_port, light_config_file

from customer_behavior.history import spark_home

# PySpark 3.5's wheel does not ship the Connect server: Connect is tested on 4.x.
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not list((spark_home() / "jars").glob("spark-connect_*.jar")), reason="this PySpark ships no Spark Connect server"),
]

CUSTOMERS = 1_200
SEED = 7
RUN_TIMEOUT = 1800  # seconds for one run through the server on a loaded, shared 2-core machine
DEAD_ADDRESS_SECONDS = 30


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    connect = ConnectServer(tmp_path_factory.mktemp("connect"))
    try:
        yield connect.start()
    finally:
        connect.stop()


@pytest.fixture(scope="module")
def local_run(spark, tmp_path_factory) -> Path:
    cfg = api.config(light_config_file(), {"spark.master": "local[2]", "generate.seed": SEED})
    return api.run(spark, cfg, customers=CUSTOMERS, output=str(tmp_path_factory.mktemp("local") / "run"), progress=False).path


def test_run_through_spark_connect_equals_local_run(spark, server, local_run, tmp_path):
    output = tmp_path / "connect-run"
    args = cli("run", "--remote", server.url, "--config", str(light_config_file()), "--customers", str(CUSTOMERS), "--seed", str(SEED), "-o", str(output))
    result = subprocess.run(args, env=cli_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    manifest = read_manifest(output)
    assert manifest["spark"]["connect"] is True and manifest["spark"]["ui"] is None
    # the light configuration turns the holdout evaluation off: that stage and the challenger judged on it are skipped, every other one ran
    skipped = ("holdout", "challenger")
    assert [stage["status"] for stage in manifest["stages"]] == ["skipped" if stage["name"] in skipped else "ok" for stage in manifest["stages"]]
    for name in skipped:
        assert "clv.evaluate = false" in next(stage for stage in manifest["stages"] if stage["name"] == name)["notes"], name
    assert [stage["name"] for stage in manifest["stages"]] == [stage["name"] for stage in read_manifest(local_run)["stages"]]
    for stage in manifest["stages"]:
        assert "Spark metrics: not available over Spark Connect" in stage["notes"], stage["name"]
    assert_same_tables(spark, local_run, output)


def test_dead_remote_address_fails_in_one_line_and_writes_nothing(tmp_path):
    address = f"sc://127.0.0.1:{free_port()}"  # nothing listens there
    output = tmp_path / "never"
    started = time.monotonic()
    result = subprocess.run(cli("run", "--remote", address, "-o", str(output)), env=cli_env(), capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and address in lines[0] and "no Spark Connect server answers" in lines[0], result.stderr
    assert elapsed < DEAD_ADDRESS_SECONDS
    assert not output.exists() and list(tmp_path.iterdir()) == []


API_OVER_CONNECT = textwrap.dedent(
    """
    import json, sys
    from pyspark.sql import SparkSession
    from customer_behavior import api

    url, light, data, output = sys.argv[1:5]
    spark = SparkSession.builder.remote(url).getOrCreate()
    spark.sql("CREATE DATABASE IF NOT EXISTS sales")
    spark.sql("CREATE DATABASE IF NOT EXISTS results")
    spark.read.parquet(data).write.mode("overwrite").saveAsTable("sales.orders")
    analysis = api.run(spark, api.config(light), input_table="sales.orders", output_database="results", output=output, progress=False)
    published = analysis.manifest["results"]["published"]["tables"]
    counts = {name: spark.table(table).count() for name, table in published.items()}
    print(json.dumps({"published": published, "counts": counts, "is_connect": type(spark).__module__}))
    """
)


def test_api_run_on_a_connect_session_reads_and_publishes_catalog_tables(spark, server, local_run, tmp_path):
    output = tmp_path / "api-run"
    args = [PYTHON, "-c", API_OVER_CONNECT, server.url, str(light_config_file()), str(local_run / "data" / "transactions"), str(output)]
    result = subprocess.run(args, env=cli_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["is_connect"].startswith("pyspark.sql.connect")
    manifest = read_manifest(output)
    assert manifest["results"]["ingest"]["table"] == "sales.orders"
    assert manifest["rows"]["transactions_read"] == read_manifest(local_run)["rows"]["transactions_generated"]
    assert manifest["rows"]["transactions_quarantined"] == 0
    published = report["published"]
    assert published["customer_features"] == "results.customer_features" and published["patterns_categories"] == "results.patterns_categories"
    for name, count in report["counts"].items():
        relative = name.replace("_", "/", 1) if name.startswith(("patterns_", "insights_")) else name
        assert count == spark.read.parquet(str(output / "tables" / relative)).count(), name
