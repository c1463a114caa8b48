"""The BG/NBD model (Fader, Hardie and Lee 2005) and its MBG/NBD variant: likelihood, fit, predictions.

Same parametrisation (r, alpha, a, b), weighted log-likelihood, time scaling and L2
penalty as lifetimes' `BetaGeoFitter`, so the fitted parameters agree with it. The fit
runs on the driver over a grouped summary: one row per distinct (frequency, recency, T)
with the number of customers who share it as the weight, so the likelihood is exact on
far fewer rows than customers. The numpy predictions here are for tests and small
checks; per-customer scoring runs in Spark (see `score`).

MBG/NBD (Batislam, Denizel and Filiztekin 2007; lifetimes' `ModifiedBetaGeoFitter`) lets
a customer drop out right after the first purchase too, so a one-time buyer's P(alive)
falls with the time since that purchase instead of being 1 (`clv.model = "mbgnbd"`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, expit, gammaln, hyp2f1

from customer_behavior.clv.mle import minimise
from customer_behavior.errors import ModelError

MODEL = "BG/NBD"
MODIFIED_MODEL = "MBG/NBD"
PARAM_NAMES = ("r", "alpha", "a", "b")
PENALIZER_HINT = "; try a small clv.penalizer such as 0.001"


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float  # in the time unit of recency and T (days)
    a: float
    b: float
    modified: bool = False  # MBG/NBD: dropout possible after the first purchase too

    @property
    def model(self) -> str:
        return MODIFIED_MODEL if self.modified else MODEL

    def to_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in PARAM_NAMES}


@dataclass(frozen=True)
class BgNbdFit:
    params: BgNbdParams
    neg_log_likelihood: float  # mean per customer, penalty included, in scaled time (as lifetimes)
    iterations: int
    customers: float  # sum of the weights the fit used
    rows: int
    standard_errors: BgNbdParams | None = None
    log_covariance: np.ndarray | None = None  # of the log-parameters, for the parameter draws of the intervals

    def to_dict(self) -> dict:
        return {
            "model": self.params.model,
            "params": self.params.to_dict(),
            "neg_log_likelihood": self.neg_log_likelihood,
            "iterations": self.iterations,
            "customers": self.customers,
            "rows": self.rows,
            "standard_errors": self.standard_errors.to_dict() if self.standard_errors else None,
        }


def negative_log_likelihood(
    log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray, penalizer: float
) -> tuple[float, np.ndarray]:
    """Mean weighted negative log-likelihood and its gradient in log-parameters (lifetimes' formula)."""
    params = np.exp(log_params)
    r, alpha, a, b = params
    has_repeat = x > 0
    b_term = b + np.maximum(x, 1) - 1
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.log(a) - np.log(b_term) - (r + x) * np.log(t_x + alpha)
    top = np.maximum(a3, a4)
    e3 = np.exp(a3 - top)
    e4 = np.exp(a4 - top) * has_repeat
    total = e3 + e4
    ll = a1 + a2 + np.log(total) + top
    w3, w4 = e3 / total, e4 / total

    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w3 * np.log(alpha + T) - w4 * np.log(t_x + alpha)
    d_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (t_x + alpha)
    d_a = digamma(a + b) - digamma(a + b + x) + w4 / a
    d_b = digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x) - w4 / b_term

    total_weight = weights.sum()
    value = -(weights * ll).sum() / total_weight + penalizer * np.sum(params**2)
    grad = np.array([-(weights * d).sum() / total_weight for d in (d_r, d_alpha, d_a, d_b)]) * params
    grad += 2.0 * penalizer * params**2
    return float(value), grad


def modified_negative_log_likelihood(
    log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray, penalizer: float
) -> tuple[float, np.ndarray]:
    """MBG/NBD: lifetimes' ModifiedBetaGeoFitter likelihood and its gradient in log-parameters."""
    params = np.exp(log_params)
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x + 1) - gammaln(b) - gammaln(a + b + x + 1)
    a3 = -(r + x) * np.log(alpha + T)
    log_ratio = np.log(alpha + T) - np.log(alpha + t_x)
    a4 = np.log(a) - np.log(b + x) + (r + x) * log_ratio
    ll = a1 + a2 + a3 + np.logaddexp(a4, 0.0)
    s = expit(a4)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - np.log(alpha + T) + s * log_ratio
    d_alpha = r / alpha - (r + x) / (alpha + T) + s * (r + x) * (1.0 / (alpha + T) - 1.0 / (alpha + t_x))
    d_a = digamma(a + b) - digamma(a + b + x + 1) + s / a
    d_b = digamma(a + b) + digamma(b + x + 1) - digamma(b) - digamma(a + b + x + 1) - s / (b + x)
    total_weight = weights.sum()
    value = -(weights * ll).sum() / total_weight + penalizer * np.sum(params**2)
    grad = np.array([-(weights * d).sum() / total_weight for d in (d_r, d_alpha, d_a, d_b)]) * params
    grad += 2.0 * penalizer * params**2
    return float(value), grad


def check_summary(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray, model: str = MODEL) -> None:
    """The reasons BG/NBD cannot be fitted to a grouped summary, as ModelError."""
    if len(x) == 0 or weights.sum() <= 0:
        raise ModelError(f"{model} cannot be fitted: the summary has no customers")
    problems = []
    if np.any(~np.isfinite(x) | ~np.isfinite(t_x) | ~np.isfinite(T)):
        problems.append("missing frequency/recency/T")
    if np.any(x < 0) or np.any(x != np.round(x)):
        problems.append("frequency not a non-negative whole number")
    if np.any(t_x < 0) or np.any(t_x > T):
        problems.append("recency outside [0, T]")
    if np.any((x == 0) & (t_x != 0)):
        problems.append("recency > 0 with frequency 0")
    if problems:
        raise ModelError(f"{model} cannot be fitted: the BTYD summary has {', '.join(problems)}")
    if not np.any(x > 0):
        raise ModelError(f"{model} cannot be fitted: no customer has a repeat purchase (every frequency is 0), so purchase rate and dropout are not identifiable")
    if len(np.unique(np.stack([x, t_x, T]), axis=1).T) < 2:
        raise ModelError(f"{model} cannot be fitted: all customers have the same (frequency, recency, T), so the model is not identifiable")
    if np.max(T) <= 0:
        raise ModelError(f"{model} cannot be fitted: every customer's age T is 0")


def fit(
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    penalizer: float = 0.0,
    max_iterations: int = 2000,
    modified: bool = False,
) -> BgNbdFit:
    """Maximum-likelihood (r, alpha, a, b) from a (grouped) summary; ModelError if it cannot be fitted."""
    model = MODIFIED_MODEL if modified else MODEL
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    weights = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    check_summary(x, t_x, T, weights, model)
    scale = float(1.0 / T.max())  # as lifetimes: time rescaled so the oldest customer has T = 1
    args = (x, t_x * scale, T * scale, weights, penalizer)
    likelihood = modified_negative_log_likelihood if modified else negative_log_likelihood
    result = minimise(model, PARAM_NAMES, lambda p: likelihood(p, *args), max_iterations=max_iterations, hint=PENALIZER_HINT)
    r, alpha, a, b = np.exp(result.log_params)
    if abs(a - 1.0) < 1e-9:
        raise ModelError(f"{model}: fitted a = 1 exactly, where the expected-purchases formula is undefined{PENALIZER_HINT}")
    params = BgNbdParams(r=float(r), alpha=float(alpha / scale), a=float(a), b=float(b), modified=modified)
    se_r, se_alpha, se_a, se_b = (float(v) for v in result.standard_errors(float(weights.sum())))
    return BgNbdFit(
        params=params, neg_log_likelihood=result.neg_log_likelihood, iterations=result.iterations, customers=float(weights.sum()), rows=len(x),
        standard_errors=BgNbdParams(r=se_r, alpha=float(se_alpha / scale), a=se_a, b=se_b, modified=modified),
        log_covariance=np.linalg.inv(result.hessian) / float(weights.sum()),  # time scaling shifts log alpha only: the same in days
    )


# --------------------------------------------------------------------------- driver-side predictions (numpy)


def prob_alive(params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if params.modified:
        return expit(-((r + x) * np.log((alpha + T) / (alpha + t_x)) + np.log(a / (b + x))))
    log_div = (r + x) * np.log((alpha + T) / (alpha + t_x)) + np.log(a / (b + np.maximum(x, 1) - 1))
    return np.where(x == 0, 1.0, expit(-log_div))


def expected_purchases(params: BgNbdParams, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """E[repeat purchases in (T, T + t]] given the history; scipy's hyp2f1 (a reference for the Spark series)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + T + t)
    shift = 1.0 if params.modified else 0.0  # MBG/NBD: 2F1(r+x, b+x+1; a+b+x; z)
    c = a + b + x - 1.0 + shift
    # Euler's transformation of 2F1(r+x, b+x+shift; c; z) times (1-z)^(r+x): well behaved for large x.
    hyp = (1.0 - z) ** (a - 1.0) * hyp2f1(a + b - 1.0 + shift - r, a - 1.0, c, z)
    numerator = c / (a - 1.0) * (1.0 - hyp)
    has_term = np.ones_like(x, dtype=bool) if params.modified else (x > 0)
    with np.errstate(over="ignore"):  # an odds ratio overflowing to inf means an expectation of 0
        denominator = 1.0 + has_term * (a / (b + x - 1.0 + shift)) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    return numerator / denominator
