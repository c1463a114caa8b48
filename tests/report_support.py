"""A small finished run for the report tests, built once per test session.

The upstream tables (customer_features, rfm_segments, personas, clv, persona_profiles,
persona_sweep) are stand-ins made here with the declared column names, so these tests do
not depend on how the features, personas and CLV stages compute them. The run's patterns,
insights and report are then made by the real pipeline stages. One category is renamed to
`<script>alert(1)</script>` so every output must escape it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from pyspark.sql import functions as F

from customer_behavior import columns as C

EVIL_CATEGORY = "<script>alert(1)</script>"
RENAMED_CATEGORY = "books_media"
_CACHE: dict[str, Path] = {}


def stand_in_features(transactions_df, as_of="2025-01-01"):
    is_order = (F.col(C.STATUS) == F.lit(C.STATUS_COMPLETED)) & (F.col(C.AMOUNT) > 0)
    return (
        transactions_df.groupBy(C.CUSTOMER_ID)
        .agg(
            F.count(F.when(is_order, F.lit(1))).alias(C.ORDERS),
            F.sum(F.col(C.AMOUNT)).alias(C.MONETARY),
            F.max(F.when(is_order, F.to_date(F.col(C.EVENT_TS)))).alias("last_day"),
        )
        .filter(F.col(C.ORDERS) > 0)
        .select(C.CUSTOMER_ID, C.ORDERS, C.MONETARY, F.datediff(F.lit(as_of).cast("date"), F.col("last_day")).alias(C.RECENCY_DAYS))
    )


def stand_in_segments(features_df):
    r = F.when(F.col(C.RECENCY_DAYS) <= 30, 5).when(F.col(C.RECENCY_DAYS) <= 90, 4).when(F.col(C.RECENCY_DAYS) <= 180, 3).when(F.col(C.RECENCY_DAYS) <= 365, 2).otherwise(1)
    f = F.when(F.col(C.ORDERS) >= 30, 5).when(F.col(C.ORDERS) >= 15, 4).when(F.col(C.ORDERS) >= 8, 3).when(F.col(C.ORDERS) >= 3, 2).otherwise(1)
    segment = (
        F.when((F.col(C.R_SCORE) >= 4) & (F.col(C.F_SCORE) >= 4), "Champions")
        .when((F.col(C.R_SCORE) >= 3) & (F.col(C.F_SCORE) >= 3), "Loyal Customers")
        .when((F.col(C.R_SCORE) >= 4) & (F.col(C.F_SCORE) <= 1), "New Customers")
        .when((F.col(C.R_SCORE) <= 2) & (F.col(C.F_SCORE) >= 4), "Can't Lose Them")
        .when((F.col(C.R_SCORE) <= 2) & (F.col(C.F_SCORE) >= 2), "At Risk")
        .when(F.col(C.R_SCORE) >= 3, "Potential Loyalists")
        .otherwise("Lost")
    )
    return features_df.select(C.CUSTOMER_ID, r.alias(C.R_SCORE), f.alias(C.F_SCORE), F.lit(3).alias(C.M_SCORE)).withColumn(C.SEGMENT, segment)


def stand_in_clv(features_df):
    prob_alive = F.exp(-F.col(C.RECENCY_DAYS) / F.lit(365.0))
    return features_df.select(
        C.CUSTOMER_ID,
        prob_alive.alias(C.PROB_ALIVE),
        (F.col(C.MONETARY) * prob_alive / 2).alias(C.CLV),
        F.when(prob_alive < 0.5, "high").when(prob_alive < 0.8, "medium").otherwise("low").alias(C.CHURN_RISK),
    )


def build_run(spark, synthetic_small, root: Path) -> Path:
    """Write the stand-in tables and run the patterns, insights and report stages into `root`."""
    from customer_behavior.config import Config
    from customer_behavior.pipeline import RunContext, TABLES_DIR, execute, stage_insights, stage_patterns, stage_report, write_parquet

    transactions_df = synthetic_small["transactions"].withColumn(
        C.CATEGORY, F.when(F.col(C.CATEGORY) == RENAMED_CATEGORY, F.lit(EVIL_CATEGORY)).otherwise(F.col(C.CATEGORY))
    )
    truth_df = synthetic_small["truth"]

    def stage_stand_ins(ctx: RunContext) -> None:
        with ctx.tracker.stage("stand_ins", "test stand-ins for the upstream tables"):
            ctx.tables["transactions"] = transactions_df
            ctx.tables["customers"] = synthetic_small["customers"]
            features_df = stand_in_features(transactions_df)
            tables = {
                "customer_features": features_df,
                "rfm_segments": stand_in_segments(features_df),
                "personas": truth_df.select(C.CUSTOMER_ID, F.initcap(F.regexp_replace(F.col(C.PERSONA), "_", " ")).alias(C.PERSONA_NAME)),
                "clv": stand_in_clv(features_df),
            }
            for name, df in tables.items():
                write_parquet(df, ctx.path(TABLES_DIR, name))
                ctx.tables[name] = ctx.spark.read.parquet(ctx.path(TABLES_DIR, name))
            profiles = pd.DataFrame(
                {
                    C.CLUSTER: [0, 1, 2],
                    C.PERSONA_NAME: ["Vip Loyalist", "Bargain Hunter", EVIL_CATEGORY],
                    "customers": [500, 900, 3600],
                    "avg_order_value": [180.0, 35.0, 70.0],
                    "orders": [40.0, 12.0, 6.0],
                    "weekend_share": [0.28, 0.7, 0.4],
                }
            )
            sweep = pd.DataFrame({"k": [2, 3, 4, 5, 6], "silhouette": [0.31, 0.38, 0.42, 0.40, 0.36], "cost": [900.0, 700.0, 560.0, 520.0, 500.0]})
            profiles.to_parquet(Path(ctx.path(TABLES_DIR, "persona_profiles.parquet")))
            Path(ctx.path(TABLES_DIR, "persona_profiles")).mkdir()
            shutil.move(ctx.path(TABLES_DIR, "persona_profiles.parquet"), ctx.path(TABLES_DIR, "persona_profiles", "part-0.parquet"))
            Path(ctx.path(TABLES_DIR, "persona_sweep")).mkdir()
            sweep.to_parquet(Path(ctx.path(TABLES_DIR, "persona_sweep", "part-0.parquet")))
            ctx.results["as_of"] = "2025-01-01"

    root.mkdir(parents=True, exist_ok=True)
    execute(spark, Config(), root, stages=[stage_stand_ins, stage_patterns, stage_insights, stage_report], command="run")
    return root


def report_run(spark, synthetic_small, tmp_path_factory) -> Path:
    """The shared full run (personas and CLV present), built on first use."""
    if "full" not in _CACHE:
        _CACHE["full"] = build_run(spark, synthetic_small, tmp_path_factory.mktemp("report_run") / "run")
    return _CACHE["full"]


def bare_copy(run: Path, target: Path) -> Path:
    """A copy of the run without personas and CLV: the tables removed and the CLV KPIs blanked."""
    shutil.copytree(run, target)
    for rel in ("tables/insights/personas", "tables/persona_profiles", "tables/persona_sweep", "tables/personas", "tables/clv"):
        shutil.rmtree(target / rel, ignore_errors=True)
    for name in ("kpis", "segments"):
        path = target / "tables" / "insights" / name
        df = pd.read_parquet(path)
        for column in (C.CLV_TOTAL, C.AVG_PROB_ALIVE):
            df[column] = None
        shutil.rmtree(path)
        path.mkdir()
        df.to_parquet(path / "part-0.parquet")
    shutil.rmtree(target / "report", ignore_errors=True)
    return target
