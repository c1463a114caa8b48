"""How the ML literature judges a customer-value model (Wang, Liu and Miao 2019, the ZILN paper).

Computed on the driver from a bounded sample of held-out customers (numpy and scipy; the
sample's size is the challenger's `TEST_MAX_CUSTOMERS` at most, whatever the data):

- normalized Gini: the Gini coefficient of the gain curve (customers sorted by predicted
  value, highest first, against their cumulative share of the actual value) divided by the
  Gini of the perfect ordering (sorted by the actual value). 1 = the model ranks customers
  as well as hindsight, 0 = no better than chance;
- Spearman's rank correlation between predicted and actual value (ties by mean ranks);
- decile MAPE: customers cut into 10 equal groups by predicted value; for each group the
  mean predicted against the mean actual; the mean absolute percentage error over the
  groups whose actual mean is positive;
- AUC: the probability that a customer who bought again is scored above one who did not
  (ties count half), from the Mann-Whitney rank sum.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata, spearmanr

DECILES = 10


def _gain_gini(actual: np.ndarray, order: np.ndarray) -> float:
    """Twice the area between the gain curve of `actual` taken in `order` and the diagonal."""
    total = float(actual.sum())
    n = actual.size
    if total <= 0.0 or n == 0:
        return 0.0
    gains = np.concatenate(([0.0], np.cumsum(actual[order]) / total))
    area = float(np.sum(gains[1:] + gains[:-1])) / (2.0 * n)  # trapezoids of width 1/n
    return 2.0 * area - 1.0


def normalized_gini(actual: np.ndarray, predicted: np.ndarray) -> float | None:
    """Gini of the ordering by `predicted` over that of the ordering by `actual` (None when every actual is 0)."""
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    # highest prediction first; ties by the actual value ascending (the pessimistic order), so a constant scores 0 or less
    by_prediction = np.lexsort((actual, -predicted))
    best = _gain_gini(actual, np.argsort(-actual, kind="stable"))
    return _gain_gini(actual, by_prediction) / best if best > 0.0 else None


def spearman(actual: np.ndarray, predicted: np.ndarray) -> float | None:
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    if actual.size < 2 or np.ptp(actual) == 0.0 or np.ptp(predicted) == 0.0:
        return None
    return float(spearmanr(predicted, actual).statistic)


def decile_table(actual: np.ndarray, predicted: np.ndarray) -> list[dict[str, Any]]:
    """Customers in 10 groups of equal size by predicted value (highest first): mean predicted and actual per group."""
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    order = np.lexsort((actual, -predicted))
    rows = []
    for decile, members in enumerate(np.array_split(order, DECILES), start=1):
        if members.size:
            rows.append({"decile": decile, "customers": int(members.size), "mean_predicted": float(predicted[members].mean()), "mean_actual": float(actual[members].mean())})
    return rows


def decile_mape(deciles: list[dict[str, Any]]) -> float | None:
    errors = [abs(row["mean_predicted"] - row["mean_actual"]) / row["mean_actual"] for row in deciles if row["mean_actual"] > 0]
    return 100.0 * float(np.mean(errors)) if errors else None


def auc(positive: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC of `score` for the boolean `positive` (None without both classes)."""
    positive, score = np.asarray(positive, dtype=bool), np.asarray(score, dtype=float)
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def value_figures(actual: np.ndarray, predicted: np.ndarray, bought: np.ndarray, buy_score: np.ndarray) -> dict[str, Any]:
    """Every figure of one model on the held-out customers."""
    deciles = decile_table(actual, predicted)
    total_actual = float(np.sum(actual))
    return {
        "normalized_gini": normalized_gini(actual, predicted),
        "spearman": spearman(actual, predicted),
        "decile_mape_pct": decile_mape(deciles),
        "auc": auc(bought, buy_score),
        "total_predicted": float(np.sum(predicted)),
        "total_actual": total_actual,
        "aggregate_error_pct": 100.0 * (float(np.sum(predicted)) - total_actual) / total_actual if total_actual > 0 else None,
        "deciles": deciles,
    }


