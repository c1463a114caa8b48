"""The purchase/dropout models side by side: one interface over BG/NBD, MBG/NBD and Pareto/NBD.

Each is fitted on the same grouped (frequency, recency, T) summary, scored in Spark by its
own SQL expressions (`score` for the BG/NBD family, `pareto_score` for Pareto/NBD), and
predicted on the driver with numpy (for the evaluation's tracking curve and the intervals).
The keys are the values of `clv.model`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from scipy.special import hyp2f1

from customer_behavior import columns as C
from customer_behavior.clv import bgnbd, pareto_score, paretonbd, score, summary
from customer_behavior.clv.bgnbd import BgNbdFit, BgNbdParams
from customer_behavior.clv.paretonbd import ParetoNbdFit, ParetoNbdParams
from customer_behavior.config import PURCHASE_MODELS, ClvConfig

NAMES = {"mbgnbd": bgnbd.MODIFIED_MODEL, "bgnbd": bgnbd.MODEL, "paretonbd": paretonbd.MODEL}
assert tuple(NAMES) == PURCHASE_MODELS

PurchaseParams = BgNbdParams | ParetoNbdParams
PurchaseFit = BgNbdFit | ParetoNbdFit


def key_of(params: PurchaseParams) -> str:
    if isinstance(params, ParetoNbdParams):
        return "paretonbd"
    return "mbgnbd" if params.modified else "bgnbd"


# Pareto/NBD's likelihood costs about ten BG/NBD ones (2F1 everywhere, numerical gradient):
# 294 s on 142,719 grouped rows against MBG/NBD's 31 s (load 22). Its fit keeps at most this
# many customers, a seeded binomial thinning of the grouped weights (each customer kept with
# the same probability: a uniform sample, as the hash sample; the table is sorted, so the
# thinning is the same on any cluster). Its standard errors are those of the thinned fit.
PARETO_MAX_CUSTOMERS = 10_000


def params_from_dict(key: str, values: dict[str, float]) -> PurchaseParams:
    """The parameters of model `key` from their manifest form (`to_dict`)."""
    if key == "paretonbd":
        return ParetoNbdParams(**values)
    return BgNbdParams(**values, modified=key == "mbgnbd")


def thin(table: pd.DataFrame, *, max_customers: int, seed: int) -> pd.DataFrame:
    """Each of the table's customers kept with probability max_customers / customers (rows left with no one dropped)."""
    customers = float(table[summary.WEIGHT].sum())
    if customers <= max_customers:
        return table
    rng = np.random.default_rng(seed)
    kept = rng.binomial(table[summary.WEIGHT].to_numpy().astype(np.int64), max_customers / customers)
    return table.assign(**{summary.WEIGHT: kept.astype(float)})[kept > 0].reset_index(drop=True)


def fit(key: str, table: pd.DataFrame, cfg: ClvConfig) -> PurchaseFit:
    """Fit model `key` on a grouped summary (columns frequency, recency, T, weight); ModelError if it cannot be."""
    if key == "paretonbd":
        table = thin(table, max_customers=PARETO_MAX_CUSTOMERS, seed=cfg.sample_seed)
    columns = (table[C.BTYD_FREQUENCY], table[C.BTYD_RECENCY], table[C.BTYD_T], table[summary.WEIGHT])
    if key == "paretonbd":
        return paretonbd.fit(*columns, penalizer=cfg.penalizer, max_iterations=cfg.max_iterations)
    return bgnbd.fit(*columns, penalizer=cfg.penalizer, max_iterations=cfg.max_iterations, modified=key == "mbgnbd")


# --------------------------------------------------------------------------- Spark


def with_scores(summary_df: DataFrame, params: PurchaseParams, cfg: ClvConfig) -> DataFrame:
    """prob_alive, expected_purchases (over clv.horizon_months) and discounted_purchases."""
    scorer = pareto_score.with_paretonbd_scores if isinstance(params, ParetoNbdParams) else score.with_bgnbd_scores
    return scorer(summary_df, params, horizon_months=cfg.horizon_months, monthly_discount_rate=cfg.monthly_discount_rate, max_terms=cfg.max_series_terms)  # type: ignore[operator,arg-type]


def with_expected_purchases_at(summary_df: DataFrame, params: PurchaseParams, t: float, *, max_terms: int, name: str) -> DataFrame:
    module = pareto_score if isinstance(params, ParetoNbdParams) else score
    return module.with_expected_purchases_at(summary_df, params, t, max_terms=max_terms, name=name)


def prob_alive(params: PurchaseParams, max_terms: int) -> Column:
    x, t_x, T = (F.col(c).cast("double") for c in (C.BTYD_FREQUENCY, C.BTYD_RECENCY, C.BTYD_T))
    if isinstance(params, ParetoNbdParams):
        return pareto_score.prob_alive(params, x, t_x, T, max_terms)
    return score.prob_alive(params, x, t_x, T)


def series_check(params: PurchaseParams, cfg: ClvConfig, min_T: float) -> dict:
    if isinstance(params, ParetoNbdParams):
        terms, truncated = pareto_score.worst_case_terms(params, cfg.max_series_terms)
    else:
        terms, truncated = score.worst_case_terms(params, cfg.horizon_months * score.DAYS_PER_MONTH, cfg.max_series_terms, min_T=min_T)
    return {"max_terms_needed": terms, "truncated": truncated}


# --------------------------------------------------------------------------- driver (numpy)


def expected_purchases(params: PurchaseParams, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    module = paretonbd if isinstance(params, ParetoNbdParams) else bgnbd
    return module.expected_purchases(params, t, x, t_x, T)


def unconditional_expected_purchases(params: PurchaseParams, t: np.ndarray) -> np.ndarray:
    """E[repeat purchases in (0, t]] of a customer just acquired, as lifetimes' expected_number_of_purchases_up_to_time."""
    t = np.asarray(t, dtype=float)
    if isinstance(params, ParetoNbdParams):
        return paretonbd.unconditional_expected_purchases(params, t)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if params.modified:
        return b / (a - 1.0) * (1.0 - hyp2f1(r, b + 1.0, a + b, t / (alpha + t)) * (alpha / (alpha + t)) ** r)
    return (a + b - 1.0) / (a - 1.0) * (1.0 - hyp2f1(r, b, a + b - 1.0, t / (alpha + t)) * (alpha / (alpha + t)) ** r)


def params_from_log(params: PurchaseParams, log_params: np.ndarray) -> PurchaseParams:
    """The same model with other parameters (a draw of the log-parameters, in days)."""
    values = np.exp(log_params)
    if isinstance(params, ParetoNbdParams):
        return ParetoNbdParams(*(float(v) for v in values))
    return BgNbdParams(*(float(v) for v in values), modified=params.modified)  # type: ignore[misc,arg-type]


def log_params(params: PurchaseParams) -> np.ndarray:
    return np.log(np.array(list(params.to_dict().values()), dtype=float))
