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

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from customer_behavior import columns as C
from customer_behavior.config import InsightsConfig

# Money is summed as DECIMAL so that sums are exact and do not depend on row order; tables hold doubles.
MONEY = T.DecimalType(18, 6)

# --------------------------------------------------------------------------- Spark half


def high_churn_flag(clv_df: DataFrame) -> Column:
    """Whether a customer's churn risk is high: a "high"/"critical" band, a score >= 0.5, or P(alive) < 0.5."""
    fields = {f.name: f.dataType for f in clv_df.schema.fields}
    kind = fields.get(C.CHURN_RISK)
    if isinstance(kind, T.StringType):
        return F.lower(F.col(C.CHURN_RISK)).isin("high", "critical")
    if isinstance(kind, T.NumericType):
        return F.col(C.CHURN_RISK) >= F.lit(0.5)
    return F.col(C.PROB_ALIVE) < F.lit(0.5)


def customer_view(
    features_df: DataFrame,
    *,
    segments_df: DataFrame | None,
    personas_df: DataFrame | None,
    clv_df: DataFrame | None,
    cfg: InsightsConfig,
) -> DataFrame:
    """One row per customer: orders, net revenue, recency, labels and the flags the KPIs count."""
    view = features_df.select(
        F.col(C.CUSTOMER_ID), F.col(C.ORDERS).cast("long").alias(C.ORDERS), F.col(C.MONETARY).cast(MONEY).alias(C.MONETARY), F.col(C.RECENCY_DAYS)
    )
    if segments_df is not None:
        view = view.join(segments_df.select(C.CUSTOMER_ID, C.SEGMENT), on=C.CUSTOMER_ID, how="left")
    else:
        view = view.withColumn(C.SEGMENT, F.lit(None).cast("string"))
    if personas_df is not None:
        view = view.join(personas_df.select(C.CUSTOMER_ID, F.col(C.PERSONA_NAME).cast("string")), on=C.CUSTOMER_ID, how="left")
    else:
        view = view.withColumn(C.PERSONA_NAME, F.lit(None).cast("string"))
    if clv_df is not None:
        view = view.join(
            clv_df.select(C.CUSTOMER_ID, F.col(C.PROB_ALIVE).cast("double"), F.col(C.CLV).cast(MONEY), high_churn_flag(clv_df).alias("is_high_churn")),
            on=C.CUSTOMER_ID,
            how="left",
        )
    else:
        view = view.select("*", F.lit(None).cast("double").alias(C.PROB_ALIVE), F.lit(None).cast(MONEY).alias(C.CLV), F.lit(None).cast("boolean").alias("is_high_churn"))
    at_risk = list(cfg.at_risk_segments)
    return view.select(
        "*",
        (F.col(C.ORDERS) >= F.lit(2)).alias("is_repeat"),
        (F.col(C.RECENCY_DAYS) <= F.lit(cfg.active_days)).alias("is_active"),
        F.coalesce(F.col(C.SEGMENT).isin(at_risk), F.lit(False)).alias("is_at_risk") if at_risk else F.lit(False).alias("is_at_risk"),
    )


def _count_if(condition: Column) -> Column:
    return F.count(F.when(condition, F.lit(1)))


def _sum_if(condition: Column, value: Column) -> Column:
    return F.coalesce(F.sum(F.when(condition, value)), F.lit(0).cast(MONEY))


def _ratio(numerator: Column, denominator: Column) -> Column:
    return F.when(denominator != F.lit(0), numerator.cast("double") / denominator.cast("double"))


def _dbl(value: Column, digits: int) -> Column:
    return F.round(value, digits).cast("double")


def kpi_table(view_df: DataFrame, cfg: InsightsConfig) -> DataFrame:
    """One row of KPIs (the top-share threshold is an approximate quantile, so no global sort)."""
    threshold = view_df.agg(F.percentile_approx(F.col(C.MONETARY), F.lit(1.0 - cfg.top_share), F.lit(10_000)).alias("top_threshold"))
    # Strictly above the (1 - top_share) quantile: with 5 customers and top_share 0.2, the single biggest.
    is_top = F.col(C.MONETARY) > F.col("top_threshold")
    totals = view_df.crossJoin(threshold).agg(
        F.count(F.lit(1)).alias("customers"),
        F.coalesce(F.sum(F.col(C.ORDERS)), F.lit(0)).alias("orders"),
        F.coalesce(F.sum(F.col(C.MONETARY)), F.lit(0).cast(MONEY)).alias("revenue"),
        _count_if(F.col("is_repeat")).alias("repeat_customers"),
        _count_if(F.col("is_active")).alias("active_customers"),
        _count_if(is_top).alias("top_customers"),
        _sum_if(is_top, F.col(C.MONETARY)).alias("top_revenue"),
        _count_if(F.col("is_at_risk")).alias("at_risk_customers"),
        _sum_if(F.col("is_at_risk"), F.col(C.MONETARY)).alias("at_risk_revenue"),
        _count_if(F.col(C.ORDERS) == F.lit(1)).alias("one_time_customers"),
        _count_if(F.col("is_high_churn")).alias("high_churn_customers"),
        _sum_if(F.col("is_high_churn"), F.col(C.MONETARY)).alias("high_churn_revenue"),
        F.sum(F.col(C.CLV)).alias("clv_total"),
        F.avg(F.col(C.PROB_ALIVE)).alias("avg_prob_alive"),
    )
    return totals.select(
        F.col("customers"),
        F.col("orders"),
        _dbl(F.col("revenue"), 2).alias("revenue"),
        F.round(_ratio(F.col("revenue"), F.col("orders")), 2).alias("aov"),
        F.round(_ratio(F.col("repeat_customers"), F.col("customers")), 4).alias("repeat_rate"),
        F.col("one_time_customers"),
        F.round(_ratio(F.col("active_customers"), F.col("customers")), 4).alias("active_share"),
        F.col("active_customers"),
        F.col("top_customers"),
        F.round(_ratio(F.col("top_revenue"), F.col("revenue")), 4).alias("top_revenue_share"),
        F.col("at_risk_customers"),
        _dbl(F.col("at_risk_revenue"), 2).alias("at_risk_revenue"),
        F.col("high_churn_customers"),
        _dbl(F.col("high_churn_revenue"), 2).alias("high_churn_revenue"),
        _dbl(F.col("clv_total"), 2).alias("clv_total"),
        F.round(F.col("avg_prob_alive"), 4).alias("avg_prob_alive"),
    )


def group_summary(view_df: DataFrame, group_col: str) -> DataFrame:
    """Per segment (or persona): size, revenue and shares, habits, at-risk and CLV figures."""
    totals = view_df.agg(F.count(F.lit(1)).alias("all_customers"), F.sum(F.col(C.MONETARY)).alias("all_revenue"))
    per_group = view_df.filter(F.col(group_col).isNotNull()).groupBy(group_col).agg(
        F.count(F.lit(1)).alias(C.CUSTOMERS),
        F.sum(F.col(C.ORDERS)).alias(C.ORDERS),
        F.sum(F.col(C.MONETARY)).alias(C.REVENUE),
        F.avg(F.col(C.RECENCY_DAYS)).alias(C.AVG_RECENCY_DAYS),
        _count_if(F.col("is_repeat")).alias("repeat_customers"),
        _count_if(F.col("is_active")).alias("active_customers"),
        _count_if(F.col("is_at_risk")).alias(C.AT_RISK_CUSTOMERS),
        _sum_if(F.col("is_at_risk"), F.col(C.MONETARY)).alias(C.AT_RISK_REVENUE),
        _count_if(F.col("is_high_churn")).alias(C.HIGH_CHURN_CUSTOMERS),
        _sum_if(F.col("is_high_churn"), F.col(C.MONETARY)).alias(C.HIGH_CHURN_REVENUE),
        F.sum(F.col(C.CLV)).alias(C.CLV_TOTAL),
        F.avg(F.col(C.PROB_ALIVE)).alias(C.AVG_PROB_ALIVE),
    )
    return per_group.crossJoin(totals).select(
        F.col(group_col).alias(C.GROUP),
        F.col(C.CUSTOMERS),
        F.round(_ratio(F.col(C.CUSTOMERS), F.col("all_customers")), 4).alias("customer_share"),
        F.col(C.ORDERS),
        _dbl(F.col(C.REVENUE), 2).alias(C.REVENUE),
        F.round(_ratio(F.col(C.REVENUE), F.col("all_revenue")), 4).alias(C.REVENUE_SHARE),
        F.round(_ratio(F.col(C.REVENUE), F.col(C.CUSTOMERS)), 2).alias("revenue_per_customer"),
        F.round(_ratio(F.col(C.REVENUE), F.col(C.ORDERS)), 2).alias("aov"),
        F.round(F.col(C.AVG_RECENCY_DAYS), 1).alias(C.AVG_RECENCY_DAYS),
        F.round(_ratio(F.col(C.ORDERS), F.col(C.CUSTOMERS)), 2).alias(C.AVG_ORDERS),
        F.round(_ratio(F.col("repeat_customers"), F.col(C.CUSTOMERS)), 4).alias(C.REPEAT_RATE),
        F.round(_ratio(F.col("active_customers"), F.col(C.CUSTOMERS)), 4).alias(C.ACTIVE_SHARE),
        F.col(C.AT_RISK_CUSTOMERS),
        _dbl(F.col(C.AT_RISK_REVENUE), 2).alias(C.AT_RISK_REVENUE),
        F.col(C.HIGH_CHURN_CUSTOMERS),
        _dbl(F.col(C.HIGH_CHURN_REVENUE), 2).alias(C.HIGH_CHURN_REVENUE),
        _dbl(F.col(C.CLV_TOTAL), 2).alias(C.CLV_TOTAL),
        F.round(F.col(C.AVG_PROB_ALIVE), 4).alias(C.AVG_PROB_ALIVE),
    )


def rf_grid(segments_df: DataFrame) -> DataFrame:
    """Customers per (R score, F score) cell, with the segments found in the cell."""
    return segments_df.groupBy(F.col(C.R_SCORE).cast("int").alias(C.R_SCORE), F.col(C.F_SCORE).cast("int").alias(C.F_SCORE)).agg(
        F.count(F.lit(1)).alias(C.CUSTOMERS),
        F.array_join(F.array_sort(F.collect_set(F.col(C.SEGMENT))), ", ").alias("segments"),
    )


# --------------------------------------------------------------------------- driver half

# Rule thresholds. They are deliberately few and named, and docs/report.md lists them.
MIN_GROUP_REVENUE_SHARE = 0.01  # a segment must bring at least 1% of revenue to get a win-back
PROTECT_REVENUE_MULTIPLE = 2.0  # revenue share at least 2x customer share -> protect the segment
ONE_TIME_SHARE = 0.10  # at least 10% one-time buyers -> second-purchase campaign
TOP_REVENUE_SHARE = 0.50  # top customers bring at least half the revenue -> VIP programme
AT_RISK_PERSONA_MULTIPLE = 1.25  # persona's at-risk share at least 1.25x the base's
WEEKEND_SHARE_GAP = 0.10  # weekend share of orders 10 points above or below the base
MIN_GROUP_ORDERS = 30  # ignore breakdowns with fewer orders (noise)
CATEGORY_LIFT = 1.3  # a segment/persona over-indexes on a category by 30%+
PAYMENT_LIFT = 1.5  # an age band over-indexes on a payment method by 50%+
AFFINITY_LIFT = 1.2  # FPGrowth rule lift
PEAK_MULTIPLE = 1.2  # peak month revenue at least 1.2x the mean month
HIGH_CHURN_REVENUE_SHARE = 0.05  # customers with high churn risk bring 5%+ of revenue


@dataclass
class Recommendation:
    rule: str
    title: str
    action: str
    target_type: str  # segment / persona / customers
    target: str
    customers: int
    value_at_stake: float
    value_basis: str
    triggers: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Figures:
    """Everything the rules and the report read: small tables as pandas frames."""

    kpis: dict[str, Any]
    segments: pd.DataFrame | None = None
    personas: pd.DataFrame | None = None
    patterns: dict[str, pd.DataFrame] = field(default_factory=dict)
    has_clv: bool = False


def _money(value: float) -> str:
    return f"{value:,.0f}"


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _rows(df: pd.DataFrame | None) -> list[dict[str, Any]]:
    return [] if df is None or df.empty else df.to_dict("records")


def _num(value: Any, default: float = 0.0) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(number) else number


def _win_back(fig: Figures, cfg: InsightsConfig) -> list[Recommendation]:
    out = []
    for row in _rows(fig.segments):
        if row[C.GROUP] not in cfg.at_risk_segments or row[C.CUSTOMERS] <= 0:
            continue
        share = _num(row[C.REVENUE_SHARE])
        if share < MIN_GROUP_REVENUE_SHARE:
            continue
        out.append(
            Recommendation(
                rule="win_back_segment",
                title=f"Win back '{row[C.GROUP]}'",
                action=(
                    f"Send a personalised win-back offer to the {row[C.CUSTOMERS]:,} '{row[C.GROUP]}' customers: they brought "
                    f"{_pct(share)} of revenue but last ordered {_num(row[C.AVG_RECENCY_DAYS]):.0f} days ago on average."
                ),
                target_type="segment",
                target=row[C.GROUP],
                customers=int(row[C.CUSTOMERS]),
                value_at_stake=round(_num(row[C.REVENUE]), 2),
                value_basis="revenue these customers brought in the observation window",
                triggers={"revenue_share": share, "avg_recency_days": _num(row[C.AVG_RECENCY_DAYS]), "customers": int(row[C.CUSTOMERS])},
            )
        )
    return out


def _protect_top_segment(fig: Figures, cfg: InsightsConfig) -> list[Recommendation]:
    rows = [r for r in _rows(fig.segments) if r[C.GROUP] not in cfg.at_risk_segments and r[C.CUSTOMERS] > 0]
    if not rows:
        return []
    best = max(rows, key=lambda r: (_num(r[C.REVENUE_SHARE]), r[C.GROUP]))
    customer_share, revenue_share = _num(best["customer_share"]), _num(best[C.REVENUE_SHARE])
    if customer_share <= 0 or revenue_share < PROTECT_REVENUE_MULTIPLE * customer_share:
        return []
    return [
        Recommendation(
            rule="protect_top_segment",
            title=f"Reward and protect '{best[C.GROUP]}'",
            action=(
                f"'{best[C.GROUP]}' are {_pct(customer_share)} of customers but bring {_pct(revenue_share)} of revenue: "
                "give them early access, a loyalty tier and service priority rather than discounts."
            ),
            target_type="segment",
            target=best[C.GROUP],
            customers=int(best[C.CUSTOMERS]),
            value_at_stake=round(_num(best[C.REVENUE]), 2),
            value_basis="revenue of the segment in the observation window",
            triggers={"customer_share": customer_share, "revenue_share": revenue_share},
        )
    ]


def _second_purchase(fig: Figures, cfg: InsightsConfig) -> list[Recommendation]:
    customers = int(_num(fig.kpis.get("customers")))
    one_time = int(_num(fig.kpis.get("one_time_customers")))
    if customers <= 0 or one_time / customers < ONE_TIME_SHARE:
        return []
    aov = _num(fig.kpis.get("aov"))
    return [
        Recommendation(
            rule="second_purchase",
            title="Turn one-time buyers into repeat customers",
            action=(
                f"{one_time:,} customers ({_pct(one_time / customers)}) have ordered only once (repeat rate {_pct(_num(fig.kpis.get('repeat_rate')))}): "
                "follow the first order with a time-limited second-order incentive and product recommendations."
            ),
            target_type="customers",
            target="one-time buyers",
            customers=one_time,
            value_at_stake=round(one_time * aov, 2),
            value_basis="one more order each at the average order value",
            triggers={"one_time_share": round(one_time / customers, 4), "repeat_rate": _num(fig.kpis.get("repeat_rate")), "aov": aov},
        )
    ]


def _vip_programme(fig: Figures, cfg: InsightsConfig) -> list[Recommendation]:
    share = _num(fig.kpis.get("top_revenue_share"))
    if share < TOP_REVENUE_SHARE:
        return []
    top = int(_num(fig.kpis.get("top_customers")))
    return [
        Recommendation(
            rule="vip_programme",
            title=f"Build a VIP programme for the top {cfg.top_share:.0%} of customers",
            action=f"The top {top:,} customers by spend bring {_pct(share)} of revenue: revenue is concentrated, so losing a few of them hurts; assign account care and exclusive offers.",
            target_type="customers",
            target=f"top {cfg.top_share:.0%} by spend",
            customers=top,
            value_at_stake=round(share * _num(fig.kpis.get("revenue")), 2),
            value_basis="revenue of these customers in the observation window",
            triggers={"top_revenue_share": share, "top_share": cfg.top_share},
        )
    ]


def _at_risk_persona(fig: Figures, cfg: InsightsConfig) -> list[Recommendation]:
    rows = [r for r in _rows(fig.personas) if r[C.CUSTOMERS] > 0]
    customers = _num(fig.kpis.get("customers"))
    if not rows or customers <= 0:
        return []
    base_share = _num(fig.kpis.get("at_risk_customers")) / customers
    scored = [(r, r[C.AT_RISK_CUSTOMERS] / r[C.CUSTOMERS]) for r in rows]
    worst, share = max(scored, key=lambda item: (item[1], item[0][C.GROUP]))
    if base_share <= 0 or share < AT_RISK_PERSONA_MULTIPLE * base_share or worst[C.AT_RISK_CUSTOMERS] <= 0:
        return []
    return [
        Recommendation(
            rule="at_risk_persona",
            title=f"Retention plan for persona '{worst[C.GROUP]}'",
            action=(
                f"{_pct(share)} of '{worst[C.GROUP]}' customers are in at-risk segments against {_pct(base_share)} overall: "
                "review what this persona buys and why it lapses, and target it with its favourite categories."
            ),
            target_type="persona",
            target=worst[C.GROUP],
            customers=int(worst[C.AT_RISK_CUSTOMERS]),
            value_at_stake=round(_num(worst[C.AT_RISK_REVENUE]), 2),
            value_basis="revenue of the persona's at-risk customers in the observation window",
            triggers={"persona_at_risk_share": round(share, 4), "base_at_risk_share": round(base_share, 4)},
        )
    ]


def _group_sizes(fig: Figures) -> dict[tuple[str, str], int]:
    sizes = {}
    for kind, df in (("segment", fig.segments), ("persona", fig.personas)):
        for row in _rows(df):
            sizes[(kind, row[C.GROUP])] = int(row[C.CUSTOMERS])
    return sizes


def _weekend_timing(fig: Figures, cfg: InsightsConfig) -> list[Recommendation]:
    df = fig.patterns.get("weekend_weekday")
    if df is None or df.empty:
        return []
    weekend = df[df[C.DAY_TYPE] == "weekend"].set_index([C.GROUP_TYPE, C.GROUP])
    totals = df.groupby([C.GROUP_TYPE, C.GROUP])[[C.ORDERS, C.REVENUE]].sum()
    if (C.GROUP_ALL, C.GROUP_ALL_LABEL) not in totals.index:
        return []
    base = _num(weekend[C.ORDER_SHARE].get((C.GROUP_ALL, C.GROUP_ALL_LABEL)))
    sizes = _group_sizes(fig)
    candidates = []
    for (kind, group), row in totals.iterrows():
        if kind == C.GROUP_ALL or row[C.ORDERS] < MIN_GROUP_ORDERS:
            continue
        share = _num(weekend[C.ORDER_SHARE].get((kind, group)))
        candidates.append((share - base, kind, group, share, row))
    out = []
    for pick, day_type in ((max, "weekend"), (min, "weekday")):
        if not candidates:
            break
        gap, kind, group, share, row = pick(candidates, key=lambda c: (c[0], c[2]))
        if (day_type == "weekend" and gap < WEEKEND_SHARE_GAP) or (day_type == "weekday" and gap > -WEEKEND_SHARE_GAP):
            continue
        out.append(
            Recommendation(
                rule=f"{day_type}_timing",
                title=f"Reach {kind} '{group}' on {day_type}s",
                action=f"{_pct(share)} of the orders of {kind} '{group}' fall on weekends against {_pct(base)} overall: schedule its e-mails and push messages for {day_type}s.",
                target_type=kind,
                target=group,
                customers=sizes.get((kind, group), 0),
                value_at_stake=round(_num(row[C.REVENUE]), 2),
                value_basis="revenue of the group's orders (timing affects all of them)",
                triggers={"weekend_order_share": share, "base_weekend_order_share": base},
            )
        )
    return out


def _category_focus(fig: Figures, cfg: InsightsConfig) -> list[Recommendation]:
    df = fig.patterns.get("categories")
    if df is None or df.empty:
        return []
    rows = df[(df[C.GROUP_TYPE] != C.GROUP_ALL) & (df[C.ORDERS] >= MIN_GROUP_ORDERS) & (df[C.REVENUE_LIFT].fillna(0) >= CATEGORY_LIFT)]
    rows = rows.sort_values([C.REVENUE, C.GROUP, C.CATEGORY], ascending=[False, True, True]).head(2)
    return [
        Recommendation(
            rule="category_focus",
            title=f"Feature {row[C.CATEGORY]} to {row[C.GROUP_TYPE]} '{row[C.GROUP]}'",
            action=(
                f"{row[C.GROUP_TYPE].capitalize()} '{row[C.GROUP]}' spends {_pct(_num(row[C.REVENUE_SHARE]))} of its revenue on {row[C.CATEGORY]} "
                f"against {_pct(_num(row[C.BASE_REVENUE_SHARE]))} for all customers (lift {_num(row[C.REVENUE_LIFT]):.2f}): lead its campaigns with this category."
            ),
            target_type=row[C.GROUP_TYPE],
            target=row[C.GROUP],
            customers=int(row[C.CUSTOMERS]),
            value_at_stake=round(_num(row[C.REVENUE]), 2),
            value_basis="the group's revenue in this category",
            triggers={"category": row[C.CATEGORY], "revenue_lift": _num(row[C.REVENUE_LIFT]), "revenue_share": _num(row[C.REVENUE_SHARE])},
        )
        for row in rows.to_dict("records")
    ]


def _payment_offer(fig: Figures, cfg: InsightsConfig) -> list[Recommendation]:
    df = fig.patterns.get("payments")
    if df is None or df.empty:
        return []
    rows = df[(df[C.GROUP_TYPE] == "age_band") & (df[C.ORDERS] >= MIN_GROUP_ORDERS) & (df[C.ORDER_LIFT].fillna(0) >= PAYMENT_LIFT)]
    if rows.empty:
        return []
    row = rows.sort_values([C.ORDER_LIFT, C.GROUP, C.PAYMENT_METHOD], ascending=[False, True, True]).iloc[0].to_dict()
    return [
        Recommendation(
            rule="payment_offer",
            title=f"Promote {row[C.PAYMENT_METHOD]} to customers aged {row[C.GROUP]}",
            action=(
                f"Customers aged {row[C.GROUP]} pay {_pct(_num(row[C.ORDER_SHARE]))} of their orders with {row[C.PAYMENT_METHOD]} against "
                f"{_pct(_num(row[C.BASE_ORDER_SHARE]))} overall (lift {_num(row[C.ORDER_LIFT]):.2f}): show it first at checkout for them."
            ),
            target_type="customers",
            target=f"age band {row[C.GROUP]}",
            customers=int(row[C.CUSTOMERS]),
            value_at_stake=round(_num(row[C.REVENUE]), 2),
            value_basis="revenue paid with this method by the age band",
            triggers={"payment_method": row[C.PAYMENT_METHOD], "order_lift": _num(row[C.ORDER_LIFT]), "order_share": _num(row[C.ORDER_SHARE])},
        )
    ]


def _bundle(fig: Figures, cfg: InsightsConfig) -> list[Recommendation]:
    rules = fig.patterns.get("affinities")
    categories = fig.patterns.get("categories")
    if rules is None or rules.empty or categories is None:
        return []
    good = rules[rules[C.LIFT] >= AFFINITY_LIFT]
    if good.empty:
        return []
    rule = good.iloc[0].to_dict()
    antecedent = [str(item) for item in rule[C.ANTECEDENT]]
    base = categories[categories[C.GROUP_TYPE] == C.GROUP_ALL].set_index(C.CATEGORY)
    buyers = int(min((_num(base[C.CUSTOMERS].get(item)) for item in antecedent), default=0))
    consequent_value = _num(base[C.ORDER_VALUE].get(rule[C.CONSEQUENT]))
    confidence = _num(rule[C.CONFIDENCE])
    return [
        Recommendation(
            rule="category_bundle",
            title=f"Cross-sell {rule[C.CONSEQUENT]} with {' + '.join(antecedent)}",
            action=(
                f"Baskets with {' + '.join(antecedent)} also hold {rule[C.CONSEQUENT]} {_pct(confidence)} of the time "
                f"(lift {_num(rule[C.LIFT]):.2f}, support {_pct(_num(rule[C.SUPPORT]))}): recommend it on their product pages and in follow-up mails."
            ),
            target_type="customers",
            target=f"buyers of {' + '.join(antecedent)}",
            customers=buyers,
            value_at_stake=round(buyers * confidence * consequent_value, 2),
            value_basis="buyers x confidence x average order value of the consequent category",
            triggers={"lift": _num(rule[C.LIFT]), "confidence": confidence, "support": _num(rule[C.SUPPORT])},
        )
    ]


def _seasonal_peak(fig: Figures, cfg: InsightsConfig) -> list[Recommendation]:
    df = fig.patterns.get("monthly")
    if df is None or df.empty:
        return []
    mean_revenue = _num(df[C.REVENUE].mean())
    peak = df.sort_values([C.REVENUE, C.MONTH], ascending=[False, True]).iloc[0].to_dict()
    if mean_revenue <= 0 or _num(peak[C.REVENUE]) < PEAK_MULTIPLE * mean_revenue:
        return []
    month = pd.Timestamp(peak[C.MONTH])
    name = f"{calendar.month_name[month.month]} {month.year}"
    return [
        Recommendation(
            rule="seasonal_peak",
            title=f"Prepare for the {calendar.month_name[month.month]} peak",
            action=(
                f"{name} was the strongest month with {_money(_num(peak[C.REVENUE]))} revenue, {_num(peak[C.REVENUE]) / mean_revenue:.2f}x the average month: "
                "plan stock, staff and the campaign calendar for it, and start reminders a few weeks ahead."
            ),
            target_type="customers",
            target=f"customers active in {name}",
            customers=int(_num(peak[C.ACTIVE_CUSTOMERS])),
            value_at_stake=round(_num(peak[C.REVENUE]) - mean_revenue, 2),
            value_basis="peak month revenue above the average month",
            triggers={"peak_month": month.strftime("%Y-%m"), "peak_revenue": _num(peak[C.REVENUE]), "mean_month_revenue": round(mean_revenue, 2)},
        )
    ]


def _churn_risk(fig: Figures, cfg: InsightsConfig) -> list[Recommendation]:
    if not fig.has_clv:
        return []
    revenue = _num(fig.kpis.get("revenue"))
    at_stake = _num(fig.kpis.get("high_churn_revenue"))
    customers = int(_num(fig.kpis.get("high_churn_customers")))
    if revenue <= 0 or customers <= 0 or at_stake / revenue < HIGH_CHURN_REVENUE_SHARE:
        return []
    return [
        Recommendation(
            rule="churn_risk",
            title="Retain the customers the CLV model flags as likely to churn",
            action=(
                f"{customers:,} customers have a high churn risk and brought {_pct(at_stake / revenue)} of revenue: "
                "contact them before they lapse, starting with the highest past spend."
            ),
            target_type="customers",
            target="high churn risk",
            customers=customers,
            value_at_stake=round(at_stake, 2),
            value_basis="revenue these customers brought in the observation window",
            triggers={"high_churn_revenue_share": round(at_stake / revenue, 4), "avg_prob_alive": _num(fig.kpis.get("avg_prob_alive"), float("nan"))},
        )
    ]


RULES = (
    _win_back,
    _protect_top_segment,
    _second_purchase,
    _vip_programme,
    _at_risk_persona,
    _weekend_timing,
    _category_focus,
    _payment_offer,
    _bundle,
    _seasonal_peak,
    _churn_risk,
)


def recommend(fig: Figures, cfg: InsightsConfig) -> list[Recommendation]:
    """Apply every rule; largest value at stake first, at most `max_recommendations`."""
    found: list[Recommendation] = []
    for rule in RULES:
        found.extend(rule(fig, cfg))
    found.sort(key=lambda r: (-r.value_at_stake, r.rule, r.target))
    return found[: cfg.max_recommendations]


def kpi_cards(kpis: dict[str, Any], cfg: InsightsConfig) -> list[tuple[str, str]]:
    """(label, formatted value) pairs for the top of the report."""
    cards = [
        ("Revenue (net)", _money(_num(kpis.get("revenue")))),
        ("Customers", f"{int(_num(kpis.get('customers'))):,}"),
        ("Orders", f"{int(_num(kpis.get('orders'))):,}"),
        ("Average order value", f"{_num(kpis.get('aov')):,.2f}"),
        ("Repeat rate", _pct(_num(kpis.get("repeat_rate")))),
        (f"Active in last {cfg.active_days} days", _pct(_num(kpis.get("active_share")))),
        (f"Revenue from top {cfg.top_share:.0%}", _pct(_num(kpis.get("top_revenue_share")))),
        ("Revenue of at-risk segments", _money(_num(kpis.get("at_risk_revenue")))),
    ]
    return cards


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
