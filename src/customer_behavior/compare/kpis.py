"""KPI deltas: the headline figures of both runs, recomputed in Spark from their customer
tables (so both sides use one definition), with the change, its direction and percent.

revenue = net spend of the customers with an order in the window; customers = their number;
repeat_rate = share with 2+ orders; active_share = share whose last order is within the run's
insights.active_days of its as-of date; clv_total = sum of tables/clv (null without it).
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C

KPI_NAMES = ("revenue", "customers", "repeat_rate", "active_share", "clv_total")
DELTA_SCHEMA = "kpi string, base double, new double, delta double, pct_change double, direction string"


def kpi_figures(rfm_df: DataFrame, clv_df: DataFrame | None, *, active_days: int) -> DataFrame:
    """One row: the KPI_NAMES of one run."""
    customers = F.count(F.lit(1))
    figures_df = rfm_df.agg(
        F.coalesce(F.sum(F.col(C.MONETARY).cast("double")), F.lit(0.0)).alias("revenue"),
        customers.cast("double").alias("customers"),
        (F.count(F.when(F.col(C.ORDERS) >= 2, F.lit(1))) / customers).alias("repeat_rate"),
        (F.count(F.when(F.col(C.RECENCY_DAYS) <= active_days, F.lit(1))) / customers).alias("active_share"),
    )
    clv_total = clv_df.agg(F.sum(F.col(C.CLV).cast("double")).alias("clv_total")) if clv_df is not None else None
    if clv_total is None:
        return figures_df.withColumn("clv_total", F.lit(None).cast("double"))
    return figures_df.crossJoin(clv_total)


def direction(delta: float | None, *, tolerance: float = 1e-9) -> str:
    if delta is None:
        return "n/a"
    return "up" if delta > tolerance else "down" if delta < -tolerance else "flat"


def kpi_deltas(base: dict[str, Any], new: dict[str, Any]) -> list[tuple]:
    """(kpi, base, new, delta, pct_change, direction) per KPI, in DELTA_SCHEMA order."""
    rows = []
    for name in KPI_NAMES:
        before, after = base.get(name), new.get(name)
        delta = after - before if before is not None and after is not None else None
        pct = delta / abs(before) if delta is not None and before else None
        rows.append((name, before, after, delta, pct, direction(delta)))
    return rows
