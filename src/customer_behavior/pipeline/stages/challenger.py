"""The challenger stage: Spark MLlib gradient-boosted trees trained on the calibration period,
judged beside the probabilistic CLV models on held-out customers (`clv.challenger`)."""

from __future__ import annotations

from customer_behavior.clv import challenger
from customer_behavior.errors import ModelError
from customer_behavior.pipeline.context import RunContext, session_conf


def stage_challenger(ctx: RunContext) -> None:
    cfg = ctx.cfg.clv
    description = f"ML challenger: gradient-boosted trees ({cfg.challenger_trees} of depth {cfg.challenger_depth}) against the CLV models on held-out customers"
    with ctx.tracker.stage("challenger", description) as record:
        evaluation, reason = ctx.clv_evaluation or (None, "no holdout evaluation (the holdout stage did not run)")
        if not cfg.challenger:
            evaluation, reason = None, "clv.challenger = false"
        if evaluation is None:
            record.status = "skipped"
            record.notes.append(str(reason))
            ctx.results["challenger"] = {"status": "skipped", "reason": str(reason)}
            return
        try:
            # Adaptive execution would run each query stage of the features and labels as a job of its own
            # (MLlib's tree levels are jobs already: trees x depth per model).
            with session_conf(ctx.spark, {"spark.sql.adaptive.enabled": "false"}):
                ctx.clv_challenger = challenger.fit_challenger(ctx.tables["transactions"], cfg, evaluation, trees=cfg.challenger_trees, depth=cfg.challenger_depth)
        except ModelError as exc:  # the run goes on without the challenger
            record.status = "failed"
            record.notes.append(str(exc))
            ctx.results["challenger"] = {"status": "failed", "reason": str(exc)}
            return
        ctx.results["challenger"] = ctx.clv_challenger.result
        ctx.summary_lines.append(f"CLV challenger: {ctx.clv_challenger.result['verdict']}")
