"""Recommendations: explicit rules over the small KPI and pattern tables (plain Python, pandas).

Every recommendation names its target (a segment, a persona or a group of customers), how many
customers, the value at stake and the figures that triggered it.
"""

from __future__ import annotations

import calendar
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from customer_behavior import columns as C
from customer_behavior.config import InsightsConfig
from customer_behavior.insights.formatting import _money, _num, _pct

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


def _rows(df: pd.DataFrame | None) -> list[dict[str, Any]]:
    return [] if df is None or df.empty else df.to_dict("records")



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
