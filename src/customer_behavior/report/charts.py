"""Plotly figures from the small report tables (pandas). Each returns None when it has no data.

The figures are serialised to JSON and drawn in the browser by the inlined plotly.js; every
string in them came from the data and is only ever used as text (Plotly renders trace
names, labels and hover text as SVG text, and the JSON is escaped for <script>).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from customer_behavior import columns as C

PALETTE = ("#2563eb", "#f97316", "#16a34a", "#dc2626", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d", "#7c3aed")


def _layout(fig: go.Figure, *, height: int = 380, **kwargs: Any) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 60, "r": 20, "t": 30, "b": 60},
        template="plotly_white",
        legend={"orientation": "h", "y": -0.2},
        font={"family": "system-ui, sans-serif", "size": 12},
        **kwargs,
    )
    return fig


def _empty(df: pd.DataFrame | None) -> bool:
    return df is None or df.empty


def segment_sizes(segments: pd.DataFrame | None) -> go.Figure | None:
    if _empty(segments):
        return None
    df = segments.sort_values([C.REVENUE, C.GROUP], ascending=[False, True])
    fig = go.Figure(
        [
            go.Bar(name="share of customers", x=df[C.GROUP], y=df["customer_share"], marker_color=PALETTE[0], customdata=df[C.CUSTOMERS], hovertemplate="%{x}<br>%{y:.1%} of customers (%{customdata:,})<extra></extra>"),
            go.Bar(name="share of revenue", x=df[C.GROUP], y=df[C.REVENUE_SHARE], marker_color=PALETTE[1], customdata=df[C.REVENUE], hovertemplate="%{x}<br>%{y:.1%} of revenue (%{customdata:,.0f})<extra></extra>"),
        ]
    )
    return _layout(fig, barmode="group", yaxis={"tickformat": ".0%"})


def rf_grid(grid: pd.DataFrame | None) -> go.Figure | None:
    if _empty(grid):
        return None
    r_values = sorted(int(v) for v in grid[C.R_SCORE].dropna().unique())
    f_values = sorted(int(v) for v in grid[C.F_SCORE].dropna().unique())
    cells = {(int(r), int(f)): (int(n), s) for r, f, n, s in grid[[C.R_SCORE, C.F_SCORE, C.CUSTOMERS, "segments"]].itertuples(index=False)}
    z = [[cells.get((r, f), (None, ""))[0] for r in r_values] for f in f_values]
    text = [[cells.get((r, f), (None, ""))[1] for r in r_values] for f in f_values]
    fig = go.Figure(
        go.Heatmap(
            x=[f"R{r}" for r in r_values], y=[f"F{f}" for f in f_values], z=z, text=text, colorscale="Blues",
            hovertemplate="%{x} %{y}<br>%{z:,} customers<br>%{text}<extra></extra>",
        )
    )
    return _layout(fig, xaxis={"title": "recency score (5 = most recent)"}, yaxis={"title": "frequency score"})


def persona_profiles(profiles: pd.DataFrame | None) -> go.Figure | None:
    """Each numeric profile column scaled to its range across personas (0..1), hover shows the real value."""
    if _empty(profiles) or C.PERSONA_NAME not in profiles.columns:
        return None
    numeric = [c for c in profiles.columns if c not in (C.PERSONA_NAME, C.CLUSTER) and pd.api.types.is_numeric_dtype(profiles[c]) and not pd.api.types.is_bool_dtype(profiles[c])]
    means = [c for c in numeric if c.startswith("mean_")]  # the persona stage's per-feature means, when it writes them
    numeric = means or numeric
    if not numeric:
        return None
    values = profiles[numeric].astype(float)
    span = (values.max() - values.min()).replace(0, 1.0)
    scaled = (values - values.min()) / span
    fig = go.Figure(
        go.Heatmap(
            x=numeric, y=profiles[C.PERSONA_NAME].astype(str), z=scaled.values.tolist(), customdata=values.round(3).values.tolist(),
            colorscale="Viridis", hovertemplate="%{y}<br>%{x}: %{customdata}<extra></extra>", colorbar={"title": "relative"},
        )
    )
    return _layout(fig, height=max(300, 60 + 40 * len(profiles)), xaxis={"tickangle": -35})


def persona_sweep(sweep: pd.DataFrame | None) -> go.Figure | None:
    if _empty(sweep) or "k" not in sweep.columns:
        return None
    df = sweep.sort_values("k")
    preferred = [c for c in ("silhouette", "cost") if c in df.columns]
    skip = {"k", "clusters", "sample_size"}
    metrics = preferred or [c for c in df.columns if c not in skip and pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
    if not metrics:
        return None
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=metrics)
    chosen = df[df["is_chosen"].fillna(False).astype(bool)] if "is_chosen" in df.columns else df.iloc[0:0]
    for i, metric in enumerate(metrics, start=1):
        fig.add_trace(go.Scatter(x=df["k"].tolist(), y=df[metric].tolist(), mode="lines+markers", name=metric, marker_color=PALETTE[i % len(PALETTE)]), row=1, col=i)
        if not chosen.empty:
            fig.add_trace(
                go.Scatter(x=chosen["k"].tolist(), y=chosen[metric].tolist(), mode="markers", name="chosen k", marker={"size": 14, "symbol": "star", "color": PALETTE[3]}),
                row=1, col=i,
            )
    return _layout(fig, showlegend=False)


def day_hour(df: pd.DataFrame | None) -> go.Figure | None:
    if _empty(df):
        return None
    pivot = df.pivot_table(index=C.DAY_OF_WEEK, columns=C.HOUR, values=C.ORDERS, aggfunc="sum").sort_index()
    names = df.drop_duplicates(C.DAY_OF_WEEK).set_index(C.DAY_OF_WEEK)[C.DAY_NAME]
    fig = go.Figure(
        go.Heatmap(
            x=[f"{h:02d}:00" for h in pivot.columns], y=[names[d] for d in pivot.index], z=pivot.values.tolist(), colorscale="YlOrRd",
            hovertemplate="%{y} %{x}<br>%{z:,} orders<extra></extra>",
        )
    )
    return _layout(fig, yaxis={"autorange": "reversed"})


def day_of_week(df: pd.DataFrame | None) -> go.Figure | None:
    """Orders per day of week (the day_hour table summed over hours): for dates without a time."""
    if _empty(df):
        return None
    days = df.groupby([C.DAY_OF_WEEK, C.DAY_NAME], as_index=False)[C.ORDERS].sum().sort_values(C.DAY_OF_WEEK)
    fig = go.Figure(go.Bar(x=days[C.DAY_NAME], y=days[C.ORDERS], marker_color=PALETTE[0], hovertemplate="%{x}: %{y:,} orders<extra></extra>"))
    return _layout(fig)


def weekend_weekday(df: pd.DataFrame | None) -> go.Figure | None:
    if _empty(df):
        return None
    weekend = df[df[C.DAY_TYPE] == "weekend"].copy()
    if weekend.empty:
        return None
    weekend["label"] = [g if t == C.GROUP_ALL else f"{t}: {g}" for t, g in zip(weekend[C.GROUP_TYPE], weekend[C.GROUP])]
    weekend = weekend.sort_values([C.GROUP_TYPE, C.ORDER_SHARE], ascending=[True, False])
    values = df.pivot_table(index=[C.GROUP_TYPE, C.GROUP], columns=C.DAY_TYPE, values=C.ORDER_VALUE, aggfunc="first")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("weekend share of orders", "order value: weekday vs weekend"))
    fig.add_trace(go.Bar(x=weekend[C.ORDER_SHARE], y=weekend["label"], orientation="h", marker_color=PALETTE[1], name="weekend share", hovertemplate="%{y}: %{x:.1%}<extra></extra>"), row=1, col=1)
    labels = [g if t == C.GROUP_ALL else f"{t}: {g}" for t, g in values.index]
    for i, day_type in enumerate(("weekday", "weekend")):
        if day_type in values.columns:
            fig.add_trace(go.Bar(x=values[day_type].tolist(), y=labels, orientation="h", name=day_type, marker_color=PALETTE[i]), row=1, col=2)
    fig.update_xaxes(tickformat=".0%", row=1, col=1)
    return _layout(fig, height=max(360, 120 + 22 * len(weekend)), barmode="group")


def category_lift(df: pd.DataFrame | None, group_type: str) -> go.Figure | None:
    """Heatmap of revenue lift per (group, category); a category a group never bought is an empty cell."""
    if _empty(df):
        return None
    categories = sorted(df.loc[df[C.GROUP_TYPE] == C.GROUP_ALL, C.CATEGORY].astype(str).unique())
    rows = df[df[C.GROUP_TYPE] == group_type]
    if rows.empty or not categories:
        return None
    groups = sorted(rows[C.GROUP].astype(str).unique())
    lift = rows.pivot_table(index=C.GROUP, columns=C.CATEGORY, values=C.REVENUE_LIFT, aggfunc="first").reindex(index=groups, columns=categories)
    share = rows.pivot_table(index=C.GROUP, columns=C.CATEGORY, values=C.REVENUE_SHARE, aggfunc="first").reindex(index=groups, columns=categories)
    z = [[None if pd.isna(v) else float(v) for v in row] for row in lift.values]
    custom = [[None if pd.isna(v) else float(v) for v in row] for row in share.values]
    fig = go.Figure(
        go.Heatmap(
            x=categories, y=groups, z=z, customdata=custom, colorscale="RdBu", zmid=1.0, colorbar={"title": "lift"},
            hovertemplate="%{y} / %{x}<br>lift %{z:.2f}<br>%{customdata:.1%} of the group's revenue<extra></extra>", hoverongaps=False,
        )
    )
    return _layout(fig, height=max(320, 80 + 32 * len(groups)), xaxis={"tickangle": -30})


def payment_mix(df: pd.DataFrame | None) -> go.Figure | None:
    if _empty(df):
        return None
    frame = df.copy()
    frame["label"] = [g if t == C.GROUP_ALL else f"{t}: {g}" for t, g in zip(frame[C.GROUP_TYPE], frame[C.GROUP])]
    order = {"all": 0, "channel": 1, "age_band": 2, "segment": 3}
    labels = sorted(frame["label"].unique(), key=lambda lab: (order.get(frame.loc[frame["label"] == lab, C.GROUP_TYPE].iloc[0], 9), lab))
    methods = sorted(frame[C.PAYMENT_METHOD].astype(str).unique())
    pivot = frame.pivot_table(index="label", columns=C.PAYMENT_METHOD, values=C.ORDER_SHARE, aggfunc="first").reindex(index=labels, columns=methods)
    fig = go.Figure(
        [
            go.Bar(name=m, y=labels, x=[None if pd.isna(v) else float(v) for v in pivot[m]], orientation="h", marker_color=PALETTE[i % len(PALETTE)], hovertemplate="%{y}<br>" + "%{fullData.name}: %{x:.1%}<extra></extra>")
            for i, m in enumerate(methods)
        ]
    )
    return _layout(fig, height=max(360, 120 + 22 * len(labels)), barmode="stack", xaxis={"tickformat": ".0%"}, yaxis={"autorange": "reversed"})


def monthly_trend(df: pd.DataFrame | None) -> go.Figure | None:
    if _empty(df):
        return None
    frame = df.sort_values(C.MONTH)
    months = [pd.Timestamp(m).strftime("%Y-%m") for m in frame[C.MONTH]]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=months, y=frame[C.REVENUE], name="revenue", marker_color=[PALETTE[3] if p else PALETTE[0] for p in frame[C.IS_PEAK]]), secondary_y=False)
    fig.add_trace(go.Scatter(x=months, y=frame[C.ORDERS], name="orders", mode="lines+markers", marker_color=PALETTE[1]), secondary_y=True)
    fig.add_trace(go.Scatter(x=months, y=frame[C.ACTIVE_CUSTOMERS], name="active customers", mode="lines+markers", marker_color=PALETTE[2]), secondary_y=True)
    peaks = frame[frame[C.IS_PEAK]]
    for month, revenue in zip(peaks[C.MONTH], peaks[C.REVENUE]):
        fig.add_annotation(x=pd.Timestamp(month).strftime("%Y-%m"), y=float(revenue), text="peak", showarrow=True, arrowhead=2)
    fig.update_yaxes(title_text="revenue", secondary_y=False)
    fig.update_yaxes(title_text="orders / customers", secondary_y=True)
    return _layout(fig, xaxis={"type": "category"})


def cohort_heatmap(df: pd.DataFrame | None) -> go.Figure | None:
    if _empty(df):
        return None
    frame = df.copy()
    frame["cohort"] = [pd.Timestamp(m).strftime("%Y-%m") for m in frame[C.COHORT_MONTH]]
    pivot = frame.pivot_table(index="cohort", columns=C.MONTHS_SINCE, values=C.RETENTION, aggfunc="first").sort_index()
    sizes = frame.drop_duplicates("cohort").set_index("cohort")[C.COHORT_SIZE]
    z = [[None if pd.isna(v) else float(v) for v in row] for row in pivot.values]
    fig = go.Figure(
        go.Heatmap(
            x=[int(c) for c in pivot.columns], y=[f"{c} (n={int(sizes[c]):,})" for c in pivot.index], z=z, colorscale="Greens", zmin=0, zmax=1,
            hovertemplate="cohort %{y}<br>month %{x}: %{z:.1%} active<extra></extra>", hoverongaps=False,
        )
    )
    return _layout(fig, height=max(360, 80 + 18 * len(pivot)), xaxis={"title": "months since first order"}, yaxis={"autorange": "reversed"})


def rule_label(antecedent: Any, consequent: Any) -> str:
    items = [str(item) for item in (antecedent if antecedent is not None else [])]
    return f"{' + '.join(items)} → {consequent}"


def affinities(df: pd.DataFrame | None) -> go.Figure | None:
    if _empty(df):
        return None
    frame = df.head(20).copy()
    frame["rule"] = [rule_label(a, c) for a, c in zip(frame[C.ANTECEDENT], frame[C.CONSEQUENT])]
    frame = frame.iloc[::-1]
    # Colours computed here (darker = more confident): plotly.js warns on numeric bar colours in some versions.
    confidence = frame[C.CONFIDENCE].astype(float).clip(0, 1).tolist()
    colors = sample_colorscale("Purples", [0.3 + 0.7 * c for c in confidence])
    fig = go.Figure(
        go.Bar(
            x=frame[C.LIFT].astype(float).tolist(), y=frame["rule"].tolist(), orientation="h", marker={"color": colors},
            customdata=frame[[C.SUPPORT, C.CONFIDENCE]].values.tolist(),
            hovertemplate="%{y}<br>lift %{x:.2f}<br>support %{customdata[0]:.1%}<br>confidence %{customdata[1]:.1%}<extra></extra>",
        )
    )
    return _layout(fig, height=max(320, 80 + 24 * len(frame)), xaxis={"title": "lift"})


def clv_churn(segments: pd.DataFrame | None) -> go.Figure | None:
    if _empty(segments) or C.CLV_TOTAL not in segments.columns or segments[C.CLV_TOTAL].isna().all():
        return None
    df = segments.sort_values([C.CLV_TOTAL, C.GROUP], ascending=[False, True])
    fig = make_subplots(rows=1, cols=2, subplot_titles=("predicted CLV by segment", "customers by churn risk"))
    fig.add_trace(go.Bar(x=df[C.GROUP], y=df[C.CLV_TOTAL], name="CLV", marker_color=PALETTE[2], customdata=df[C.AVG_PROB_ALIVE], hovertemplate="%{x}<br>CLV %{y:,.0f}<br>mean P(alive) %{customdata:.2f}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Bar(x=df[C.GROUP], y=df[C.HIGH_CHURN_CUSTOMERS], name="high churn risk", marker_color=PALETTE[3]), row=1, col=2)
    fig.add_trace(go.Bar(x=df[C.GROUP], y=df[C.CUSTOMERS] - df[C.HIGH_CHURN_CUSTOMERS], name="other", marker_color=PALETTE[8]), row=1, col=2)
    return _layout(fig, height=420, barmode="stack", xaxis={"tickangle": -35}, xaxis2={"tickangle": -35})
