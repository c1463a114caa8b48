"""Maximum-likelihood fitting on the driver, shared by BG/NBD and Gamma-Gamma.

Both models are fitted on log-parameters (so every parameter stays positive) by BFGS
with an analytic gradient, starting where lifetimes starts (every log-parameter 0.1).
A fit is accepted only when it converged to a proper maximum: the optimiser reports
success (or it stopped for loss of precision with a negligible gradient), no parameter
ran off to zero or infinity, and the likelihood is curved in every direction there (the
Hessian, by central differences of the analytic gradient, is positive definite; a flat
direction means the data do not identify the parameters, e.g. no sign of dropout).
Anything else raises `ModelError` with a one-line reason; a bad fit is never returned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from customer_behavior.errors import ModelError

# A log-parameter beyond this (a parameter below 1e-11 or above 6e10) means the
# likelihood keeps improving towards a boundary: the data do not identify the model.
MAX_ABS_LOG_PARAM = 25.0  # generous: the Hessian check below catches flat ridges nearer in
# Gradient norm (of the mean negative log-likelihood in log-parameters) we accept as a
# stationary point when BFGS stops for "precision loss".
GRADIENT_TOLERANCE = 1e-4


# Smallest Hessian eigenvalue, relative to the largest (and to 1), of a proper maximum.
# Identified fits have ratios of 1e-3 or more; flat ridges give 1e-8 and below.
MIN_CURVATURE = 1e-6
HESSIAN_STEP = 1e-5


@dataclass(frozen=True)
class MleResult:
    log_params: np.ndarray
    neg_log_likelihood: float
    iterations: int
    gradient_norm: float
    message: str
    hessian: np.ndarray  # of the mean negative log-likelihood in log-parameters

    def standard_errors(self, customers: float) -> np.ndarray:
        """Delta-method standard errors of the parameters (as lifetimes' standard_errors_)."""
        covariance = np.linalg.inv(self.hessian) / customers
        return np.exp(self.log_params) * np.sqrt(np.clip(np.diag(covariance), 0.0, None))


def numerical_hessian(objective: Callable[[np.ndarray], tuple[float, np.ndarray]], x: np.ndarray) -> np.ndarray:
    columns = []
    for i in range(len(x)):
        step = np.zeros_like(x)
        step[i] = HESSIAN_STEP
        columns.append((objective(x + step)[1] - objective(x - step)[1]) / (2.0 * HESSIAN_STEP))
    hessian = np.column_stack(columns)
    return (hessian + hessian.T) / 2.0


def check_curvature(model: str, names: tuple[str, ...], hessian: np.ndarray, hint: str) -> None:
    if not np.all(np.isfinite(hessian)):
        raise ModelError(f"{model}: the likelihood's curvature is not finite at the optimum; the fit cannot be trusted{hint}")
    eigenvalues, eigenvectors = np.linalg.eigh(hessian)
    if eigenvalues[0] <= MIN_CURVATURE * max(1.0, eigenvalues[-1]):
        flat = eigenvectors[:, 0]
        involved = [name for name, weight in zip(names, flat) if abs(weight) >= 0.3]
        raise ModelError(
            f"{model}: did not converge to a proper maximum, the likelihood is flat along {' and '.join(involved)} "
            f"(the data do not identify it){hint}"
        )


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
    with np.errstate(all="ignore"):
        hessian = numerical_hessian(objective, out.x)
    check_curvature(model, names, hessian, hint)
    return MleResult(
        log_params=out.x, neg_log_likelihood=float(value), iterations=int(out.nit), gradient_norm=grad_norm, message=str(out.message), hessian=hessian
    )
