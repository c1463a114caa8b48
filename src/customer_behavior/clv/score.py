"""Per-customer scoring in Spark with SQL expressions only (executors need no Python of ours).

- P(alive): lifetimes' conditional_probability_alive, a closed form.
- Expected repeat purchases in (T, T + t]: lifetimes' conditional_expected_number_of_purchases_up_to_time.
  Its Gaussian hypergeometric term is evaluated after Euler's transformation,
      2F1(r+x, b+x; a+b+x-1; z) (1-z)^(r+x) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z),  z = t / (alpha+T+t),
  whose series converges geometrically (term ratio -> z < 1) and faster as x grows. It is
  summed with `aggregate(sequence(1, n), ...)`, n chosen per row so the truncation error is
  below 1e-12 (bounded by clv.max_series_terms). The term depends on (frequency, T) only,
  so it is computed once per distinct (frequency, T) pair (a few tens of thousands at most
  for day-valued T) and joined back; recency enters through a closed-form denominator.
- Expected average spend: Gamma-Gamma conditional expectation.
- CLV over `horizon_months`: as lifetimes' customer_lifetime_value (freq "D", months of 30
  days): sum over months m of spend x (E[N(30m)] - E[N(30(m-1))]) / (1 + d)^m.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.clv.bgnbd import BgNbdParams
from customer_behavior.clv.gamma_gamma import GammaGammaParams

DAYS_PER_MONTH = 30.0  # lifetimes' factor for freq "D"
SERIES_EPSILON = 1e-12


def _lit(value: float) -> Column:
    return F.lit(float(value))


# --------------------------------------------------------------------------- column functions


def _shift(params: BgNbdParams) -> float:
    """MBG/NBD's formulas are BG/NBD's with b + x - 1 -> b + x and a + b + x - 1 -> a + b + x."""
    return 1.0 if params.modified else 0.0


def prob_alive(params: BgNbdParams, x: Column, t_x: Column, T: Column) -> Column:
    """P(alive | x, t_x, T); BG/NBD: 1 for customers without a repeat purchase (as lifetimes)."""
    r, alpha, a, b = (_lit(v) for v in (params.r, params.alpha, params.a, params.b))
    log_div = (r + x) * F.log((alpha + T) / (alpha + t_x)) + F.log(a / (b + x - _lit(1.0 - _shift(params))))
    alive = F.lit(1.0) / (F.lit(1.0) + F.exp(log_div))
    return alive if params.modified else F.when(x == F.lit(0), F.lit(1.0)).otherwise(alive)


def series_terms_needed(z: Column, a: float, max_terms: int) -> Column:
    """Terms n with |term_n| / (1 - z) < eps. Term ratios are <= z (1 + max(0, a-2)/(k+1)), hence the log(max_terms) slack."""
    slack = max(0.0, a - 2.0) * math.log(max_terms)
    needed = F.ceil((F.lit(math.log(SERIES_EPSILON) - slack) + F.log(F.lit(1.0) - z)) / F.log(z)) + F.lit(2)
    return F.least(F.greatest(needed, F.lit(1)), F.lit(max_terms)).cast("int")


def hypergeometric_2f1(a: Column, b: Column, c: Column, z: Column, terms: Column) -> Column:
    """sum_{k=0..terms} (a)_k (b)_k / (c)_k z^k / k!, as a Spark higher-order aggregate."""
    start = F.struct(F.lit(1.0).alias("term"), F.lit(1.0).alias("total"))

    def step(acc: Column, k: Column) -> Column:
        k_1 = k.cast("double") - F.lit(1.0)
        term = acc["term"] * (a + k_1) * (b + k_1) / ((c + k_1) * (k_1 + F.lit(1.0))) * z
        return F.struct(term.alias("term"), (acc["total"] + term).alias("total"))

    return F.aggregate(F.sequence(F.lit(1), terms), start, step, lambda acc: acc["total"])


def purchases_numerator(params: BgNbdParams, t: float, x: Column, T: Column, max_terms: int) -> Column:
    """(a+b+x-1)/(a-1) * (1 - 2F1(r+x, b+x; a+b+x-1; z) ((alpha+T)/(alpha+T+t))^(r+x)); depends on (x, T) only.

    MBG/NBD: (a+b+x)/(a-1) * (1 - 2F1(r+x, b+x+1; a+b+x; z) (...)^(r+x)).
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    shift = _shift(params)
    z = _lit(t) / (_lit(alpha) + T + _lit(t))
    c = _lit(a + b - 1.0 + shift) + x
    series = hypergeometric_2f1(_lit(a + b - 1.0 + shift - r), _lit(a - 1.0), c, z, series_terms_needed(z, a, max_terms))
    hyp_term = F.pow(F.lit(1.0) - z, _lit(a - 1.0)) * series
    return c / _lit(a - 1.0) * (F.lit(1.0) - hyp_term)


def purchases_denominator(params: BgNbdParams, x: Column, t_x: Column, T: Column) -> Column:
    r, alpha, a, b = (_lit(v) for v in (params.r, params.alpha, params.a, params.b))
    ratio = a / (b + x - _lit(1.0 - _shift(params))) * F.pow((alpha + T) / (alpha + t_x), r + x)
    return F.lit(1.0) + (ratio if params.modified else F.when(x > F.lit(0), ratio).otherwise(F.lit(0.0)))


def expected_average_spend(params: GammaGammaParams, x: Column, m: Column) -> Column:
    """Gamma-Gamma E[mean spend | x, m]; the population mean for one-time buyers and non-positive spend."""
    p, q = _lit(params.p), _lit(params.q)
    weight = p * x / (p * x + q - F.lit(1.0))
    individual = (F.lit(1.0) - weight) * _lit(params.population_mean) + weight * m
    return F.when((x > F.lit(0)) & (m > F.lit(0.0)), individual).otherwise(_lit(params.population_mean))


# --------------------------------------------------------------------------- transforms

PAIR_PREFIX = "_numerator_"


def purchase_numerators(summary_df: DataFrame, params: BgNbdParams, times: Sequence[float], *, max_terms: int) -> DataFrame:
    """Distinct (frequency, T) with the purchases numerator at each time in `times` (days)."""
    x, T = F.col(C.BTYD_FREQUENCY), F.col(C.BTYD_T)
    return (
        summary_df.select(x.cast("double").alias(C.BTYD_FREQUENCY), T.cast("double").alias(C.BTYD_T))
        .filter(x.isNotNull() & T.isNotNull())
        .distinct()
        .select(
            x, T, *[purchases_numerator(params, t, x, T, max_terms).alias(f"{PAIR_PREFIX}{i}") for i, t in enumerate(times)]
        )
    )


def with_numerators(summary_df: DataFrame, params: BgNbdParams, times: Sequence[float], *, max_terms: int) -> DataFrame:
    """Attach the numerators by joining on (frequency, T): the series runs once per distinct pair."""
    keyed_df = summary_df.withColumn("_x", F.col(C.BTYD_FREQUENCY).cast("double")).withColumn("_T", F.col(C.BTYD_T).cast("double"))
    numerators_df = purchase_numerators(summary_df, params, times, max_terms=max_terms).withColumnRenamed(C.BTYD_FREQUENCY, "_x").withColumnRenamed(C.BTYD_T, "_T")
    return keyed_df.join(numerators_df, on=["_x", "_T"], how="left").drop("_x", "_T")


def monthly_times(horizon_months: int) -> list[float]:
    return [DAYS_PER_MONTH * m for m in range(1, horizon_months + 1)]


def discounted_purchases_numerator(horizon_months: int, monthly_discount_rate: float) -> Column:
    """sum_m (num_m - num_{m-1}) / (1+d)^m over the numerator columns of `monthly_times`."""
    total = F.lit(0.0)
    previous = F.lit(0.0)
    for i in range(horizon_months):
        current = F.col(f"{PAIR_PREFIX}{i}")
        total = total + (current - previous) * _lit(1.0 / (1.0 + monthly_discount_rate) ** (i + 1))
        previous = current
    return total


def with_bgnbd_scores(summary_df: DataFrame, params: BgNbdParams, *, horizon_months: int, monthly_discount_rate: float, max_terms: int) -> DataFrame:
    """Adds prob_alive, expected_purchases (over the horizon) and the discounted purchases CLV needs."""
    x, t_x, T = F.col(C.BTYD_FREQUENCY).cast("double"), F.col(C.BTYD_RECENCY).cast("double"), F.col(C.BTYD_T).cast("double")
    denominator = purchases_denominator(params, x, t_x, T)
    numerator_columns = [f"{PAIR_PREFIX}{i}" for i in range(horizon_months)]
    return (
        summary_df.transform(with_numerators, params, monthly_times(horizon_months), max_terms=max_terms)
        .withColumn(C.PROB_ALIVE, prob_alive(params, x, t_x, T))
        .withColumn(C.EXPECTED_PURCHASES, F.col(numerator_columns[-1]) / denominator)
        .withColumn(C.DISCOUNTED_PURCHASES, discounted_purchases_numerator(horizon_months, monthly_discount_rate) / denominator)
        .drop(*numerator_columns)
    )


def with_spend_and_clv(scored_df: DataFrame, params: GammaGammaParams | None) -> DataFrame:
    """expected_avg_spend and clv; null for both when the spend model could not be fitted."""
    if params is None:
        return scored_df.withColumn(C.EXPECTED_AVG_SPEND, F.lit(None).cast("double")).withColumn(C.CLV, F.lit(None).cast("double"))
    spend = expected_average_spend(params, F.col(C.BTYD_FREQUENCY).cast("double"), F.col(C.BTYD_MONETARY_VALUE).cast("double"))
    return scored_df.withColumn(C.EXPECTED_AVG_SPEND, spend).withColumn(C.CLV, F.col(C.EXPECTED_AVG_SPEND) * F.col(C.DISCOUNTED_PURCHASES))


def with_expected_purchases_at(summary_df: DataFrame, params: BgNbdParams, t: float, *, max_terms: int, name: str) -> DataFrame:
    """One column `name`: expected repeat purchases in (T, T + t] (used by the holdout evaluation)."""
    x, t_x, T = F.col(C.BTYD_FREQUENCY).cast("double"), F.col(C.BTYD_RECENCY).cast("double"), F.col(C.BTYD_T).cast("double")
    return (
        summary_df.transform(with_numerators, params, [t], max_terms=max_terms)
        .withColumn(name, F.col(f"{PAIR_PREFIX}0") / purchases_denominator(params, x, t_x, T))
        .drop(f"{PAIR_PREFIX}0")
    )


def worst_case_terms(params: BgNbdParams, t: float, max_terms: int, *, min_T: float = 0.0) -> tuple[int, bool]:
    """Terms the series needs at its slowest point (the youngest customer) and whether max_terms truncates it there."""
    z = t / (params.alpha + max(min_T, 0.0) + t)
    slack = max(0.0, params.a - 2.0) * math.log(max_terms)
    if z <= 0.0:
        return 1, False
    needed = math.ceil((math.log(SERIES_EPSILON) - slack + math.log(1.0 - z)) / math.log(z)) + 2
    return min(needed, max_terms), needed > max_terms
