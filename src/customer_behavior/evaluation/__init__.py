"""Scoring against the planted truth of synthetic data: segments x truth, churn AUC, persona agreement (ARI).

Only runs on generated data (the generator's truth table); no stage depends on it.
"""

from customer_behavior.evaluation.churn import planted_churn_auc
from customer_behavior.evaluation.personas import adjusted_rand_index, contingency
from customer_behavior.evaluation.segments import format_confusion, persona_segment_counts, summarise_planted_truth

__all__ = ["adjusted_rand_index", "contingency", "format_confusion", "persona_segment_counts", "planted_churn_auc", "summarise_planted_truth"]
