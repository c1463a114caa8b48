"""The holdout stage: every CLV purchase model fitted on the calibration period and judged on
the holdout, which the clv stage chooses its model by."""

from __future__ import annotations

from typing import Any

from customer_behavior.clv import evaluate as clv_evaluate
from customer_behavior.clv import purchase as clv_purchase
from customer_behavior.config import PURCHASE_MODELS
from customer_behavior.errors import ModelError
from customer_behavior.pipeline.context import RunContext


def clv_evaluation(ctx: RunContext, cfg, keys: tuple[str, ...]) -> tuple[dict[str, Any] | None, str | None]:
    """Every model in `keys` fitted on the calibration period and judged on the holdout (or why not)."""
    if not cfg.evaluate:
        return None, "clv.evaluate = false"
    if "transactions" not in ctx.tables:
        return None, "no transactions table"
    try:
        return clv_evaluate.evaluate_models(ctx.tables["transactions"], cfg, as_of=ctx.observation_window().as_of, keys=keys), None
    except ModelError as exc:
        return None, str(exc)


def clv_keys(cfg) -> tuple[str, ...]:
    return (cfg.model,) if cfg.model in clv_purchase.NAMES else PURCHASE_MODELS


def stage_holdout(ctx: RunContext) -> None:
    """The CLV models fitted on the calibration period and judged on the holdout (what the clv stage chooses by).

    A stage of its own: it reads the transactions again, and its jobs are counted apart from the final fit's."""
    with ctx.tracker.stage("holdout", "CLV models judged on a holdout") as record:
        if "customer_features" not in ctx.tables:
            record.status = "skipped"
            record.notes.append("no customer_features table (the features stage did not run)")
            return
        ctx.clv_evaluation = clv_evaluation(ctx, ctx.cfg.clv, clv_keys(ctx.cfg.clv))
        evaluation, reason = ctx.clv_evaluation
        if evaluation is None:
            record.status = "skipped"
            record.notes.append(str(reason))
