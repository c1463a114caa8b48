"""The pattern tables by time, by what and how customers buy, and over time (monthly trend, cohorts)."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import Window as W
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.config import PatternsConfig
from customer_behavior.definitions import day_name, is_weekend, iso_day_of_week, ratio
from customer_behavior.patterns.orders import CENTS, Groupings, _by_group, _money, _union, explode_parts

# --------------------------------------------------------------------------- time


def day_hour(orders_df: DataFrame) -> DataFrame:
    """Orders and revenue on the full 7 x 24 grid of weekday and hour (empty cells are 0)."""
    spark = orders_df.sparkSession
    grid = spark.range(7 * 24).select(
        (F.floor(F.col("id") / F.lit(24)) + F.lit(1)).cast("int").alias(C.DAY_OF_WEEK),
        (F.col("id") % F.lit(24)).cast("int").alias(C.HOUR),
    )
    counts = orders_df.groupBy(
        iso_day_of_week(F.col(C.EVENT_TS)).alias(C.DAY_OF_WEEK), F.hour(F.col(C.EVENT_TS)).alias(C.HOUR)
    ).agg(F.count(F.lit(1)).alias(C.ORDERS), F.sum(F.col(CENTS)).alias(C.REVENUE))
    return grid.join(counts, on=[C.DAY_OF_WEEK, C.HOUR], how="left").select(
        F.col(C.DAY_OF_WEEK),
        day_name(F.col(C.DAY_OF_WEEK)).alias(C.DAY_NAME),
        F.col(C.HOUR),
        F.coalesce(F.col(C.ORDERS), F.lit(0)).cast("long").alias(C.ORDERS),
        _money(F.coalesce(F.col(C.REVENUE), F.lit(0))).alias(C.REVENUE),
    )


def weekend_weekday(orders_df: DataFrame, groupings: Groupings, cfg: PatternsConfig) -> DataFrame:
    """Weekend against weekday per group: orders, revenue, order value and share of orders."""
    day_type = F.when(is_weekend(F.col(C.EVENT_TS)), F.lit("weekend")).otherwise(F.lit("weekday")).alias(C.DAY_TYPE)
    # Orders and revenue add up: one pass to (segment, persona, day type), the groups from that.
    cells_df = orders_df.groupBy(F.col(C.SEGMENT), F.col(C.PERSONA_NAME), day_type).agg(
        F.count(F.lit(1)).alias(C.ORDERS), F.sum(F.col(CENTS)).alias(C.REVENUE)
    )
    counts = (
        _by_group(cells_df, groupings, ["segment", "persona"])
        .groupBy(C.GROUP_TYPE, C.GROUP, C.DAY_TYPE)
        .agg(F.sum(F.col(C.ORDERS)).alias(C.ORDERS), F.sum(F.col(C.REVENUE)).alias(C.REVENUE))
    )
    group_orders = F.sum(F.col(C.ORDERS)).over(W.partitionBy(C.GROUP_TYPE, C.GROUP))
    return counts.select(
        F.col(C.GROUP_TYPE),
        F.col(C.GROUP),
        F.col(C.DAY_TYPE),
        F.col(C.ORDERS),
        _money(F.col(C.REVENUE)).alias(C.REVENUE),
        F.round(ratio(_money(F.col(C.REVENUE)), F.col(C.ORDERS)), 2).alias(C.ORDER_VALUE),
        F.round(ratio(F.col(C.ORDERS), group_orders), 4).alias(C.ORDER_SHARE),
    )


# --------------------------------------------------------------------------- what and how


def _mix(orders_df: DataFrame, groupings: Groupings, cfg: PatternsConfig, *, item: str, kinds: Sequence[str]) -> DataFrame:
    """Orders, revenue and customers per (group, item) with shares within the group and lift against the base."""
    # Distinct customers without a distinct aggregation: first one row per (customer, its
    # labels, item), then each group counts those rows. Channel is a label of the order, not
    # of the customer, so a customer can sit under two channels: it gets its own pre-aggregate.
    labels_of_the_customer = [C.SEGMENT, C.PERSONA_NAME, C.AGE_BAND]
    pre_aggregates = [(labels_of_the_customer, [kind for kind in kinds if kind != "channel"], True)]
    if "channel" in kinds:
        pre_aggregates.append(([C.CHANNEL], ["channel"], False))
    parts = []
    for label_columns, group_kinds, with_all in pre_aggregates:
        per_customer_df = orders_df.groupBy(C.CUSTOMER_ID, *label_columns, item).agg(
            F.count(F.lit(1)).alias(C.ORDERS), F.sum(F.col(CENTS)).alias(C.REVENUE)
        )
        parts.append(
            _by_group(per_customer_df, groupings, group_kinds, include_all=with_all)
            .groupBy(C.GROUP_TYPE, C.GROUP, item)
            .agg(F.sum(F.col(C.ORDERS)).alias(C.ORDERS), F.sum(F.col(C.REVENUE)).alias(C.REVENUE), F.count(F.lit(1)).alias(C.CUSTOMERS))
        )
    counts = _union(parts)
    # Group totals and the base's shares by window over the small counts table: computed once
    # (a join with an aggregate of it would compute the counts again).
    in_group = W.partitionBy(C.GROUP_TYPE, C.GROUP)
    shares = counts.select(
        "*",
        ratio(F.col(C.ORDERS), F.sum(F.col(C.ORDERS)).over(in_group)).alias(C.ORDER_SHARE),
        ratio(F.col(C.REVENUE), F.sum(F.col(C.REVENUE)).over(in_group)).alias(C.REVENUE_SHARE),
    )
    of_item = W.partitionBy(item)
    is_base = F.col(C.GROUP_TYPE) == F.lit(C.GROUP_ALL)
    shares = shares.select(
        "*",
        F.max(F.when(is_base, F.col(C.ORDER_SHARE))).over(of_item).alias(C.BASE_ORDER_SHARE),
        F.max(F.when(is_base, F.col(C.REVENUE_SHARE))).over(of_item).alias(C.BASE_REVENUE_SHARE),
    )
    return shares.select(
        F.col(C.GROUP_TYPE),
        F.col(C.GROUP),
        F.col(item),
        F.col(C.ORDERS),
        _money(F.col(C.REVENUE)).alias(C.REVENUE),
        F.col(C.CUSTOMERS),
        F.round(ratio(_money(F.col(C.REVENUE)), F.col(C.ORDERS)), 2).alias(C.ORDER_VALUE),
        F.round(F.col(C.ORDER_SHARE), 4).alias(C.ORDER_SHARE),
        F.round(F.col(C.REVENUE_SHARE), 4).alias(C.REVENUE_SHARE),
        F.round(F.col(C.BASE_ORDER_SHARE), 4).alias(C.BASE_ORDER_SHARE),
        F.round(F.col(C.BASE_REVENUE_SHARE), 4).alias(C.BASE_REVENUE_SHARE),
        F.round(ratio(F.col(C.ORDER_SHARE), F.col(C.BASE_ORDER_SHARE)), 3).alias(C.ORDER_LIFT),
        F.round(ratio(F.col(C.REVENUE_SHARE), F.col(C.BASE_REVENUE_SHARE)), 3).alias(C.REVENUE_LIFT),
    )


def category_mix(orders_df: DataFrame, groupings: Groupings, cfg: PatternsConfig) -> DataFrame:
    """Categories by revenue, orders and order value, overall and per segment and persona, with lift."""
    return _mix(orders_df.transform(explode_parts), groupings, cfg, item=C.CATEGORY, kinds=["segment", "persona"])


def payment_mix(orders_df: DataFrame, groupings: Groupings, cfg: PatternsConfig) -> DataFrame:
    """Payment methods overall, per segment, per age band (when customers are known) and per channel."""
    return _mix(orders_df, groupings, cfg, item=C.PAYMENT_METHOD, kinds=["segment", "age_band", "channel"])


# --------------------------------------------------------------------------- over time


def monthly_trend(orders_df: DataFrame) -> DataFrame:
    """Revenue, orders, active and new customers per calendar month; the top revenue month flagged."""
    month = F.trunc(F.col(C.EVENT_TS), "month")
    firsts = orders_df.groupBy(C.CUSTOMER_ID).agg(F.min(F.col(C.EVENT_TS)).alias("first_ts"))
    new_per_month = firsts.groupBy(F.trunc(F.col("first_ts"), "month").alias(C.MONTH)).agg(F.count(F.lit(1)).alias(C.NEW_CUSTOMERS))
    per_month = orders_df.groupBy(month.alias(C.MONTH)).agg(
        F.sum(F.col(CENTS)).alias(C.REVENUE),
        F.count(F.lit(1)).alias(C.ORDERS),
        F.countDistinct(F.col(C.CUSTOMER_ID)).alias(C.ACTIVE_CUSTOMERS),
    )
    # The peak by a window over the few dozen months (a cross join with an aggregate of
    # per_month would compute it twice).
    peak_revenue = F.max(F.col(C.REVENUE)).over(W.partitionBy())
    return (
        per_month.join(new_per_month, on=C.MONTH, how="left")
        .select(
            F.col(C.MONTH),
            _money(F.col(C.REVENUE)).alias(C.REVENUE),
            F.col(C.ORDERS),
            F.col(C.ACTIVE_CUSTOMERS),
            F.coalesce(F.col(C.NEW_CUSTOMERS), F.lit(0)).cast("long").alias(C.NEW_CUSTOMERS),
            (F.col(C.REVENUE) == peak_revenue).alias(C.IS_PEAK),
        )
    )


def cohort_retention(orders_df: DataFrame) -> DataFrame:
    """Monthly acquisition cohorts: share of each cohort that orders again N months after its first month."""
    month = F.trunc(F.col(C.EVENT_TS), "month")
    active = orders_df.select(F.col(C.CUSTOMER_ID), month.alias(C.MONTH)).distinct()
    cohorts = active.groupBy(C.CUSTOMER_ID).agg(F.min(F.col(C.MONTH)).alias(C.COHORT_MONTH))
    sizes = cohorts.groupBy(C.COHORT_MONTH).agg(F.count(F.lit(1)).alias(C.COHORT_SIZE))
    return (
        active.join(cohorts, on=C.CUSTOMER_ID, how="inner")
        .groupBy(C.COHORT_MONTH, F.months_between(F.col(C.MONTH), F.col(C.COHORT_MONTH)).cast("int").alias(C.MONTHS_SINCE))
        .agg(F.count(F.lit(1)).alias(C.ACTIVE_CUSTOMERS))
        .join(sizes, on=C.COHORT_MONTH, how="inner")
        .select(
            F.col(C.COHORT_MONTH),
            F.col(C.MONTHS_SINCE),
            F.col(C.COHORT_SIZE),
            F.col(C.ACTIVE_CUSTOMERS),
            F.round(F.col(C.ACTIVE_CUSTOMERS) / F.col(C.COHORT_SIZE), 4).alias(C.RETENTION),
        )
    )
