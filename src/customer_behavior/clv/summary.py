"""The BTYD summary in Spark and its bounded, grouped form for the driver-side fits.

Transforms (pure): `btyd_summary` builds lifetimes' summary (freq "D") from transactions,
`group_bgnbd_summary` / `group_gamma_gamma_summary` collapse customers that share the
same sufficient statistics into one row with a count, and `filter_sample` keeps a seeded,
hash-based sample of customers.

Driver collection (actions, called by the fits): `collect_grouped` brings a grouped table
to the driver only if it has at most `max_rows` rows. When it has more, the fit uses a
sample instead: every customer whose hash uniform(seed, customer_id) falls below
0.9 * max_rows / customers is kept, then grouped. The sample depends only on the seed and
the customer ids (not on partitioning or row order), so it is the same on any cluster,
and it is a uniform random sample of customers, so the likelihood it maximises is an
unbiased estimate of the full one. The grouped sample has at most as many rows as
sampled customers, which is about 0.9 * max_rows; the driver's memory is bounded by
`max_rows` whatever the number of customers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.definitions import is_purchase
from customer_behavior.errors import ModelError
from customer_behavior.generate.random import uniform

WEIGHT = "weight"
SAMPLE_STREAM = "clv-fit-sample"
SAMPLE_HEADROOM = 0.9  # sample to 90% of the bound so the grouped sample stays below it


# --------------------------------------------------------------------------- transforms


def btyd_summary(transactions_df: DataFrame, *, as_of: dt.date) -> DataFrame:
    """lifetimes' summary_data_from_transaction_data(freq="D", observation_period_end=as_of - 1 day).

    The same definitions as the BTYD columns of `features` (checked by a test), without
    computing every other feature: the holdout evaluation needs it for the calibration
    period. Purchases are the purchase lines (definitions.py: completed, amount >= 0, free
    items included) on days before `as_of`;
    frequency = purchase days - 1, recency = last - first purchase day, T = (as_of - 1 day) -
    first purchase day, monetary_value = mean spend of the repeat purchase days (0 for
    one-time buyers).
    """
    day = F.to_date(F.col(C.EVENT_TS))
    days_df = (
        transactions_df.filter(is_purchase() & (day < F.lit(as_of)))
        .groupBy(F.col(C.CUSTOMER_ID), day.alias("purchase_day"))
        .agg(F.sum(F.col(C.AMOUNT)).alias("day_spend"))
    )
    first_day_spend = F.min_by(F.col("day_spend"), F.col("purchase_day"))
    return (
        days_df.groupBy(F.col(C.CUSTOMER_ID))
        .agg(
            F.count(F.lit(1)).alias("purchase_days"),
            F.min(F.col("purchase_day")).alias("first_day"),
            F.max(F.col("purchase_day")).alias("last_day"),
            F.sum(F.col("day_spend")).alias("total_spend"),
            first_day_spend.alias("first_day_spend"),
        )
        .select(
            F.col(C.CUSTOMER_ID),
            (F.col("purchase_days") - F.lit(1)).cast("double").alias(C.BTYD_FREQUENCY),
            F.datediff(F.col("last_day"), F.col("first_day")).cast("double").alias(C.BTYD_RECENCY),
            (F.datediff(F.lit(as_of), F.col("first_day")) - F.lit(1)).cast("double").alias(C.BTYD_T),
            F.when(
                F.col("purchase_days") > F.lit(1),
                (F.col("total_spend") - F.col("first_day_spend")) / (F.col("purchase_days") - F.lit(1)).cast("double"),
            ).otherwise(F.lit(0.0)).alias(C.BTYD_MONETARY_VALUE),
        )
    )


def filter_sample(summary_df: DataFrame, *, fraction: float, seed: int) -> DataFrame:
    """Customers whose hash uniform(seed, customer_id) < fraction: deterministic on any layout."""
    return summary_df.filter(uniform(seed, SAMPLE_STREAM, F.col(C.CUSTOMER_ID)) < F.lit(fraction))


def group_bgnbd_summary(summary_df: DataFrame) -> DataFrame:
    """One row per distinct (frequency, recency, T) with the number of customers sharing it."""
    return summary_df.groupBy(
        F.col(C.BTYD_FREQUENCY).cast("double").alias(C.BTYD_FREQUENCY),
        F.col(C.BTYD_RECENCY).cast("double").alias(C.BTYD_RECENCY),
        F.col(C.BTYD_T).cast("double").alias(C.BTYD_T),
    ).agg(F.count(F.lit(1)).cast("double").alias(WEIGHT))


def has_positive_spend() -> Column:
    return F.col(C.BTYD_MONETARY_VALUE) > F.lit(0.0)


def filter_gamma_gamma_customers(summary_df: DataFrame, *, exclude_nonpositive: bool) -> DataFrame:
    """Repeat customers (the spend model's population), optionally only those with positive spend."""
    repeat_df = summary_df.filter(F.col(C.BTYD_FREQUENCY) > F.lit(0))
    return repeat_df.filter(has_positive_spend()) if exclude_nonpositive else repeat_df


def group_gamma_gamma_summary(summary_df: DataFrame) -> DataFrame:
    """One row per distinct (frequency, monetary_value) with its count (customers already filtered)."""
    return summary_df.groupBy(
        F.col(C.BTYD_FREQUENCY).cast("double").alias(C.BTYD_FREQUENCY),
        F.col(C.BTYD_MONETARY_VALUE).cast("double").alias(C.BTYD_MONETARY_VALUE),
    ).agg(F.count(F.lit(1)).cast("double").alias(WEIGHT))


def summary_counts_row(summary_df: DataFrame) -> DataFrame:
    """One row of counts the fits and the manifest need (a single aggregation)."""
    x, t_x, T, m = (F.col(c) for c in (C.BTYD_FREQUENCY, C.BTYD_RECENCY, C.BTYD_T, C.BTYD_MONETARY_VALUE))
    invalid = x.isNull() | t_x.isNull() | T.isNull() | (x < 0) | (t_x < 0) | (t_x > T) | ((x == 0) & (t_x != 0))
    repeat = x > F.lit(0)
    return summary_df.agg(
        F.count(F.lit(1)).alias("customers"),
        F.sum(F.when(repeat, 1).otherwise(0)).alias("repeat_customers"),
        F.sum(F.when(repeat & (m.isNull() | (m <= F.lit(0.0))), 1).otherwise(0)).alias("repeat_nonpositive_monetary"),
        F.sum(F.when(invalid, 1).otherwise(0)).alias("invalid_rows"),
        F.min(T).cast("double").alias("min_T"),
        # HyperLogLog estimates (a few per cent off) that let a fit skip a grouping that cannot fit the bound
        F.approx_count_distinct(F.struct(x, t_x, T), 0.02).alias("approx_bgnbd_rows"),
        F.approx_count_distinct(F.when(repeat & (m > F.lit(0.0)), F.struct(x, m)), 0.02).alias("approx_gamma_gamma_rows"),
    )


# --------------------------------------------------------------------------- driver collection (actions)


@dataclass(frozen=True)
class SummaryCounts:
    customers: int
    repeat_customers: int
    repeat_nonpositive_monetary: int
    invalid_rows: int
    min_T: float  # the youngest customer's age: where the hypergeometric series converges slowest
    approx_bgnbd_rows: int  # distinct (frequency, recency, T), estimated
    approx_gamma_gamma_rows: int  # distinct (frequency, monetary_value) of repeat customers with positive spend, estimated

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def summary_counts(summary_df: DataFrame) -> SummaryCounts:
    row = summary_counts_row(summary_df).first()
    values: dict[str, Any] = {k: (float(v or 0.0) if k == "min_T" else int(v or 0)) for k, v in row.asDict().items()}
    return SummaryCounts(**values)


@dataclass(frozen=True)
class GroupedSummary:
    """A grouped summary on the driver and how it was obtained."""

    table: pd.DataFrame
    customers: int  # customers in the population the fit describes
    sampled: bool
    sample_fraction: float

    def to_dict(self) -> dict:
        return {"rows": len(self.table), "customers_in_fit": float(self.table[WEIGHT].sum()), "sampled": self.sampled, "sample_fraction": self.sample_fraction}


def collect_grouped(grouped_df: DataFrame, max_rows: int) -> pd.DataFrame | None:
    """The grouped table on the driver if it has at most `max_rows` rows, else None (one job).

    Sorted by its keys: rows arrive in an order that depends on partitioning, and the fit's
    floating-point sums should not, so the same data give bit-identical parameters anywhere.
    """
    table: Any = grouped_df.limit(max_rows + 1).toPandas()
    if len(table) > max_rows:
        return None
    keys = [c for c in table.columns if c != WEIGHT]
    return table.sort_values(keys, kind="mergesort").reset_index(drop=True)


# Skip straight to the sample when the estimated distinct rows exceed the bound by this much
# (approx_count_distinct's relative standard deviation is 2%; 10% is five of them).
ESTIMATE_MARGIN = 1.10


def bounded_grouped_summary(
    customers_df: DataFrame, group, *, customers: int, max_rows: int, seed: int, model: str, approx_rows: int | None = None
) -> GroupedSummary:
    """Group all customers if that fits in `max_rows`, else a seeded hash sample of them (see module doc).

    `approx_rows`, an estimate of the grouped rows, saves the full grouping job when it clearly
    cannot fit; the decision to sample is otherwise made on the exact grouped row count.
    """
    clearly_too_many = approx_rows is not None and approx_rows > ESTIMATE_MARGIN * max_rows
    if not clearly_too_many:
        table = collect_grouped(group(customers_df), max_rows)
        if table is not None:
            return GroupedSummary(table=table, customers=customers, sampled=False, sample_fraction=1.0)
    fraction = SAMPLE_HEADROOM * max_rows / max(customers, 1)
    table = collect_grouped(group(filter_sample(customers_df, fraction=fraction, seed=seed)), max_rows)
    if table is None:  # pragma: no cover - a binomial 20+ standard deviations above its mean
        raise ModelError(f"{model}: the sampled summary still exceeds clv.max_summary_rows = {max_rows}; raise it or change clv.sample_seed")
    return GroupedSummary(table=table, customers=customers, sampled=True, sample_fraction=fraction)
