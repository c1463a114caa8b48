"""compare.html: one self-contained page (the report's Jinja2 environment, styles, table macro
and chart script), with a plotly Sankey of the segment migration. Built from the small
results the workflow already holds in the driver."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from customer_behavior import TOOL_NAME, __version__
from customer_behavior import columns as C
from customer_behavior.compare import migration as M
from customer_behavior.insights import Recommendation
from customer_behavior.report import Section, _figure_json, script_json
from customer_behavior.report.render import _env, plotly_js, table
from customer_behavior.segment_table import SEGMENT_NAMES

SLIPPING_SHOWN = 50
_KPI_LABELS = {"revenue": "net revenue", "customers": "customers", "repeat_rate": "repeat rate", "active_share": "active share", "clv_total": "CLV total"}
_SHARE_KPIS = {"repeat_rate", "active_share"}


@dataclass
class Comparison:
    """Everything compare.html shows (all small)."""

    base: dict[str, Any]
    new: dict[str, Any]
    not_comparable: list[str]
    kpis: list[dict[str, Any]]
    matrix: list[dict[str, Any]] = field(default_factory=list)
    sizes: list[dict[str, Any]] = field(default_factory=list)
    slipping_summary: list[dict[str, Any]] = field(default_factory=list)
    slipping_top: list[dict[str, Any]] = field(default_factory=list)
    slipping_note: str = ""
    persona_note: str = ""
    ari: float | None = None
    ari_customers: int = 0
    retention: list[dict[str, Any]] = field(default_factory=list)
    agreement: list[dict[str, Any]] = field(default_factory=list)
    clv_parameters: list[dict[str, Any]] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)


def _kpi_text(name: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if name in _SHARE_KPIS:
        return f"{100 * value:.1f}%"
    return f"{value:,.0f}"


def kpi_cards(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    cards = []
    for row in rows:
        name, delta = row["kpi"], row["delta"]
        if delta is None:
            delta_text = "n/a"
        elif name in _SHARE_KPIS:
            delta_text = f"{100 * delta:+.1f} points"
        else:
            delta_text = f"{delta:+,.0f}"
        cards.append({
            "kpi": name, "label": _KPI_LABELS.get(name, name), "base": _kpi_text(name, row["base"]), "new": _kpi_text(name, row["new"]),
            "delta": delta_text, "pct": f"{100 * row['pct_change']:+.1f}%" if row["pct_change"] is not None else "",
            "direction": row["direction"], "arrow": {"up": "▲", "down": "▼", "flat": "="}.get(row["direction"], ""),
        })
    return cards


_PALETTE = ("#9ca3af", "#1d4ed8", "#2563eb", "#0891b2", "#059669", "#65a30d", "#ca8a04", "#ea580c", "#dc2626", "#be123c", "#7c3aed", "#4b5563", "#111827")


def _translucent(hex_colour: str) -> str:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},0.35)"


def sankey(matrix: list[dict[str, Any]]) -> Any:
    """BASE segments on the left, NEW segments on the right, links sized by customers."""
    import plotly.graph_objects as go

    rows = [r for r in matrix if r[C.CUSTOMERS] > 0]
    if not rows:
        return None
    order = [M.NEW_CUSTOMERS, *SEGMENT_NAMES, M.GONE]  # the segment table's order on both sides
    left = [name for name in order if name in {r[M.FROM_SEGMENT] for r in rows}]
    right = [name for name in order if name in {r[M.TO_SEGMENT] for r in rows}]
    labels = [f"{name} (BASE)" for name in left] + [f"{name} (NEW)" for name in right]
    colour = {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(order)}
    link = {
        "color": [_translucent(colour[r[M.FROM_SEGMENT]]) for r in rows],
        "source": [left.index(r[M.FROM_SEGMENT]) for r in rows],
        "target": [len(left) + right.index(r[M.TO_SEGMENT]) for r in rows],
        "value": [r[C.CUSTOMERS] for r in rows],
        "customdata": [[r[M.BASE_REVENUE], r[M.NEW_REVENUE]] for r in rows],
        "hovertemplate": "%{source.label} → %{target.label}<br>%{value:,} customers<br>net spend as of BASE %{customdata[0]:,.0f}, as of NEW %{customdata[1]:,.0f}<extra></extra>",
    }
    node = {"label": labels, "pad": 12, "thickness": 16, "color": [colour[name] for name in left + right]}
    fig = go.Figure(go.Sankey(arrangement="snap", node=node, link=link))
    fig.update_layout(height=640, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def size_changes(sizes: list[dict[str, Any]]) -> Any:
    import plotly.graph_objects as go

    rows = [r for r in sizes if r["base_customers"] or r["new_customers"]]
    if not rows:
        return None
    names = [r[C.SEGMENT] for r in rows]
    fig = go.Figure([
        go.Bar(name="BASE", x=names, y=[r["base_customers"] for r in rows]),
        go.Bar(name="NEW", x=names, y=[r["new_customers"] for r in rows]),
    ])
    fig.update_layout(barmode="group", height=380, margin={"l": 40, "r": 10, "t": 10, "b": 90}, yaxis_title="customers")
    return fig


def sections(comparison: Comparison) -> list[Section]:
    note = comparison.slipping_note or "No customer is in either run."
    specs = [
        ("migration", "Segment migration", "Customers from each BASE segment (left) to each NEW segment (right), new customers and customers gone from the window included; hover for their net spend.", sankey(comparison.matrix)),
        ("segment_sizes", "Segment sizes", "Customers per segment as of BASE and as of NEW.", size_changes(comparison.sizes)),
    ]
    return [Section(key=k, title=t, description=d, figure=_figure_json(f), note="" if f is not None else note) for k, t, d, f in specs]


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame | None:
    return pd.DataFrame(rows) if rows else None


def html(comparison: Comparison) -> str:
    page_sections = sections(comparison)
    charts = {s.key: s.figure for s in page_sections if s.figure is not None}
    context = {
        "tool": TOOL_NAME,
        "version": __version__,
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "base": comparison.base,
        "new": comparison.new,
        "not_comparable": comparison.not_comparable,
        "kpi_cards": kpi_cards(comparison.kpis),
        "recommendations": comparison.recommendations,
        "sections": page_sections,
        "migration_table": table(_frame(comparison.matrix), ((M.FROM_SEGMENT, "from (BASE)"), (M.TO_SEGMENT, "to (NEW)"), (C.CUSTOMERS, "customers"), (M.BASE_REVENUE, "net spend as of BASE"), (M.NEW_REVENUE, "net spend as of NEW"))),
        "size_table": table(_frame(comparison.sizes), ((C.SEGMENT, "segment"), ("base_customers", "BASE"), ("new_customers", "NEW"), ("change", "change"), ("pct_change", "% change"), ("stayed", "stayed"), ("moved_in", "moved in"), ("moved_out", "moved out"))),
        "slipping_description": comparison.slipping_note,
        "slipping_summary_table": table(_frame(comparison.slipping_summary)),
        "slipping_table": table(_frame(comparison.slipping_top)),
        "slipping_shown": min(SLIPPING_SHOWN, len(comparison.slipping_top)),
        "persona_note": comparison.persona_note,
        "ari": f"{comparison.ari:.3f}" if comparison.ari is not None else "",
        "ari_customers": comparison.ari_customers,
        "retention_table": table(_frame(comparison.retention)),
        "agreement_table": table(_frame(comparison.agreement)),
        "clv_table": table(_frame(comparison.clv_parameters)),
    }
    return _env().get_template("compare.html.j2").render(**context, charts_json=script_json(charts), plotly_js=plotly_js())
