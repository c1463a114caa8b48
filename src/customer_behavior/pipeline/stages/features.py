"""The features stage: per-customer RFM, behaviour and BTYD features in one aggregation; it
sets the run's observation window, which every later stage reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior import features
from customer_behavior.pipeline.context import TABLES_DIR, ObservationWindow, RunContext, write_parquet


def feature_bounds(transactions_df: DataFrame, configured_as_of: dt.date | None) -> tuple[Any, dt.date, features.FeatureDomain]:
    """The one small query every features computation starts with: the event-day bounds and
    categorical values (one row), the as-of date they resolve to, and the feature domain."""
    bounds = features.event_day_bounds(transactions_df).first()
    as_of = features.resolve_as_of(configured_as_of, bounds["first_day"], bounds["last_day"])
    features.require_spend(bounds[features.MAX_ABS_AMOUNT])
    return bounds, as_of, features.FeatureDomain.from_bounds(bounds)


def stage_features(ctx: RunContext) -> None:
    with ctx.tracker.stage("features", "Per-customer RFM, behaviour and BTYD features (one aggregation)"):
        transactions_df = ctx.tables["transactions"]
        bounds, as_of, domain = feature_bounds(transactions_df, ctx.cfg.features.as_of_date)
        # Cached so that counting the customers without an order and writing the others
        # share the one aggregation over the transactions.
        all_df = features.all_customer_features(transactions_df, as_of=as_of, domain=domain).cache()
        try:
            has_orders = (F.col(C.ORDERS) > 0).alias("has_orders")
            count_rows = all_df.groupBy(has_orders).agg(F.count(F.lit(1)).alias("n")).collect()
            counts = {bool(row["has_orders"]): row["n"] for row in count_rows}
            target = ctx.path(TABLES_DIR, "customer_features")
            write_parquet(all_df.transform(features.filter_customers_with_orders), target)
        finally:
            all_df.unpersist()
        ctx.tables["customer_features"] = ctx.spark.read.parquet(target)
        ctx.window = ObservationWindow(as_of=as_of, first_day=bounds["first_day"], last_day=bounds["last_day"])
        if as_of <= bounds["last_day"]:
            # The analysis window ends at as_of for every later stage (personas, CLV, patterns), not only for the features.
            ctx.tables["transactions"] = transactions_df.filter(F.to_date(F.col(C.EVENT_TS)) < F.lit(as_of))
            ctx.rows["transactions_after_as_of"] = transactions_df.filter(F.to_date(F.col(C.EVENT_TS)) >= F.lit(as_of)).count()
        ctx.rows["customers_with_features"] = counts.get(True, 0)
        ctx.rows["customers_without_orders"] = counts.get(False, 0)
        ctx.results["features"] = {
            **ctx.window.to_dict(),
            "customers": counts.get(True, 0),
            "customers_without_orders": counts.get(False, 0),
            "has_time_of_day": bool(bounds[features.HAS_TIME_OF_DAY]),
        }


def customer_features_of(ctx: RunContext) -> DataFrame:
    """customer_features from the features stage, or computed here when it has not run."""
    if "customer_features" in ctx.tables:
        return ctx.tables["customer_features"]
    _, as_of, domain = feature_bounds(ctx.tables["transactions"], None)
    return features.customer_features(ctx.tables["transactions"], as_of=as_of, domain=domain)
