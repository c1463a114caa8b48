"""Maximum-likelihood fitting on the driver, shared by BG/NBD and Gamma-Gamma.

Both models are fitted on log-parameters (so every parameter stays positive) by BFGS
with an analytic gradient, starting where lifetimes starts (every log-parameter 0.1).
A fit is accepted only when it converged: the optimiser reports success, or it stopped
for loss of precision with a negligible gradient; a parameter running off to zero or
infinity is a divergence. Anything else raises `ModelError` with a one-line reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from customer_behavior.errors import ModelError

# A log-parameter beyond this (a parameter below 1e-11 or above 6e10) means the
# likelihood keeps improving towards a boundary: the data do not identify the model.
MAX_ABS_LOG_PARAM = 25.0
# Gradient norm (of the mean negative log-likelihood in log-parameters) we accept as a
# stationary point when BFGS stops for "precision loss".
GRADIENT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class MleResult:
    log_params: np.ndarray
    neg_log_likelihood: float
    iterations: int
    gradient_norm: float
    message: str


def minimise(
    model: str,
    names: tuple[str, ...],
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]],
    *,
    max_iterations: int,
    tol: float = 1e-7,
    hint: str = "",
) -> MleResult:
    """BFGS on `objective` (value, gradient) from lifetimes' start; ModelError unless converged."""
    start = np.full(len(names), 0.1)
    with np.errstate(all="ignore"):
        out = optimize.minimize(objective, start, jac=True, method="BFGS", tol=tol, options={"maxiter": max_iterations})
        value, grad = objective(out.x)
    grad_norm = float(np.max(np.abs(grad))) if np.all(np.isfinite(grad)) else float("inf")
    if not np.isfinite(value) or not np.all(np.isfinite(out.x)):
        raise ModelError(f"{model}: the likelihood is not finite at the optimiser's end point; the data cannot be fitted{hint}")
    wild = [f"{name} -> {np.exp(x):.3g}" for name, x in zip(names, out.x) if abs(x) > MAX_ABS_LOG_PARAM]
    if wild:
        raise ModelError(f"{model}: did not converge, parameter {', '.join(wild)} runs off to a boundary{hint}")
    if not out.success and grad_norm > GRADIENT_TOLERANCE:
        raise ModelError(f"{model}: did not converge after {out.nit} iterations ({out.message}; gradient {grad_norm:.2g}){hint}")
    return MleResult(log_params=out.x, neg_log_likelihood=float(value), iterations=int(out.nit), gradient_norm=grad_norm, message=str(out.message))
