"""Customers slipping away: valuable in BASE (Champions, Loyal Customers, Can't Lose Them by
default), in a lapsing segment in NEW, ranked by the value at stake.

The value at stake is the CLV that BASE predicted for the customer (what keeping them was
expected to be worth), or their net spend up to NEW when BASE has no CLV table.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.compare import migration as M
from customer_behavior.segments import neutralise_formula

VALUE_AT_STAKE = "value_at_stake"
SLIPPING_COLUMNS = (
    C.CUSTOMER_ID, M.BASE_SEGMENT, M.NEW_SEGMENT, "past_spend", "spend_since_base", "orders", C.RECENCY_DAYS, M.BASE_CLV, M.NEW_CLV, M.NEW_PROB_ALIVE,
    VALUE_AT_STAKE,
)
_TEXT_COLUMNS = (C.CUSTOMER_ID, M.BASE_SEGMENT, M.NEW_SEGMENT)


def is_slipping(valuable: list[str], lapsing: list[str]) -> Column:
    return F.col(M.BASE_SEGMENT).isin(*valuable) & F.col(M.NEW_SEGMENT).isin(*lapsing) & (F.col(M.BASE_SEGMENT) != F.col(M.NEW_SEGMENT))


def slipping_customers(transitions_df: DataFrame, *, valuable: list[str], lapsing: list[str], has_base_clv: bool) -> DataFrame:
    """The slipping customers with their past spend and CLV (unordered: the write sorts)."""
    value = F.col(M.BASE_CLV) if has_base_clv else F.col(M.NEW_MONETARY)
    return transitions_df.filter(is_slipping(valuable, lapsing)).select(
        F.col(C.CUSTOMER_ID),
        F.col(M.BASE_SEGMENT),
        F.col(M.NEW_SEGMENT),
        F.round(F.col(M.NEW_MONETARY), 2).alias("past_spend"),
        F.round(F.col(M.NEW_MONETARY) - F.col(M.BASE_MONETARY), 2).alias("spend_since_base"),
        F.col("new_orders").alias("orders"),
        F.col("new_recency_days").alias(C.RECENCY_DAYS),
        F.round(F.col(M.BASE_CLV), 2).alias(M.BASE_CLV),
        F.round(F.col(M.NEW_CLV), 2).alias(M.NEW_CLV),
        F.round(F.col(M.NEW_PROB_ALIVE), 4).alias(M.NEW_PROB_ALIVE),
        F.round(F.coalesce(value, F.lit(0.0)), 2).alias(VALUE_AT_STAKE),
    )


def ranked(slipping_df: DataFrame) -> DataFrame:
    """One partition sorted by value at stake (ties by customer id): the export is one file."""
    return slipping_df.repartition(1).sortWithinPartitions(F.col(VALUE_AT_STAKE).desc(), F.col(C.CUSTOMER_ID))


def export_rows(slipping_df: DataFrame) -> DataFrame:
    """The export's text neutralised against formula injection, as the segment exports are."""
    return slipping_df.select(*[neutralise_formula(F.col(name)).alias(name) if name in _TEXT_COLUMNS else F.col(name) for name in SLIPPING_COLUMNS])


def slipping_summary(slipping_df: DataFrame) -> DataFrame:
    """base_segment, new_segment, customers, value_at_stake, past_spend: a few rows."""
    return (
        slipping_df.groupBy(M.BASE_SEGMENT, M.NEW_SEGMENT)
        .agg(F.count(F.lit(1)).alias(C.CUSTOMERS), F.sum(VALUE_AT_STAKE).alias(VALUE_AT_STAKE), F.sum("past_spend").alias("past_spend"))
        .orderBy(F.col(VALUE_AT_STAKE).desc(), M.BASE_SEGMENT, M.NEW_SEGMENT)
    )
