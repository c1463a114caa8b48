"""90% intervals on total expected purchases and CLV per segment and persona, from the parameters' uncertainty.

The fitted log-parameters are asymptotically normal with the covariance the fit already
computes (the inverse Hessian over the customers, as the standard errors). Each of DRAWS
parameter sets drawn from it (purchase model and Gamma-Gamma independently, numpy's
generator seeded by clv.sample_seed) re-scores a bounded sample of customers on the driver
(a seeded hash sample, at most SAMPLE_CUSTOMERS, never every customer). For each group the
draw's total divided by the sample's total at the fitted parameters is the relative change
the parameter uncertainty causes; the 5% and 95% quantiles of that ratio times the group's
exact total from the clv table are the interval. Sampling customers thus only sets how well
the ratio is estimated, not the level; parameter uncertainty only, not the customers'
own Poisson noise (which the holdout evaluation shows).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.clv import gamma_gamma, purchase, score
from customer_behavior.clv.gamma_gamma import GammaGammaParams
from customer_behavior.clv.purchase import PurchaseParams
from customer_behavior.generate.random import uniform

DRAWS = 100
SAMPLE_CUSTOMERS = 4000
LEVEL = 0.90
SAMPLE_STREAM = "clv-interval-sample"


def sample_rows(clv_df: DataFrame, *, customers: int, seed: int, group_columns: list[str]) -> DataFrame:
    """A seeded hash sample of about SAMPLE_CUSTOMERS customers with what re-scoring needs (a transform)."""
    fraction = min(1.0, SAMPLE_CUSTOMERS / max(customers, 1))
    return clv_df.filter(uniform(seed, SAMPLE_STREAM, F.col(C.CUSTOMER_ID)) < F.lit(fraction)).select(
        *[F.col(c) for c in group_columns], *[F.col(c).cast("double") for c in (C.BTYD_FREQUENCY, C.BTYD_RECENCY, C.BTYD_T, C.BTYD_MONETARY_VALUE)]
    )


def rescore(sample: pd.DataFrame, params: PurchaseParams, spend: GammaGammaParams | None, *, horizon_months: int, monthly_discount_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Expected purchases over the horizon and CLV per sampled customer (numpy, as the Spark scores)."""
    x, t_x, T, m = (sample[c].to_numpy(float) for c in (C.BTYD_FREQUENCY, C.BTYD_RECENCY, C.BTYD_T, C.BTYD_MONETARY_VALUE))
    previous, discounted = np.zeros_like(x), np.zeros_like(x)
    for month in range(1, horizon_months + 1):
        current = purchase.expected_purchases(params, score.DAYS_PER_MONTH * month, x, t_x, T)
        discounted += (current - previous) / (1.0 + monthly_discount_rate) ** month
        previous = current
    if spend is None:
        return previous, np.full_like(x, np.nan)
    avg = np.where((x > 0) & (m > 0), gamma_gamma.expected_average_spend(spend, x, m), spend.population_mean)
    return previous, avg * discounted


def draw_params(log_mean: np.ndarray, covariance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rng.multivariate_normal(log_mean, covariance, size=DRAWS, method="eigh")


def group_intervals(
    sample: pd.DataFrame, totals: pd.DataFrame, group: str, purchase_fit, spend_fit, cfg
) -> list[dict[str, Any]]:
    """Per value of `group`: the exact totals (from `totals`) with their 90% intervals."""
    rng = np.random.default_rng(cfg.sample_seed)
    kw = {"horizon_months": cfg.horizon_months, "monthly_discount_rate": cfg.monthly_discount_rate}
    spend = spend_fit.params if spend_fit is not None else None
    base_purchases, base_clv = rescore(sample, purchase_fit.params, spend, **kw)
    purchase_draws = draw_params(purchase.log_params(purchase_fit.params), purchase_fit.log_covariance, rng)
    spend_draws = draw_params(np.log([spend.p, spend.q, spend.v]), spend_fit.log_covariance, rng) if spend is not None else [None] * DRAWS
    keys = sample[group].fillna("(none)").to_numpy()
    labels = sorted(set(keys))
    ratios_p: dict[str, list[float]] = {k: [] for k in labels}
    ratios_c: dict[str, list[float]] = {k: [] for k in labels}
    for drawn_purchase, drawn_spend in zip(purchase_draws, spend_draws):
        drawn_gg = GammaGammaParams(*(float(v) for v in np.exp(drawn_spend))) if drawn_spend is not None else None
        if drawn_gg is not None and drawn_gg.q <= 1.0:
            continue  # an undefined population mean: outside the model, drop the draw
        purchases, clv = rescore(sample, purchase.params_from_log(purchase_fit.params, drawn_purchase), drawn_gg, **kw)
        for k in labels:
            member = keys == k
            if base_purchases[member].sum() > 0:  # a group expected to buy nothing has no relative change
                ratios_p[k].append(purchases[member].sum() / base_purchases[member].sum())
            if spend is not None and base_clv[member].sum() > 0:
                ratios_c[k].append(clv[member].sum() / base_clv[member].sum())
    low, high = (1.0 - LEVEL) / 2.0, 1.0 - (1.0 - LEVEL) / 2.0
    out = []
    for record in totals.to_dict("records"):
        k = record[group] if record[group] is not None else "(none)"
        row = {group: record[group], "customers": int(record["customers"]), "expected_purchases": record["expected_purchases"], "total_clv": record["total_clv"], "sampled_customers": int((keys == k).sum())}
        if ratios_p.get(k):
            row["expected_purchases_low"], row["expected_purchases_high"] = (record["expected_purchases"] * float(q) for q in np.quantile(ratios_p[k], [low, high]))
        if ratios_c.get(k) and record["total_clv"] is not None:
            row["total_clv_low"], row["total_clv_high"] = (record["total_clv"] * float(q) for q in np.quantile(ratios_c[k], [low, high]))
        out.append(row)
    return out


def group_totals(clv_df: DataFrame, group: str) -> DataFrame:
    return clv_df.groupBy(F.col(group)).agg(
        F.count(F.lit(1)).alias("customers"), F.sum(F.col(C.EXPECTED_PURCHASES)).alias("expected_purchases"), F.sum(F.col(C.CLV)).alias("total_clv")
    )


ALL = "all customers"


def interval_tables(clv_df: DataFrame, models, cfg, *, customers: int, personas_df: DataFrame | None = None) -> dict[str, Any]:
    """Intervals for all customers, per segment and per persona (runs a few small jobs; the sample comes to the driver)."""
    if models.bgnbd is None or models.bgnbd.log_covariance is None:
        return {"status": "skipped", "reason": "no fitted purchase model"}
    view_df = clv_df.withColumn("group", F.lit(ALL))
    groups = ["group", C.SEGMENT]
    if personas_df is not None:
        view_df = view_df.join(personas_df.select(F.col(C.CUSTOMER_ID), F.col(C.PERSONA_NAME).cast("string")), on=C.CUSTOMER_ID, how="left")
        groups.append(C.PERSONA_NAME)
    sample = sample_rows(view_df, customers=customers, seed=cfg.sample_seed, group_columns=groups).toPandas()
    spend_fit = models.gamma_gamma if models.gamma_gamma is not None and models.gamma_gamma.log_covariance is not None else None
    out: dict[str, Any] = {"status": "ok", "level": LEVEL, "draws": DRAWS, "sampled_customers": len(sample)}
    for name, column in (("total", "group"), ("by_segment", C.SEGMENT), ("by_persona", C.PERSONA_NAME)):
        if column in groups:
            totals = group_totals(view_df, column).toPandas()
            out[name] = group_intervals(sample, totals, column, models.bgnbd, spend_fit, cfg)
    return out
