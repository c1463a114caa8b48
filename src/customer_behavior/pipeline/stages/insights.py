"""The insights stage: the KPIs and the per-segment and per-persona summaries."""

from __future__ import annotations

from customer_behavior import columns as C
from customer_behavior.errors import InputError
from customer_behavior.pipeline.context import TABLES_DIR, RunContext, read_table, write_parquet


def stage_insights(ctx: RunContext) -> None:
    from customer_behavior import insights

    cfg = ctx.cfg.insights
    with ctx.tracker.stage("insights", "KPIs and per-segment and per-persona summaries"):
        features_df = read_table(ctx, "customer_features")
        segments_df = read_table(ctx, "rfm_segments")
        if features_df is None or segments_df is None:
            raise InputError("insights: tables customer_features and rfm_segments are needed; run the features and segments stages first")
        personas_df = read_table(ctx, "personas")
        view_df = insights.customer_view(features_df, segments_df=segments_df, personas_df=personas_df, clv_df=read_table(ctx, "clv"), cfg=cfg).cache()
        try:
            outputs = {
                "kpis": insights.kpi_table(view_df, cfg),
                "segments": insights.group_summary(view_df, C.SEGMENT),
                "rf_grid": insights.rf_grid(segments_df),
            }
            if personas_df is not None:
                outputs["personas"] = insights.group_summary(view_df, C.PERSONA_NAME)
            for name, df in outputs.items():
                write_parquet(df.coalesce(1), ctx.path(TABLES_DIR, "insights", name))
        finally:
            view_df.unpersist()
        kpis = ctx.spark.read.parquet(ctx.path(TABLES_DIR, "insights", "kpis")).first().asDict()
        ctx.results["kpis"] = kpis
        for name in ("segments", "personas"):
            if name in outputs:
                sizes = ctx.spark.read.parquet(ctx.path(TABLES_DIR, "insights", name)).select(C.GROUP, C.CUSTOMERS, C.REVENUE_SHARE).collect()
                ctx.results[f"{name}_summary"] = sorted(([r[0], r[1], r[2]] for r in sizes), key=lambda row: -row[1])
