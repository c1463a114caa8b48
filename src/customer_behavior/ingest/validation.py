"""Raw values -> canonical columns plus a quarantine reason, as Spark SQL expressions.

Everything is parsed with try_ functions (ANSI mode stays on: a plain cast of bad text
would fail the job). Each row gets the first rule it fails (`reasons.TRANSACTION_REASONS`
is the order) or no reason at all. The row rules need no shuffle; the duplicate check
needs one, but only of two 64-bit hashes per row (`duplicate_copies`), never of whole
rows, and it needs no rule: equal rows get equal reasons, so the sets of copies can be
found on the raw rows and joined back by hash (`with_duplicate_reason`).

The result is one table holding both outputs (`with_both_outputs`): accepted rows in the
canonical columns, rejected rows as one JSON record, told apart by `QUARANTINED`. Written
once, partitioned by that column, it splits into the canonical table and the quarantine
(`quarantine_from_records`) without a second pass over the rows.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import Window as W
from pyspark.sql import functions as F
from pyspark.sql import types as T

from customer_behavior import columns as C
from customer_behavior.errors import InputError
from customer_behavior.ingest import reasons as R
from customer_behavior.ingest.duplicates import (  # noqa: F401  (re-exported)
    DUPLICATE_KEYS,
    IS_CONFLICT,
    IS_KEPT_COPY,
    KEPT_ROW_ID,
    ROW_HASH_1,
    ROW_HASH_2,
    DuplicateCheck,
    duplicate_check,
    duplicate_copies,
    row_hashes,
    with_duplicate_reason,
)
from customer_behavior.ingest.mapping import CustomersMapping, Mapping
from customer_behavior.ingest.outputs import (  # noqa: F401  (re-exported)
    QUARANTINED,
    REASON,
    SOURCE_FILE,
    accepted_transactions,
    canonical_transaction_columns,
    counts_from_metrics,
    quarantine_from_records,
    quarantine_record,
    quarantine_schema,
    reason_counters,
    with_both_outputs,
    with_source_file,
)
from customer_behavior.ingest.parsing import (  # noqa: F401  (re-exported)
    cleaned_text,
    customer_id_of,
    is_finite,
    parsed_number,
    parsed_timestamp,
    status_of,
    transaction_id_of,
)
from customer_behavior.ingest.readers import RAW_LINE, RawTable, column, source_file
from customer_behavior.ingest.resolve import (  # noqa: F401  (re-exported)
    _MAX_QUANTITY,
    OPTIONAL_USES,
    REQUIRED,
    ResolvedColumns,
    Rules,
    _find,
    _missing_message,
    resolve_columns,
)

_LOYALTY_TRUE = ("true", "yes", "y", "1", "t")
_LOYALTY_FALSE = ("false", "no", "n", "0", "f")


# --------------------------------------------------------------------------- transactions


def with_transaction_reason(
    raw_df: DataFrame, *, source_columns: tuple[str, ...], key_columns: tuple[str, ...], resolved: ResolvedColumns, mapping: Mapping, rules: Rules
) -> DataFrame:
    """Attach the canonical columns (prefixed `__cb_`), the row hashes of the duplicate check
    (over `key_columns`) and the quarantine reason (null = accepted)."""
    src = resolved.sources
    types = {f.name: f.dataType for f in raw_df.schema.fields}

    def number(name: str) -> tuple[Column, Column]:
        """(value, has_text): a mapped numeric column and whether the input had anything in it."""
        if name not in src:
            return F.lit(None).cast("double"), F.lit(False)
        amount_format = mapping.amount_format if name in (C.AMOUNT, C.UNIT_PRICE) else None
        return parsed_number(src[name], types[src[name]], amount_format), cleaned_text(src[name]).isNotNull()

    customer_id = customer_id_of(resolved, mapping)
    event_ts = parsed_timestamp(src[C.EVENT_TS], types[src[C.EVENT_TS]], mapping)

    quantity, has_quantity = number(C.QUANTITY)
    unit_price, has_unit_price = number(C.UNIT_PRICE)
    discount, has_discount = number(C.DISCOUNT)
    amount_given, has_amount = number(C.AMOUNT)
    is_quantity_whole = is_finite(quantity) & (quantity == F.floor(quantity)) & (F.abs(quantity) < F.lit(_MAX_QUANTITY))
    is_bad_quantity = (has_quantity & ~is_quantity_whole) | (F.lit(resolved.amount_from_product) & ~has_quantity)
    is_bad_number = (has_unit_price & ~is_finite(unit_price)) | (has_discount & ~is_finite(discount))
    if resolved.amount_from_product:
        gross = F.round(quantity * unit_price * (F.lit(1.0) - F.coalesce(discount, F.lit(0.0))), 2)
        is_bad_number = is_bad_number | ~has_unit_price
    else:
        gross = amount_given
        is_bad_number = is_bad_number | ~has_amount | ~is_finite(amount_given)

    transaction_text = cleaned_text(src[C.TRANSACTION_ID]) if C.TRANSACTION_ID in src else F.lit(None).cast("string")
    status_text = cleaned_text(src[C.STATUS]) if C.STATUS in src else F.lit(None).cast("string")
    status_given = status_of(status_text, mapping)
    is_negative = F.lit(mapping.negative_is_return) & ((quantity < 0) | (gross < 0))
    status = F.when(status_text.isNotNull(), status_given)
    if mapping.invoice_prefix:
        status = status.when(transaction_text.startswith(mapping.invoice_prefix), F.lit(mapping.invoice_prefix_status))
    status = status.when(is_negative, F.lit(C.STATUS_RETURNED)).otherwise(F.lit(C.STATUS_COMPLETED))

    reason = (
        F.when(F.col(RAW_LINE).isNotNull(), F.lit(R.MALFORMED_LINE))
        .when(F.col("__cb_customer_id").isNull(), F.lit(R.MISSING_CUSTOMER_ID))
        .when(F.col("__cb_event_ts").isNull(), F.lit(R.UNPARSEABLE_TIMESTAMP))
        .when(F.col("__cb_event_ts") >= F.lit(rules.as_of).cast("timestamp"), F.lit(R.EVENT_AFTER_AS_OF))
        .when(F.col("__cb_bad_quantity"), F.lit(R.NON_NUMERIC_QUANTITY))
        .when(F.col("__cb_bad_number"), F.lit(R.NON_NUMERIC_AMOUNT))
        .when((F.col("__cb_gross") < F.lit(rules.min_amount)) | (F.col("__cb_gross") > F.lit(rules.max_amount)), F.lit(R.AMOUNT_OUT_OF_BOUNDS))
        .when(F.col("__cb_quantity") == F.lit(0.0), F.lit(R.ZERO_QUANTITY))
        .when(F.col("__cb_status").isNull(), F.lit(R.UNKNOWN_STATUS))
    )
    row_hash = F.sha2(F.to_json(F.struct(*[column(c).cast("string").alias(f"c{i}") for i, c in enumerate(source_columns)])), 256)
    first_hash, second_hash = row_hashes(key_columns)
    return (
        raw_df.select(
            "*",
            customer_id.alias("__cb_customer_id"),
            event_ts.alias("__cb_event_ts"),
            quantity.alias("__cb_quantity"),
            unit_price.alias("__cb_unit_price"),
            discount.alias("__cb_discount"),
            gross.alias("__cb_gross"),
            is_bad_quantity.alias("__cb_bad_quantity"),
            is_bad_number.alias("__cb_bad_number"),
            status.alias("__cb_status"),
            F.coalesce(transaction_text, F.concat(F.lit("H"), F.substring(row_hash, 1, 24))).alias("__cb_transaction_id"),
            first_hash.alias(ROW_HASH_1),
            second_hash.alias(ROW_HASH_2),
        )
        .withColumn(REASON, reason)
    )


# --------------------------------------------------------------------------- customers


def resolve_customer_columns(table: RawTable, customers: CustomersMapping) -> dict[str, str]:
    present = table.source_columns
    sources: dict[str, str] = {}
    missing: list[str] = []
    for name in (C.CUSTOMER_ID, C.SIGNUP_DATE, C.AGE, C.GENDER, C.COUNTRY, C.REGION, C.ACQUISITION_CHANNEL, C.IS_LOYALTY_MEMBER):
        wanted = customers.columns.get(name)
        found = _find(wanted or name, present)
        if found is not None:
            sources[name] = found
        elif wanted or name == C.CUSTOMER_ID:
            missing.append(f"{name} (mapped to {wanted!r})" if wanted else name)
    if missing:
        raise InputError(_missing_message(table, missing, "customers input"))
    return sources


def with_customer_reason(raw_df: DataFrame, *, source_columns: tuple[str, ...], sources: dict[str, str], customers: CustomersMapping) -> DataFrame:
    """Canonical customer columns (prefixed `__cb_`) and a reason; duplicates keep the first row by content."""
    types = {f.name: f.dataType for f in raw_df.schema.fields}

    def text(name: str) -> Column:
        return cleaned_text(sources[name]) if name in sources else F.lit(None).cast("string")

    if C.SIGNUP_DATE not in sources:
        signup = F.lit(None).cast("date")
    elif isinstance(types[sources[C.SIGNUP_DATE]], (T.DateType, T.TimestampType)):
        signup = column(sources[C.SIGNUP_DATE]).cast("date")
    elif customers.date_formats:
        signup = F.coalesce(*[F.try_to_timestamp(text(C.SIGNUP_DATE), F.lit(f)) for f in customers.date_formats]).cast("date")
    else:
        signup = F.try_to_timestamp(text(C.SIGNUP_DATE)).cast("date")
    age = parsed_number(sources[C.AGE], types[sources[C.AGE]]) if C.AGE in sources else F.lit(None).cast("double")
    loyalty = F.lower(text(C.IS_LOYALTY_MEMBER))
    row_key = F.to_json(F.struct(*[column(c).cast("string").alias(f"c{i}") for i, c in enumerate(source_columns)]))
    first_by_content = W.partitionBy(F.col("__cb_customer_id")).orderBy(row_key)
    reason = (
        F.when(F.col(RAW_LINE).isNotNull(), F.lit(R.MALFORMED_LINE))
        .when(F.col("__cb_customer_id").isNull(), F.lit(R.MISSING_CUSTOMER_ID))
    )
    return (
        raw_df.select(
            "*",
            source_file().alias(SOURCE_FILE),  # here, before the window's shuffle
            text(C.CUSTOMER_ID).alias("__cb_customer_id"),
            signup.alias("__cb_signup_date"),
            F.when(is_finite(age) & (age >= 0) & (age < 150), age).cast("int").alias("__cb_age"),
            F.lower(text(C.GENDER)).alias("__cb_gender"),
            text(C.COUNTRY).alias("__cb_country"),
            text(C.REGION).alias("__cb_region"),
            F.lower(text(C.ACQUISITION_CHANNEL)).alias("__cb_acquisition_channel"),
            F.when(loyalty.isin(list(_LOYALTY_TRUE)), F.lit(True)).when(loyalty.isin(list(_LOYALTY_FALSE)), F.lit(False)).alias("__cb_is_loyalty_member"),
        )
        .withColumn(REASON, reason)
        # rank among the valid rows only, so a malformed copy never displaces a good one
        .withColumn("__cb_rank", F.row_number().over(first_by_content.partitionBy(F.col("__cb_customer_id"), F.col(REASON).isNull())))
        .withColumn(REASON, F.when(F.col(REASON).isNull() & (F.col("__cb_rank") > 1), F.lit(R.DUPLICATE_CUSTOMER_ID)).otherwise(F.col(REASON)))
        .drop("__cb_rank")
    )


def canonical_customer_columns() -> list[Column]:
    """The columns of columns.CUSTOMERS_SCHEMA; unparseable attributes are null."""
    return [F.col(f"__cb_{field.name}").cast(field.dataType).alias(field.name) for field in C.CUSTOMERS_SCHEMA.fields]
