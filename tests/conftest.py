"""One SparkSession for the whole suite: local[2], few shuffle partitions, UTC, UI off."""

from __future__ import annotations

import os

import pytest
from pyspark.sql import SparkSession

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(scope="session")
def spark(tmp_path_factory) -> SparkSession:
    from customer_behavior.config import SparkSettings
    from customer_behavior.session import session_conf

    settings = SparkSettings(master="local[2]", driver_memory="3g", shuffle_partitions=4, ui=False, metrics=False)
    # each pytest-xdist worker is its own JVM: its catalog tables in its own warehouse, not in the working directory
    builder = SparkSession.builder.appName("customer-behavior-tests").config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("warehouse")))
    for key, value in session_conf(settings).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def synthetic_small(spark, tmp_path_factory):
    """5,000 generated customers written once to Parquet and shared by the tests that read it."""
    from customer_behavior.config import GenerateConfig
    from customer_behavior.generate import generate

    root = tmp_path_factory.mktemp("synthetic_small")
    data = generate(spark, GenerateConfig(customers=5_000, seed=7))
    paths = {}
    for name, df in (("customers", data.customers_df), ("transactions", data.transactions_df), ("truth", data.truth_df)):
        paths[name] = str(root / name)
        df.write.parquet(paths[name])
    return {name: spark.read.parquet(path) for name, path in paths.items()} | {"paths": paths}
