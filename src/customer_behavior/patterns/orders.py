"""The orders the pattern tables read: purchase lines per order, their category parts, the customers' group labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.config import PatternsConfig
from customer_behavior.definitions import is_purchase, order_key

UNKNOWN = "unknown"
# Money is summed in whole cents as longs: exact, so the sums (and the peak month) do not
# depend on the order rows arrive in after a shuffle, and far cheaper than DECIMAL sums
# (which go through BigDecimal past 18 digits). The tables hold doubles in currency units.
CENTS = "amount_cents"
PARTS = "parts"  # per order: one struct (category, amount_cents) per category of its lines


# --------------------------------------------------------------------------- column functions


def age_band(age: Column, bounds: Sequence[int]) -> Column:
    """[25, 35] -> "<25", "25-34", "35+"; a missing age is "unknown"."""
    expr = F.when(age.isNull(), F.lit(UNKNOWN))
    lower = None
    for bound in bounds:
        label = f"<{bound}" if lower is None else f"{lower}-{bound - 1}"
        expr = expr.when(age < F.lit(bound), F.lit(label))
        lower = bound
    return expr.otherwise(F.lit(f"{lower}+"))


# --------------------------------------------------------------------------- inputs


def filter_purchase_lines(transactions_df: DataFrame) -> DataFrame:
    """Purchase lines (definitions.py) with the attributes the patterns need; null labels become "unknown"."""
    return transactions_df.filter(is_purchase()).select(
        F.col(C.CUSTOMER_ID),
        order_key().alias(C.TRANSACTION_ID),
        F.col(C.EVENT_TS),
        F.coalesce(F.col(C.CATEGORY), F.lit(UNKNOWN)).alias(C.CATEGORY),
        F.coalesce(F.col(C.PAYMENT_METHOD), F.lit(UNKNOWN)).alias(C.PAYMENT_METHOD),
        F.coalesce(F.col(C.CHANNEL), F.lit(UNKNOWN)).alias(C.CHANNEL),
        F.floor(F.col(C.AMOUNT) * F.lit(100.0) + F.lit(0.5)).cast("long").alias(CENTS),
    )


def aggregate_orders(lines_df: DataFrame) -> DataFrame:
    """One row per order: its first line's time, payment method and channel (the
    alphabetically first if its lines differ), its value in cents and its parts, one per
    category with that category's spend."""
    order_keys = [F.col(C.CUSTOMER_ID), F.col(C.TRANSACTION_ID)]
    order_attributes = [F.min(F.col(name)).alias(name) for name in (C.EVENT_TS, C.PAYMENT_METHOD, C.CHANNEL)]
    parts_df = lines_df.groupBy(*order_keys, F.col(C.CATEGORY)).agg(*order_attributes, F.sum(F.col(CENTS)).alias(CENTS))
    return parts_df.groupBy(*order_keys).agg(
        *order_attributes,
        F.sum(F.col(CENTS)).alias(CENTS),
        F.array_sort(F.collect_list(F.struct(F.col(C.CATEGORY), F.col(CENTS)))).alias(PARTS),
    )


def explode_parts(orders_df: DataFrame) -> DataFrame:
    """One row per (order, category) with the category's spend as `amount_cents`."""
    part = F.col("_part")
    return (
        orders_df.drop(CENTS)
        .select("*", F.explode(F.col(PARTS)).alias("_part"))
        .select("*", part[C.CATEGORY].alias(C.CATEGORY), part[CENTS].alias(CENTS))
        .drop("_part", PARTS)
    )


def _dbl(value: Column, digits: int) -> Column:
    return F.round(value, digits).cast("double")


def _money(cents: Column) -> Column:
    """A sum of cents in currency units."""
    return (cents / F.lit(100)).cast("double")


@dataclass(frozen=True)
class Groupings:
    """Per-customer labels to break the patterns down by; any of them may be absent."""

    segments_df: DataFrame | None = None  # customer_id, segment
    personas_df: DataFrame | None = None  # customer_id, persona_name
    customers_df: DataFrame | None = None  # customer_id, age


def customer_labels(groupings: Groupings, cfg: PatternsConfig) -> DataFrame | None:
    """customer_id with segment, persona and age band: the label tables joined at the customer
    level (small), so the orders need one join instead of one per label."""
    lookups = (
        (groupings.segments_df, C.SEGMENT, F.col(C.SEGMENT)),
        (groupings.personas_df, C.PERSONA_NAME, F.col(C.PERSONA_NAME)),
        (groupings.customers_df, C.AGE_BAND, age_band(F.col(C.AGE), cfg.age_bands)),
    )
    labels_df = None
    for df, name, label in lookups:
        if df is None:
            continue
        part = df.select(F.col(C.CUSTOMER_ID), label.cast("string").alias(name))
        labels_df = part if labels_df is None else labels_df.join(part, on=C.CUSTOMER_ID, how="full")
    return labels_df


def with_labels(orders_df: DataFrame, groupings: Groupings, cfg: PatternsConfig) -> DataFrame:
    """The orders with each customer's segment, persona and age band (null when unknown or absent)."""
    labels_df = customer_labels(groupings, cfg)
    labelled = orders_df if labels_df is None else orders_df.join(labels_df, on=C.CUSTOMER_ID, how="left")
    for name in (C.SEGMENT, C.PERSONA_NAME, C.AGE_BAND):
        if name not in labelled.columns:
            labelled = labelled.withColumn(name, F.lit(None).cast("string"))
    return labelled


_GROUP_COLUMNS = {"segment": C.SEGMENT, "persona": C.PERSONA_NAME, "age_band": C.AGE_BAND, "channel": C.CHANNEL}


def _available(groupings: Groupings) -> set[str]:
    present = {"channel"}
    for kind, df in (("segment", groupings.segments_df), ("persona", groupings.personas_df), ("age_band", groupings.customers_df)):
        if df is not None:
            present.add(kind)
    return present


def _by_group(df: DataFrame, groupings: Groupings, kinds: Sequence[str], *, include_all: bool = True) -> DataFrame:
    """Each row once per breakdown it belongs to ("all", then each available kind whose label
    is known), with group_type and group columns: one pass, where a union of filtered copies
    would read the input once per breakdown."""
    available = _available(groupings)
    entries = [F.struct(F.lit(C.GROUP_ALL).alias(C.GROUP_TYPE), F.lit(C.GROUP_ALL_LABEL).alias(C.GROUP))] if include_all else []
    for kind in kinds:
        if kind in available:
            entries.append(F.struct(F.lit(kind).alias(C.GROUP_TYPE), F.col(_GROUP_COLUMNS[kind]).cast("string").alias(C.GROUP)))
    entry = F.col("_breakdown")
    return (
        df.select("*", F.explode(F.array(*entries)).alias("_breakdown"))
        .filter(entry[C.GROUP].isNotNull())
        .select("*", entry[C.GROUP_TYPE].alias(C.GROUP_TYPE), entry[C.GROUP].alias(C.GROUP))
        .drop("_breakdown")
    )


def _union(parts: list[DataFrame]) -> DataFrame:
    result = parts[0]
    for part in parts[1:]:
        result = result.unionByName(part)
    return result
