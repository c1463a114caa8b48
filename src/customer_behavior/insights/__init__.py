"""KPIs and recommendations derived from the measured figures.

Two halves:
- Spark transforms (`customer_view`, `kpi_table`, `group_summary`, `rf_grid`) that reduce the
  per-customer tables (features, segments, personas, CLV) to a handful of small tables;
  the pipeline writes them under `tables/insights/` so the report can be rebuilt from them.
- plain Python (`Figures`, `recommend`) that reads those small tables, plus the pattern
  tables, and applies explicit rules. Every recommendation names its target (a segment,
  a persona or a group of customers), how many customers, the value at stake and the
  figures that triggered it; when the figures change, the recommendations change.

Definitions (docs/report.md): revenue = net spend (`monetary` of customer_features: orders
minus returns); AOV = revenue / orders; repeat rate = share of customers with 2+ orders;
active = last order within `insights.active_days` of the as-of date; top share = revenue
share of the customers above the (1 - top_share) quantile of net spend; at-risk
revenue = revenue of the customers in `insights.at_risk_segments`.
"""

from customer_behavior.insights.formatting import format_kpi, frame_records, json_safe, kpi_cards, kpi_labels
from customer_behavior.insights.kpis import MONEY, customer_view, group_summary, high_churn_flag, kpi_table, rf_grid
from customer_behavior.insights.rules import (
    AFFINITY_LIFT,
    AT_RISK_PERSONA_MULTIPLE,
    CATEGORY_LIFT,
    HIGH_CHURN_REVENUE_SHARE,
    MIN_GROUP_ORDERS,
    MIN_GROUP_REVENUE_SHARE,
    ONE_TIME_SHARE,
    PAYMENT_LIFT,
    PEAK_MULTIPLE,
    PROTECT_REVENUE_MULTIPLE,
    RULES,
    TOP_REVENUE_SHARE,
    WEEKEND_SHARE_GAP,
    Figures,
    Recommendation,
    recommend,
)

__all__ = [
    "AFFINITY_LIFT",
    "AT_RISK_PERSONA_MULTIPLE",
    "CATEGORY_LIFT",
    "HIGH_CHURN_REVENUE_SHARE",
    "MIN_GROUP_ORDERS",
    "MIN_GROUP_REVENUE_SHARE",
    "MONEY",
    "ONE_TIME_SHARE",
    "PAYMENT_LIFT",
    "PEAK_MULTIPLE",
    "PROTECT_REVENUE_MULTIPLE",
    "RULES",
    "TOP_REVENUE_SHARE",
    "WEEKEND_SHARE_GAP",
    "Figures",
    "Recommendation",
    "customer_view",
    "format_kpi",
    "frame_records",
    "group_summary",
    "high_churn_flag",
    "json_safe",
    "kpi_cards",
    "kpi_labels",
    "kpi_table",
    "recommend",
    "rf_grid",
]
