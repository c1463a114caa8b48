"""Customer lifetime value and churn risk: BG/NBD + Gamma-Gamma at any scale.

summary     the BTYD summary and its bounded, grouped form for the driver-side fits
bgnbd       BG/NBD likelihood, fit and numpy predictions (lifetimes' parametrisation)
gamma_gamma Gamma-Gamma likelihood, fit and spend expectation
score       per-customer scores as Spark SQL expressions
risk        churn risk bands from P(alive) and the RFM segment
model       fit both models from a summary DataFrame; score every customer
evaluate    calibration/holdout evaluation
"""

from customer_behavior.clv.model import ClvModels, fit_models, score_customers

__all__ = ["ClvModels", "fit_models", "score_customers"]
