"""Which purchase model the CLV stage uses: clv.model, or with "auto" the lowest holdout MAE.

`model_order` returns the purchase models to try on the whole window, best first (the stage
uses the first that fits there), and a record of the rule for the manifest and the report.
When the holdout cannot decide (no evaluation, no model fitted on the calibration period,
a holdout without purchases), the order is the default one, MBG/NBD first, and the record
names that fallback and why.
"""

from __future__ import annotations

from typing import Any

from customer_behavior.clv import purchase
from customer_behavior.config import PURCHASE_MODELS, ClvConfig

DEFAULT_ORDER = PURCHASE_MODELS  # MBG/NBD first: it ranks churn best on the synthetic truth (docs/clv.md)


def _fallback(reason: str) -> tuple[tuple[str, ...], dict[str, Any]]:
    return DEFAULT_ORDER, {"rule": "fallback", "reason": f"{reason}; used the first model that fits, in the order {', '.join(DEFAULT_ORDER)}"}


def model_order(cfg: ClvConfig, evaluation: dict[str, Any] | None, evaluation_error: str | None = None) -> tuple[tuple[str, ...], dict[str, Any]]:
    if cfg.model in purchase.NAMES:
        return (cfg.model,), {"rule": "clv.model", "reason": f"clv.model = {cfg.model!r}"}
    if evaluation is None:
        return _fallback(f"no holdout evaluation ({evaluation_error or 'clv.evaluate = false'})")
    fitted = [entry for entry in evaluation["models"] if entry["status"] == "ok"]
    if not fitted:
        return _fallback("no model could be fitted on the calibration period")
    if not evaluation["total_actual"]:
        return _fallback("the holdout has no purchases, so the models cannot be compared on it")
    ranked = sorted(fitted, key=lambda entry: (entry["mae"], DEFAULT_ORDER.index(entry["model"])))
    order = tuple(entry["model"] for entry in ranked) + tuple(k for k in DEFAULT_ORDER if k not in {e["model"] for e in ranked})
    best, runner_up = ranked[0], ranked[1] if len(ranked) > 1 else None
    margin = f", {runner_up['name']} next at {runner_up['mae']:.4f}" if runner_up else ""
    return order, {
        "rule": "lowest holdout MAE",
        "reason": f"{best['name']} has the lowest holdout MAE per customer ({best['mae']:.4f}{margin})",
        "ranking": [{"model": entry["model"], "name": entry["name"], "mae": entry["mae"]} for entry in ranked],
    }
