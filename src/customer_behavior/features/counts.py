"""The one-pass aggregation with a FeatureDomain: count columns per categorical value and month bit sets, no arrays."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from customer_behavior import columns as C
from customer_behavior.definitions import is_purchase, is_return, is_weekend, ratio
from customer_behavior.features.arrays import money, order_of_day
from customer_behavior.features.domain import FeatureDomain
from customer_behavior.features.names import (
    _DAY,
    _DAY_ORDERS,
    _DAY_RETURNS,
    _DISCOUNTED_LINES,
    _DISCOUNTED_ORDERS,
    _FIRST_DAY_MICROS,
    _IS_DISCOUNTED,
    _IS_PURCHASE,
    _IS_RETURN,
    _MONTH_BITS,
    _ORDER_KEY,
    _ORDER_MICROS,
    _PURCHASE_DAYS,
    _PURCHASE_LINES,
    _QUANTITY_COUNT,
    _QUANTITY_SUM,
    _RETURN_LINES,
    _RETURN_MICROS,
    _WEEKEND_ORDERS,
    MICROS,
    MONEY_SUM,
    MONTH_WORD_BITS,
    PIVOT_COLUMNS,
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
        .withColumn(C.AVG_ORDER_VALUE, ratio(F.col(C.MONETARY), orders))
        .withColumn(C.AVG_DAYS_BETWEEN_ORDERS, ratio(F.datediff(last, first), orders - F.lit(1)))
        .withColumn(C.ACTIVE_MONTHS, active_months.cast("int"))
        .withColumn(C.DISTINCT_CATEGORIES, distinct_categories.cast("int"))
        .withColumn(C.FAVOURITE_CATEGORY, _most_frequent_of_counts(C.CATEGORY, categories))
        .withColumn(C.PREFERRED_PAYMENT_METHOD, _most_frequent_of_counts(C.PAYMENT_METHOD, domain.values[C.PAYMENT_METHOD]))
        .withColumn(C.PREFERRED_CHANNEL, _most_frequent_of_counts(C.CHANNEL, domain.values[C.CHANNEL]))
        .withColumn(C.WEEKEND_SHARE, ratio(F.col(_WEEKEND_ORDERS), orders))
        .withColumn(C.RETURN_RATE, ratio(F.col(C.RETURNS), orders))
        .withColumn(C.DISCOUNT_SHARE, ratio(F.col(_DISCOUNTED_ORDERS), orders))
        .withColumn(C.AVG_BASKET_SIZE, ratio(F.col(_QUANTITY_SUM), F.col(_QUANTITY_COUNT)))
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
