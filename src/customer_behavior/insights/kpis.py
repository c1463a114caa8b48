"""KPIs: Spark transforms that reduce the per-customer tables to a handful of small tables.

`customer_view`, `kpi_table`, `group_summary`, `rf_grid`; the pipeline writes them under
`tables/insights/` so the report can be rebuilt from them. Definitions: the package docstring.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from customer_behavior import columns as C
from customer_behavior.config import InsightsConfig
from customer_behavior.definitions import ratio

# Money is summed as DECIMAL so that sums are exact and do not depend on row order; tables hold doubles.
MONEY = T.DecimalType(18, 6)


def high_churn_flag(clv_df: DataFrame) -> Column:
    """Whether a customer's churn risk is high: a "high"/"critical" band, a score >= 0.5, or P(alive) < 0.5."""
    fields = {f.name: f.dataType for f in clv_df.schema.fields}
    kind = fields.get(C.CHURN_RISK)
    if isinstance(kind, T.StringType):
        return F.lower(F.col(C.CHURN_RISK)).isin("high", "critical")
    if isinstance(kind, T.NumericType):
        return F.col(C.CHURN_RISK) >= F.lit(0.5)
    return F.col(C.PROB_ALIVE) < F.lit(0.5)


def customer_view(
    features_df: DataFrame,
    *,
    segments_df: DataFrame | None,
    personas_df: DataFrame | None,
    clv_df: DataFrame | None,
    cfg: InsightsConfig,
) -> DataFrame:
    """One row per customer: orders, net revenue, recency, labels and the flags the KPIs count."""
    view = features_df.select(
        F.col(C.CUSTOMER_ID), F.col(C.ORDERS).cast("long").alias(C.ORDERS), F.col(C.MONETARY).cast(MONEY).alias(C.MONETARY), F.col(C.RECENCY_DAYS)
    )
    if segments_df is not None:
        view = view.join(segments_df.select(C.CUSTOMER_ID, C.SEGMENT), on=C.CUSTOMER_ID, how="left")
    else:
        view = view.withColumn(C.SEGMENT, F.lit(None).cast("string"))
    if personas_df is not None:
        view = view.join(personas_df.select(C.CUSTOMER_ID, F.col(C.PERSONA_NAME).cast("string")), on=C.CUSTOMER_ID, how="left")
    else:
        view = view.withColumn(C.PERSONA_NAME, F.lit(None).cast("string"))
    if clv_df is not None:
        view = view.join(
            clv_df.select(C.CUSTOMER_ID, F.col(C.PROB_ALIVE).cast("double"), F.col(C.CLV).cast(MONEY), high_churn_flag(clv_df).alias("is_high_churn")),
            on=C.CUSTOMER_ID,
            how="left",
        )
    else:
        view = view.select("*", F.lit(None).cast("double").alias(C.PROB_ALIVE), F.lit(None).cast(MONEY).alias(C.CLV), F.lit(None).cast("boolean").alias("is_high_churn"))
    at_risk = list(cfg.at_risk_segments)
    return view.select(
        "*",
        (F.col(C.ORDERS) >= F.lit(2)).alias("is_repeat"),
        (F.col(C.RECENCY_DAYS) <= F.lit(cfg.active_days)).alias("is_active"),
        F.coalesce(F.col(C.SEGMENT).isin(at_risk), F.lit(False)).alias("is_at_risk") if at_risk else F.lit(False).alias("is_at_risk"),
    )


def _count_if(condition: Column) -> Column:
    return F.count(F.when(condition, F.lit(1)))


def _sum_if(condition: Column, value: Column) -> Column:
    return F.coalesce(F.sum(F.when(condition, value)), F.lit(0).cast(MONEY))


def _dbl(value: Column, digits: int) -> Column:
    return F.round(value, digits).cast("double")


def kpi_table(view_df: DataFrame, cfg: InsightsConfig) -> DataFrame:
    """One row of KPIs (the top-share threshold is an approximate quantile, so no global sort)."""
    threshold = view_df.agg(F.percentile_approx(F.col(C.MONETARY), F.lit(1.0 - cfg.top_share), F.lit(10_000)).alias("top_threshold"))
    # Strictly above the (1 - top_share) quantile: with 5 customers and top_share 0.2, the single biggest.
    is_top = F.col(C.MONETARY) > F.col("top_threshold")
    totals = view_df.crossJoin(threshold).agg(
        F.count(F.lit(1)).alias("customers"),
        F.coalesce(F.sum(F.col(C.ORDERS)), F.lit(0)).alias("orders"),
        F.coalesce(F.sum(F.col(C.MONETARY)), F.lit(0).cast(MONEY)).alias("revenue"),
        _count_if(F.col("is_repeat")).alias("repeat_customers"),
        _count_if(F.col("is_active")).alias("active_customers"),
        _count_if(is_top).alias("top_customers"),
        _sum_if(is_top, F.col(C.MONETARY)).alias("top_revenue"),
        _count_if(F.col("is_at_risk")).alias("at_risk_customers"),
        _sum_if(F.col("is_at_risk"), F.col(C.MONETARY)).alias("at_risk_revenue"),
        _count_if(F.col(C.ORDERS) == F.lit(1)).alias("one_time_customers"),
        _count_if(F.col("is_high_churn")).alias("high_churn_customers"),
        _sum_if(F.col("is_high_churn"), F.col(C.MONETARY)).alias("high_churn_revenue"),
        F.sum(F.col(C.CLV)).alias("clv_total"),
        F.avg(F.col(C.PROB_ALIVE)).alias("avg_prob_alive"),
    )
    return totals.select(
        F.col("customers"),
        F.col("orders"),
        _dbl(F.col("revenue"), 2).alias("revenue"),
        F.round(ratio(F.col("revenue"), F.col("orders")), 2).alias("aov"),
        F.round(ratio(F.col("repeat_customers"), F.col("customers")), 4).alias("repeat_rate"),
        F.col("one_time_customers"),
        F.round(ratio(F.col("active_customers"), F.col("customers")), 4).alias("active_share"),
        F.col("active_customers"),
        F.col("top_customers"),
        F.round(ratio(F.col("top_revenue"), F.col("revenue")), 4).alias("top_revenue_share"),
        F.col("at_risk_customers"),
        _dbl(F.col("at_risk_revenue"), 2).alias("at_risk_revenue"),
        F.col("high_churn_customers"),
        _dbl(F.col("high_churn_revenue"), 2).alias("high_churn_revenue"),
        _dbl(F.col("clv_total"), 2).alias("clv_total"),
        F.round(F.col("avg_prob_alive"), 4).alias("avg_prob_alive"),
    )


def group_summary(view_df: DataFrame, group_col: str) -> DataFrame:
    """Per segment (or persona): size, revenue and shares, habits, at-risk and CLV figures."""
    totals = view_df.agg(F.count(F.lit(1)).alias("all_customers"), F.sum(F.col(C.MONETARY)).alias("all_revenue"))
    per_group = view_df.filter(F.col(group_col).isNotNull()).groupBy(group_col).agg(
        F.count(F.lit(1)).alias(C.CUSTOMERS),
        F.sum(F.col(C.ORDERS)).alias(C.ORDERS),
        F.sum(F.col(C.MONETARY)).alias(C.REVENUE),
        F.avg(F.col(C.RECENCY_DAYS)).alias(C.AVG_RECENCY_DAYS),
        _count_if(F.col("is_repeat")).alias("repeat_customers"),
        _count_if(F.col("is_active")).alias("active_customers"),
        _count_if(F.col("is_at_risk")).alias(C.AT_RISK_CUSTOMERS),
        _sum_if(F.col("is_at_risk"), F.col(C.MONETARY)).alias(C.AT_RISK_REVENUE),
        _count_if(F.col("is_high_churn")).alias(C.HIGH_CHURN_CUSTOMERS),
        _sum_if(F.col("is_high_churn"), F.col(C.MONETARY)).alias(C.HIGH_CHURN_REVENUE),
        F.sum(F.col(C.CLV)).alias(C.CLV_TOTAL),
        F.avg(F.col(C.PROB_ALIVE)).alias(C.AVG_PROB_ALIVE),
    )
    return per_group.crossJoin(totals).select(
        F.col(group_col).alias(C.GROUP),
        F.col(C.CUSTOMERS),
        F.round(ratio(F.col(C.CUSTOMERS), F.col("all_customers")), 4).alias("customer_share"),
        F.col(C.ORDERS),
        _dbl(F.col(C.REVENUE), 2).alias(C.REVENUE),
        F.round(ratio(F.col(C.REVENUE), F.col("all_revenue")), 4).alias(C.REVENUE_SHARE),
        F.round(ratio(F.col(C.REVENUE), F.col(C.CUSTOMERS)), 2).alias("revenue_per_customer"),
        F.round(ratio(F.col(C.REVENUE), F.col(C.ORDERS)), 2).alias("aov"),
        F.round(F.col(C.AVG_RECENCY_DAYS), 1).alias(C.AVG_RECENCY_DAYS),
        F.round(ratio(F.col(C.ORDERS), F.col(C.CUSTOMERS)), 2).alias(C.AVG_ORDERS),
        F.round(ratio(F.col("repeat_customers"), F.col(C.CUSTOMERS)), 4).alias(C.REPEAT_RATE),
        F.round(ratio(F.col("active_customers"), F.col(C.CUSTOMERS)), 4).alias(C.ACTIVE_SHARE),
        F.col(C.AT_RISK_CUSTOMERS),
        _dbl(F.col(C.AT_RISK_REVENUE), 2).alias(C.AT_RISK_REVENUE),
        F.col(C.HIGH_CHURN_CUSTOMERS),
        _dbl(F.col(C.HIGH_CHURN_REVENUE), 2).alias(C.HIGH_CHURN_REVENUE),
        _dbl(F.col(C.CLV_TOTAL), 2).alias(C.CLV_TOTAL),
        F.round(F.col(C.AVG_PROB_ALIVE), 4).alias(C.AVG_PROB_ALIVE),
    )


def rf_grid(segments_df: DataFrame) -> DataFrame:
    """Customers per (R score, F score) cell, with the segments found in the cell."""
    return segments_df.groupBy(F.col(C.R_SCORE).cast("int").alias(C.R_SCORE), F.col(C.F_SCORE).cast("int").alias(C.F_SCORE)).agg(
        F.count(F.lit(1)).alias(C.CUSTOMERS),
        F.array_join(F.array_sort(F.collect_set(F.col(C.SEGMENT))), ", ").alias("segments"),
    )


# --------------------------------------------------------------------------- driver half
