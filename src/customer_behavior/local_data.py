"""Small driver-side tables as DataFrames without Python on the executors.

`spark.createDataFrame(list_of_rows)` ships pickled rows that Python workers decode, so a
cluster would need our Python; literals inlined into the plan need nothing but Spark.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T


def _schema(spark: SparkSession, schema: T.StructType | str) -> T.StructType:
    if isinstance(schema, T.StructType):
        return schema
    # Only the schema of an empty frame is read: nothing runs, nothing reaches an executor.
    return spark.createDataFrame([], schema).schema


def literal_dataframe(spark: SparkSession, rows: Sequence[Sequence[Any]], schema: T.StructType | str) -> DataFrame:
    """A DataFrame of `rows` (tuples in schema order) built from literals: spark.range + inline."""
    struct = _schema(spark, schema)
    if not rows:
        return spark.range(0).select(*[F.lit(None).cast(f.dataType).alias(f.name) for f in struct.fields])
    structs = [
        F.struct(*[F.lit(value).cast(field.dataType).alias(field.name) for field, value in zip(struct.fields, row)])
        for row in rows
    ]
    return spark.range(1).select(F.inline(F.array(*structs)))
