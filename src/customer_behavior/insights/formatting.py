"""Formatting of the KPIs and insights for the report (and the CLI): labels, numbers, JSON-safe values."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from customer_behavior.config import InsightsConfig


def _money(value: float) -> str:
    return f"{value:,.0f}"


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"



def _num(value: Any, default: float = 0.0) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(number) else number



def kpi_labels(active_days: int, top_share: float) -> tuple[tuple[str, str, str], ...]:
    """(label, key in the kpis table, kind) of the headline KPIs, in order: the report's cards and the CLI's summary."""
    return (
        ("Revenue (net)", "revenue", "money"),
        ("Customers", "customers", "int"),
        ("Orders", "orders", "int"),
        ("Average order value", "aov", "money2"),
        ("Repeat rate", "repeat_rate", "pct"),
        (f"Active in last {active_days} days", "active_share", "pct"),
        (f"Revenue from top {top_share:.0%}", "top_revenue_share", "pct"),
        ("Revenue of at-risk segments", "at_risk_revenue", "money"),
    )


def format_kpi(value: Any, kind: str) -> str:
    """One KPI value as the report shows it (kind from `kpi_labels`)."""
    number = _num(value)
    if kind == "money":
        return _money(number)
    if kind == "int":
        return f"{int(number):,}"
    if kind == "money2":
        return f"{number:,.2f}"
    return _pct(number)


def kpi_cards(kpis: dict[str, Any], cfg: InsightsConfig) -> list[tuple[str, str]]:
    """(label, formatted value) pairs for the top of the report."""
    return [(label, format_kpi(kpis.get(key), kind)) for label, key, kind in kpi_labels(cfg.active_days, cfg.top_share)]


def json_safe(value: Any) -> Any:
    """Plain JSON values (no NaN, numpy or dates) for insights.json."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, (dt.date, dt.datetime, pd.Timestamp)):
        return value.isoformat()
    if isinstance(value, (str, bool, int)):
        return value
    if hasattr(value, "tolist"):
        return json_safe(value.tolist())
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    return value


def frame_records(df: pd.DataFrame | None, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    if df is None:
        return []
    if columns is not None:
        df = df[[c for c in columns if c in df.columns]]
    return json_safe(df.to_dict("records"))
