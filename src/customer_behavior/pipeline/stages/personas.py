"""The personas stage: MLlib K-Means over the scaled features, k chosen by a sweep, the
clusters named, the model saved; `make_score_stage` assigns personas to new data with it."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession

from customer_behavior import columns as C
from customer_behavior import features, personas
from customer_behavior.errors import InputError
from customer_behavior.local_data import literal_dataframe
from customer_behavior.personas.inputs import require_columns
from customer_behavior.personas.model import SWEEP_SCHEMA, load_model, write_model
from customer_behavior.personas.profiles import PROFILE_SCHEMA
from customer_behavior.pipeline.context import MODEL_DIR, TABLES_DIR, RunContext, Stage, session_conf, truth_df, write_parquet
from customer_behavior.pipeline.stages.features import customer_features_of, feature_bounds
from customer_behavior.pipeline.stages.segments import rfm_scoring, score_segments


def stage_personas(ctx: RunContext) -> None:
    cfg = ctx.cfg.personas
    description = f"Personas: {cfg.algorithm} over k = {cfg.k_min}..{cfg.k_max}, named from their centroids"
    # Adaptive execution would run every query stage (each shuffle of the inputs, profiles and
    # accuracy queries) as a Spark job of its own; these are small, fixed-shape queries.
    with ctx.tracker.stage("personas", description) as record, session_conf(ctx.spark, {"spark.sql.adaptive.enabled": "false"}):
        fit = personas.fit_personas(
            customer_features_of(ctx),
            ctx.tables["transactions"],
            ctx.tables.get("customers"),
            cfg,
            segments_df=ctx.tables.get("rfm_segments"),
        )
        try:
            record.notes.extend(fit.notes)
            write_parquet(fit.assignments_df, ctx.path(TABLES_DIR, "personas"))
            ctx.tables["personas"] = ctx.spark.read.parquet(ctx.path(TABLES_DIR, "personas"))
            write_parquet(literal_dataframe(ctx.spark, fit.profile_rows, PROFILE_SCHEMA).coalesce(1), ctx.path(TABLES_DIR, "persona_profiles"))
            write_parquet(literal_dataframe(ctx.spark, fit.sweep_rows, SWEEP_SCHEMA).coalesce(1), ctx.path(TABLES_DIR, "persona_sweep"))
            # RFM cut points and the segment table, when the segments stage ran, travel with the model.
            write_model(fit.model, ctx.path(MODEL_DIR), fit.metadata(cfg) | {"rfm": rfm_scoring(ctx)})
        finally:
            for df in fit.cached:
                df.unpersist()
        result: dict[str, Any] = {
            "k": fit.chosen_k,
            "selection": fit.rule,
            "algorithm": cfg.algorithm,
            "customers": fit.customers,
            "sweep_sample_size": fit.sample_size,
            "features": fit.plan.to_dict() | {"vocabulary": {g: len(v) for g, v in fit.plan.vocabulary.items()}},
            "personas": {row[1]: row[2] for row in fit.profile_rows},
        }
        planted_df = truth_df(ctx)
        if planted_df is not None:
            ari = personas.adjusted_rand_index(personas.contingency(ctx.tables["personas"], planted_df))
            result["adjusted_rand_index"] = round(float(ari["ari"]), 4)
        ctx.results["personas"] = result
        line = f"personas: {fit.chosen_k} ({', '.join(row[1] for row in fit.profile_rows)})"
        ctx.summary_lines.append(line)
        if "adjusted_rand_index" in result:
            ctx.summary_lines.append(f"personas vs planted truth: adjusted Rand index {result['adjusted_rand_index']:.3f}")


def make_score_stage(model_path: str, transactions_path: str, customers_path: str | None) -> Stage:
    """`customer-behavior score`: personas (and RFM segments when the model carries cut points) for new data."""

    def stage_score(ctx: RunContext) -> None:
        with ctx.tracker.stage("score", f"Assign personas with the model in {model_path}") as record:
            model, metadata = load_model(model_path)
            transactions_df = read_parquet_input(ctx.spark, transactions_path, "transactions")
            require_columns(transactions_df, personas.workflow.SCORE_TRANSACTION_COLUMNS, f"--input {transactions_path!r}")
            customers_df = read_parquet_input(ctx.spark, customers_path, "customers") if customers_path else None
            _, as_of, domain = feature_bounds(transactions_df, None)
            features_df = features.customer_features(transactions_df, as_of=as_of, domain=domain)
            scored_df = personas.score_personas(model, metadata, features_df, transactions_df, customers_df)
            if metadata.get("rfm") is None:
                record.notes.append("score: the model carries no RFM cut points (no segments stage in its run); personas only")
            else:
                scored_df = scored_df.join(score_segments(features_df, metadata["rfm"]), on=C.CUSTOMER_ID, how="left")
            write_parquet(scored_df, ctx.path("personas"))
            counts = {r[C.PERSONA_NAME]: r["count"] for r in ctx.spark.read.parquet(ctx.path("personas")).groupBy(C.PERSONA_NAME).count().collect()}
            ctx.rows["customers_scored"] = sum(counts.values())
            ctx.results["score"] = {"model": model_path, "input": transactions_path, "as_of": as_of.isoformat(), "personas": counts}

    return stage_score


def read_parquet_input(spark: SparkSession, path: str, what: str) -> DataFrame:
    try:
        return spark.read.parquet(path)
    except Exception as exc:  # noqa: BLE001 - Spark's AnalysisException becomes one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{what} {path!r} cannot be read as Parquet: {first[:200]}") from None
