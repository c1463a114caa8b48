"""The evaluation figures of the BTYD literature, computed on the driver from small Spark aggregates.

Inputs are tables of at most a few thousand rows (per calibration frequency, per P(alive)
bin, per day); nothing here grows with the number of customers.

- by frequency (Fader, Hardie and Lee 2005, fig. 4; lifetimes' plot_calibration_purchases_vs_holdout_purchases):
  mean holdout purchases by calibration frequency 0..7+, expected against actual;
- per-customer MAE, RMSE, Pearson correlation and the aggregate error in percent;
- churn: the ROC AUC of 1 - P(alive) against "no purchase in the holdout" and a reliability
  table (P(alive) deciles against the share that bought again), from a histogram of P(alive)
  in HISTOGRAM_BINS bins of equal width (ties within a bin count half, as ties do in the AUC);
- tracking (Fader, Hardie and Lee 2005, fig. 3; lifetimes' plot_cumulative_transactions):
  cumulative repeat purchases week by week over calibration and holdout, expected against
  actual, for the customers first seen in the calibration period: the expected value at day
  D is the sum over first-purchase days f of (customers first seen on f) x E[X(D - f)];
- Gamma-Gamma: expected against observed mean spend per purchase by calibration frequency.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np

from customer_behavior.clv import purchase
from customer_behavior.clv.purchase import PurchaseParams

FREQUENCY_CAP = 7
HISTOGRAM_BINS = 10_000
DECILES = 10


def frequency_label(group: int) -> str:
    return f"{group}+" if group == FREQUENCY_CAP else str(group)


def prediction_metrics(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Totals, MAE, RMSE, correlation, aggregate error and the by-frequency table of model `key`."""
    n = sum(r["n"] for r in rows)
    total = {name: sum(float(r[f"{name}_{key}"]) for r in rows) for name in ("predicted", "abs_error", "sq_error", "pp", "pa")}
    actual, aa = sum(float(r["actual"]) for r in rows), sum(float(r["aa"]) for r in rows)
    cov = total["pa"] / n - (total["predicted"] / n) * (actual / n)
    var_p, var_a = total["pp"] / n - (total["predicted"] / n) ** 2, aa / n - (actual / n) ** 2
    return {
        "customers": int(n),
        "total_predicted": total["predicted"],
        "total_actual": actual,
        "mae": total["abs_error"] / n,
        "rmse": math.sqrt(total["sq_error"] / n),
        "correlation": cov / math.sqrt(var_p * var_a) if var_p > 0 and var_a > 0 else None,
        "aggregate_error_pct": 100.0 * (total["predicted"] - actual) / actual if actual > 0 else None,
        "by_frequency": [
            {
                "frequency_cal": frequency_label(int(r["frequency_group"])),
                "customers": int(r["n"]),
                "mean_predicted": float(r[f"predicted_{key}"]) / r["n"],
                "mean_actual": float(r["actual"]) / r["n"],
            }
            for r in sorted(rows, key=lambda r: int(r["frequency_group"]))
        ],
    }


def spend_by_frequency(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Gamma-Gamma: mean expected spend per purchase against the observed holdout mean, per calibration frequency."""
    return [
        {
            "frequency_cal": frequency_label(int(r["frequency_group"])),
            "customers": int(r["spend_n"]),
            "mean_expected_spend": float(r["spend_expected"]) / r["spend_n"],
            "mean_observed_spend": float(r["spend_observed"]) / r["spend_n"],
        }
        for r in sorted(rows, key=lambda r: int(r["frequency_group"]))
        if r["spend_n"]
    ]


def churn_figures(bins: list[dict[str, Any]]) -> dict[str, Any]:
    """AUC of 1 - P(alive) for "no holdout purchase" and the decile reliability table, from one model's histogram.

    `bins`: rows with bin (0..HISTOGRAM_BINS-1 of P(alive)), n, bought (customers with a holdout purchase), alive_sum.
    """
    bins = sorted(bins, key=lambda b: int(b["bin"]))
    n = np.array([b["n"] for b in bins], dtype=float)
    bought = np.array([b["bought"] for b in bins], dtype=float)
    gone = n - bought
    total_bought, total_gone = bought.sum(), gone.sum()
    if total_bought == 0 or total_gone == 0:
        auc = None  # one class only: the AUC is undefined
    else:
        # P(score of a churner > score of a buyer), score = 1 - P(alive): churners sit in the lower P(alive) bins
        bought_above = total_bought - np.cumsum(bought)
        auc = float(((gone * (bought_above + 0.5 * bought)).sum()) / (total_gone * total_bought))
    reliability = []
    start = np.concatenate([[0.0], np.cumsum(n)[:-1]])
    decile = np.minimum((start * DECILES / n.sum()).astype(int), DECILES - 1) if n.sum() else np.zeros(0, dtype=int)
    for d in sorted(set(decile.tolist())):
        member = decile == d
        rows = [b for b, m in zip(bins, member) if m]
        count = n[member].sum()
        reliability.append({
            "decile": d + 1,
            "prob_alive_from": int(rows[0]["bin"]) / HISTOGRAM_BINS,
            "prob_alive_to": (int(rows[-1]["bin"]) + 1) / HISTOGRAM_BINS,
            "customers": int(count),
            "mean_prob_alive": float(sum(b["alive_sum"] for b in rows) / count),
            "share_bought_again": float(bought[member].sum() / count),
        })
    return {"churn_auc": auc, "reliability": reliability}


def tracking_curve(
    daily: list[dict[str, Any]], models: dict[str, PurchaseParams], *, calibration_end: dt.date, as_of: dt.date
) -> list[dict[str, Any]]:
    """Weekly cumulative repeat purchases, actual and expected per model (see the module doc).

    `daily`: rows with day (a date), new (customers first seen that day) and repeat (repeat
    purchase days that day), for the customers first seen before `calibration_end`.
    """
    if not daily:
        return []
    first = min(r["day"] for r in daily)
    days = (as_of - first).days
    new, repeat = np.zeros(days), np.zeros(days)
    for r in daily:
        offset = (r["day"] - first).days
        new[offset] += r["new"]
        repeat[offset] += r["repeat"]
    cohort_days = np.nonzero(new)[0]
    checkpoints = sorted(set(range(6, days, 7)) | {days - 1})
    cumulative = np.cumsum(repeat)
    points = []
    for d in checkpoints:
        ages = d - cohort_days[cohort_days <= d]
        weights = new[cohort_days[cohort_days <= d]]
        point = {"day": (first + dt.timedelta(days=int(d))).isoformat(), "actual": float(cumulative[d])}
        for key, params in models.items():
            point[key] = float((weights * purchase.unconditional_expected_purchases(params, ages)).sum())
        points.append(point)
    return points
