"""Jinja2 rendering of report.html (autoescaped) and report.md (escaped by hand)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from customer_behavior import TOOL_NAME, __version__
from customer_behavior import columns as C
from customer_behavior.insights import Recommendation

if TYPE_CHECKING:
    from customer_behavior.report import ReportData, Section

SEGMENT_COLUMNS = (
    (C.GROUP, "segment"), (C.CUSTOMERS, "customers"), ("customer_share", "% customers"), (C.REVENUE, "revenue"), (C.REVENUE_SHARE, "% revenue"),
    ("revenue_per_customer", "revenue / customer"), ("aov", "order value"), (C.AVG_ORDERS, "orders / customer"), (C.AVG_RECENCY_DAYS, "days since last order"),
    (C.ACTIVE_SHARE, "% active"), (C.CLV_TOTAL, "CLV"), (C.AVG_PROB_ALIVE, "P(alive)"), (C.HIGH_CHURN_CUSTOMERS, "high churn risk"),
)
PERCENT_COLUMNS = {
    "customer_share", C.REVENUE_SHARE, C.ACTIVE_SHARE, C.REPEAT_RATE, C.SUPPORT, C.CONFIDENCE, C.ORDER_SHARE, "top_revenue_share", "top_share",
    "weekend_order_share", "base_weekend_order_share", "high_churn_revenue_share", "one_time_share", "persona_at_risk_share", "base_at_risk_share",
    "pct_change", "kept_share",  # compare.html
}
MONEY_COLUMNS = {
    C.REVENUE, "revenue_per_customer", "aov", C.CLV_TOTAL, C.AT_RISK_REVENUE, "value_at_stake",
    "base_revenue", "new_revenue", "past_spend", "spend_since_base", "base_clv", "new_clv",  # compare.html
}


def fmt(value: Any, column: str = "") -> str:
    """A cell as text: percentages, money with thousands separators, empty for missing values."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist") and not isinstance(value, (int, float, str)):
        items = value.tolist() if hasattr(value, "tolist") else value
        return " + ".join(str(v) for v in items) if isinstance(items, list) else str(items)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        if column in PERCENT_COLUMNS:
            return f"{100 * value:.1f}%"
        if column in MONEY_COLUMNS:
            return f"{value:,.0f}"
        return f"{value:,.2f}"
    if isinstance(value, (dt.date, pd.Timestamp)):
        return value.strftime("%Y-%m-%d")
    return str(value)


def sort_key(value: Any) -> str:
    """The raw value a sortable table sorts by (numbers stay numbers)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(float(value))
    return fmt(value)


def table(df: pd.DataFrame | None, columns: tuple[tuple[str, str], ...] | None = None, limit: int | None = None) -> dict[str, Any] | None:
    """Header and rows of (text, sort key) cells for the template."""
    if df is None:
        return None
    if columns is None:
        columns = tuple((c, c) for c in df.columns)
    columns = tuple((c, label) for c, label in columns if c in df.columns)
    frame = df if limit is None else df.head(limit)
    rows = []
    for record in frame.to_dict("records"):
        rows.append([(fmt(_plain(record[c]), c), sort_key(_plain(record[c]))) for c, _ in columns])
    return {"header": [label for _, label in columns], "rows": rows}


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, (list, tuple)) and getattr(value, "ndim", 0) == 0:
        return value.item()
    return value


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(loader=PackageLoader("customer_behavior.report", "templates"), autoescape=select_autoescape(["html", "j2"], default=True))
    env.filters["fmt"] = fmt
    return env


@lru_cache(maxsize=1)
def plotly_js() -> str:
    import plotly.offline

    return plotly.offline.get_plotlyjs()


def _category_table(data: ReportData) -> pd.DataFrame | None:
    df = data.patterns.get("categories")
    if df is None:
        return None
    return df.sort_values([C.GROUP_TYPE, C.GROUP, C.REVENUE], ascending=[True, True, False])


def _affinity_table(data: ReportData) -> pd.DataFrame | None:
    df = data.patterns.get("affinities")
    if df is None:
        return None
    frame = df.copy()
    frame["rule"] = [f"{' + '.join(str(i) for i in (a if a is not None else []))} → {c}" for a, c in zip(frame[C.ANTECEDENT], frame[C.CONSEQUENT])]
    return frame[["rule", C.SUPPORT, C.CONFIDENCE, C.LIFT]]


def _holdout_items(holdout: Any) -> list[tuple[str, str]]:
    """The scalar metrics of the CLV stage's holdout evaluation (manifest results.clv.holdout)."""
    if not isinstance(holdout, dict):
        return []
    return [(str(k), fmt(v, str(k))) for k, v in holdout.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)][:12]


def _clv_model_table(meta: dict[str, Any]) -> dict[str, Any] | None:
    """The holdout figures of every CLV model side by side (manifest results.clv.evaluation)."""
    from customer_behavior.report.clv_charts import model_comparison_rows

    rows = model_comparison_rows(meta.get("clv_evaluation"), meta.get("clv_choice"))
    return table(pd.DataFrame(rows)) if rows else None


CHALLENGER_COLUMNS = (
    ("name", "model"), ("normalized_gini", "normalized Gini"), ("spearman", "Spearman"), ("decile_mape_pct", "decile MAPE %"), ("auc", "AUC (buys again)"),
    ("total_predicted", "holdout spend predicted"), ("total_actual", "holdout spend actual"), ("aggregate_error_pct", "aggregate error %"),
)


def _challenger(meta: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The ML challenger beside the probabilistic models on the held-out customers (manifest results.challenger), and its verdict or why it is missing."""
    result = meta.get("clv_challenger")
    if not isinstance(result, dict):
        return None, None
    if result.get("status") != "ok":
        return None, f"The ML challenger is not in this run: {result.get('reason', result.get('status'))}."
    text = (
        f"Trained on {result['train_customers']:,} calibration customers, judged on {result['test_customers']:,} others "
        f"(their spend in the {result['horizon_days']:.0f}-day holdout). {result['verdict']}."
    )
    return table(pd.DataFrame(result["models"]), CHALLENGER_COLUMNS), text


INTERVAL_COLUMNS = (
    ("group", "group"), ("customers", "customers"), ("expected_purchases", "expected purchases"), ("expected_purchases_low", "90% low"),
    ("expected_purchases_high", "90% high"), ("total_clv", "total CLV"), ("total_clv_low", "CLV 90% low"), ("total_clv_high", "CLV 90% high"),
)


def _clv_interval_table(intervals: Any) -> dict[str, Any] | None:
    """Total expected purchases and CLV with 90% intervals: all customers, per segment, per persona (results.clv.intervals)."""
    if not isinstance(intervals, dict) or intervals.get("status") != "ok":
        return None
    rows = []
    for part, column, label in (("total", "group", ""), ("by_segment", C.SEGMENT, "segment: "), ("by_persona", C.PERSONA_NAME, "persona: ")):
        for row in intervals.get(part, []):
            rows.append({**row, "group": f"{label}{row.get(column)}"})
    return table(pd.DataFrame(rows), INTERVAL_COLUMNS) if rows else None


def context(data: ReportData, sections: list[Section], recommendations: list[Recommendation], cards: list[tuple[str, str]]) -> dict[str, Any]:
    persona_columns = tuple((c, "persona" if c == C.GROUP else label) for c, label in SEGMENT_COLUMNS)
    return {
        "tool": TOOL_NAME,
        "version": __version__,
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "meta": data.meta,
        "cards": cards,
        "recommendations": recommendations,
        "sections": sections,
        "segment_table": table(data.segments, SEGMENT_COLUMNS if data.has_clv else SEGMENT_COLUMNS[:-3]),
        "persona_table": table(data.personas, persona_columns if data.has_clv else persona_columns[:-3]) if data.has_personas else None,
        "profile_table": table(data.persona_profiles) if data.has_personas else None,
        "category_table": table(
            _category_table(data),
            ((C.GROUP_TYPE, "breakdown"), (C.GROUP, "group"), (C.CATEGORY, "category"), (C.ORDERS, "orders"), (C.REVENUE, "revenue"), (C.ORDER_VALUE, "order value"), (C.REVENUE_SHARE, "% of group revenue"), (C.REVENUE_LIFT, "lift")),
        ),
        "affinity_table": table(_affinity_table(data)),
        "holdout_items": _holdout_items(data.meta.get("clv_holdout")),
        "clv_model_table": _clv_model_table(data.meta),
        "clv_interval_table": _clv_interval_table(data.meta.get("clv_intervals")),
        "challenger_table": _challenger(data.meta)[0],
        "challenger_text": _challenger(data.meta)[1],
        "clv_choice": (data.meta.get("clv_choice") or {}).get("reason") if isinstance(data.meta.get("clv_choice"), dict) else None,
        "has_personas": data.has_personas,
        "has_clv": data.has_clv,
    }


def html(data: ReportData, sections: list[Section], recommendations: list[Recommendation], cards: list[tuple[str, str]]) -> str:
    from customer_behavior.report import script_json

    charts = {s.key: s.figure for s in sections if s.figure is not None}
    return _env().get_template("report.html.j2").render(
        **context(data, sections, recommendations, cards), charts_json=script_json(charts), plotly_js=plotly_js()
    )


def md_escape(value: Any) -> str:
    """Text for a Markdown cell: HTML-escaped (renderers pass HTML through) and pipes escaped."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _md_table(tab: dict[str, Any] | None) -> list[str]:
    if not tab or not tab["rows"]:
        return ["_(empty)_", ""]
    lines = ["| " + " | ".join(md_escape(h) for h in tab["header"]) + " |", "|" + "---|" * len(tab["header"])]
    lines += ["| " + " | ".join(md_escape(text) for text, _ in row) + " |" for row in tab["rows"]]
    return lines + [""]


def markdown(data: ReportData, sections: list[Section], recommendations: list[Recommendation], cards: list[tuple[str, str]]) -> str:
    ctx = context(data, sections, recommendations, cards)
    lines = ["# Customer behaviour report", "", f"Generated {ctx['generated_at']} by {TOOL_NAME} {__version__}."]
    if data.meta.get("run"):
        lines.append(f"Run: `{md_escape(data.meta['run'])}`.")
    if data.meta.get("notes"):
        lines += ["", "**On this data:**", ""] + [f"- {md_escape(note)}" for note in data.meta["notes"]]
    if data.meta.get("data_quality"):
        lines += ["", "Data quality: " + " ".join(md_escape(line) for line in data.meta["data_quality"])]
    lines += ["", "## Key figures", "", "| KPI | value |", "|---|---|"]
    lines += [f"| {md_escape(label)} | {md_escape(value)} |" for label, value in cards]
    lines += ["", "## Recommendations", ""]
    if not recommendations:
        lines.append("_No rule fired on these figures._")
    for i, rec in enumerate(recommendations, start=1):
        triggers = ", ".join(f"{md_escape(k)} = {md_escape(fmt(v, k))}" for k, v in rec.triggers.items())
        lines += [
            f"{i}. **{md_escape(rec.title)}** ({md_escape(rec.target_type)}: {md_escape(rec.target)}; {rec.customers:,} customers; "
            f"value at stake {rec.value_at_stake:,.0f}, {md_escape(rec.value_basis)})  ",
            f"   {md_escape(rec.action)}  ",
            f"   _Triggered by: {triggers}_",
        ]
    lines += ["", "## Segments", ""] + _md_table(ctx["segment_table"])
    lines += ["## Personas", ""] + (_md_table(ctx["persona_table"]) if data.has_personas else ["_Personas are not in this run._", ""])
    lines += ["## Category affinities", ""] + _md_table(ctx["affinity_table"])
    if ctx["clv_model_table"]:
        lines += ["## CLV models on the holdout", ""] + ([f"Model used: {md_escape(ctx['clv_choice'])}.", ""] if ctx["clv_choice"] else []) + _md_table(ctx["clv_model_table"])
    if ctx["challenger_text"]:
        lines += ["## CLV: the ML challenger against the probabilistic models", "", md_escape(ctx["challenger_text"]), ""]
        lines += _md_table(ctx["challenger_table"]) if ctx["challenger_table"] else []
    if ctx["clv_interval_table"]:
        lines += ["## CLV with 90% intervals (parameter uncertainty)", ""] + _md_table(ctx["clv_interval_table"])
    lines += ["## Charts", "", "The interactive charts are in report.html:", ""]
    lines += [f"- {md_escape(s.title)}" + ("" if s.figure is not None else f" (not shown: {md_escape(s.note)})") for s in sections]
    return "\n".join(lines) + "\n"
