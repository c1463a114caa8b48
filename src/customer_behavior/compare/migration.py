"""Segment migration: every customer of either run, from their BASE segment to their NEW one.

A customer only in NEW comes from `NEW_CUSTOMERS` (they had no order before BASE's as-of date,
or BASE is another log); one only in BASE goes to `GONE` (no order in NEW's window). So the
matrix's row sums are BASE's segment sizes plus the new customers, its column sums NEW's
segment sizes plus the gone ones.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C

BASE_SEGMENT = "base_segment"
NEW_SEGMENT = "new_segment"
FROM_SEGMENT = "from_segment"
TO_SEGMENT = "to_segment"
BASE_MONETARY = "base_monetary"
NEW_MONETARY = "new_monetary"
BASE_CLV = "base_clv"
NEW_CLV = "new_clv"
NEW_PROB_ALIVE = "new_prob_alive"
BASE_REVENUE = "base_revenue"
NEW_REVENUE = "new_revenue"
NEW_CUSTOMERS = "(new customers)"
GONE = "(gone from the window)"

TRANSITION_COLUMNS = (
    C.CUSTOMER_ID, BASE_SEGMENT, NEW_SEGMENT, BASE_MONETARY, NEW_MONETARY, "base_orders", "new_orders", "base_recency_days", "new_recency_days",
    BASE_CLV, NEW_CLV, NEW_PROB_ALIVE,
)


def _side(rfm_df: DataFrame, clv_df: DataFrame | None, prefix: str) -> DataFrame:
    side_df = rfm_df.select(
        F.col(C.CUSTOMER_ID),
        F.col(C.SEGMENT).alias(f"{prefix}_segment"),
        F.col(C.MONETARY).cast("double").alias(f"{prefix}_monetary"),
        F.col(C.ORDERS).alias(f"{prefix}_orders"),
        F.col(C.RECENCY_DAYS).alias(f"{prefix}_recency_days"),
    )
    if clv_df is None:
        return side_df.withColumn(f"{prefix}_clv", F.lit(None).cast("double")).withColumn(f"{prefix}_prob_alive", F.lit(None).cast("double"))
    clv_side_df = clv_df.select(F.col(C.CUSTOMER_ID), F.col(C.CLV).cast("double").alias(f"{prefix}_clv"), F.col(C.PROB_ALIVE).cast("double").alias(f"{prefix}_prob_alive"))
    return side_df.join(clv_side_df, on=C.CUSTOMER_ID, how="left")


def customer_transitions(base_rfm_df: DataFrame, new_rfm_df: DataFrame, base_clv_df: DataFrame | None, new_clv_df: DataFrame | None) -> DataFrame:
    """One row per customer of either run: both segments (null where absent), spend, orders, recency and CLV."""
    joined_df = _side(base_rfm_df, base_clv_df, "base").join(_side(new_rfm_df, new_clv_df, "new"), on=C.CUSTOMER_ID, how="full")
    return joined_df.select(*[F.col(name) for name in TRANSITION_COLUMNS])


def migration_matrix(transitions_df: DataFrame) -> DataFrame:
    """from_segment, to_segment, customers, base_revenue (their net spend as of BASE), new_revenue (as of NEW)."""
    return (
        transitions_df.groupBy(
            F.coalesce(F.col(BASE_SEGMENT), F.lit(NEW_CUSTOMERS)).alias(FROM_SEGMENT),
            F.coalesce(F.col(NEW_SEGMENT), F.lit(GONE)).alias(TO_SEGMENT),
        )
        .agg(
            F.count(F.lit(1)).alias(C.CUSTOMERS),
            F.coalesce(F.sum(F.col(BASE_MONETARY)), F.lit(0.0)).alias(BASE_REVENUE),
            F.coalesce(F.sum(F.col(NEW_MONETARY)), F.lit(0.0)).alias(NEW_REVENUE),
        )
        .orderBy(FROM_SEGMENT, TO_SEGMENT)
    )


def segment_sizes(matrix_rows: list[dict], names: list[str]) -> list[dict]:
    """Per segment of `names`: customers in BASE and in NEW, the change and the moves in and out
    (from the matrix's rows: a small aggregate in the driver)."""
    sizes = []
    for name in names:
        base = sum(r[C.CUSTOMERS] for r in matrix_rows if r[FROM_SEGMENT] == name)
        new = sum(r[C.CUSTOMERS] for r in matrix_rows if r[TO_SEGMENT] == name)
        stayed = sum(r[C.CUSTOMERS] for r in matrix_rows if r[FROM_SEGMENT] == name and r[TO_SEGMENT] == name)
        new_revenue = sum(r[NEW_REVENUE] for r in matrix_rows if r[TO_SEGMENT] == name)
        sizes.append({
            C.SEGMENT: name, "base_customers": base, "new_customers": new, "change": new - base,
            "pct_change": (new - base) / base if base else None, "stayed": stayed, "moved_in": new - stayed, "moved_out": base - stayed,
            NEW_REVENUE: new_revenue,
        })
    return sizes
