"""Pareto/NBD per-customer scores in Spark with SQL expressions only (as `score` for BG/NBD).

P(alive) (Fader and Hardie's note 009, eq. 37) needs 2F1(r+s+x, b; r+s+x+1; z) at the
customer's recency and at its age, z = |alpha - beta| / (max(alpha, beta) + t), with
b = r + x when alpha < beta and s + 1 otherwise (lifetimes' choice, so that z < 1). It is
evaluated after Euler's transformation,
    2F1(r+s+x, b; r+s+x+1; z) = (1-z)^(1-b) 2F1(1, r+s+x+1-b; r+s+x+1; z),
whose terms fall at least as fast as z^k (every term ratio is below z), summed with the
same Spark higher-order aggregate as BG/NBD's series, n terms per row such that the
truncation error is below 1e-12 (capped by clv.max_series_terms). Everything else is
closed form: the expected purchases in (T, T+t] are P(alive) times
(r+x)(beta+T) / ((alpha+T)(s-1)) * (1 - ((beta+T)/(beta+T+t))^(s-1)) (note 009, eq. 41).
"""

from __future__ import annotations

import math

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.clv.paretonbd import ParetoNbdParams
from customer_behavior.clv.score import DAYS_PER_MONTH, SERIES_EPSILON, hypergeometric_2f1

ALIVE_RATE = "_alive_rate"


def _lit(value: float) -> Column:
    return F.lit(float(value))


def series_terms_needed(z: Column, max_terms: int) -> Column:
    """Terms n with z^n / (1 - z) < eps (the term ratios are below z)."""
    needed = F.ceil((F.lit(math.log(SERIES_EPSILON)) + F.log(F.lit(1.0) - z)) / F.log(z)) + F.lit(1)
    return F.when(z <= F.lit(0.0), F.lit(1)).otherwise(F.least(F.greatest(needed, F.lit(1)), F.lit(max_terms))).cast("int")


def log_hyp2f1_term(params: ParetoNbdParams, x: Column, t: Column, max_terms: int) -> Column:
    """log 2F1(r+s+x, b; r+s+x+1; z(t)) - (r+s+x) log(max(alpha, beta) + t): one of the two halves of log A_0."""
    high, low = max(params.alpha, params.beta), min(params.alpha, params.beta)
    b = _lit(params.r) + x if params.alpha < params.beta else _lit(params.s + 1.0)
    rsx = _lit(params.r + params.s) + x
    z = _lit(high - low) / (_lit(high) + t)
    series = hypergeometric_2f1(F.lit(1.0), rsx + F.lit(1.0) - b, rsx + F.lit(1.0), z, series_terms_needed(z, max_terms))
    return (F.lit(1.0) - b) * F.log(F.lit(1.0) - z) + F.log(series) - rsx * F.log(_lit(high) + t)


def prob_alive(params: ParetoNbdParams, x: Column, t_x: Column, T: Column, max_terms: int) -> Column:
    """P(alive | x, t_x, T) = 1 / (1 + s/(r+s+x) (alpha+T)^(r+x) (beta+T)^s A_0), A_0 = exp(u_1) - exp(u_2)."""
    r, alpha, s, beta = (_lit(v) for v in (params.r, params.alpha, params.s, params.beta))
    u_1 = log_hyp2f1_term(params, x, t_x, max_terms)
    u_2 = log_hyp2f1_term(params, x, T, max_terms)
    log_base = F.log(s) - F.log(r + s + x) + (r + x) * F.log(alpha + T) + s * F.log(beta + T)
    odds = F.exp(log_base + u_1) * -F.expm1(u_2 - u_1)  # exp(u_1) - exp(u_2) without cancelling to garbage
    return F.when(u_2 >= u_1, F.lit(1.0)).otherwise(F.lit(1.0) / (F.lit(1.0) + odds))


def alive_rate(params: ParetoNbdParams, x: Column, T: Column) -> Column:
    """(r+x)(beta+T) / ((alpha+T)(s-1)): the expected purchases of an alive customer, per unit of the horizon term."""
    r, alpha, s, beta = (_lit(v) for v in (params.r, params.alpha, params.s, params.beta))
    return (r + x) * (beta + T) / ((alpha + T) * (s - F.lit(1.0)))


def survival_power(params: ParetoNbdParams, T: Column, t: float) -> Column:
    """((beta+T)/(beta+T+t))^(s-1); 1 at t = 0."""
    beta = _lit(params.beta)
    return F.pow((beta + T) / (beta + T + _lit(t)), _lit(params.s - 1.0))


def with_paretonbd_scores(
    summary_df: DataFrame, params: ParetoNbdParams, *, horizon_months: int, monthly_discount_rate: float, max_terms: int
) -> DataFrame:
    """prob_alive, expected_purchases over the horizon and the discounted purchases CLV needs (as score.with_bgnbd_scores)."""
    x, t_x, T = (F.col(c).cast("double") for c in (C.BTYD_FREQUENCY, C.BTYD_RECENCY, C.BTYD_T))
    discounted = F.lit(0.0)
    for m in range(1, horizon_months + 1):
        step = survival_power(params, T, DAYS_PER_MONTH * (m - 1)) - survival_power(params, T, DAYS_PER_MONTH * m)
        discounted = discounted + step * _lit(1.0 / (1.0 + monthly_discount_rate) ** m)
    alive_expectation = F.col(C.PROB_ALIVE) * F.col(ALIVE_RATE)
    return (
        summary_df.withColumn(C.PROB_ALIVE, prob_alive(params, x, t_x, T, max_terms))
        .withColumn(ALIVE_RATE, alive_rate(params, x, T))
        .withColumn(C.EXPECTED_PURCHASES, alive_expectation * (F.lit(1.0) - survival_power(params, T, DAYS_PER_MONTH * horizon_months)))
        .withColumn(C.DISCOUNTED_PURCHASES, alive_expectation * discounted)
        .drop(ALIVE_RATE)
    )


def with_expected_purchases_at(summary_df: DataFrame, params: ParetoNbdParams, t: float, *, max_terms: int, name: str) -> DataFrame:
    """One column `name`: expected repeat purchases in (T, T + t]."""
    x, t_x, T = (F.col(c).cast("double") for c in (C.BTYD_FREQUENCY, C.BTYD_RECENCY, C.BTYD_T))
    expected = prob_alive(params, x, t_x, T, max_terms) * alive_rate(params, x, T) * (F.lit(1.0) - survival_power(params, T, t))
    return summary_df.withColumn(name, expected)


def worst_case_terms(params: ParetoNbdParams, max_terms: int) -> tuple[int, bool]:
    """Terms the series needs at its slowest point (recency 0) and whether max_terms truncates it there."""
    high, low = max(params.alpha, params.beta), min(params.alpha, params.beta)
    z = (high - low) / high
    if z <= 0.0:
        return 1, False
    needed = math.ceil((math.log(SERIES_EPSILON) + math.log(1.0 - z)) / math.log(z)) + 1
    return min(needed, max_terms), needed > max_terms
