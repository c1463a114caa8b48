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

from pyspark.sql import DataFrame

from customer_behavior.config import PatternsConfig
from customer_behavior.patterns.affinities import (  # noqa: F401  (re-exported)
    baskets,
    category_affinities,
)
from customer_behavior.patterns.orders import (  # noqa: F401  (re-exported)
    CENTS,
    PARTS,
    UNKNOWN,
    Groupings,
    age_band,
    aggregate_orders,
    customer_labels,
    explode_parts,
    filter_purchase_lines,
    with_labels,
)
from customer_behavior.patterns.tables import (  # noqa: F401  (re-exported)
    category_mix,
    cohort_retention,
    day_hour,
    monthly_trend,
    payment_mix,
    weekend_weekday,
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
