"""Result tables published into the session's catalog (`--output-database DB`).

Every table of a run's tables/ directory becomes a managed table DB.<name> (a nested table
such as patterns/categories becomes patterns_categories). A catalog has no transaction
over several tables, so they are replaced together in two steps: each is first written in
full under a staging name, and only when every one is written are the previous tables
dropped and the new ones renamed into place (a rename is a metadata operation). A run that
fails before the last step leaves the previous tables as they were.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from pyspark.sql import SparkSession

from customer_behavior.errors import ConfigError, OutputError

log = logging.getLogger(__name__)

STAGING_PREFIX = "cb_staging_"


def check_output_database(spark: SparkSession, database: str) -> None:
    """One line, before any stage, when the database does not exist in the session's catalog."""
    try:
        exists = spark.catalog.databaseExists(database)
    except Exception as exc:  # noqa: BLE001 - an unknown catalog in catalog.db
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ConfigError(f"--output-database {database!r} cannot be looked up: {first}") from None
    if not exists:
        known = ", ".join(sorted(db.name for db in spark.catalog.listDatabases())[:20])
        raise ConfigError(f"--output-database {database!r} does not exist (databases: {known}); create it with CREATE DATABASE {database}")


def result_tables(root: Path, tables_dir: str) -> dict[str, str]:
    """{catalog table name: Parquet directory} for every table the run wrote under tables/."""
    base = root / tables_dir
    found = {}
    for marker in sorted(base.rglob("_SUCCESS")):
        relative = marker.parent.relative_to(base)
        found["_".join(relative.parts)] = str(marker.parent)
    return found


def publish(spark: SparkSession, database: str, tables: dict[str, str]) -> dict[str, str]:
    """Write every table under a staging name, then swap all of them in; returns {table: DB.table}."""
    token = secrets.token_hex(4)
    staged: dict[str, str] = {}
    try:
        for name, path in tables.items():
            staging = f"{database}.{STAGING_PREFIX}{token}_{name}"
            spark.read.parquet(path).write.mode("overwrite").format("parquet").saveAsTable(staging)
            staged[name] = staging
    except Exception as exc:
        for staging in staged.values():
            _drop(spark, staging)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise OutputError(f"--output-database {database!r}: cannot write the result tables ({first}); the previous tables are unchanged") from None
    published = {}
    for name, staging in staged.items():
        target = f"{database}.{name}"
        _drop(spark, target)
        spark.sql(f"ALTER TABLE {staging} RENAME TO {target}")
        published[name] = target
    log.info("published %d tables into %s", len(published), database)
    return published


def _drop(spark: SparkSession, table: str) -> None:
    spark.sql(f"DROP TABLE IF EXISTS {table}")


__all__ = ["check_output_database", "publish", "result_tables"]
