"""Ingest's write protocol: every rule applied (the duplicate check included), accepted and
rejected rows in one Parquet write, and the quarantine table made from the rejected part.

Used by the pipeline's ingest stage (`pipeline/stages/source.py`) and by benchmarks/bench_ingest.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from customer_behavior import columns as C
from customer_behavior.ingest import validation as V
from customer_behavior.local_data import literal_dataframe

if TYPE_CHECKING:
    from customer_behavior.ingest.plan import IngestPlan, TablePlan

# Up to this many sets of copies (24 bytes each), the duplicate check's join broadcasts them
# from the driver; beyond, it is a shuffle join (correct, slower: for inputs mostly copies).
BROADCAST_COPIES_MAX = 2_000_000


def small_checkpoint(df: DataFrame, limit: int) -> tuple[DataFrame, int] | None:
    """`df` computed once and kept as a local checkpoint, with its rows; None when it has more
    rows than `limit` (then only `limit` + 1 rows were computed).

    A broadcast collects to the driver anyway; as a checkpoint the rows are no longer a plan
    over the input files, which `source_file()` (input_file_name) requires of a join's other
    side. Public DataFrame API only (works over Spark Connect): no Python objects, nothing for
    Python workers."""
    local_df = df.limit(limit + 1).localCheckpoint(eager=True)
    rows = local_df.count()  # of the checkpointed rows: no rescan of the input
    return (local_df, rows) if rows <= limit else None


@dataclass
class FinalRows:
    """A table's rows with every reason, ready for the one write, and what that needed."""

    df: DataFrame
    file: Column  # a rejected row's file
    copy_sets: int = 0
    cached: list[DataFrame] = field(default_factory=list)  # to unpersist after the write


def final_rows(table: TablePlan, plan: IngestPlan | None = None) -> FinalRows:
    """Every rule applied, the duplicate check included.

    Transactions: one job reads the rows (the lines of a delimited file, unparsed) and finds the
    sets of exact copies by their hashes; they are joined to the checked rows in the write
    itself. Customers: every rule is in `validated_df`, its file kept before its window."""
    if table.checked_df is None:
        return FinalRows(df=table.validated_df, file=F.col(V.SOURCE_FILE))
    copies_df = plan.copies_df()
    local = small_checkpoint(copies_df, BROADCAST_COPIES_MAX)
    if local is not None:
        local_df, copy_sets = local
        if copy_sets == 0:
            return FinalRows(df=table.checked_df.drop(*V.DUPLICATE_KEYS).withColumn(V.IS_KEPT_COPY, F.lit(False)), file=table.raw.origin())
        return FinalRows(df=V.with_duplicate_reason(table.checked_df, F.broadcast(local_df), plan.duplicates), file=table.raw.origin(), copy_sets=copy_sets)
    # more sets than a broadcast should hold: a shuffle join, so each row's file is taken before it
    copies_df = copies_df.persist(StorageLevel.MEMORY_AND_DISK)
    rows_df = V.with_duplicate_reason(table.checked_df.transform(V.with_source_file, table.raw.origin()), copies_df, plan.duplicates)
    return FinalRows(df=rows_df, file=F.col(V.SOURCE_FILE), copy_sets=copies_df.count(), cached=[copies_df])


def write_both_outputs(final: FinalRows, split_dir: Path, *, canonical: list[Column], schema: StructType, source_columns: tuple[str, ...]) -> int:
    """The one write: accepted and rejected rows, partitioned by `QUARANTINED`, into `split_dir`.
    Returns the identical lines kept as repeated purchases (observed while writing)."""
    rows_df, observation = final.df, None
    if V.IS_KEPT_COPY in rows_df.columns:
        observation = Observation("kept copies")
        rows_df = rows_df.observe(observation, F.count_if(F.col(V.IS_KEPT_COPY)).alias("kept"))
    both_df = V.with_both_outputs(rows_df, canonical=canonical, schema=schema, source_columns=source_columns, file=final.file)
    both_df.write.mode("overwrite").partitionBy(V.QUARANTINED).parquet(str(split_dir))
    return int(observation.get["kept"] or 0) if observation is not None else 0


def write_quarantine(
    spark: SparkSession, records_dir: Path, target: str, *, schema: StructType, source_columns: tuple[str, ...], reasons: tuple[str, ...]
) -> dict[str | None, int]:
    """The quarantine table from the rejected part of the one write; returns the rows per reason
    (observed while writing them: the rejected rows only, never the whole input)."""
    if not records_dir.exists():  # nothing rejected: an empty table with the quarantine's columns
        literal_dataframe(spark, [], V.quarantine_schema(source_columns)).write.mode("overwrite").parquet(target)
        return {None: 0}
    records_df = spark.read.schema(schema).parquet(str(records_dir))
    observation = Observation("quarantine")
    quarantine_df = V.quarantine_from_records(records_df, schema=schema, source_columns=source_columns).observe(observation, *V.reason_counters(reasons, C.REASON))
    quarantine_df.write.mode("overwrite").parquet(target)
    return V.counts_from_metrics(observation.get, reasons)


def parquet_rows(spark: SparkSession, path: Path) -> int:
    """Rows of a Parquet directory (from the files' footers), 0 when it does not exist."""
    return spark.read.parquet(str(path)).count() if path.exists() else 0
