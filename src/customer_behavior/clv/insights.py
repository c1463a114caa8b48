"""Small aggregates of the clv table for the manifest, the report and the insights (pure transforms)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.clv.risk import risk_rank

TOP_CUSTOMERS = 10


def churn_risk_summary(clv_df: DataFrame) -> DataFrame:
    """One row per churn risk band (at most 4, plus null when P(alive) is missing)."""
    return (
        clv_df.groupBy(F.col(C.CHURN_RISK))
        .agg(
            F.count(F.lit(1)).alias("customers"),
            F.avg(F.col(C.PROB_ALIVE)).alias("mean_prob_alive"),
            F.sum(F.col(C.CLV)).alias("total_clv"),
            F.avg(F.col(C.CLV)).alias("mean_clv"),
        )
        .orderBy(risk_rank(F.col(C.CHURN_RISK)))
    )


def segment_value_summary(clv_df: DataFrame) -> DataFrame:
    """One row per RFM segment (at most 11 and null): customers, CLV and P(alive)."""
    return (
        clv_df.groupBy(F.col(C.SEGMENT))
        .agg(
            F.count(F.lit(1)).alias("customers"),
            F.avg(F.col(C.PROB_ALIVE)).alias("mean_prob_alive"),
            F.sum(F.col(C.EXPECTED_PURCHASES)).alias("expected_purchases"),
            F.sum(F.col(C.CLV)).alias("total_clv"),
            F.avg(F.col(C.CLV)).alias("mean_clv"),
        )
        .orderBy(F.col("total_clv").desc_nulls_last(), F.col(C.SEGMENT))
    )


def totals(clv_df: DataFrame) -> DataFrame:
    return clv_df.agg(
        F.count(F.lit(1)).alias("customers"),
        F.sum(F.col(C.CLV)).alias("total_clv"),
        F.avg(F.col(C.CLV)).alias("mean_clv"),
        F.avg(F.col(C.PROB_ALIVE)).alias("mean_prob_alive"),
        F.sum(F.col(C.EXPECTED_PURCHASES)).alias("expected_purchases"),
        F.avg(F.col(C.EXPECTED_AVG_SPEND)).alias("mean_expected_avg_spend"),
    )


def top_customers(clv_df: DataFrame, n: int = TOP_CUSTOMERS) -> DataFrame:
    return clv_df.orderBy(F.col(C.CLV).desc_nulls_last(), F.col(C.CUSTOMER_ID)).limit(n).select(
        F.col(C.CUSTOMER_ID), F.col(C.SEGMENT), F.col(C.PROB_ALIVE), F.col(C.EXPECTED_PURCHASES), F.col(C.CLV), F.col(C.CHURN_RISK)
    )
