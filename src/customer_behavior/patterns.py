"""Behavioural patterns: when, what and how customers buy, cohorts, category affinities.

Every function here is a pure `DataFrame -> DataFrame` transform over the canonical
transactions; the results are small aggregates (a few hundred rows at most) written under
`tables/patterns/`. Definitions (also in docs/report.md):

- an *order* is a transaction_id with purchase lines, as everywhere (definitions.py): the
  time tables, the payment and channel breakdowns and the monthly and cohort tables count
  orders; the category mix counts an order once under each category of its lines and
  weighs the categories by the spend of their lines;
- *revenue* in these tables is the value of completed orders at the time they were placed,
  before later returns (returns happen days later and would blur the time-of-day picture);
  the KPIs in `insights` report net revenue (returns subtracted);
- *order value* = revenue / orders;
- group tables are long: `group_type` (all / segment / persona / age_band / channel) and
  `group` (the segment name, persona name, ...), so one table serves every breakdown.
- *lift* of a category in a group = its share of the group's revenue (orders) divided by its
  share of the whole base's revenue (orders): 1.5 means the group over-indexes by 50%.

The one exception to "pure" is `category_affinities`, which fits MLlib's FPGrowth (an
estimator fit is an action by nature); the pipeline calls it like any other transform.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.ml.fpm import FPGrowth
from pyspark.sql import Column, DataFrame
from pyspark.sql import Window as W
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.config import PatternsConfig
from customer_behavior.definitions import day_name, is_purchase, is_weekend, iso_day_of_week, order_key

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


def _safe_ratio(numerator: Column, denominator: Column) -> Column:
    return F.when(denominator != F.lit(0), numerator.cast("double") / denominator.cast("double"))


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
        F.round(_safe_ratio(_money(F.col(C.REVENUE)), F.col(C.ORDERS)), 2).alias(C.ORDER_VALUE),
        F.round(_safe_ratio(F.col(C.ORDERS), group_orders), 4).alias(C.ORDER_SHARE),
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
        _safe_ratio(F.col(C.ORDERS), F.sum(F.col(C.ORDERS)).over(in_group)).alias(C.ORDER_SHARE),
        _safe_ratio(F.col(C.REVENUE), F.sum(F.col(C.REVENUE)).over(in_group)).alias(C.REVENUE_SHARE),
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
        F.round(_safe_ratio(_money(F.col(C.REVENUE)), F.col(C.ORDERS)), 2).alias(C.ORDER_VALUE),
        F.round(F.col(C.ORDER_SHARE), 4).alias(C.ORDER_SHARE),
        F.round(F.col(C.REVENUE_SHARE), 4).alias(C.REVENUE_SHARE),
        F.round(F.col(C.BASE_ORDER_SHARE), 4).alias(C.BASE_ORDER_SHARE),
        F.round(F.col(C.BASE_REVENUE_SHARE), 4).alias(C.BASE_REVENUE_SHARE),
        F.round(_safe_ratio(F.col(C.ORDER_SHARE), F.col(C.BASE_ORDER_SHARE)), 3).alias(C.ORDER_LIFT),
        F.round(_safe_ratio(F.col(C.REVENUE_SHARE), F.col(C.BASE_REVENUE_SHARE)), 3).alias(C.REVENUE_LIFT),
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


# --------------------------------------------------------------------------- affinities


def baskets(orders_df: DataFrame, basket: str) -> DataFrame:
    """One row per basket with its distinct categories (`items`); see PatternsConfig.basket."""
    categories = F.col(PARTS).getField(C.CATEGORY)
    if basket == "order":  # the parts of an order are its distinct categories, sorted
        return orders_df.select(categories.alias(C.ITEMS))
    keys = [F.col(C.CUSTOMER_ID)]
    if basket == "month":
        keys.append(F.trunc(F.col(C.EVENT_TS), "month").alias("period"))
    elif basket == "day":
        keys.append(F.to_date(F.col(C.EVENT_TS)).alias("period"))
    return orders_df.groupBy(*keys).agg(F.array_sort(F.array_distinct(F.flatten(F.collect_list(categories)))).alias(C.ITEMS)).select(C.ITEMS)


def category_affinities(baskets_df: DataFrame, cfg: PatternsConfig) -> DataFrame:
    """Association rules {antecedent} -> consequent with support, confidence and lift (MLlib FPGrowth).

    Fits FPGrowth (an action). Rules are sorted by lift, then confidence, then the rule's text so the
    order is stable; at most `max_rules` are kept.
    """
    model = FPGrowth(itemsCol=C.ITEMS, minSupport=cfg.min_support, minConfidence=cfg.min_confidence).fit(baskets_df)
    rules = model.associationRules
    return (
        rules.select(
            F.array_sort(F.col("antecedent")).alias(C.ANTECEDENT),
            F.col("consequent").getItem(0).alias(C.CONSEQUENT),
            F.round(F.col("support"), 4).alias(C.SUPPORT),
            F.round(F.col("confidence"), 4).alias(C.CONFIDENCE),
            F.round(F.col("lift"), 3).alias(C.LIFT),
        )
        .orderBy(F.col(C.LIFT).desc(), F.col(C.CONFIDENCE).desc(), F.array_join(F.col(C.ANTECEDENT), "|"), F.col(C.CONSEQUENT))
        .limit(cfg.max_rules)
    )


# --------------------------------------------------------------------------- everything


def labelled_orders(transactions_df: DataFrame, groupings: Groupings, cfg: PatternsConfig) -> DataFrame:
    """One row per order with its labels: the one input every pattern table is computed from."""
    return filter_purchase_lines(transactions_df).transform(aggregate_orders).transform(with_labels, groupings, cfg)


def pattern_tables(labelled_df: DataFrame, groupings: Groupings, cfg: PatternsConfig) -> dict[str, DataFrame]:
    """Every pattern table except the affinities, lazily, keyed by its table name."""
    return {
        "day_hour": day_hour(labelled_df),
        "weekend_weekday": weekend_weekday(labelled_df, groupings, cfg),
        "categories": category_mix(labelled_df, groupings, cfg),
        "payments": payment_mix(labelled_df, groupings, cfg),
        "monthly": monthly_trend(labelled_df),
        "cohorts": cohort_retention(labelled_df),
    }


def build_patterns(transactions_df: DataFrame, groupings: Groupings, cfg: PatternsConfig) -> dict[str, DataFrame]:
    """`pattern_tables` straight from the transactions (the pipeline caches the labelled orders in between)."""
    return pattern_tables(labelled_orders(transactions_df, groupings, cfg), groupings, cfg)


PATTERN_TABLES = ("day_hour", "weekend_weekday", "categories", "payments", "monthly", "cohorts", "affinities")
