"""Catalog tables in and out, with Spark's built-in catalog (the suite's session).

`run --input-table` reads a table or view like a file (validated, quarantined with the
table's name as the rows' source); `--output-database` publishes every result table as
DB.<table>, equal to the run directory's, and a failed run leaves them as they were. The
databases live in the test's temporary directory (CREATE DATABASE ... LOCATION).
Hive support with an embedded Derby metastore needs its own JVM: test_catalog_hive.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from customer_behavior import cli, pipeline
from customer_behavior import columns as C
from customer_behavior.ingest import reasons as R

STAGES = [pipeline.stage_source, pipeline.stage_features, pipeline.stage_segments]
PUBLISHED = ["customer_features", "rfm_segments", "segment_summary"]


@pytest.fixture(scope="module")
def catalog(spark, tmp_path_factory, synthetic_small):
    """Databases cb_sales (orders: 5,000 generated customers' transactions, plus a view with
    20 rows lacking a customer id) and cb_results (empty)."""
    root = tmp_path_factory.mktemp("catalog")
    for database in ("cb_sales", "cb_results"):
        spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")
        spark.sql(f"CREATE DATABASE {database} LOCATION '{(root / database).as_uri()}'")
    synthetic_small["transactions"].write.saveAsTable("cb_sales.orders")
    blank = spark.table("cb_sales.orders").orderBy(C.TRANSACTION_ID).limit(20).withColumn(C.CUSTOMER_ID, F.lit(None).cast("string"))
    blank = blank.withColumn(C.TRANSACTION_ID, F.concat(F.lit("X"), F.col(C.TRANSACTION_ID)))
    blank.write.saveAsTable("cb_sales.blank_orders")
    spark.sql("CREATE VIEW cb_sales.orders_with_blanks AS SELECT * FROM cb_sales.orders UNION ALL SELECT * FROM cb_sales.blank_orders")
    spark.sql("CREATE VIEW cb_sales.ids_only AS SELECT transaction_id, amount AS paid FROM cb_sales.orders")
    yield {"root": root, "transactions": synthetic_small["transactions"].count()}
    for database in ("cb_sales", "cb_results"):
        spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")


def _run(monkeypatch, *args: str, stages=STAGES) -> int:
    monkeypatch.setattr(pipeline, "RUN_STAGES", list(stages))
    return cli.main(["run", *args])


def _manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


def _same_rows(spark, table: str, path: Path) -> bool:
    published_df, run_df = spark.table(table), spark.read.parquet(str(path))
    return published_df.schema == run_df.schema and published_df.exceptAll(run_df).isEmpty() and run_df.exceptAll(published_df).isEmpty()


def test_input_table_is_validated_and_quarantined_like_a_file(spark, catalog, monkeypatch, tmp_path):
    run = tmp_path / "run"
    assert _run(monkeypatch, "--input-table", "cb_sales.orders_with_blanks", "--max-bad-fraction", "0.5", "-o", str(run), stages=[pipeline.stage_source]) == 0
    rows = _manifest(run)["rows"]
    assert (rows["transactions_read"], rows["transactions_accepted"], rows[f"transactions_quarantined_{R.MISSING_CUSTOMER_ID}"]) == (catalog["transactions"] + 20, catalog["transactions"], 20)
    quarantine_df = spark.read.parquet(str(run / "quarantine" / "transactions"))
    assert {tuple(r) for r in quarantine_df.select(C.SOURCE_FILE, C.REASON).distinct().collect()} == {("cb_sales.orders_with_blanks", R.MISSING_CUSTOMER_ID)}
    accepted_df = spark.read.parquet(str(run / "data" / "transactions"))
    assert accepted_df.exceptAll(spark.table("cb_sales.orders")).isEmpty() and accepted_df.count() == catalog["transactions"]


def test_output_database_publishes_the_run_tables_and_a_failed_run_keeps_them(spark, catalog, monkeypatch, tmp_path):
    first = tmp_path / "first"
    assert _run(monkeypatch, "--input-table", "cb_sales.orders", "--output-database", "cb_results", "-o", str(first)) == 0
    assert _manifest(first)["results"]["published"] == {"database": "cb_results", "tables": {name: f"cb_results.{name}" for name in PUBLISHED}}
    for name in PUBLISHED:
        assert _same_rows(spark, f"cb_results.{name}", first / "tables" / name), name
        assert spark.catalog.getTable(f"cb_results.{name}").tableType == "MANAGED"
    before = {name: sorted(map(tuple, spark.table(f"cb_results.{name}").collect())) for name in PUBLISHED}

    def stage_fails(ctx):
        raise RuntimeError("a stage failed after the tables were written")

    second = tmp_path / "second"
    code = _run(monkeypatch, "--input-table", "cb_sales.orders_with_blanks", "--max-bad-fraction", "0.5", "--output-database", "cb_results", "-o", str(second), stages=[*STAGES, stage_fails])
    assert code == 1 and not second.exists()
    assert {name: sorted(map(tuple, spark.table(f"cb_results.{name}").collect())) for name in PUBLISHED} == before
    assert sorted(t.name for t in spark.catalog.listTables("cb_results")) == sorted(PUBLISHED)  # no staging tables left


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--input-table", "cb_sales.nope"], "customer-behavior: error: --input-table 'cb_sales.nope': no such table or view in the session's catalog"),
        (["--input-table", "cb_sales.ids_only"], "customer-behavior: error: input 'cb_sales.ids_only': required column missing: customer_id"),
        (["--output-database", "cb_nowhere"], "customer-behavior: error: --output-database 'cb_nowhere' does not exist (databases: "),
        (["--input", "orders.csv", "--input-table", "cb_sales.orders"], "customer-behavior: error: input.path and input.table: give one"),
    ],
    ids=["missing-table", "view-without-columns", "missing-database", "input-and-table"],
)
def test_bad_catalog_arguments_are_one_line_and_write_nothing(spark, catalog, monkeypatch, tmp_path, capsys, args, expected):
    ran = []
    code = _run(monkeypatch, *args, "-o", str(tmp_path / "run"), stages=[lambda ctx: ran.append(True)] if "--output-database" in args else STAGES)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith(expected), err
    assert not ran  # --output-database is checked before any stage
    assert list(tmp_path.iterdir()) == []
    if "ids_only" in args[-1]:
        assert "Present columns: transaction_id, paid" in err[0]
