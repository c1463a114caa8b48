"""The Gamma-Gamma spend model (Fader, Hardie and Lee 2005; Hardie's note 025).

Same parametrisation (p, q, v), weighted log-likelihood and L2 penalty as lifetimes'
`GammaGammaFitter`. It is fitted on repeat customers only (frequency > 0) with a
positive mean spend; the fit runs on the driver over a grouped summary (distinct
(frequency, monetary_value) with a count as the weight).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import digamma, gammaln

from customer_behavior.clv.mle import minimise
from customer_behavior.errors import ModelError

MODEL = "Gamma-Gamma"
PARAM_NAMES = ("p", "q", "v")
PENALIZER_HINT = "; try a small clv.penalizer such as 0.001"


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float

    @property
    def population_mean(self) -> float:
        """Expected mean spend per transaction of a customer about whom nothing is known."""
        return self.v * self.p / (self.q - 1.0)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class GammaGammaFit:
    params: GammaGammaParams
    neg_log_likelihood: float
    iterations: int
    customers: float
    rows: int
    standard_errors: dict[str, float] | None = None
    log_covariance: np.ndarray | None = None  # of the log-parameters, for the parameter draws of the intervals

    def to_dict(self) -> dict:
        return {
            "params": self.params.to_dict(),
            "population_mean_spend": self.params.population_mean,
            "neg_log_likelihood": self.neg_log_likelihood,
            "iterations": self.iterations,
            "customers": self.customers,
            "rows": self.rows,
            "standard_errors": self.standard_errors,
        }


def negative_log_likelihood(
    log_params: np.ndarray, x: np.ndarray, m: np.ndarray, weights: np.ndarray, penalizer: float
) -> tuple[float, np.ndarray]:
    """Mean weighted negative log-likelihood and its gradient in log-parameters (lifetimes' formula)."""
    params = np.exp(log_params)
    p, q, v = params
    px = p * x
    log_xm_v = np.log(x * m + v)
    ll = gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v) + (px - 1.0) * np.log(m) + px * np.log(x) - (px + q) * log_xm_v
    d_p = x * (digamma(px + q) - digamma(px) + np.log(m) + np.log(x) - log_xm_v)
    d_q = digamma(px + q) - digamma(q) + np.log(v) - log_xm_v
    d_v = q / v - (px + q) / (x * m + v)
    total_weight = weights.sum()
    value = -(weights * ll).sum() / total_weight + penalizer * np.sum(params**2)
    grad = np.array([-(weights * d).sum() / total_weight for d in (d_p, d_q, d_v)]) * params
    grad += 2.0 * penalizer * params**2
    return float(value), grad


def check_summary(x: np.ndarray, m: np.ndarray, weights: np.ndarray) -> None:
    if len(x) == 0 or weights.sum() <= 0:
        raise ModelError(f"{MODEL} cannot be fitted: no repeat customers (frequency > 0), and the spend model needs repeat purchases")
    if np.any(~np.isfinite(m)):
        raise ModelError(f"{MODEL} cannot be fitted: monetary_value is missing for some repeat customers")
    if np.any(m <= 0):
        raise ModelError(f"{MODEL} cannot be fitted: {int(weights[m <= 0].sum())} repeat customers have a monetary_value <= 0; the model needs positive spend")
    if np.any(x <= 0):
        raise ModelError(f"{MODEL} cannot be fitted: customers with frequency 0 must be left out of its fit")
    if len(np.unique(np.stack([x, m]), axis=1).T) < 2:
        raise ModelError(f"{MODEL} cannot be fitted: all repeat customers have the same (frequency, monetary_value), so the model is not identifiable")


def fit(x: np.ndarray, m: np.ndarray, weights: np.ndarray | None = None, *, penalizer: float = 0.0, max_iterations: int = 2000) -> GammaGammaFit:
    """Maximum-likelihood (p, q, v) from repeat customers' frequency and mean spend; ModelError if not possible."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    weights = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    check_summary(x, m, weights)
    result = minimise(MODEL, PARAM_NAMES, lambda lp: negative_log_likelihood(lp, x, m, weights, penalizer), max_iterations=max_iterations, hint=PENALIZER_HINT)
    p, q, v = (float(value) for value in np.exp(result.log_params))
    if q <= 1.0:
        raise ModelError(f"{MODEL}: fitted q = {q:.3g} <= 1, so the population mean spend v*p/(q-1) is undefined{PENALIZER_HINT}")
    return GammaGammaFit(
        params=GammaGammaParams(p=p, q=q, v=v), neg_log_likelihood=result.neg_log_likelihood, iterations=result.iterations,
        customers=float(weights.sum()), rows=len(x),
        standard_errors=dict(zip(PARAM_NAMES, (float(v) for v in result.standard_errors(float(weights.sum()))))),
        log_covariance=np.linalg.inv(result.hessian) / float(weights.sum()),
    )


def expected_average_spend(params: GammaGammaParams, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """E[mean spend | x, m] (Hardie's note 025, eq. 5), as lifetimes' conditional_expected_average_profit."""
    weight = params.p * x / (params.p * x + params.q - 1.0)
    return (1.0 - weight) * params.population_mean + weight * m
