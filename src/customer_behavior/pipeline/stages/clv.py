"""The clv stage: a purchase model and Gamma-Gamma fitted on a bounded summary, every customer
scored (P(alive), expected purchases, CLV, churn risk), with the holdout's verdict."""

from __future__ import annotations

from typing import Any

from customer_behavior import columns as C
from customer_behavior.clv import challenger as clv_challenger
from customer_behavior.clv import choice as clv_choice
from customer_behavior.clv import evaluate as clv_evaluate
from customer_behavior.clv import insights as clv_insights
from customer_behavior.clv import intervals as clv_intervals
from customer_behavior.clv import model as clv_model
from customer_behavior.clv import purchase as clv_purchase
from customer_behavior.errors import ModelError
from customer_behavior.pipeline.context import TABLES_DIR, RunContext, collect_rows, read_table, truth_df, write_parquet
from customer_behavior.pipeline.stages.holdout import clv_evaluation, clv_keys


def stage_clv(ctx: RunContext) -> None:
    """Purchase model + Gamma-Gamma: evaluate on a holdout, choose, fit on a bounded summary, score every customer."""
    cfg = ctx.cfg.clv
    explicit = cfg.model in clv_purchase.NAMES
    model_name = clv_purchase.NAMES[cfg.model] if explicit else "best of MBG/NBD, BG/NBD, Pareto/NBD on the holdout"
    if cfg.model == "gbt":
        model_name = f"CLV from the ML challenger's trees; P(alive) from the {model_name}"
    with ctx.tracker.stage("clv", f"CLV and churn risk ({model_name} + Gamma-Gamma)") as record:
        features_df = ctx.tables.get("customer_features")
        if features_df is None:
            reason = "no customer_features table (the features stage did not run)"
            record.status = "skipped"
            record.notes.append(reason)
            ctx.results["clv"] = {"status": "skipped", "reason": reason}
            return
        segments_df = ctx.tables.get("rfm_segments")
        if segments_df is None:
            record.notes.append("no rfm_segments table: churn risk uses P(alive) alone (segment group 'unknown')")
        # the holdout stage's evaluation; computed here when the run's stages leave that stage out
        evaluation, evaluation_error = ctx.clv_evaluation or clv_evaluation(ctx, cfg, clv_keys(cfg))
        order, choice = clv_choice.model_order(cfg, evaluation, evaluation_error)
        try:
            models = clv_model.fit_models(features_df, cfg, keys=order)
        except ModelError as exc:  # a summary without the BTYD columns: record it, let the run go on
            record.status = "failed"
            record.notes.append(str(exc))
            ctx.results["clv"] = {"status": "failed", "reason": str(exc)}
            return
        results: dict[str, Any] = {"status": "ok" if not models.errors else "partial", **models.to_dict()}
        choice["chosen"] = clv_purchase.key_of(models.bgnbd.params) if models.bgnbd else None
        results["model_choice"] = choice
        if choice["rule"] == "fallback":
            record.notes.append(f"model choice: {choice['reason']}")
        record.notes.extend(models.errors.values())
        if models.errors:
            record.status = "partial"
        if models.bgnbd is None:
            results["table"] = None
            record.notes.append("tables/clv not written: it needs a purchase model (BG/NBD, MBG/NBD or Pareto/NBD)")
        else:
            scored_df = clv_model.score_customers(features_df, models, cfg, segments_df)
            if cfg.model == "gbt":
                scored_df, results["clv_source"] = with_trees_clv(ctx, scored_df, features_df, record.notes)
            write_parquet(scored_df, ctx.path(TABLES_DIR, "clv"))
            clv_df = ctx.spark.read.parquet(ctx.path(TABLES_DIR, "clv"))
            ctx.tables["clv"] = clv_df
            results["table"] = "tables/clv"
            results["totals"] = clv_insights.totals(clv_df).first().asDict()
            results["churn_risk"] = collect_rows(clv_insights.churn_risk_summary(clv_df))
            results["by_segment"] = collect_rows(clv_insights.segment_value_summary(clv_df))
            results["top_customers"] = collect_rows(clv_insights.top_customers(clv_df))
            results["horizon_months"] = cfg.horizon_months
            results["monthly_discount_rate"] = cfg.monthly_discount_rate
            planted_df = truth_df(ctx)
            if planted_df is not None:
                results["planted_truth"] = clv_evaluate.planted_churn_auc(clv_df, planted_df)
            results["intervals"] = clv_intervals.interval_tables(
                clv_df, models, cfg, customers=int(results["totals"]["customers"]), personas_df=read_table(ctx, "personas")
            )
        if evaluation is not None:
            results["evaluation"] = evaluation
            for entry in evaluation["models"]:
                if entry["status"] != "ok":
                    record.notes.append(f"holdout evaluation: {entry['reason']}")
            try:
                results["holdout"] = {"status": "ok", **clv_evaluate.holdout_summary(evaluation, choice["chosen"] or order[0])}
            except ModelError as exc:
                results["holdout"] = {"status": "failed", "reason": str(exc)}
        elif cfg.evaluate and evaluation_error != "no transactions table":
            results["holdout"] = {"status": "failed", "reason": evaluation_error}
            record.notes.append(f"holdout evaluation: {evaluation_error}")
        ctx.results["clv"] = results


def with_trees_clv(ctx: RunContext, scored_df, features_df, notes: list[str]):
    """clv.model = "gbt": the CLV column from the challenger's spend model (the probabilistic one when the challenger failed)."""
    trees = ctx.clv_challenger
    if trees is None:
        reason = (ctx.results.get("challenger") or {}).get("reason", "the challenger stage did not run")
        notes.append(f"clv.model = 'gbt': no trees ({reason}); the CLV column is the probabilistic model's")
        return scored_df, {"model": "probabilistic", "reason": f"no challenger: {reason}"}
    trees_df = clv_challenger.clv_from_trees(features_df, trees, ctx.cfg.clv)
    columns = scored_df.columns
    replaced_df = scored_df.drop(C.CLV).join(trees_df, on=C.CUSTOMER_ID, how="left").select(*columns)
    return replaced_df, {"model": clv_challenger.MODEL, "reason": "clv.model = 'gbt'", "horizon_days_learned": trees.horizon_days}
