"""Churn risk bands: the model's P(alive) combined with the customer's RFM segment.

BG/NBD's P(alive) is sharp for repeat customers but is 1 by construction for a customer
with no repeat purchase, however long ago that purchase was; the RFM segment carries the
recency evidence the model ignores there. Both are read from one explicit table (data,
below), shown here as it is documented in the README:

| P(alive) band \\ segment group | active | slipping | inactive | unknown |
|-------------------------------|--------|----------|----------|---------|
| likely_alive (>= high)        | low    | medium   | high     | low     |
| uncertain (low .. high)       | medium | high     | high     | medium  |
| likely_gone (< low)           | high   | critical | critical | high    |

Segment groups: active = Champions, Loyal Customers, Potential Loyalists, New Customers,
Promising; slipping = Need Attention, About to Sleep, At Risk, Can't Lose Them;
inactive = Hibernating, Lost; unknown = no segment (or a name not in the table).
The thresholds `low` and `high` are clv.prob_alive_low and clv.prob_alive_high.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C

ALIVE_BANDS = ("likely_alive", "uncertain", "likely_gone")
SEGMENT_GROUPS = ("active", "slipping", "inactive", "unknown")

SEGMENT_GROUP_OF = {
    "Champions": "active",
    "Loyal Customers": "active",
    "Potential Loyalists": "active",
    "New Customers": "active",
    "Promising": "active",
    "Need Attention": "slipping",
    "About to Sleep": "slipping",
    "At Risk": "slipping",
    "Can't Lose Them": "slipping",
    "Hibernating": "inactive",
    "Lost": "inactive",
}

RISK_TABLE = {
    "likely_alive": {"active": "low", "slipping": "medium", "inactive": "high", "unknown": "low"},
    "uncertain": {"active": "medium", "slipping": "high", "inactive": "high", "unknown": "medium"},
    "likely_gone": {"active": "high", "slipping": "critical", "inactive": "critical", "unknown": "high"},
}


def alive_band(prob_alive: Column, *, low: float, high: float) -> Column:
    return (
        F.when(prob_alive >= F.lit(high), F.lit("likely_alive"))
        .when(prob_alive >= F.lit(low), F.lit("uncertain"))
        .when(prob_alive.isNotNull(), F.lit("likely_gone"))
    )


def segment_group(segment: Column) -> Column:
    expr = F.lit("unknown")
    for name, group in reversed(list(SEGMENT_GROUP_OF.items())):
        expr = F.when(segment == F.lit(name), F.lit(group)).otherwise(expr)
    return expr


def churn_risk(band: Column, group: Column) -> Column:
    """RISK_TABLE[band][group]; null when P(alive) is unknown."""
    expr = None
    for band_name, row in RISK_TABLE.items():
        for group_name, risk in row.items():
            condition = (band == F.lit(band_name)) & (group == F.lit(group_name))
            expr = F.when(condition, F.lit(risk)) if expr is None else expr.when(condition, F.lit(risk))
    return expr


def risk_rank(risk: Column) -> Column:
    """0 for low .. 3 for critical (for ordering and for the AUC of the bands)."""
    expr = F.lit(None).cast("int")
    for rank, name in reversed(list(enumerate(C.CHURN_RISK_BANDS))):
        expr = F.when(risk == F.lit(name), F.lit(rank)).otherwise(expr)
    return expr


def with_churn_risk(scored_df: DataFrame, *, low: float, high: float, segment_col: str = C.SEGMENT) -> DataFrame:
    """alive_band, segment_group and churn_risk from prob_alive and the RFM segment (if the column exists)."""
    segment = F.col(segment_col) if segment_col in scored_df.columns else F.lit(None).cast("string")
    return (
        scored_df.withColumn(C.ALIVE_BAND, alive_band(F.col(C.PROB_ALIVE), low=low, high=high))
        .withColumn(C.SEGMENT_GROUP, segment_group(segment))
        .withColumn(C.CHURN_RISK, churn_risk(F.col(C.ALIVE_BAND), F.col(C.SEGMENT_GROUP)))
    )
