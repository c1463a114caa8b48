"""The Pareto/NBD model (Schmittlein, Morrison and Colombo 1987): likelihood, fit, predictions.

Same parametrisation (r, alpha, s, beta), likelihood (Fader and Hardie's note 009, eq. 18),
time scaling and predictions as lifetimes' `ParetoNBDFitter`, so the fitted parameters and
the per-customer predictions agree with it. Purchases follow a Poisson(lambda) process,
lambda ~ Gamma(r, alpha); the lifetime is Exponential(mu), mu ~ Gamma(s, beta): a customer
can drop out at any moment, not only after a purchase as in BG/NBD.

The likelihood needs the Gaussian hypergeometric function at every customer's recency and
age and has no convenient closed-form gradient, so the fit differs from BG/NBD's in two ways:
- the gradient is by central differences in log-parameters (8 likelihood evaluations);
- each evaluation computes 2F1 once per distinct (frequency, recency) and (frequency, T)
  instead of once per grouped row (there are several times fewer).
lifetimes maximises with Nelder-Mead from a random start; here BFGS from lifetimes' usual
start (every log-parameter 0.1) with the checks of `mle.minimise`. The penalty is per
customer as for BG/NBD (lifetimes' Pareto/NBD divides the summed log-likelihood by the mean
weight instead, so its penalizer_coef weighs differently); with clv.penalizer = 0 both
maximise the same likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, hyp2f1, logsumexp

from customer_behavior.clv.bgnbd import BgNbdFit, check_summary
from customer_behavior.clv.mle import minimise
from customer_behavior.errors import ModelError

MODEL = "Pareto/NBD"
PARAM_NAMES = ("r", "alpha", "s", "beta")
PENALIZER_HINT = "; try a small clv.penalizer such as 0.001"
GRADIENT_STEP = 1e-5


@dataclass(frozen=True)
class ParetoNbdParams:
    r: float
    alpha: float  # in days, as recency and T
    s: float
    beta: float  # in days

    model = MODEL

    def to_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in PARAM_NAMES}


@dataclass(frozen=True)
class ParetoNbdFit(BgNbdFit):
    """The same record as BG/NBD's (its to_dict names the model from the parameters), with Pareto/NBD parameters."""

    params: ParetoNbdParams  # type: ignore[assignment]  # the subclass narrows the parameters' model
    standard_errors: ParetoNbdParams | None = None  # type: ignore[assignment]


@dataclass(frozen=True)
class DistinctRows:
    """Where the distinct (frequency, recency) and (frequency, T) of a summary are: computed once per fit."""

    recency_first: np.ndarray
    recency_inverse: np.ndarray
    age_first: np.ndarray
    age_inverse: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> DistinctRows:
        _, r_first, r_inverse = np.unique(np.column_stack([x, t_x]), axis=0, return_index=True, return_inverse=True)
        _, a_first, a_inverse = np.unique(np.column_stack([x, T]), axis=0, return_index=True, return_inverse=True)
        return cls(r_first, r_inverse.ravel(), a_first, a_inverse.ravel())


def _hyp2f1_at(a: np.ndarray, b: np.ndarray, z: np.ndarray, first: np.ndarray | None, inverse: np.ndarray | None) -> np.ndarray:
    """hyp2f1(a, b; a + 1; z), once per distinct row when `first`/`inverse` say where they are."""
    if first is None:
        return hyp2f1(a, b, a + 1.0, z)
    return hyp2f1(a[first], b[first], a[first] + 1.0, z[first])[inverse]


def log_a0(
    params: tuple[float, float, float, float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray, distinct: DistinctRows | None = None
) -> np.ndarray:
    """log A_0 of Fader and Hardie's note 009 (eqs. 19 and 20), as lifetimes' _log_A_0."""
    r, alpha, s, beta = params
    if alpha < beta:
        low, high, b = alpha, beta, r + x
    else:
        low, high, b = beta, alpha, np.full_like(x, s + 1.0)
    rsx = r + s + x
    at_recency = (distinct.recency_first, distinct.recency_inverse) if distinct else (None, None)
    at_age = (distinct.age_first, distinct.age_inverse) if distinct else (None, None)
    p_1 = _hyp2f1_at(rsx, b, (high - low) / (high + t_x), *at_recency)
    p_2 = _hyp2f1_at(rsx, b, (high - low) / (high + T), *at_age)
    q_1, q_2 = high + t_x, high + T
    with np.errstate(divide="ignore"):  # t_x = T gives log(0) = -inf, as in lifetimes
        return logsumexp(
            [np.log(p_1) + rsx * np.log(q_2), np.log(p_2) + rsx * np.log(q_1)], axis=0, b=[np.ones_like(x), -np.ones_like(x)]
        ) - rsx * np.log(q_1 * q_2)


def log_likelihood(
    params: tuple[float, float, float, float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray, distinct: DistinctRows | None = None
) -> np.ndarray:
    """Per-customer log-likelihood (note 009, eq. 18)."""
    r, alpha, s, beta = params
    a_1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    log_dropout = np.log(s) + log_a0(params, x, t_x, T, distinct) - np.log(r + s + x)
    return a_1 + np.logaddexp(-(r + x) * np.log(alpha + T) - s * np.log(beta + T), log_dropout)


def negative_log_likelihood(
    log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray, penalizer: float, distinct: DistinctRows | None = None
) -> float:
    params = np.exp(log_params)
    return float(-(weights * log_likelihood(tuple(params), x, t_x, T, distinct)).sum() / weights.sum() + penalizer * np.sum(params**2))


def value_and_gradient(log_params: np.ndarray, *args) -> tuple[float, np.ndarray]:
    """The mean negative log-likelihood and its central-difference gradient in log-parameters."""
    value = negative_log_likelihood(log_params, *args)
    grad = np.empty_like(log_params)
    for i in range(len(log_params)):
        step = np.zeros_like(log_params)
        step[i] = GRADIENT_STEP
        grad[i] = (negative_log_likelihood(log_params + step, *args) - negative_log_likelihood(log_params - step, *args)) / (2.0 * GRADIENT_STEP)
    return value, grad


def fit(
    x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray | None = None, *, penalizer: float = 0.0, max_iterations: int = 2000
) -> ParetoNbdFit:
    """Maximum-likelihood (r, alpha, s, beta) from a (grouped) summary; ModelError if it cannot be fitted."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    weights = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    check_summary(x, t_x, T, weights, MODEL)
    scale = float(1.0 / T.max())  # as lifetimes: the oldest customer has T = 1
    args = (x, t_x * scale, T * scale, weights, penalizer, DistinctRows.of(x, t_x, T))
    result = minimise(MODEL, PARAM_NAMES, lambda p: value_and_gradient(p, *args), max_iterations=max_iterations, hint=PENALIZER_HINT)
    r, alpha, s, beta = (float(v) for v in np.exp(result.log_params))
    if abs(s - 1.0) < 1e-9:
        raise ModelError(f"{MODEL}: fitted s = 1 exactly, where the expected-purchases formula is undefined{PENALIZER_HINT}")
    se = result.standard_errors(float(weights.sum()))
    covariance = np.linalg.inv(result.hessian) / float(weights.sum())
    return ParetoNbdFit(
        params=ParetoNbdParams(r=r, alpha=alpha / scale, s=s, beta=beta / scale),
        neg_log_likelihood=result.neg_log_likelihood, iterations=result.iterations, customers=float(weights.sum()), rows=len(x),
        standard_errors=ParetoNbdParams(r=float(se[0]), alpha=float(se[1] / scale), s=float(se[2]), beta=float(se[3] / scale)),
        log_covariance=covariance,  # rescaling time shifts log alpha and log beta by a constant: the covariance is unchanged
    )


# --------------------------------------------------------------------------- driver-side predictions (numpy)


def _as_tuple(params: ParetoNbdParams) -> tuple[float, float, float, float]:
    return params.r, params.alpha, params.s, params.beta


def prob_alive(params: ParetoNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """lifetimes' conditional_probability_alive (note 009, eq. 37)."""
    r, alpha, s, beta = _as_tuple(params)
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    log_odds = np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T) + log_a0(_as_tuple(params), x, t_x, T)
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(log_odds))


def expected_purchases(params: ParetoNbdParams, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """E[repeat purchases in (T, T + t]] given the history (note 009, eq. 41): P(alive) times the alive expectation."""
    r, alpha, s, beta = _as_tuple(params)
    x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
    alive_rate = (r + x) * (beta + T) / (alpha + T)
    horizon = (1.0 - ((beta + T) / (beta + T + t)) ** (s - 1.0)) / (s - 1.0)
    return prob_alive(params, x, t_x, T) * alive_rate * horizon


def unconditional_expected_purchases(params: ParetoNbdParams, t: np.ndarray) -> np.ndarray:
    """E[repeat purchases in (0, t]] of a new customer (note 009, eq. 27)."""
    r, alpha, s, beta = _as_tuple(params)
    return r * beta / (alpha * (s - 1.0)) * (1.0 - (beta / (beta + np.asarray(t, dtype=float))) ** (s - 1.0))
