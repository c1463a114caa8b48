"""Plotly figures of the CLV model evaluation (manifest results.clv.evaluation). Each returns None without data.

The inputs are the small lists the CLV stage wrote into the manifest: per model, the mean
holdout purchases by calibration frequency, the P(alive) reliability deciles; for all models
the weekly tracking curve and Gamma-Gamma's spend by frequency.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from customer_behavior.report.charts import PALETTE, _layout

NAMES = {"mbgnbd": "MBG/NBD", "bgnbd": "BG/NBD", "paretonbd": "Pareto/NBD"}


def _fitted(evaluation: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not isinstance(evaluation, dict):
        return []
    return [e for e in evaluation.get("models", []) if isinstance(e, dict) and e.get("status") == "ok"]


def model_comparison_rows(evaluation: dict[str, Any] | None, choice: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per model for the report's table: the holdout figures, or the reason it was not fitted."""
    if not isinstance(evaluation, dict):
        return []
    chosen = (choice or {}).get("chosen")
    rows = []
    for entry in evaluation.get("models", []):
        if entry.get("status") != "ok":
            rows.append({"model": entry.get("name"), "used": "", "note": entry.get("reason", "")})
            continue
        rows.append({
            "model": entry["name"], "used": "yes" if entry["model"] == chosen else "",
            "mae": entry["mae"], "rmse": entry["rmse"], "total_predicted": entry["total_predicted"], "total_actual": entry["total_actual"],
            "aggregate_error_pct": entry["aggregate_error_pct"], "churn_auc": entry["churn_auc"], "note": "",
        })
    return rows


def tracking(evaluation: dict[str, Any] | None) -> go.Figure | None:
    fitted = _fitted(evaluation)
    points = evaluation.get("tracking") if isinstance(evaluation, dict) else None
    if not points or not fitted:
        return None
    days = [p["day"] for p in points]
    traces = [go.Scatter(name="actual", x=days, y=[p["actual"] for p in points], mode="lines", line={"color": "#111827", "width": 3})]
    for i, entry in enumerate(fitted):
        traces.append(go.Scatter(name=f"{entry['name']} expected", x=days, y=[p.get(entry["model"]) for p in points], mode="lines", line={"color": PALETTE[i], "dash": "dash"}))
    fig = go.Figure(traces)
    fig.add_vline(x=evaluation["calibration_end"], line_dash="dot", line_color="#6b7280")
    return _layout(fig, yaxis={"title": "cumulative repeat purchases"}, xaxis={"title": "calibration | holdout"})


def holdout_by_frequency(evaluation: dict[str, Any] | None) -> go.Figure | None:
    fitted = _fitted(evaluation)
    if not fitted:
        return None
    labels = [row["frequency_cal"] for row in fitted[0]["by_frequency"]]
    traces = [go.Scatter(name="actual", x=labels, y=[row["mean_actual"] for row in fitted[0]["by_frequency"]], mode="lines+markers", line={"color": "#111827", "width": 3})]
    for i, entry in enumerate(fitted):
        traces.append(go.Scatter(name=entry["name"], x=labels, y=[row["mean_predicted"] for row in entry["by_frequency"]], mode="lines+markers", line={"color": PALETTE[i], "dash": "dash"}))
    return _layout(go.Figure(traces), xaxis={"title": "repeat purchases in the calibration period", "type": "category"}, yaxis={"title": "mean purchases in the holdout"})


def reliability(evaluation: dict[str, Any] | None) -> go.Figure | None:
    fitted = _fitted(evaluation)
    if not fitted or not fitted[0].get("reliability"):
        return None
    traces = [go.Scatter(name="perfect", x=[0, 1], y=[0, 1], mode="lines", line={"color": "#9ca3af", "dash": "dot"})]
    for i, entry in enumerate(fitted):
        rows = entry["reliability"]
        traces.append(go.Scatter(
            name=f"{entry['name']} (AUC {entry['churn_auc']:.3f})" if entry.get("churn_auc") is not None else entry["name"],
            x=[r["mean_prob_alive"] for r in rows], y=[r["share_bought_again"] for r in rows], mode="lines+markers", line={"color": PALETTE[i]},
            customdata=[[r["decile"], r["customers"]] for r in rows], hovertemplate="decile %{customdata[0]} (%{customdata[1]:,} customers)<br>P(alive) %{x:.2f}, bought again %{y:.1%}<extra></extra>",
        ))
    return _layout(go.Figure(traces), xaxis={"title": "mean P(alive) at the calibration end, per decile", "range": [0, 1]}, yaxis={"title": "share that bought in the holdout", "tickformat": ".0%", "range": [0, 1]})


def spend_by_frequency(evaluation: dict[str, Any] | None) -> go.Figure | None:
    rows = evaluation.get("spend_by_frequency") if isinstance(evaluation, dict) else None
    if not rows:
        return None
    labels = [r["frequency_cal"] for r in rows]
    fig = go.Figure([
        go.Bar(name="observed mean spend in the holdout", x=labels, y=[r["mean_observed_spend"] for r in rows], marker_color=PALETTE[0]),
        go.Bar(name="Gamma-Gamma expected", x=labels, y=[r["mean_expected_spend"] for r in rows], marker_color=PALETTE[1]),
    ])
    return _layout(fig, barmode="group", xaxis={"title": "repeat purchases in the calibration period", "type": "category"}, yaxis={"title": "spend per purchase day"})
