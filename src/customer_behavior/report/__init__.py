"""The report: report.html (one self-contained file), report.md and insights.json.

It is built only from a run's small tables (tables/insights/*, tables/patterns/*, and the
persona tables when present), read with pandas: rebuilding a report needs no Spark and
recomputes nothing. Field and table definitions: docs/report.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from customer_behavior import TOOL_NAME, __version__
from customer_behavior import columns as C
from customer_behavior.config import InsightsConfig
from customer_behavior.errors import InputError, OutputError
from customer_behavior.insights import Figures, Recommendation, frame_records, json_safe, kpi_cards, recommend
from customer_behavior.patterns import PATTERN_TABLES
from customer_behavior.runio import read_manifest
from customer_behavior.tracking import degradation_notes

REPORT_DIR = "report"
INSIGHTS_TABLES = ("kpis", "segments", "rf_grid")
OPTIONAL_TABLES = {
    "personas": "tables/insights/personas",
    "persona_profiles": "tables/persona_profiles",
    "persona_sweep": "tables/persona_sweep",
}
REQUIRED_TABLES = tuple(f"tables/insights/{name}" for name in INSIGHTS_TABLES) + tuple(f"tables/patterns/{name}" for name in PATTERN_TABLES)
INSIGHTS_SCHEMA_VERSION = 1


@dataclass
class ReportData:
    kpis: dict[str, Any]
    segments: pd.DataFrame
    rf_grid: pd.DataFrame
    patterns: dict[str, pd.DataFrame]
    personas: pd.DataFrame | None = None
    persona_profiles: pd.DataFrame | None = None
    persona_sweep: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def has_personas(self) -> bool:
        return self.personas is not None and not self.personas.empty

    @property
    def has_clv(self) -> bool:
        value = self.kpis.get("clv_total")
        return value is not None and not pd.isna(value)

    def figures(self) -> Figures:
        return Figures(kpis=self.kpis, segments=self.segments, personas=self.personas, patterns=self.patterns, has_clv=self.has_clv)


def _is_table(path: Path) -> bool:
    return path.is_dir() and any(p.suffix == ".parquet" for p in path.iterdir()) or path.is_file()


def _read(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable table is one line for the user
        raise InputError(f"table {str(path)!r} cannot be read as Parquet: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None


def load_tables(root: str | os.PathLike[str], *, meta: dict[str, Any] | None = None) -> ReportData:
    """The report's tables from a run directory (or a staging directory still being written)."""
    base = Path(root)
    missing = [name for name in REQUIRED_TABLES if not _is_table(base / name)]
    if missing:
        raise InputError(f"run {str(base)!r} is missing tables: {', '.join(missing)}; rerun 'customer-behavior run' to produce them")
    kpis_df = _read(base / "tables/insights/kpis")
    if len(kpis_df) != 1:
        raise InputError(f"table {str(base / 'tables/insights/kpis')!r} must hold exactly one row, found {len(kpis_df)}")
    optional = {key: _read(base / rel) if _is_table(base / rel) else None for key, rel in OPTIONAL_TABLES.items()}
    optional["personas"] = _by_revenue(optional["personas"])
    return ReportData(
        kpis={column: json_safe(kpis_df[column].iloc[0]) for column in kpis_df.columns},
        segments=_by_revenue(_read(base / "tables/insights/segments")),
        rf_grid=_read(base / "tables/insights/rf_grid"),
        patterns={name: _read(base / "tables/patterns" / name) for name in PATTERN_TABLES},
        meta=meta or {},
        **optional,
    )


def _by_revenue(df: pd.DataFrame | None) -> pd.DataFrame | None:
    if df is None or df.empty or C.REVENUE not in df.columns:
        return df
    return df.sort_values([C.REVENUE, C.GROUP], ascending=[False, True]).reset_index(drop=True)


def load_run(path: str | os.PathLike[str]) -> ReportData:
    """The report's tables from a finished run; InputError naming the problem otherwise."""
    base = Path(path)
    if not base.is_dir():
        raise InputError(f"{str(base)!r} is not a directory; pass the directory that 'customer-behavior run' wrote")
    manifest = read_manifest(base)
    if manifest is None:
        raise InputError(f"{str(base)!r} is not a run of {TOOL_NAME} (no manifest.json of ours); pass the directory that 'customer-behavior run' wrote")
    return load_tables(base, meta=run_meta(manifest, base))


def run_meta(manifest: dict[str, Any], path: Path) -> dict[str, Any]:
    results = manifest.get("results", {})
    features = results.get("features") if isinstance(results.get("features"), dict) else {}
    return {
        "run": str(path),
        "started_at": manifest.get("started_at"),
        "seed": manifest.get("seed"),
        "as_of": features.get("as_of") or results.get("as_of"),  # the features stage records the as-of date
        "clv_holdout": results.get("clv", {}).get("holdout") if isinstance(results.get("clv"), dict) else None,
        "clv_evaluation": results.get("clv", {}).get("evaluation") if isinstance(results.get("clv"), dict) else None,
        "clv_choice": results.get("clv", {}).get("model_choice") if isinstance(results.get("clv"), dict) else None,
        "clv_intervals": results.get("clv", {}).get("intervals") if isinstance(results.get("clv"), dict) else None,
        "clv_challenger": results.get("challenger") if isinstance(results.get("challenger"), dict) else None,
        "notes": degradation_notes(manifest.get("stages", [])),
        **data_meta(results),
    }


# The report's sections that need a column the log may not have.
SECTION_COLUMNS = {
    "category_segment": C.CATEGORY,
    "category_persona": C.CATEGORY,
    "affinities": C.CATEGORY,
    "payments": C.PAYMENT_METHOD,
}


def data_meta(results: dict[str, Any]) -> dict[str, Any]:
    """What the report needs to know about the data from a run's results: the optional
    columns the log lacks, whether its timestamps carry a time of day, and the lines of
    its data-quality note."""
    ingest = results.get("ingest") or {}
    missing = sorted(ingest.get("missing_optional") or {})
    quality = []
    rows = ingest.get("transactions_rows") or {}
    if rows.get("quarantined"):
        quality.append(f"{rows['quarantined']:,} of {rows['read']:,} input rows were quarantined (quarantine/transactions, with a reason each).")
    kept = ingest.get("identical_lines_kept") or 0
    if kept:
        quality.append(
            f"{kept:,} identical lines were kept as repeated purchases: the log has no transaction ids to tell them from a double export "
            '(input.duplicates = "quarantine" would drop them).'
        )
    has_time = (results.get("features") or {}).get("has_time_of_day")
    if has_time is False:
        quality.append("The timestamps carry no time of day: orders are shown by day of week only.")
    return {"missing_columns": missing, "has_time_of_day": has_time is not False, "data_quality": quality}


def left_out_sections(meta: dict[str, Any]) -> dict[str, str]:
    """Sections whose column the log does not have, with the one line that says why."""
    missing = set(meta.get("missing_columns") or ())
    return {key: f"Left out: the log has no {column} column." for key, column in SECTION_COLUMNS.items() if column in missing}


# --------------------------------------------------------------------------- building


@dataclass
class Section:
    """One chart of the report: drawn when it has data, otherwise a note says why not."""

    key: str
    title: str
    description: str
    figure: dict[str, Any] | None
    note: str = ""


def _figure_json(fig: Any) -> dict[str, Any] | None:
    if fig is None:
        return None
    import plotly.io as pio

    return _plotly_text_safe(json.loads(pio.to_json(fig, validate=False, engine="json")))


_TEMPLATE_KEYS = {"hovertemplate", "texttemplate", "template"}


def _plotly_text_safe(value: Any, key: str = "") -> Any:
    """Escape <, > and & in data strings: Plotly renders a few HTML tags in text, entities as plain characters."""
    if key in _TEMPLATE_KEYS:
        return value
    if isinstance(value, dict):
        return {k: _plotly_text_safe(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_plotly_text_safe(v, key) for v in value]
    if isinstance(value, str):
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value


def script_json(data: Any) -> str:
    """JSON that is safe inside <script>: no '</script>', '<!--' or line separators can end or confuse it."""
    text = json.dumps(json_safe(data), ensure_ascii=False, allow_nan=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text


def build_sections(data: ReportData) -> list[Section]:
    from customer_behavior.report import charts, clv_charts

    p = data.patterns
    no_personas = "Personas are not in this run (tables/persona_profiles and the persona assignments are absent)."
    no_clv = "CLV is not in this run (tables/clv is absent)."
    specs = [
        ("segments", "Segment sizes and revenue", "Share of customers against share of net revenue per RFM segment.", charts.segment_sizes(data.segments), "No customers were segmented."),
        ("rf_grid", "Recency x frequency grid", "Customers per R and F score; hover for the segments in each cell.", charts.rf_grid(data.rf_grid), "No scores were found."),
        ("persona_profiles", "Persona profiles", "Each feature scaled to its range across personas; hover for the value.", charts.persona_profiles(data.persona_profiles), no_personas),
        ("persona_sweep", "Choosing k: the persona sweep", "The K-Means sweep metrics per number of clusters k.", charts.persona_sweep(data.persona_sweep), no_personas),
        (
            ("day_hour", "When customers order", "Orders by day of week and hour of day (UTC).", charts.day_hour(p.get("day_hour")), "No orders.")
            if data.meta.get("has_time_of_day", True)
            else ("day_hour", "When customers order", "Orders by day of week (the timestamps carry no time of day).", charts.day_of_week(p.get("day_hour")), "No orders.")
        ),
        ("weekend", "Weekend against weekday", "Share of orders on Saturday/Sunday and the order value by day type, per segment and persona.", charts.weekend_weekday(p.get("weekend_weekday")), "No orders."),
        ("category_segment", "Category lift by segment", "Share of a segment's revenue in a category divided by the same share for all customers (1 = like everyone; empty = never bought).", charts.category_lift(p.get("categories"), "segment"), "No segment bought any category."),
        ("category_persona", "Category lift by persona", "As above, per persona.", charts.category_lift(p.get("categories"), "persona"), no_personas),
        ("payments", "Payment mix", "Share of orders per payment method: overall, by channel, age band and segment.", charts.payment_mix(p.get("payments")), "No orders."),
        ("monthly", "Monthly trend", "Revenue (bars; the peak in red), orders and active customers per month.", charts.monthly_trend(p.get("monthly")), "No orders."),
        ("cohorts", "Cohort retention", "Share of each monthly acquisition cohort that orders again N months after its first order.", charts.cohort_heatmap(p.get("cohorts")), "No orders."),
        ("affinities", "Category affinities", "FPGrowth association rules between categories: lift (darker = higher confidence; hover for support and confidence).", charts.affinities(p.get("affinities")), "No rule reached the minimum support and confidence."),
        ("clv", "CLV and churn risk", "Predicted customer lifetime value and customers at high churn risk per segment.", charts.clv_churn(data.segments) if data.has_clv else None, no_clv),
    ]
    evaluation = data.meta.get("clv_evaluation")
    no_evaluation = "The CLV holdout evaluation is not in this run (clv.evaluate = false, or no model could be fitted on the calibration period)."
    specs += [
        ("clv_tracking", "CLV models: tracking", "Cumulative repeat purchases week by week, actual against each model's expectation, over the calibration period and the holdout (dotted line).", clv_charts.tracking(evaluation), no_evaluation),
        ("clv_by_frequency", "CLV models: holdout by calibration frequency", "Mean purchases in the holdout by repeat purchases in the calibration period, actual against each model.", clv_charts.holdout_by_frequency(evaluation), no_evaluation),
        ("clv_reliability", "CLV models: P(alive) reliability", "P(alive) deciles at the calibration end against the share of customers who bought in the holdout; the AUC of 1 - P(alive) for no purchase in the legend.", clv_charts.reliability(evaluation), no_evaluation),
        ("clv_spend", "CLV models: Gamma-Gamma spend", "Expected against observed mean spend per purchase day in the holdout, by calibration frequency.", clv_charts.spend_by_frequency(evaluation), no_evaluation),
    ]
    if not data.has_personas:
        specs = [s if s[0] not in ("persona_profiles", "persona_sweep", "category_persona") else (*s[:3], None, no_personas) for s in specs]
    left_out = left_out_sections(data.meta)
    specs = [s if s[0] not in left_out else (*s[:3], None, left_out[s[0]]) for s in specs]
    return [Section(key=k, title=t, description=d, figure=_figure_json(f), note="" if f is not None else n) for k, t, d, f, n in specs]


def insights_document(data: ReportData, recommendations: list[Recommendation], cfg: InsightsConfig) -> dict[str, Any]:
    """The content of insights.json (fields documented in docs/report.md)."""
    monthly = data.patterns.get("monthly")
    peak = None
    if monthly is not None and not monthly.empty and monthly[C.IS_PEAK].any():
        row = monthly[monthly[C.IS_PEAK]].sort_values(C.MONTH).iloc[0]
        peak = {"month": pd.Timestamp(row[C.MONTH]).strftime("%Y-%m"), "revenue": row[C.REVENUE], "orders": row[C.ORDERS]}
    weekend = data.patterns.get("weekend_weekday")
    weekend_share = None
    if weekend is not None and not weekend.empty:
        base = weekend[(weekend[C.GROUP_TYPE] == C.GROUP_ALL) & (weekend[C.DAY_TYPE] == "weekend")]
        weekend_share = None if base.empty else base[C.ORDER_SHARE].iloc[0]
    affinities = data.patterns.get("affinities")
    return json_safe(
        {
            "schema_version": INSIGHTS_SCHEMA_VERSION,
            "tool": TOOL_NAME,
            "version": __version__,
            "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "run": data.meta,
            "definitions": {"active_days": cfg.active_days, "top_share": cfg.top_share, "at_risk_segments": list(cfg.at_risk_segments)},
            "kpis": data.kpis,
            "recommendations": [r.to_dict() for r in recommendations],
            "segments": frame_records(data.segments),
            "personas": frame_records(data.personas) if data.has_personas else None,
            "highlights": {
                "peak_month": peak,
                "weekend_order_share": weekend_share,
                "top_affinities": frame_records(affinities.head(5)) if affinities is not None else [],
            },
            "sections": {"personas": data.has_personas, "clv": data.has_clv},
        }
    )


def write_report(data: ReportData, out_dir: str | os.PathLike[str], cfg: InsightsConfig | None = None) -> dict[str, str]:
    """Render report.html, report.md and insights.json into out_dir; return their paths."""
    from customer_behavior.report import render

    cfg = cfg or InsightsConfig()
    target = Path(out_dir)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"report directory {str(target)!r} cannot be written: {exc.strerror or exc}") from None
    recommendations = recommend(data.figures(), cfg)
    sections = build_sections(data)
    document = insights_document(data, recommendations, cfg)
    cards = kpi_cards(data.kpis, cfg)
    paths = {"html": target / "report.html", "markdown": target / "report.md", "insights": target / "insights.json"}
    _write_atomic(paths["html"], render.html(data, sections, recommendations, cards))
    _write_atomic(paths["markdown"], render.markdown(data, sections, recommendations, cards))
    _write_atomic(paths["insights"], json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    return {key: str(path) for key, path in paths.items()}


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def rebuild(run_dir: str | os.PathLike[str], cfg: InsightsConfig | None = None) -> dict[str, str]:
    """`customer-behavior report RUN`: re-render <run>/report from the run's tables."""
    data = load_run(run_dir)
    if cfg is None:
        manifest = read_manifest(run_dir) or {}
        cfg = _insights_config(manifest)
    return write_report(data, Path(run_dir) / REPORT_DIR, cfg)


def _insights_config(manifest: dict[str, Any]) -> InsightsConfig:
    """The run's own insights settings, so a rebuilt report matches the original."""
    from customer_behavior.config import config_from_dict

    section = manifest.get("config", {}).get("insights")
    if not isinstance(section, dict):
        return InsightsConfig()
    try:
        return config_from_dict({"insights": section}).insights
    except Exception:  # noqa: BLE001 - an old manifest falls back to the defaults
        return InsightsConfig()
