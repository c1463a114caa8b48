"""Two runs' tables compared table by table: equal rows, floats within a tolerance.

The cluster, Spark Connect and PySpark 3.5 tests compare their run with a local-mode run
of the same seed this way.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, functions as F
from pyspark.testing import assertDataFrameEqual

from spark_procs import table_dirs

FLOAT_TYPES = ("double", "float")


def assert_same_tables(spark, expected_root: Path, actual_root: Path) -> None:
    expected_tables = table_dirs(expected_root)
    actual_tables = table_dirs(actual_root)
    assert expected_tables, f"no tables under {expected_root}"
    assert list(actual_tables) == list(expected_tables)
    for table, expected_relative in expected_tables.items():
        expected_df = _comparable(spark.read.parquet(str(expected_root / expected_relative)))
        actual_df = _comparable(spark.read.parquet(str(actual_root / actual_tables[table])))
        assert actual_df.schema == expected_df.schema, table
        differences = _differences(expected_df, actual_df).limit(5).collect()
        if differences and any(_has_floats(field.dataType) for field in expected_df.schema.fields):
            # floating-point sums after a shuffle may differ in the last bits between layouts
            assertDataFrameEqual(actual_df, expected_df, checkRowOrder=False, rtol=1e-9, atol=1e-12)
        else:
            assert not differences, f"{table}: rows differ, e.g. {differences}"


def _comparable(df: DataFrame) -> DataFrame:
    """MLlib vectors (saved model data) as arrays, so they compare with a tolerance."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.ml.linalg import VectorUDT

    return df.select(*[vector_to_array(F.col(f.name)).alias(f.name) if isinstance(f.dataType, VectorUDT) else F.col(f.name) for f in df.schema.fields])


def _has_floats(data_type) -> bool:
    if data_type.typeName() in FLOAT_TYPES:
        return True
    element = getattr(data_type, "elementType", None)
    return element is not None and _has_floats(element)


def _differences(expected_df: DataFrame, actual_df: DataFrame) -> DataFrame:
    return (
        expected_df.exceptAll(actual_df)
        .withColumn("_only_in", F.lit("local"))
        .unionByName(actual_df.exceptAll(expected_df).withColumn("_only_in", F.lit("other")))
    )
