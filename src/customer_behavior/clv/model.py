"""Fit both models from a BTYD summary DataFrame and score every customer.

`fit_models` is the estimator: it runs the few small Spark jobs a fit needs (one row of
counts, one bounded grouped summary per model) and fits on the driver. A model that
cannot be fitted is recorded with its reason instead of stopping the run; the other
model still fits. `score_customers` is a pure transform that attaches the scores.

What a failed model leaves in the clv table:
- BG/NBD failed: nothing can be scored (P(alive), purchases and CLV all need it); the
  pipeline skips the clv table and records why.
- Gamma-Gamma failed: prob_alive, expected_purchases and churn_risk are scored as usual;
  expected_avg_spend and clv are null.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.clv import gamma_gamma, purchase, risk, score, summary
from customer_behavior.clv.gamma_gamma import GammaGammaFit
from customer_behavior.clv.purchase import PurchaseFit
from customer_behavior.config import ClvConfig
from customer_behavior.errors import ModelError

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = (C.BTYD_FREQUENCY, C.BTYD_RECENCY, C.BTYD_T, C.BTYD_MONETARY_VALUE)


@dataclass
class ClvModels:
    bgnbd: PurchaseFit | None = None  # the purchase model used (BG/NBD, MBG/NBD or Pareto/NBD); the key kept for the manifest's readers
    gamma_gamma: GammaGammaFit | None = None
    errors: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.info)
        out["bgnbd"] = {"status": "ok", **self.bgnbd.to_dict()} if self.bgnbd else {"status": "failed", "reason": self.errors.get("bgnbd", "")}
        out["gamma_gamma"] = (
            {"status": "ok", **self.gamma_gamma.to_dict()} if self.gamma_gamma else {"status": "failed", "reason": self.errors.get("gamma_gamma", "")}
        )
        return out


def check_columns(summary_df: DataFrame) -> None:
    missing = [c for c in (C.CUSTOMER_ID, *SUMMARY_COLUMNS) if c not in summary_df.columns]
    if missing:
        raise ModelError(f"CLV: the customer summary lacks {', '.join(missing)} (has: {', '.join(summary_df.columns)})")


def purchase_key(cfg: ClvConfig) -> str:
    """The purchase model an explicit clv.model names ("auto" and "gbt" are resolved by the stage; MBG/NBD by default)."""
    return cfg.model if cfg.model in purchase.NAMES else "mbgnbd"


def grouped_purchase_summary(summary_df: DataFrame, counts: summary.SummaryCounts, cfg: ClvConfig, name: str) -> summary.GroupedSummary:
    """The bounded grouped (frequency, recency, T) summary every purchase model is fitted on (one collect for all)."""
    if counts.invalid_rows:
        raise ModelError(f"{name} cannot be fitted: {counts.invalid_rows} customers have a missing or impossible (frequency, recency, T) (recency must be within [0, T], 0 for frequency 0)")
    if counts.repeat_customers == 0:
        raise ModelError(f"{name} cannot be fitted: no customer has a repeat purchase (every frequency is 0), so purchase rate and dropout are not identifiable")
    return summary.bounded_grouped_summary(
        summary_df, summary.group_bgnbd_summary, customers=counts.customers, max_rows=cfg.max_summary_rows, seed=cfg.sample_seed, model=name,
        approx_rows=counts.approx_bgnbd_rows,
    )


def fit_bgnbd(summary_df: DataFrame, counts: summary.SummaryCounts, cfg: ClvConfig, key: str | None = None) -> tuple[PurchaseFit, dict]:
    """The purchase model `key` (default: the one clv.model names): BG/NBD, MBG/NBD or Pareto/NBD."""
    key = key or purchase_key(cfg)
    grouped = grouped_purchase_summary(summary_df, counts, cfg, purchase.NAMES[key])
    return purchase.fit(key, grouped.table, cfg), grouped.to_dict()


def fit_gamma_gamma(summary_df: DataFrame, counts: summary.SummaryCounts, cfg: ClvConfig) -> tuple[GammaGammaFit, dict]:
    usable = counts.repeat_customers - (counts.repeat_nonpositive_monetary if cfg.exclude_nonpositive_monetary else 0)
    if counts.repeat_customers == 0:
        raise ModelError(f"{gamma_gamma.MODEL} cannot be fitted: no repeat customers (frequency > 0), and the spend model needs repeat purchases")
    if counts.repeat_nonpositive_monetary and not cfg.exclude_nonpositive_monetary:
        raise ModelError(
            f"{gamma_gamma.MODEL} cannot be fitted: {counts.repeat_nonpositive_monetary} repeat customers have a monetary_value <= 0; "
            "the model needs positive spend (set clv.exclude_nonpositive_monetary = true to leave them out)"
        )
    if usable == 0:
        raise ModelError(f"{gamma_gamma.MODEL} cannot be fitted: every repeat customer has a monetary_value <= 0; the model needs positive spend")
    customers_df = summary.filter_gamma_gamma_customers(summary_df, exclude_nonpositive=cfg.exclude_nonpositive_monetary)
    grouped = summary.bounded_grouped_summary(
        customers_df, summary.group_gamma_gamma_summary, customers=usable, max_rows=cfg.max_summary_rows, seed=cfg.sample_seed, model=gamma_gamma.MODEL,
        approx_rows=counts.approx_gamma_gamma_rows if cfg.exclude_nonpositive_monetary else None,
    )
    table = grouped.table
    fitted = gamma_gamma.fit(table[C.BTYD_FREQUENCY], table[C.BTYD_MONETARY_VALUE], table[summary.WEIGHT], penalizer=cfg.penalizer, max_iterations=cfg.max_iterations)
    return fitted, {**grouped.to_dict(), "excluded_nonpositive_monetary": counts.repeat_nonpositive_monetary if cfg.exclude_nonpositive_monetary else 0}


def fit_models(summary_df: DataFrame, cfg: ClvConfig, keys: tuple[str, ...] | None = None) -> ClvModels:
    """Fit a purchase model and Gamma-Gamma; a model that cannot be fitted is recorded in `errors`, not raised.

    `keys`: the purchase models to try in order (default: the one clv.model names); the first
    that fits is used, and why the ones before it failed is in info["purchase_fallbacks"].
    """
    check_columns(summary_df)
    counts = summary.summary_counts(summary_df)
    models = ClvModels(info={"summary": counts.to_dict()})
    failures: dict[str, str] = {}
    for key in keys or (purchase_key(cfg),):
        try:
            models.bgnbd, models.info["bgnbd_fit_data"] = fit_bgnbd(summary_df, counts, cfg, key)
            break
        except ModelError as exc:
            log.warning("%s", exc)
            failures[key] = str(exc)
    if models.bgnbd is None:
        models.errors["bgnbd"] = "; ".join(failures.values())
    elif failures:
        models.info["purchase_fallbacks"] = failures
    try:
        models.gamma_gamma, models.info["gamma_gamma_fit_data"] = fit_gamma_gamma(summary_df, counts, cfg)
    except ModelError as exc:
        log.warning("%s", exc)
        models.errors["gamma_gamma"] = str(exc)
    if models.bgnbd is not None:
        models.info["series"] = purchase.series_check(models.bgnbd.params, cfg, counts.min_T)
    return models


CLV_COLUMNS = (
    C.CUSTOMER_ID, *SUMMARY_COLUMNS, C.SEGMENT, C.PROB_ALIVE, C.ALIVE_BAND, C.EXPECTED_PURCHASES,
    C.EXPECTED_AVG_SPEND, C.CLV, C.SEGMENT_GROUP, C.CHURN_RISK,
)


def score_customers(summary_df: DataFrame, models: ClvModels, cfg: ClvConfig, segments_df: DataFrame | None = None) -> DataFrame:
    """The clv table: one row per customer of `summary_df` (requires a fitted BG/NBD)."""
    if models.bgnbd is None:
        raise ModelError(f"CLV scoring needs a fitted purchase model (BG/NBD, MBG/NBD or Pareto/NBD): {models.errors.get('bgnbd', 'not fitted')}")
    base_df = summary_df.select(F.col(C.CUSTOMER_ID), *[F.col(c) for c in SUMMARY_COLUMNS])
    if segments_df is not None:
        base_df = base_df.join(segments_df.select(F.col(C.CUSTOMER_ID), F.col(C.SEGMENT)), on=C.CUSTOMER_ID, how="left")
    else:
        base_df = base_df.withColumn(C.SEGMENT, F.lit(None).cast("string"))
    return (
        base_df.transform(purchase.with_scores, models.bgnbd.params, cfg)
        .transform(score.with_spend_and_clv, models.gamma_gamma.params if models.gamma_gamma else None)
        .transform(risk.with_churn_risk, low=cfg.prob_alive_low, high=cfg.prob_alive_high)
        .select(*[F.col(c) for c in CLV_COLUMNS])
    )
