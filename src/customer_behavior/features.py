"""Per-customer features: RFM, lifetime and behaviour metrics and the BTYD summary.

One row per customer who placed at least one order before the as-of date. Every metric
comes out of ONE hash aggregation over the transactions, grouped by customer (one
shuffle). Definitions (also in docs/definitions.md):

- The observation window is every event whose calendar day (session time zone, UTC) is
  before `as_of`. `as_of` is exclusive: by default the day after the last event.
- An order is a row with status "completed" and amount > 0. Cancelled rows (amount 0)
  are not orders and count for nothing. A return is a row with status "returned" and a
  negative amount; it nets against spend and counts in the return rate.
- recency_days = days from the last order day to as_of (so >= 1); tenure_days = days from
  the first order day to as_of; monetary = sum of order amounts + sum of return amounts
  (net spend, may be 0 when the only order came back); avg_order_value = monetary /
  orders; avg_days_between_orders = (last - first order day) / (orders - 1), null for a
  one-time buyer; active_months = distinct calendar months with an order; favourite
  category, preferred payment method and channel = the value on most orders, ties to
  the alphabetically first; weekend_share, discount_share = share of orders on a
  Saturday/Sunday, with discount > 0; return_rate = return rows / orders;
  avg_basket_size = mean quantity of the orders.
- BTYD summary, exactly lifetimes' `summary_data_from_transaction_data(orders,
  freq="D", observation_period_end=as_of - 1 day, monetary_value_col=amount)` over the
  order rows: frequency = purchase days - 1, recency = last - first purchase day, T =
  (as_of - 1 day) - first purchase day, monetary_value = mean spend of the repeat
  purchase days (the first purchase day left out; 0 when frequency is 0). Returns are
  not purchases, so they are not in the BTYD summary (Gamma-Gamma needs positive spend).

Money is summed as DECIMAL so that sums are exact and independent of the order in which
rows arrive after the shuffle (floating-point sums are not); results are doubles.

Why arrays: favourite category, payment and channel need counts per (customer, value),
and monetary_value needs the spend of the first purchase day, which is only known once
the first day is. Instead of one extra groupBy (and shuffle) per categorical column, the
aggregation also collects each customer's order lines (a handful per customer) and SQL
higher-order functions (transform/filter/aggregate/array_min) finish the job per row,
with no second shuffle and nothing of ours running on the executors.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from customer_behavior import columns as C
from customer_behavior.errors import InputError

MONEY = T.DecimalType(18, 6)
MONEY_SUM = T.DecimalType(28, 6)

_DAY = "day"
_LINES = "order_lines"
_ORDER_SPEND = "order_spend"
_RETURNED_SPEND = "returned_spend"
_WEEKEND_ORDERS = "weekend_orders"
_DISCOUNTED_ORDERS = "discounted_orders"
_PURCHASE_DAYS = "purchase_days"
_MONTH = "month"


# --------------------------------------------------------------------------- as-of date


def event_day_bounds(transactions_df: DataFrame) -> DataFrame:
    """One row: the first and last event day (a tiny aggregate the pipeline collects)."""
    day = F.to_date(F.col(C.EVENT_TS))
    return transactions_df.agg(F.min(day).alias("first_day"), F.max(day).alias("last_day"))


def resolve_as_of(configured: dt.date | None, first_day: dt.date | None, last_day: dt.date | None) -> dt.date:
    """The exclusive end of the observation window; InputError if nothing lies before it."""
    if first_day is None or last_day is None:
        raise InputError("features: the transactions are empty; there is nothing to compute features from")
    as_of = configured or last_day + dt.timedelta(days=1)
    if as_of <= first_day:
        raise InputError(
            f"features.as_of: {as_of.isoformat()} is not after the first transaction ({first_day.isoformat()}); "
            "choose a later date or leave it empty (= the day after the last event)"
        )
    return as_of


# --------------------------------------------------------------------------- column functions


def is_order() -> Column:
    return (F.col(C.STATUS) == F.lit(C.STATUS_COMPLETED)) & (F.col(C.AMOUNT) > F.lit(0))


def is_return() -> Column:
    return F.col(C.STATUS) == F.lit(C.STATUS_RETURNED)


def is_weekend(day: Column) -> Column:
    # dayofweek: 1 = Sunday ... 7 = Saturday
    return F.dayofweek(day).isin(1, 7)


def money(amount: Column) -> Column:
    return amount.cast(MONEY)


def most_frequent(values: Column) -> Column:
    """The most frequent non-null element of an array; ties go to the alphabetically first.

    array_min over (negative count, value) structs picks the highest count, then the
    smallest value. The count of v is size(values) - size(array_remove(values, v)), native
    array functions rather than a nested lambda. Null for an empty array.
    """
    present = F.array_compact(values)
    ranked = F.transform(
        F.array_distinct(present),
        lambda v: F.struct((F.size(F.array_remove(present, v)) - F.size(present)).alias("neg_count"), v.alias("value")),
    )
    return F.array_min(ranked).getField("value")


def _ratio(numerator: Column, denominator: Column) -> Column:
    """numerator / denominator as a double, null when the denominator is 0 (ANSI-safe)."""
    return F.when(denominator > F.lit(0), numerator.cast("double") / denominator.cast("double"))


# --------------------------------------------------------------------------- transforms


def filter_observed(transactions_df: DataFrame, *, as_of: dt.date) -> DataFrame:
    """Rows inside the observation window that can be attributed at all."""
    return transactions_df.filter(
        F.col(C.CUSTOMER_ID).isNotNull()
        & F.col(C.EVENT_TS).isNotNull()
        & F.col(C.AMOUNT).isNotNull()
        & F.col(C.STATUS).isNotNull()
        & (F.to_date(F.col(C.EVENT_TS)) < F.lit(as_of))
    )


def aggregate_customers(transactions_df: DataFrame) -> DataFrame:
    """The one aggregation: per customer, conditional aggregates plus the order lines."""
    day = F.to_date(F.col(C.EVENT_TS))
    order = is_order()
    order_line = F.struct(
        day.alias(_DAY),
        F.trunc(day, "month").alias(_MONTH),
        money(F.col(C.AMOUNT)).alias(C.AMOUNT),
        F.col(C.CATEGORY).alias(C.CATEGORY),
        F.col(C.PAYMENT_METHOD).alias(C.PAYMENT_METHOD),
        F.col(C.CHANNEL).alias(C.CHANNEL),
    )
    return transactions_df.groupBy(C.CUSTOMER_ID).agg(
        F.count(F.when(order, F.lit(1))).alias(C.ORDERS),
        F.count(F.when(is_return(), F.lit(1))).alias(C.RETURNS),
        F.sum(F.when(order, money(F.col(C.AMOUNT)))).alias(_ORDER_SPEND),
        F.sum(F.when(is_return(), money(F.col(C.AMOUNT)))).alias(_RETURNED_SPEND),
        F.min(F.when(order, day)).alias(C.FIRST_PURCHASE_DATE),
        F.max(F.when(order, day)).alias(C.LAST_PURCHASE_DATE),
        F.count(F.when(order & is_weekend(day), F.lit(1))).alias(_WEEKEND_ORDERS),
        F.count(F.when(order & (F.col(C.DISCOUNT) > F.lit(0)), F.lit(1))).alias(_DISCOUNTED_ORDERS),
        F.avg(F.when(order, F.col(C.QUANTITY))).alias(C.AVG_BASKET_SIZE),
        # collect_list skips nulls, so only order rows are collected
        F.collect_list(F.when(order, order_line)).alias(_LINES),
    )


def with_derived_features(customers_df: DataFrame, *, as_of: dt.date) -> DataFrame:
    """Everything computed per row from the aggregates (no shuffle)."""
    as_of_col = F.lit(as_of)
    orders = F.col(C.ORDERS)
    lines = F.col(_LINES)
    first, last = F.col(C.FIRST_PURCHASE_DATE), F.col(C.LAST_PURCHASE_DATE)
    net_spend = F.col(_ORDER_SPEND) + F.coalesce(F.col(_RETURNED_SPEND), F.lit(0).cast(MONEY_SUM))
    first_day_spend = F.aggregate(
        F.filter(lines, lambda line: line[_DAY] == first),
        F.lit(0).cast(MONEY_SUM),
        lambda acc, line: (acc + line[C.AMOUNT]).cast(MONEY_SUM),
    )
    frequency = F.size(F.col(_PURCHASE_DAYS)) - F.lit(1)
    # lines.<field> (an array of one struct field) is a native extraction, no lambda
    return (
        customers_df.withColumn(_PURCHASE_DAYS, F.array_distinct(lines.getField(_DAY)))
        .withColumn(C.AS_OF_DATE, as_of_col)
        .withColumn(C.RECENCY_DAYS, F.datediff(as_of_col, last))
        .withColumn(C.MONETARY, net_spend.cast("double"))
        .withColumn(C.TENURE_DAYS, F.datediff(as_of_col, first))
        .withColumn(C.AVG_ORDER_VALUE, _ratio(F.col(C.MONETARY), orders))
        .withColumn(C.AVG_DAYS_BETWEEN_ORDERS, _ratio(F.datediff(last, first), orders - F.lit(1)))
        .withColumn(C.ACTIVE_MONTHS, F.size(F.array_distinct(lines.getField(_MONTH))))
        .withColumn(C.DISTINCT_CATEGORIES, F.size(F.array_distinct(F.array_compact(lines.getField(C.CATEGORY)))))
        .withColumn(C.FAVOURITE_CATEGORY, most_frequent(lines.getField(C.CATEGORY)))
        .withColumn(C.PREFERRED_PAYMENT_METHOD, most_frequent(lines.getField(C.PAYMENT_METHOD)))
        .withColumn(C.PREFERRED_CHANNEL, most_frequent(lines.getField(C.CHANNEL)))
        .withColumn(C.WEEKEND_SHARE, _ratio(F.col(_WEEKEND_ORDERS), orders))
        .withColumn(C.RETURN_RATE, _ratio(F.col(C.RETURNS), orders))
        .withColumn(C.DISCOUNT_SHARE, _ratio(F.col(_DISCOUNTED_ORDERS), orders))
        .withColumn(C.BTYD_FREQUENCY, frequency.cast("double"))
        .withColumn(C.BTYD_RECENCY, F.datediff(last, first).cast("double"))
        .withColumn(C.BTYD_T, (F.datediff(as_of_col, first) - F.lit(1)).cast("double"))
        .withColumn(
            C.BTYD_MONETARY_VALUE,
            F.when(frequency > F.lit(0), (F.col(_ORDER_SPEND) - first_day_spend).cast("double") / frequency.cast("double")).otherwise(
                F.lit(0.0)
            ),
        )
    )


FEATURE_COLUMNS = (
    C.CUSTOMER_ID,
    C.AS_OF_DATE,
    C.RECENCY_DAYS,
    C.ORDERS,
    C.MONETARY,
    C.FIRST_PURCHASE_DATE,
    C.LAST_PURCHASE_DATE,
    C.TENURE_DAYS,
    C.AVG_ORDER_VALUE,
    C.AVG_DAYS_BETWEEN_ORDERS,
    C.ACTIVE_MONTHS,
    C.DISTINCT_CATEGORIES,
    C.FAVOURITE_CATEGORY,
    C.PREFERRED_PAYMENT_METHOD,
    C.PREFERRED_CHANNEL,
    C.WEEKEND_SHARE,
    C.RETURNS,
    C.RETURN_RATE,
    C.DISCOUNT_SHARE,
    C.AVG_BASKET_SIZE,
    C.BTYD_FREQUENCY,
    C.BTYD_RECENCY,
    C.BTYD_T,
    C.BTYD_MONETARY_VALUE,
)


def select_features(customers_df: DataFrame) -> DataFrame:
    """The customer_features schema contract."""
    return customers_df.select(*[F.col(name) for name in FEATURE_COLUMNS])


def all_customer_features(transactions_df: DataFrame, *, as_of: dt.date) -> DataFrame:
    """Features of every customer seen in the window, including those with no order
    (orders = 0, most features null); the pipeline counts and drops those."""
    return (
        transactions_df.transform(filter_observed, as_of=as_of)
        .transform(aggregate_customers)
        .transform(with_derived_features, as_of=as_of)
        .transform(select_features)
    )


def filter_customers_with_orders(features_df: DataFrame) -> DataFrame:
    return features_df.filter(F.col(C.ORDERS) > F.lit(0))


def customer_features(transactions_df: DataFrame, *, as_of: dt.date) -> DataFrame:
    """One row per customer with at least one order before `as_of` (see module docstring)."""
    return all_customer_features(transactions_df, as_of=as_of).transform(filter_customers_with_orders)


def btyd_summary(features_df: DataFrame) -> DataFrame:
    """The columns lifetimes / pymc-marketing take as they are, indexed by customer."""
    return features_df.select(
        F.col(C.CUSTOMER_ID), F.col(C.BTYD_FREQUENCY), F.col(C.BTYD_RECENCY), F.col(C.BTYD_T), F.col(C.BTYD_MONETARY_VALUE)
    )
