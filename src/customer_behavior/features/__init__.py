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

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.features.arrays import (
    aggregate_customers,
    filter_observed,
    money,
    most_frequent,
    order_of_day,
    with_derived_features,
)
from customer_behavior.features.counts import (
    aggregate_customer_days,
    aggregate_customer_orders,
    aggregate_customers_from_days,
    from_micros,
    micros,
    with_derived_features_from_counts,
)
from customer_behavior.features.domain import (
    FeatureDomain,
    event_day_bounds,
    require_spend,
    resolve_as_of,
)
from customer_behavior.features.names import (
    HAS_TIME_OF_DAY,
    MAX_ABS_AMOUNT,
    MAX_PIVOT_VALUES,
    MICROS,
    MONEY,
    MONEY_SUM,
    MONTH_WORD_BITS,
    PIVOT_COLUMNS,
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


# The submodules' names, re-exported: `from customer_behavior.features import X` keeps working.
__all__ = [
    "FeatureDomain",
    "HAS_TIME_OF_DAY",
    "MAX_ABS_AMOUNT",
    "MAX_PIVOT_VALUES",
    "MICROS",
    "MONEY",
    "MONEY_SUM",
    "MONTH_WORD_BITS",
    "PIVOT_COLUMNS",
    "aggregate_customer_days",
    "aggregate_customer_orders",
    "aggregate_customers",
    "aggregate_customers_from_days",
    "event_day_bounds",
    "filter_observed",
    "from_micros",
    "micros",
    "money",
    "most_frequent",
    "order_of_day",
    "require_spend",
    "resolve_as_of",
    "with_derived_features",
    "with_derived_features_from_counts",
]
