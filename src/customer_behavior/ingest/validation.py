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

import datetime as dt
import re
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import Window as W
from pyspark.sql import functions as F
from pyspark.sql import types as T

from customer_behavior import columns as C
from customer_behavior.errors import InputError
from customer_behavior.ingest import reasons as R
from customer_behavior.ingest.amounts import parsed_amount_sql
from customer_behavior.ingest.mapping import AmountFormat, CustomersMapping, Mapping
from customer_behavior.ingest.readers import RAW_LINE, ROW_ID, RawTable, column, source_file

# Where an absent optional column shows up downstream (recorded in the manifest and report).
OPTIONAL_USES = {
    C.CATEGORY: "patterns: category mix and category affinities; features: distinct_categories, favourite_category",
    C.PAYMENT_METHOD: "patterns: payment mix; features: preferred_payment_method",
    C.CHANNEL: "patterns: channel mix; features: preferred_channel",
    C.QUANTITY: "features: avg_basket_size",
    C.DISCOUNT: "features: discount_share",
    C.UNIT_PRICE: "unit_price is left empty",
    C.STATUS: "returns recognised only by negative quantities or amounts (and the invoice prefix, if set)",
    C.TRANSACTION_ID: "transaction ids derived from a hash of each row",
    "customers": "report: demographic breakdowns (age, gender, country, region, acquisition channel, loyalty)",
}
REQUIRED = (C.CUSTOMER_ID, C.EVENT_TS)
_NUMERIC_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType, T.DecimalType)
_HAS_OFFSET = r"\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|UTC|GMT|[+-]\d\d(:?\d\d)?)$"
_MAX_QUANTITY = 2_000_000_000
_LOYALTY_TRUE = ("true", "yes", "y", "1", "t")
_LOYALTY_FALSE = ("false", "no", "n", "0", "f")
# Carried by the validated rows until the duplicate check has run.
ROW_HASH_1 = "__cb_row_hash_1"
ROW_HASH_2 = "__cb_row_hash_2"
DUPLICATE_KEYS = (ROW_HASH_1, ROW_HASH_2, ROW_ID)
KEPT_ROW_ID = "__cb_kept_row_id"
_SECOND_HASH_SALT = "customer-behavior duplicate check"
# The file a row came from, when it has to be kept as a column (before a shuffle).
SOURCE_FILE = "__cb_source_file"
# The partition column of the table holding both outputs: true for the quarantine.
QUARANTINED = "__cb_quarantined"
# Each validated row's reason (null = accepted); `reason` (columns.REASON) only in the
# quarantine, so that a source column called "reason" keeps its values.
REASON = "__cb_reason"


@dataclass(frozen=True)
class Rules:
    as_of: dt.date  # events on or after midnight UTC of this day are quarantined
    min_amount: float
    max_amount: float


@dataclass(frozen=True)
class ResolvedColumns:
    """Which source column feeds each canonical column (absent optional ones are missing)."""

    sources: dict[str, str]
    amount_from_product: bool
    missing_optional: dict[str, str]


# --------------------------------------------------------------------------- resolving names


def _normal(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _find(wanted: str, present: tuple[str, ...]) -> str | None:
    if wanted in present:
        return wanted
    matches = [p for p in present if _normal(p) == _normal(wanted)]
    return matches[0] if len(matches) == 1 else None


def _missing_message(table: RawTable, missing: list[str], what: str) -> str:
    present = ", ".join(table.source_columns) or "(none)"
    hint = ""
    if len(table.source_columns) == 1 and any(d in table.source_columns[0] for d in ",;\t|"):
        hint = "; the header was read as a single column: is the delimiter right (--delimiter)?"
    return f"{what} {table.path!r}: required column missing: {'; '.join(missing)}. Present columns: {present}{hint}. Map your columns with --mapping FILE (customer-behavior init-mapping writes a template)"


def resolve_columns(table: RawTable, mapping: Mapping, what: str = "input") -> ResolvedColumns:
    """Match canonical names to the file's columns, or fail listing missing and present columns."""
    present = table.source_columns
    sources: dict[str, str] = {}
    missing: list[str] = []
    for name in (C.TRANSACTION_ID, C.CUSTOMER_ID, C.EVENT_TS, C.CATEGORY, C.QUANTITY, C.UNIT_PRICE, C.DISCOUNT, C.AMOUNT, C.PAYMENT_METHOD, C.CHANNEL, C.STATUS):
        wanted = mapping.columns.get(name)
        found = _find(wanted or name, present)
        if found is not None:
            sources[name] = found
        elif wanted:  # named explicitly, so its absence is a mistake, not an optional column
            missing.append(f"{name} (mapped to {wanted!r})")
    missing += [name for name in REQUIRED if name not in sources and name not in mapping.columns]
    if mapping.amount_source == "amount" and C.AMOUNT not in sources and C.AMOUNT not in mapping.columns:
        missing.append("amount")
    if mapping.amount_source == "quantity_x_unit_price":
        missing += [n for n in (C.QUANTITY, C.UNIT_PRICE) if n not in sources and n not in mapping.columns]
    if mapping.amount_source == "auto" and C.AMOUNT not in sources and not (C.QUANTITY in sources and C.UNIT_PRICE in sources):
        missing.append("amount (or quantity and unit_price)")
    if missing:
        raise InputError(_missing_message(table, missing, what))
    amount_from_product = mapping.amount_source == "quantity_x_unit_price" or (mapping.amount_source == "auto" and C.AMOUNT not in sources)
    missing_optional = {name: OPTIONAL_USES[name] for name in OPTIONAL_USES if name != "customers" and name not in sources}
    if mapping.customers is None or not mapping.customers.path:
        missing_optional["customers"] = OPTIONAL_USES["customers"]
    return ResolvedColumns(sources=sources, amount_from_product=amount_from_product, missing_optional=missing_optional)


# --------------------------------------------------------------------------- column functions


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def cleaned_text(name: str) -> Column:
    """Trimmed text; empty or blank becomes null."""
    text = F.trim(column(name).cast("string"))
    return F.when(text != F.lit(""), text)  # not length(): that counts the characters


def parsed_number(name: str, data_type: T.DataType, amount_format: AmountFormat | None = None) -> Column:
    """A double from a number or from text (null when it is not a number; never an error),
    text written as `amount_format` says (currency symbols, separators) when given."""
    if isinstance(data_type, _NUMERIC_TYPES):
        return column(name).cast("double")
    if amount_format is not None and amount_format != AmountFormat():
        return F.expr(parsed_amount_sql(f"cast({_quoted(name)} as string)", amount_format))
    return F.expr(f"try_cast(trim(cast({_quoted(name)} as string)) as double)")


def is_finite(value: Column) -> Column:
    return value.isNotNull() & ~F.isnan(value) & (F.abs(value) != F.lit(float("inf")))


def parsed_timestamp(name: str, data_type: T.DataType, mapping: Mapping) -> Column:
    """UTC timestamp from a timestamp/date column or from text in the mapping's formats and zone."""
    if isinstance(data_type, T.TimestampType):
        return column(name)
    if isinstance(data_type, (T.DateType, T.TimestampNTZType)):
        wall_clock = column(name).cast("timestamp")
        return wall_clock if mapping.timezone in ("UTC", "Z") else F.to_utc_timestamp(wall_clock, mapping.timezone)
    text = cleaned_text(name)
    if mapping.timestamp_formats:
        parsed = F.coalesce(*[F.try_to_timestamp(text, F.lit(fmt)) for fmt in mapping.timestamp_formats])
    else:
        parsed = F.try_to_timestamp(text)
    if mapping.timezone in ("UTC", "Z") or not mapping.timezone_applies:
        return parsed
    shifted = F.to_utc_timestamp(parsed, mapping.timezone)
    if mapping.timestamp_formats:
        return shifted
    return F.when(text.rlike(_HAS_OFFSET), parsed).otherwise(shifted)


def status_of(text: Column, mapping: Mapping) -> Column:
    """Canonical status of a status value; null when the value is not listed (blank = completed)."""
    lowered = F.lower(text)
    status = F.when(text.isNull(), F.lit(C.STATUS_COMPLETED))
    for canonical in C.STATUSES:
        values = [v.strip().lower() for v in mapping.status_values.get(canonical, ())]
        if values:
            status = status.when(lowered.isin(values), F.lit(canonical))
    return status


def customer_id_of(resolved: ResolvedColumns, mapping: Mapping) -> Column:
    """The canonical customer id of a raw row (null when empty)."""
    customer_id = cleaned_text(resolved.sources[C.CUSTOMER_ID])
    if mapping.customer_id_strip_suffix:
        customer_id = F.regexp_replace(customer_id, mapping.customer_id_strip_suffix, "")
        customer_id = F.when(F.length(customer_id) > 0, customer_id)
    return customer_id


def transaction_id_of(resolved: ResolvedColumns) -> Column | None:
    """The transaction id of a raw row as the log gives it (null when empty); None when the
    log has no transaction id column."""
    return cleaned_text(resolved.sources[C.TRANSACTION_ID]) if C.TRANSACTION_ID in resolved.sources else None


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


# --------------------------------------------------------------------------- exact duplicates

def row_hashes(source_columns: tuple[str, ...]) -> tuple[Column, Column]:
    """Two 64-bit hashes of all original columns: equal rows give equal pairs.

    xxhash64 skips nulls, so each value is preceded by its null flag (otherwise ("a", null)
    and (null, "a") would hash alike). The second hash is the same function from another
    starting point (a salt hashed first), so the pair acts as one 128-bit hash: at 10^9 rows
    the chance that two different rows share it is about 10^-21.
    """
    values: list[Column] = []
    for name in source_columns:
        values += [column(name).isNull(), column(name)]
    return F.xxhash64(*values), F.xxhash64(F.lit(_SECOND_HASH_SALT), *values)


IS_CONFLICT = "__cb_is_conflicting_id"
IS_KEPT_COPY = "__cb_is_kept_copy"  # an extra copy of a line that is kept (policy "keep")
_ID_HASH = "__cb_id_hash"
_ROW_CUSTOMER = "__cb_row_customer"


@dataclass(frozen=True)
class DuplicateCheck:
    """What the duplicate check does with a log (input.duplicates, resolved).

    `keep_copies`: identical lines are kept as repeated purchases (policy "keep", or "auto"
    on a log without transaction ids, where a double export cannot be told from a repeat);
    otherwise every copy but the first read is `duplicate_row`. `has_ids`: the log gives
    transaction ids, so a kept copy keeps its id and an id with lines of two customers is
    checked (`conflicting_transaction_id`); without ids, a kept copy gets an id of its own."""

    keep_copies: bool
    has_ids: bool


def duplicate_check(policy: str, resolved: ResolvedColumns) -> DuplicateCheck:
    has_ids = C.TRANSACTION_ID in resolved.sources
    keep = policy == "keep" or (policy == "auto" and not has_ids)
    return DuplicateCheck(keep_copies=keep, has_ids=has_ids)


def duplicate_copies(raw_df: DataFrame, key_columns: tuple[str, ...], *, transaction_id: Column | None = None, customer_id: Column | None = None) -> DataFrame:
    """One row per set of identical rows that has more than one copy (the two row hashes, the
    row id of the copy read first, `IS_CONFLICT` false), and, when the log has transaction ids,
    one row per distinct line whose id belongs to another customer (`IS_CONFLICT` true).

    Works on the raw rows, before any rule: identical rows get identical reasons, so a set of
    copies is either all accepted (then all copies but one become `duplicate_row`) or all
    rejected for the same reason. For a delimited file without an id column the key is the
    line, so the check reads lines and parses nothing. Shuffles 24 bytes per row (plus a
    hash of the id and the customer id when there are ids), never the rows; the rows are
    partitioned by the hash pair (or the id's hash: copies share an id) first, so the
    grouping needs no second exchange.

    An id's owner is the customer of its first-read line; the lines of any other customer
    with that id conflict. Found with a window over the distinct lines of each id, inside
    the same partitions (no second exchange)."""
    first_hash, second_hash = row_hashes(key_columns)
    hashes = [first_hash.alias(ROW_HASH_1), second_hash.alias(ROW_HASH_2), F.col(ROW_ID)]
    if transaction_id is None or customer_id is None:
        return (
            raw_df.select(*hashes)
            .repartition(F.col(ROW_HASH_1), F.col(ROW_HASH_2))
            .groupBy(F.col(ROW_HASH_1), F.col(ROW_HASH_2))
            .agg(F.count(F.lit(1)).alias("copies"), F.min(F.col(ROW_ID)).alias(KEPT_ROW_ID))
            .filter(F.col("copies") > F.lit(1))
            .select(F.col(ROW_HASH_1), F.col(ROW_HASH_2), F.col(KEPT_ROW_ID), F.lit(False).alias(IS_CONFLICT))
        )
    lines_df = (
        raw_df.select(*hashes, F.when(transaction_id.isNotNull(), F.xxhash64(transaction_id)).alias(_ID_HASH), customer_id.alias(_ROW_CUSTOMER))
        .repartition(F.col(_ID_HASH))
        .groupBy(F.col(_ID_HASH), F.col(ROW_HASH_1), F.col(ROW_HASH_2))
        .agg(F.count(F.lit(1)).alias("copies"), F.min(F.col(ROW_ID)).alias(KEPT_ROW_ID), F.first(F.col(_ROW_CUSTOMER)).alias(_ROW_CUSTOMER))
    )
    has_customer = F.col(_ROW_CUSTOMER).isNotNull()
    owner = F.min(F.when(has_customer, F.struct(F.col(KEPT_ROW_ID), F.col(_ROW_CUSTOMER)))).over(W.partitionBy(_ID_HASH)).getField(_ROW_CUSTOMER)
    is_conflict = F.col(_ID_HASH).isNotNull() & has_customer & (F.col(_ROW_CUSTOMER) != owner)
    return (
        lines_df.select("*", F.coalesce(is_conflict, F.lit(False)).alias(IS_CONFLICT))
        .filter((F.col("copies") > F.lit(1)) | F.col(IS_CONFLICT))
        .select(F.col(ROW_HASH_1), F.col(ROW_HASH_2), F.col(KEPT_ROW_ID), F.col(IS_CONFLICT))
    )


def with_duplicate_reason(validated_df: DataFrame, copies_df: DataFrame, check: DuplicateCheck | None = None) -> DataFrame:
    """Unless the check keeps copies, `duplicate_row` for every copy but the kept one; then
    `conflicting_transaction_id` for the lines of an id's second customer. Kept extra copies are
    flagged `IS_KEPT_COPY` (and, without ids, get an id of their own: the line's derived id
    and its row id); the hash columns are dropped."""
    check = check or DuplicateCheck(keep_copies=False, has_ids=True)
    is_extra_copy = F.col(KEPT_ROW_ID).isNotNull() & (F.col(ROW_ID) != F.col(KEPT_ROW_ID))
    is_open = F.col(REASON).isNull()
    is_conflict = F.coalesce(F.col(IS_CONFLICT), F.lit(False))
    if check.keep_copies:
        reason = F.when(is_open & is_conflict, F.lit(R.CONFLICTING_TRANSACTION_ID))
    else:
        reason = F.when(is_open & is_extra_copy, F.lit(R.DUPLICATE_ROW)).when(is_open & is_conflict, F.lit(R.CONFLICTING_TRANSACTION_ID))
    joined_df = validated_df.join(copies_df, on=[ROW_HASH_1, ROW_HASH_2], how="left").withColumn(REASON, reason.otherwise(F.col(REASON)))
    is_kept_copy = F.lit(check.keep_copies) & F.col(REASON).isNull() & is_extra_copy
    if check.keep_copies and not check.has_ids:
        copy_id = F.concat(F.col("__cb_transaction_id"), F.lit("-"), F.col(ROW_ID).cast("string"))
        joined_df = joined_df.withColumn("__cb_transaction_id", F.when(is_kept_copy, copy_id).otherwise(F.col("__cb_transaction_id")))
    return joined_df.withColumn(IS_KEPT_COPY, F.coalesce(is_kept_copy, F.lit(False))).drop(KEPT_ROW_ID, IS_CONFLICT, *DUPLICATE_KEYS)


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
