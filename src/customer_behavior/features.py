"""Per-customer features: RFM, lifetime and behaviour metrics and the BTYD summary.

One row per customer who placed at least one order before the as-of date. Every metric
comes out of ONE hash aggregation over the transactions, grouped by customer (one
shuffle). Definitions (also in docs/definitions.md):

- The observation window is every event whose calendar day (session time zone, UTC) is
  before `as_of`. `as_of` is exclusive: by default the day after the last event.
- A row is a line; a purchase line is a completed line with amount >= 0 (free items
  included) and an order is a transaction_id with purchase lines (definitions.py).
  Cancelled lines count for nothing. A return line (status "returned", negative amount)
  nets against spend; returns are counted as distinct return ids.
- recency_days = days from the last order day to as_of (so >= 1); tenure_days = days from
  the first order day to as_of; monetary = sum of order amounts + sum of return amounts
  (net spend, may be 0 when the only order came back); avg_order_value = monetary /
  orders; avg_days_between_orders = (last - first order day) / (orders - 1), null for a
  one-time buyer; active_months = distinct calendar months with an order; favourite
  category, preferred payment method and channel = the value on most orders, ties to
  the alphabetically first (counted over purchase lines); weekend_share, discount_share =
  share of orders on a Saturday/Sunday, with a line of discount > 0; return_rate =
  returns / orders; avg_basket_size = items (quantity summed over the lines) per order.
- BTYD summary, exactly lifetimes' `summary_data_from_transaction_data(orders,
  freq="D", observation_period_end=as_of - 1 day, monetary_value_col=amount)` over the
  purchase lines: frequency = purchase days - 1, recency = last - first purchase day, T =
  (as_of - 1 day) - first purchase day, monetary_value = mean spend of the repeat
  purchase days (the first purchase day left out; 0 when frequency is 0). Returns are
  not purchases, so they are not in the BTYD summary (Gamma-Gamma needs positive spend).

Money is rounded per row to DECIMAL(18,6) and summed exactly (whole millionths as longs,
or DECIMAL sums on the array path), so sums do not depend on the order in which rows
arrive after the shuffle; results are doubles.

How (docs/definitions.md, "How it is computed"): with a small `FeatureDomain` (the
categorical values and the first day, from the `event_day_bounds` query the pipeline runs
anyway), one shuffle by customer and three hash aggregations inside its partitions:
(customer, day, order), (customer, day) then customer, with one count column per categorical value and month bit
sets; modes, distinct counts and the BTYD summary follow per row. No arrays, no join, no
Python on the executors. Without a domain (or with a column of more than MAX_PIVOT_VALUES
values) the aggregation collects each customer's order lines (a handful) and SQL
higher-order functions (transform/filter/aggregate/array_min) finish the job per row:
same values, about three times the CPU.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql import types as T

from customer_behavior import columns as C
from customer_behavior.definitions import is_purchase, is_return, is_weekend, order_key
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
_ORDER_MICROS = "order_micros"
_RETURN_MICROS = "return_micros"
_FIRST_DAY_MICROS = "first_day_micros"
_QUANTITY_SUM = "quantity_sum"
_QUANTITY_COUNT = "quantity_count"
_MONTH_BITS = "month_bits"
_IS_PURCHASE = "is_purchase"
_ORDER_KEY = "order_key"
_PURCHASE_LINES = "purchase_lines"
_RETURN_LINES = "return_lines"
_DISCOUNTED_LINES = "discounted_lines"
_IS_RETURN = "is_return"
_IS_DISCOUNTED = "is_discounted"
_DAY_ORDERS = "day_orders"
_DAY_RETURNS = "day_returns"

# Categorical columns counted per value in the one-pass aggregation, and how many values
# each may have before the features fall back to collecting order lines into arrays.
PIVOT_COLUMNS = (C.CATEGORY, C.PAYMENT_METHOD, C.CHANNEL)
MAX_PIVOT_VALUES = 64
MICROS = 1_000_000
# extra columns of the event_day_bounds row
MAX_ABS_AMOUNT = "max_abs_amount"
HAS_TIME_OF_DAY = "has_time_of_day"  # some event has a time other than midnight
MONTH_WORD_BITS = 63


# --------------------------------------------------------------------------- as-of date


def event_day_bounds(transactions_df: DataFrame) -> DataFrame:
    """One row: the first and last event day and, per categorical column, its sorted
    distinct values (at most MAX_PIVOT_VALUES + 1 of them reach the driver): a tiny
    aggregate the pipeline collects and turns into a `FeatureDomain`.

    A hash aggregation by the value combination comes first (a few hundred groups on
    usual data), so collect_set, an object aggregate, sees those groups, not every row."""
    day = F.to_date(F.col(C.EVENT_TS))
    has_time_of_day = F.col(C.EVENT_TS) != F.date_trunc("day", F.col(C.EVENT_TS))
    combinations_df = transactions_df.groupBy(*[F.col(name) for name in PIVOT_COLUMNS]).agg(
        F.min(day).alias("first_day"),
        F.max(day).alias("last_day"),
        F.max(F.abs(F.col(C.AMOUNT))).alias(MAX_ABS_AMOUNT),
        F.max(has_time_of_day).alias(HAS_TIME_OF_DAY),
    )
    value_sets = [
        F.slice(F.array_sort(F.collect_set(F.col(name))), 1, MAX_PIVOT_VALUES + 1).alias(name) for name in PIVOT_COLUMNS
    ]
    return combinations_df.agg(
        F.min("first_day").alias("first_day"),
        F.max("last_day").alias("last_day"),
        F.max(MAX_ABS_AMOUNT).alias(MAX_ABS_AMOUNT),
        F.max(HAS_TIME_OF_DAY).alias(HAS_TIME_OF_DAY),
        *value_sets,
    )


def require_spend(max_abs_amount: float | None) -> None:
    """InputError when every amount is 0: nothing to segment, value or model."""
    if max_abs_amount is not None and max_abs_amount == 0:
        raise InputError(
            "features: there is no spend to analyse: every amount in the transactions is 0 "
            "(check the amount column of the mapping, or amount.source = \"quantity_x_unit_price\")"
        )


@dataclass(frozen=True)
class FeatureDomain:
    """What the one-pass aggregation must know before it starts: the first event day (the
    base of the month bit sets) and the values of the categorical columns (one count
    column per value). A column with more than MAX_PIVOT_VALUES values gets None, and the
    features fall back to the order-line arrays."""

    first_day: dt.date
    values: dict[str, tuple[str, ...] | None]

    @classmethod
    def from_bounds(cls, bounds: Row) -> FeatureDomain:
        values = {name: tuple(bounds[name]) if len(bounds[name]) <= MAX_PIVOT_VALUES else None for name in PIVOT_COLUMNS}
        return cls(first_day=bounds["first_day"], values=values)

    @property
    def is_small(self) -> bool:
        return all(values is not None for values in self.values.values())


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


def order_of_day() -> Column:
    """The key of an order within a customer: its day and a 64-bit hash of its transaction id
    (narrower to group by than the text; two ids of one customer and day sharing a hash is a
    chance of about 10^-19)."""
    return F.struct(F.to_date(F.col(C.EVENT_TS)).alias(_DAY), F.xxhash64(order_key()).alias(_ORDER_KEY))


def aggregate_customers(transactions_df: DataFrame) -> DataFrame:
    """The one aggregation: per customer, conditional aggregates plus the purchase lines."""
    day = F.to_date(F.col(C.EVENT_TS))
    purchase, is_return_line = is_purchase(), is_return()
    order = order_of_day()
    purchase_line = F.struct(
        day.alias(_DAY),
        F.trunc(day, "month").alias(_MONTH),
        money(F.col(C.AMOUNT)).alias(C.AMOUNT),
        F.col(C.CATEGORY).alias(C.CATEGORY),
        F.col(C.PAYMENT_METHOD).alias(C.PAYMENT_METHOD),
        F.col(C.CHANNEL).alias(C.CHANNEL),
    )

    def distinct_orders(condition: Column) -> Column:
        return F.size(F.collect_set(F.when(condition, order)))

    return transactions_df.groupBy(C.CUSTOMER_ID).agg(
        distinct_orders(purchase).alias(C.ORDERS),
        distinct_orders(is_return_line).alias(C.RETURNS),
        F.sum(F.when(purchase, money(F.col(C.AMOUNT)))).alias(_ORDER_SPEND),
        F.sum(F.when(is_return_line, money(F.col(C.AMOUNT)))).alias(_RETURNED_SPEND),
        F.min(F.when(purchase, day)).alias(C.FIRST_PURCHASE_DATE),
        F.max(F.when(purchase, day)).alias(C.LAST_PURCHASE_DATE),
        distinct_orders(purchase & is_weekend(day)).alias(_WEEKEND_ORDERS),
        distinct_orders(purchase & (F.col(C.DISCOUNT) > F.lit(0))).alias(_DISCOUNTED_ORDERS),
        _ratio(F.sum(F.when(purchase, F.col(C.QUANTITY))), distinct_orders(purchase & F.col(C.QUANTITY).isNotNull())).alias(C.AVG_BASKET_SIZE),
        # collect_list skips nulls, so only purchase lines are collected
        F.collect_list(F.when(purchase, purchase_line)).alias(_LINES),
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


# --------------------------------------------------------------------------- one pass, no arrays


def _count_column(name: str, index: int) -> str:
    return f"{name}__{index}"


def micros(amount: Column) -> Column:
    """The amount rounded to 6 decimals (the DECIMAL(18,6) of `money`) as a whole number of
    millionths: long sums are exact and far cheaper than DECIMAL(28,6) sums. A customer's
    total must stay below 9.2 x 10^12 (Long.MAX_VALUE millionths).

    Shortcut without the string-based decimal cast: for |amount| < 10^9 the double product
    amount x 10^6 is off by less than 0.1, and the decimal the cast starts from
    (Double.toString) by less than 0.06 millionths; so when the product lies within 0.25
    of a whole number k, the cast rounds to k as well. Otherwise (a near-tie at the 7th
    decimal, a huge amount) the cast decides."""
    scaled = amount * F.lit(float(MICROS))
    nearest = F.floor(scaled + F.lit(0.5))
    is_clear = (F.abs(amount) < F.lit(1e9)) & (F.abs(scaled - nearest) < F.lit(0.25))
    return F.when(is_clear, nearest.cast("long")).otherwise((money(amount) * F.lit(MICROS)).cast("long"))


def from_micros(total: Column) -> Column:
    return (total.cast(T.DecimalType(28, 0)) / F.lit(MICROS)).cast(MONEY_SUM).cast("double")


def _value_index(name: str, values: tuple[str, ...]) -> Column:
    """1-based position of the row's value in the domain, null for a null value; a value
    the domain does not know (a domain from other data) stops the job rather than being
    silently left out of the counts."""
    # a CASE chain, not array_position: PySpark 3.5's array_position takes no column as value
    matches = [F.when(F.col(name) == F.lit(v), F.lit(i)) for i, v in enumerate(values, start=1)]
    position = F.coalesce(*matches, F.when(F.col(name).isNotNull(), F.lit(0))).cast("int")
    unknown = F.col(name).isNotNull() & (position == F.lit(0))
    return F.when(unknown, F.raise_error(F.lit(f"features: {name} value not in the domain of the bounds query"))).otherwise(position)


def _month_index(day: Column, first_day: dt.date) -> Column:
    return F.year(day) * F.lit(12) + F.month(day) - F.lit(first_day.year * 12 + first_day.month)


def _month_words(first_day: dt.date, as_of: dt.date) -> int:
    last = as_of - dt.timedelta(days=1)
    months = (last.year * 12 + last.month) - (first_day.year * 12 + first_day.month) + 1
    return max(1, -(-months // MONTH_WORD_BITS))


def _most_frequent_of_counts(name: str, values: tuple[str, ...]) -> Column:
    """The value with the highest count; ties to the alphabetically first (the domain is
    sorted, so the smaller index wins: greatest over (count, -index)). Null if no counts."""
    if not values:
        return F.lit(None).cast("string")
    candidates = [
        F.when(
            F.col(_count_column(name, i)) > F.lit(0),
            F.struct(F.col(_count_column(name, i)).alias("n"), F.lit(-i).alias("rank"), F.lit(v).alias("value")),
        )
        for i, v in enumerate(values)
    ]
    best = F.greatest(*candidates) if len(candidates) > 1 else candidates[0]
    return best.getField("value")


def aggregate_customer_orders(transactions_df: DataFrame, *, domain: FeatureDomain) -> DataFrame:
    """Level 0: per (customer, day, order) line counts, money in millionths and per-value
    line counts.

    The rows are first hash-partitioned by customer (the one shuffle): this grouping and
    the two after it all run inside those partitions, with no exchange."""
    purchase, is_return_line = F.col(_IS_PURCHASE), F.col(_IS_RETURN)
    order = order_of_day()
    value_indexes = [_value_index(name, domain.values[name]).alias(name) for name in PIVOT_COLUMNS]
    rows_df = transactions_df.select(
        F.col(C.CUSTOMER_ID),
        order.getField(_DAY).alias(_DAY),
        order.getField(_ORDER_KEY).alias(_ORDER_KEY),
        is_purchase().alias(_IS_PURCHASE),
        is_return().alias(_IS_RETURN),
        micros(F.col(C.AMOUNT)).alias(C.AMOUNT),
        F.col(C.QUANTITY),
        (F.col(C.DISCOUNT) > F.lit(0)).alias(_IS_DISCOUNTED),
        *value_indexes,
    ).repartition(F.col(C.CUSTOMER_ID))
    value_counts = [
        F.count(F.when(purchase & (F.col(name) == F.lit(i + 1)), F.lit(1))).alias(_count_column(name, i))
        for name in PIVOT_COLUMNS
        for i in range(len(domain.values[name]))
    ]
    return rows_df.groupBy(C.CUSTOMER_ID, _DAY, _ORDER_KEY).agg(
        F.count(F.when(purchase, F.lit(1))).alias(_PURCHASE_LINES),
        F.count(F.when(is_return_line, F.lit(1))).alias(_RETURN_LINES),
        F.sum(F.when(purchase, F.col(C.AMOUNT))).alias(_ORDER_MICROS),
        F.sum(F.when(is_return_line, F.col(C.AMOUNT))).alias(_RETURN_MICROS),
        F.count(F.when(purchase & F.col(_IS_DISCOUNTED), F.lit(1))).alias(_DISCOUNTED_LINES),
        F.sum(F.when(purchase, F.col(C.QUANTITY))).alias(_QUANTITY_SUM),
        F.count(F.when(purchase, F.col(C.QUANTITY))).alias(_QUANTITY_COUNT),
        *value_counts,
    )


def aggregate_customer_days(orders_df: DataFrame, *, domain: FeatureDomain) -> DataFrame:
    """Level 1: per (customer, day) orders, returns, money and per-value line counts, from
    the order rows (same partitions, no shuffle). The day level is what the BTYD summary
    needs (purchase days, the first day's spend)."""
    is_order = F.col(_PURCHASE_LINES) > F.lit(0)
    value_counts = [
        F.sum(_count_column(name, i)).alias(_count_column(name, i)) for name in PIVOT_COLUMNS for i in range(len(domain.values[name]))
    ]
    return orders_df.groupBy(C.CUSTOMER_ID, _DAY).agg(
        F.count(F.when(is_order, F.lit(1))).alias(_DAY_ORDERS),
        F.count(F.when(F.col(_RETURN_LINES) > F.lit(0), F.lit(1))).alias(_DAY_RETURNS),
        F.sum(_ORDER_MICROS).alias(_ORDER_MICROS),
        F.sum(_RETURN_MICROS).alias(_RETURN_MICROS),
        F.count(F.when(is_order & (F.col(_DISCOUNTED_LINES) > F.lit(0)), F.lit(1))).alias(_DISCOUNTED_ORDERS),
        F.sum(_QUANTITY_SUM).alias(_QUANTITY_SUM),
        # orders with a quantity: the denominator of items per order
        F.count(F.when(F.col(_QUANTITY_COUNT) > F.lit(0), F.lit(1))).alias(_QUANTITY_COUNT),
        *value_counts,
    )


def aggregate_customers_from_days(days_df: DataFrame, *, domain: FeatureDomain, as_of: dt.date) -> DataFrame:
    """Level 2: per customer, from the day rows (same partitions, no shuffle)."""
    has_orders = F.col(_DAY_ORDERS) > F.lit(0)
    purchase_day = F.when(has_orders, F.col(_DAY))
    month = _month_index(F.col(_DAY), domain.first_day)
    # one bit per calendar month since the first event's month, 63 months per long; the
    # bit comes from a literal array of powers of two (shiftleft takes no Column in 3.5)
    powers_of_two = F.array(*[F.lit(2**k).cast("long") for k in range(MONTH_WORD_BITS)])
    month_words = [
        F.bit_or(
            F.when(
                has_orders & (month >= F.lit(MONTH_WORD_BITS * w)) & (month < F.lit(MONTH_WORD_BITS * (w + 1))),
                F.element_at(powers_of_two, month - F.lit(MONTH_WORD_BITS * w - 1)),
            )
        ).alias(f"{_MONTH_BITS}__{w}")
        for w in range(_month_words(domain.first_day, as_of))
    ]
    value_counts = [
        F.sum(_count_column(name, i)).alias(_count_column(name, i)) for name in PIVOT_COLUMNS for i in range(len(domain.values[name]))
    ]
    return days_df.groupBy(C.CUSTOMER_ID).agg(
        F.sum(_DAY_ORDERS).alias(C.ORDERS),
        F.sum(_DAY_RETURNS).alias(C.RETURNS),
        F.sum(_ORDER_MICROS).alias(_ORDER_MICROS),
        F.sum(_RETURN_MICROS).alias(_RETURN_MICROS),
        F.min(purchase_day).alias(C.FIRST_PURCHASE_DATE),
        F.max(purchase_day).alias(C.LAST_PURCHASE_DATE),
        F.count(purchase_day).alias(_PURCHASE_DAYS),
        # min_by skips rows whose ordering is null: days without an order
        F.min_by(F.col(_ORDER_MICROS), purchase_day).alias(_FIRST_DAY_MICROS),
        F.sum(F.when(is_weekend(F.col(_DAY)), F.col(_DAY_ORDERS)).otherwise(F.lit(0))).alias(_WEEKEND_ORDERS),
        F.sum(_DISCOUNTED_ORDERS).alias(_DISCOUNTED_ORDERS),
        F.sum(_QUANTITY_SUM).alias(_QUANTITY_SUM),
        F.sum(_QUANTITY_COUNT).alias(_QUANTITY_COUNT),
        *month_words,
        *value_counts,
    )


def with_derived_features_from_counts(customers_df: DataFrame, *, domain: FeatureDomain, as_of: dt.date) -> DataFrame:
    """Per row from the level-2 aggregates: the same columns as `with_derived_features`."""
    as_of_col = F.lit(as_of)
    orders = F.col(C.ORDERS)
    first, last = F.col(C.FIRST_PURCHASE_DATE), F.col(C.LAST_PURCHASE_DATE)
    net_micros = F.col(_ORDER_MICROS) + F.coalesce(F.col(_RETURN_MICROS), F.lit(0).cast("long"))
    frequency = F.col(_PURCHASE_DAYS) - F.lit(1)
    active_months = sum(
        (F.bit_count(F.coalesce(F.col(f"{_MONTH_BITS}__{w}"), F.lit(0).cast("long"))) for w in range(_month_words(domain.first_day, as_of))),
        F.lit(0),
    )
    categories = domain.values[C.CATEGORY]
    distinct_categories = sum(
        (F.when(F.col(_count_column(C.CATEGORY, i)) > F.lit(0), F.lit(1)).otherwise(F.lit(0)) for i in range(len(categories))),
        F.lit(0),
    )
    return (
        customers_df.withColumn(C.AS_OF_DATE, as_of_col)
        .withColumn(C.RECENCY_DAYS, F.datediff(as_of_col, last))
        .withColumn(C.MONETARY, from_micros(net_micros))
        .withColumn(C.TENURE_DAYS, F.datediff(as_of_col, first))
        .withColumn(C.AVG_ORDER_VALUE, _ratio(F.col(C.MONETARY), orders))
        .withColumn(C.AVG_DAYS_BETWEEN_ORDERS, _ratio(F.datediff(last, first), orders - F.lit(1)))
        .withColumn(C.ACTIVE_MONTHS, active_months.cast("int"))
        .withColumn(C.DISTINCT_CATEGORIES, distinct_categories.cast("int"))
        .withColumn(C.FAVOURITE_CATEGORY, _most_frequent_of_counts(C.CATEGORY, categories))
        .withColumn(C.PREFERRED_PAYMENT_METHOD, _most_frequent_of_counts(C.PAYMENT_METHOD, domain.values[C.PAYMENT_METHOD]))
        .withColumn(C.PREFERRED_CHANNEL, _most_frequent_of_counts(C.CHANNEL, domain.values[C.CHANNEL]))
        .withColumn(C.WEEKEND_SHARE, _ratio(F.col(_WEEKEND_ORDERS), orders))
        .withColumn(C.RETURN_RATE, _ratio(F.col(C.RETURNS), orders))
        .withColumn(C.DISCOUNT_SHARE, _ratio(F.col(_DISCOUNTED_ORDERS), orders))
        .withColumn(C.AVG_BASKET_SIZE, _ratio(F.col(_QUANTITY_SUM), F.col(_QUANTITY_COUNT)))
        .withColumn(C.BTYD_FREQUENCY, frequency.cast("double"))
        .withColumn(C.BTYD_RECENCY, F.datediff(last, first).cast("double"))
        .withColumn(C.BTYD_T, (F.datediff(as_of_col, first) - F.lit(1)).cast("double"))
        .withColumn(
            C.BTYD_MONETARY_VALUE,
            F.when(frequency > F.lit(0), from_micros(F.col(_ORDER_MICROS) - F.col(_FIRST_DAY_MICROS)) / frequency.cast("double")).otherwise(
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


def all_customer_features(transactions_df: DataFrame, *, as_of: dt.date, domain: FeatureDomain | None = None) -> DataFrame:
    """Features of every customer seen in the window, including those with no order
    (orders = 0, most features null); the pipeline counts and drops those.

    With a small `domain` (from `event_day_bounds`): the array-free path, three hash
    aggregations over one shuffle. Without one, or with a categorical column of more than
    MAX_PIVOT_VALUES values: one aggregation collecting purchase lines into arrays. Both give
    the same values (tests compare both with pandas)."""
    observed_df = transactions_df.transform(filter_observed, as_of=as_of)
    if domain is not None and domain.is_small:
        customers_df = (
            observed_df.transform(aggregate_customer_orders, domain=domain)
            .transform(aggregate_customer_days, domain=domain)
            .transform(aggregate_customers_from_days, domain=domain, as_of=as_of)
            .transform(with_derived_features_from_counts, domain=domain, as_of=as_of)
        )
    else:
        customers_df = observed_df.transform(aggregate_customers).transform(with_derived_features, as_of=as_of)
    return customers_df.transform(select_features)


def filter_customers_with_orders(features_df: DataFrame) -> DataFrame:
    return features_df.filter(F.col(C.ORDERS) > F.lit(0))


def customer_features(transactions_df: DataFrame, *, as_of: dt.date, domain: FeatureDomain | None = None) -> DataFrame:
    """One row per customer with at least one order before `as_of` (see module docstring)."""
    return all_customer_features(transactions_df, as_of=as_of, domain=domain).transform(filter_customers_with_orders)


def btyd_summary(features_df: DataFrame) -> DataFrame:
    """The columns lifetimes / pymc-marketing take as they are, indexed by customer."""
    return features_df.select(
        F.col(C.CUSTOMER_ID), F.col(C.BTYD_FREQUENCY), F.col(C.BTYD_RECENCY), F.col(C.BTYD_T), F.col(C.BTYD_MONETARY_VALUE)
    )
