"""The one table holding both outputs (accepted rows in canonical columns, rejected rows as one JSON record) and the reason counters."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from customer_behavior import columns as C
from customer_behavior.ingest.parsing import cleaned_text
from customer_behavior.ingest.readers import RAW_LINE, column, source_file
from customer_behavior.ingest.resolve import _MAX_QUANTITY, ResolvedColumns

SOURCE_FILE = "__cb_source_file"
# The partition column of the table holding both outputs: true for the quarantine.
QUARANTINED = "__cb_quarantined"
# Each validated row's reason (null = accepted); `reason` (columns.REASON) only in the
# quarantine, so that a source column called "reason" keeps its values.
REASON = "__cb_reason"


def canonical_transaction_columns(resolved: ResolvedColumns) -> list[Column]:
    """The columns of columns.TRANSACTIONS_SCHEMA, from a validated row."""
    src = resolved.sources
    status = F.col("__cb_status")
    is_returned = status == F.lit(C.STATUS_RETURNED)
    quantity = F.when(is_returned, -F.abs(F.col("__cb_quantity"))).otherwise(F.col("__cb_quantity"))
    amount = (
        F.when(is_returned, -F.abs(F.col("__cb_gross")))
        .when(status == F.lit(C.STATUS_CANCELLED), F.lit(0.0))
        .otherwise(F.col("__cb_gross"))
    )

    def text(name: str, lower: bool = False) -> Column:
        if name not in src:
            return F.lit(None).cast("string")
        value = cleaned_text(src[name])
        return F.lower(value) if lower else value

    return [
        F.col("__cb_transaction_id").alias(C.TRANSACTION_ID),
        F.col("__cb_customer_id").alias(C.CUSTOMER_ID),
        F.col("__cb_event_ts").alias(C.EVENT_TS),
        text(C.CATEGORY).alias(C.CATEGORY),
        F.when(F.abs(quantity) < F.lit(_MAX_QUANTITY), quantity).cast("int").alias(C.QUANTITY),
        F.col("__cb_unit_price").alias(C.UNIT_PRICE),
        F.col("__cb_discount").alias(C.DISCOUNT),
        amount.cast("double").alias(C.AMOUNT),
        text(C.PAYMENT_METHOD).alias(C.PAYMENT_METHOD),
        text(C.CHANNEL, lower=True).alias(C.CHANNEL),
        status.alias(C.STATUS),
    ]


def accepted_transactions(validated_df: DataFrame, *, resolved: ResolvedColumns) -> DataFrame:
    """The canonical transactions table (columns.TRANSACTIONS_SCHEMA) of the accepted rows."""
    return validated_df.filter(F.col(REASON).isNull()).select(*canonical_transaction_columns(resolved))


def with_source_file(df: DataFrame, origin: Column | None = None) -> DataFrame:
    """The file of each row kept as a column (`SOURCE_FILE`): needed when a shuffle comes
    between the read and the quarantine record (where `source_file()` no longer works).
    `origin` replaces the file where there is none (a catalog table's name)."""
    return df.withColumn(SOURCE_FILE, source_file() if origin is None else origin)


def quarantine_schema(source_columns: tuple[str, ...]) -> T.StructType:
    """The quarantine table: the original columns as text, the raw line, the file, the reason."""
    extra = (C.RAW_LINE, C.SOURCE_FILE, C.REASON)
    return T.StructType([T.StructField(_quarantine_name(c), T.StringType()) for c in source_columns] + [T.StructField(n, T.StringType()) for n in extra])


def _quarantine_name(column: str) -> str:
    """A source column named like one of the quarantine's own columns gets a prefix."""
    return f"source_{column}" if column.lower() in (C.RAW_LINE, C.SOURCE_FILE, C.REASON) else column


def _record_key(i: int) -> str:
    return f"c{i}"


def quarantine_record(source_columns: tuple[str, ...], file: Column) -> Column:
    """A rejected row as one JSON text: its original values (keys c0, c1, ... in column order),
    the raw line, the file and the reason. JSON keeps every string exactly; nulls are left out
    and read back as nulls."""
    values = [column(c).cast("string").alias(_record_key(i)) for i, c in enumerate(source_columns)]
    return F.to_json(F.struct(*values, F.col(RAW_LINE).alias(C.RAW_LINE), file.alias(C.SOURCE_FILE), F.col(REASON).alias(C.REASON)))


def _record_column(schema: T.StructType) -> str:
    """The canonical column that carries a rejected row's record: the first text column."""
    return next(f.name for f in schema.fields if isinstance(f.dataType, T.StringType))


def with_both_outputs(validated_df: DataFrame, *, canonical: list[Column], schema: T.StructType, source_columns: tuple[str, ...], file: Column) -> DataFrame:
    """Accepted and rejected rows in one table with the canonical schema plus `QUARANTINED`.

    An accepted row holds its canonical values. A rejected row holds its quarantine record
    (`quarantine_record`) in the first text column and nulls elsewhere. Written partitioned by
    `QUARANTINED`, the accepted rows' files are the canonical table as they are; the other
    partition is small and becomes the quarantine (`quarantine_from_records`). `file` is
    evaluated for rejected rows only.
    """
    is_rejected = F.col(REASON).isNotNull()
    record_column = _record_column(schema)
    record = quarantine_record(source_columns, file)
    values = [
        (F.when(is_rejected, record).otherwise(value) if field.name == record_column else F.when(~is_rejected, value)).cast(field.dataType).alias(field.name)
        for value, field in zip(canonical, schema.fields, strict=True)
    ]
    return validated_df.select(*values, is_rejected.alias(QUARANTINED))


def quarantine_from_records(records_df: DataFrame, *, schema: T.StructType, source_columns: tuple[str, ...]) -> DataFrame:
    """The quarantine table (`quarantine_schema`) from the rejected rows of `with_both_outputs`."""
    record_schema = T.StructType(
        [T.StructField(_record_key(i), T.StringType()) for i in range(len(source_columns))]
        + [T.StructField(n, T.StringType()) for n in (C.RAW_LINE, C.SOURCE_FILE, C.REASON)]
    )
    record = F.from_json(F.col(_record_column(schema)), record_schema)
    names = quarantine_schema(source_columns).fieldNames()
    return records_df.select(record.alias("r")).select(*[F.col("r").getField(key).alias(name) for key, name in zip(record_schema.fieldNames(), names, strict=True)])


def reason_counters(reasons: tuple[str, ...], reason_column: str = REASON) -> list[Column]:
    """Aggregate columns counting the rows, the accepted rows and the rows per reason (for
    `observe` or `agg`; `counts_from_metrics` reads them)."""
    reason = F.col(reason_column)
    return [
        F.count(F.lit(1)).alias("rows"),
        F.count_if(reason.isNull()).alias("accepted"),
        *[F.count_if(reason == F.lit(code)).alias(code) for code in reasons],
    ]


def counts_from_metrics(metrics: dict[str, int], reasons: tuple[str, ...]) -> dict[str | None, int]:
    """{reason (None = accepted): rows} from `reason_counters`; a reason outside the list is an error."""
    counts: dict[str | None, int] = {None: int(metrics["accepted"])}
    counts.update({reason: int(metrics[reason]) for reason in reasons if metrics[reason]})
    unexplained = int(metrics["rows"]) - sum(counts.values())
    if unexplained:  # pragma: no cover - a reason code missing from reasons.py is a programming error
        raise RuntimeError(f"{unexplained} rows have a quarantine reason not in {reasons}")
    return counts
