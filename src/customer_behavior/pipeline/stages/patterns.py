"""The patterns stage: time, category, payment, channel and cohort tables and the category
affinities, all from one cached set of labelled orders."""

from __future__ import annotations

from pyspark.sql import Observation
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.pipeline.context import TABLES_DIR, RunContext, read_table, session_conf, write_parquet

NO_CATEGORIES = "patterns: category affinities skipped: the input has no category column"


def _has_no_categories(ctx: RunContext) -> bool:
    ingest_results = ctx.results.get("ingest")
    return isinstance(ingest_results, dict) and C.CATEGORY in ingest_results.get("missing_optional", {})


def stage_patterns(ctx: RunContext) -> None:
    from customer_behavior import patterns

    cfg = ctx.cfg.patterns
    with ctx.tracker.stage("patterns", "Time, category, payment, cohort and category-affinity patterns") as record:
        groupings = patterns.Groupings(
            segments_df=read_table(ctx, "rfm_segments"), personas_df=read_table(ctx, "personas"), customers_df=ctx.tables.get("customers")
        )
        # Every pattern table reads the same labelled orders: one scan and one set of joins, cached.
        orders_df = patterns.labelled_orders(ctx.tables["transactions"], groupings, cfg).cache()
        baskets_df = None
        try:
            # Small tables from one cached input: adaptive execution would run each query stage
            # (every shuffle of every table) as a Spark job of its own, ~5 jobs per table.
            with session_conf(ctx.spark, {"spark.sql.adaptive.enabled": "false"}):
                for name, df in patterns.pattern_tables(orders_df, groupings, cfg).items():
                    write_parquet(df.coalesce(1), ctx.path(TABLES_DIR, "patterns", name))
            baskets_df = patterns.baskets(orders_df, cfg.basket).cache()
            affinities_df = patterns.category_affinities(baskets_df, cfg)
            if _has_no_categories(ctx):
                affinities_df = affinities_df.limit(0)  # the table stays, with its columns, for the report
                record.notes.append(NO_CATEGORIES)
            counted = Observation("affinity_rules")  # the rules counted while written, not read back
            write_parquet(affinities_df.coalesce(1).observe(counted, F.count(F.lit(1)).alias("rules")), ctx.path(TABLES_DIR, "patterns", "affinities"))
            basket_count = baskets_df.count()
        finally:
            orders_df.unpersist()
            if baskets_df is not None:
                baskets_df.unpersist()
        rules = int(counted.get["rules"])
        ctx.results["patterns"] = {"tables": list(patterns.PATTERN_TABLES), "basket": cfg.basket, "baskets": basket_count, "affinity_rules": rules}
