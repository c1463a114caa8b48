"""Exact duplicates: two 64-bit hashes per raw row, the sets of copies found on them and joined back by hash."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import Window as W
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.ingest import reasons as R
from customer_behavior.ingest.outputs import REASON
from customer_behavior.ingest.readers import ROW_ID, column
from customer_behavior.ingest.resolve import ResolvedColumns

# Carried by the validated rows until the duplicate check has run.
ROW_HASH_1 = "__cb_row_hash_1"
ROW_HASH_2 = "__cb_row_hash_2"
DUPLICATE_KEYS = (ROW_HASH_1, ROW_HASH_2, ROW_ID)
KEPT_ROW_ID = "__cb_kept_row_id"
_SECOND_HASH_SALT = "customer-behavior duplicate check"
# The file a row came from, when it has to be kept as a column (before a shuffle).


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
