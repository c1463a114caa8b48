"""Catalog tables with Hive support and an embedded Derby metastore in a temporary directory.

The suite's session has no Hive support and a JVM holds one metastore, so the runs happen
in a subprocess with its own session (enableHiveSupport, Derby under tmp_path). It reads a
Hive table, publishes the results into a Hive database, checks them against the run
directory, then makes a run fail and checks the published tables did not change.
"""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from spark_procs import PYTHON, cli_env

pytestmark = pytest.mark.slow

RUN_TIMEOUT = 1800
TABLES = ["customer_features", "rfm_segments", "segment_summary"]  # what the features and segments stages write

HIVE_RUN = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from pyspark.sql import SparkSession
    from customer_behavior import api, pipeline
    from customer_behavior.config import GenerateConfig, SparkSettings
    from customer_behavior.generate import generate
    from customer_behavior.session import session_conf

    tmp = Path(sys.argv[1])
    settings = SparkSettings(master="local[2]", driver_memory="1g", shuffle_partitions=4, ui=False, metrics=False, event_log=False)
    builder = SparkSession.builder.appName("customer-behavior-hive-test").enableHiveSupport()
    for key, value in session_conf(settings).items():
        builder = builder.config(key, value)
    builder = builder.config("spark.sql.warehouse.dir", str(tmp / "warehouse"))
    builder = builder.config("spark.hadoop.javax.jdo.option.ConnectionURL", f"jdbc:derby:;databaseName={tmp / 'metastore_db'};create=true")
    builder = builder.config("spark.driver.extraJavaOptions", f"-Dderby.system.home={tmp}")
    spark = builder.getOrCreate()
    assert spark.conf.get("spark.sql.catalogImplementation") == "hive"
    spark.sql("CREATE DATABASE sales")
    spark.sql("CREATE DATABASE results")
    generate(spark, GenerateConfig(customers=800, seed=3)).transactions_df.write.format("parquet").saveAsTable("sales.orders")

    stages = [pipeline.stage_source, pipeline.stage_features, pipeline.stage_segments]
    pipeline.RUN_STAGES[:] = stages
    first = api.run(spark, input_table="sales.orders", output_database="results", output=str(tmp / "first"), progress=False)
    published = first.manifest["results"]["published"]["tables"]
    equal = {}
    for name, table in published.items():
        table_df, run_df = spark.table(table), spark.read.parquet(str(first.path / "tables" / name))
        equal[name] = table_df.schema == run_df.schema and table_df.exceptAll(run_df).isEmpty() and run_df.exceptAll(table_df).isEmpty()
    before = {name: sorted(map(tuple, spark.table(table).collect())) for name, table in published.items()}
    kinds = {name: spark.catalog.getTable(table).tableType for name, table in published.items()}

    def stage_fails(ctx):
        raise RuntimeError("planned failure")

    pipeline.RUN_STAGES[:] = [*stages, stage_fails]
    try:
        api.run(spark, input_table="sales.orders", output_database="results", output=str(tmp / "second"), progress=False)
        failed = False
    except RuntimeError:
        failed = True
    after = {name: sorted(map(tuple, spark.table(table).collect())) for name, table in published.items()}
    print(json.dumps({
        "published": published, "equal": equal, "kinds": kinds, "failed": failed, "unchanged": before == after,
        "tables": sorted(t.name for t in spark.catalog.listTables("results")),
        "read": first.manifest["rows"]["transactions_read"], "orders": spark.table("sales.orders").count(),
        "second_exists": (tmp / "second").exists(),
    }))
    """
)


def test_hive_metastore_round_trip_and_a_failed_run_keeps_the_tables(tmp_path):
    result = subprocess.run([PYTHON, "-c", HIVE_RUN, str(tmp_path)], env=cli_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["published"] == {name: f"results.{name}" for name in TABLES}
    assert report["equal"] == dict.fromkeys(TABLES, True)
    assert report["kinds"] == dict.fromkeys(TABLES, "MANAGED")
    assert report["read"] == report["orders"] > 0
    assert report["failed"] and report["unchanged"] and not report["second_exists"]
    assert report["tables"] == sorted(TABLES)  # no staging tables left
    assert (tmp_path / "metastore_db").is_dir() and (tmp_path / "warehouse" / "results.db" / "customer_features").is_dir()
