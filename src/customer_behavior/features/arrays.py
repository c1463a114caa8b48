"""The aggregation without a domain: each customer's order lines collected, SQL higher-order functions per row."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.definitions import is_purchase, is_return, is_weekend, order_key, ratio
from customer_behavior.features.names import (
    _DAY,
    _DISCOUNTED_ORDERS,
    _LINES,
    _MONTH,
    _ORDER_KEY,
    _ORDER_SPEND,
    _PURCHASE_DAYS,
    _RETURNED_SPEND,
    _WEEKEND_ORDERS,
    MONEY,
    MONEY_SUM,
)

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
        ratio(F.sum(F.when(purchase, F.col(C.QUANTITY))), distinct_orders(purchase & F.col(C.QUANTITY).isNotNull())).alias(C.AVG_BASKET_SIZE),
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
        .withColumn(C.AVG_ORDER_VALUE, ratio(F.col(C.MONETARY), orders))
        .withColumn(C.AVG_DAYS_BETWEEN_ORDERS, ratio(F.datediff(last, first), orders - F.lit(1)))
        .withColumn(C.ACTIVE_MONTHS, F.size(F.array_distinct(lines.getField(_MONTH))))
        .withColumn(C.DISTINCT_CATEGORIES, F.size(F.array_distinct(F.array_compact(lines.getField(C.CATEGORY)))))
        .withColumn(C.FAVOURITE_CATEGORY, most_frequent(lines.getField(C.CATEGORY)))
        .withColumn(C.PREFERRED_PAYMENT_METHOD, most_frequent(lines.getField(C.PAYMENT_METHOD)))
        .withColumn(C.PREFERRED_CHANNEL, most_frequent(lines.getField(C.CHANNEL)))
        .withColumn(C.WEEKEND_SHARE, ratio(F.col(_WEEKEND_ORDERS), orders))
        .withColumn(C.RETURN_RATE, ratio(F.col(C.RETURNS), orders))
        .withColumn(C.DISCOUNT_SHARE, ratio(F.col(_DISCOUNTED_ORDERS), orders))
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
