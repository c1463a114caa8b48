"""Personas: MLlib clustering over scaled customer features, k chosen by a sweep,
clusters named from their centroids, a saved model for scoring new customers, and the
agreement with planted personas (adjusted Rand index) on synthetic data.

Modules: `inputs` (feature catalogue and SQL preparation), `model` (MLlib stages, sweep,
save/load), `naming`, `profiles`, `workflow`; the agreement (ARI) is in `customer_behavior.evaluation.personas` (the stage's driver logic).
"""

from customer_behavior.evaluation.personas import adjusted_rand_index, contingency
from customer_behavior.personas.workflow import PersonaFit, fit_personas, score_personas

__all__ = ["PersonaFit", "adjusted_rand_index", "contingency", "fit_personas", "score_personas"]
