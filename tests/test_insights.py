"""KPIs on hand-made customers, and recommendations that follow the figures."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from customer_behavior import columns as C
from customer_behavior import insights as I
from customer_behavior.config import InsightsConfig, load_config
from customer_behavior.errors import ConfigError

CFG = InsightsConfig()

# customer, orders, monetary (net), recency_days, segment, persona (None = no persona row)
CUSTOMERS = [
    ("c1", 10, 1000.0, 5, "Champions", "Big spenders"),
    ("c2", 1, 50.0, 200, "At Risk", "Browsers"),
    ("c3", 3, 300.0, 100, "At Risk", "Browsers"),
    ("c4", 1, 100.0, 10, "New Customers", "Big spenders"),
    ("c5", 2, 50.0, 400, "Lost", None),
]


def _frames(spark, rows, *, with_clv=False):
    features = spark.createDataFrame([(c, o, m, r) for c, o, m, r, _, _ in rows], [C.CUSTOMER_ID, C.ORDERS, C.MONETARY, C.RECENCY_DAYS])
    segments = spark.createDataFrame([(c, s, 3, 3) for c, _, _, _, s, _ in rows], [C.CUSTOMER_ID, C.SEGMENT, C.R_SCORE, C.F_SCORE])
    personas = spark.createDataFrame([(c, p) for c, _, _, _, _, p in rows if p], [C.CUSTOMER_ID, C.PERSONA_NAME])
    clv = None
    if with_clv:
        clv = spark.createDataFrame(
            [(c, 0.2 if r > 90 else 0.9, m / 2, "high" if r > 90 else "low") for c, _, m, r, _, _ in rows], [C.CUSTOMER_ID, C.PROB_ALIVE, C.CLV, C.CHURN_RISK]
        )
    return features, segments, personas, clv


def _measure(spark, rows, *, with_clv=False, patterns=None) -> I.Figures:
    features, segments, personas, clv = _frames(spark, rows, with_clv=with_clv)
    view = I.customer_view(features, segments_df=segments, personas_df=personas, clv_df=clv, cfg=CFG)
    kpis = I.kpi_table(view, CFG).first().asDict()
    seg = I.group_summary(view, C.SEGMENT).toPandas()
    per = I.group_summary(view, C.PERSONA_NAME).toPandas()
    return I.Figures(kpis=kpis, segments=seg, personas=per, patterns=patterns or {}, has_clv=with_clv)


@pytest.fixture(scope="module")
def figures(spark):
    return _measure(spark, CUSTOMERS, with_clv=True)


def test_kpis_by_hand(figures):
    k = figures.kpis
    assert (k["customers"], k["orders"], k["revenue"]) == (5, 17, 1500.0)
    assert k["aov"] == pytest.approx(1500 / 17, abs=0.01)
    assert k["repeat_rate"] == pytest.approx(3 / 5)  # c1, c3, c5 ordered twice or more
    assert k["one_time_customers"] == 2
    assert k["active_share"] == pytest.approx(2 / 5)  # c1, c4 within 90 days
    # top 20%: spend above the 0.8 quantile (300) -> c1 alone
    assert (k["top_customers"], k["top_revenue_share"]) == (1, pytest.approx(1000 / 1500, abs=1e-4))
    assert (k["at_risk_customers"], k["at_risk_revenue"]) == (2, 350.0)  # At Risk: c2 + c3
    assert (k["high_churn_customers"], k["high_churn_revenue"]) == (3, 400.0)  # c2, c3, c5
    assert k["clv_total"] == 750.0


def test_group_summary_by_hand(figures):
    seg = figures.segments.set_index(C.GROUP)
    assert seg.loc["At Risk", C.CUSTOMERS] == 2
    assert seg.loc["At Risk", C.REVENUE_SHARE] == pytest.approx(350 / 1500, abs=1e-4)
    assert seg.loc["At Risk", C.AVG_RECENCY_DAYS] == 150.0
    assert seg.loc["Champions", "aov"] == 100.0
    per = figures.personas.set_index(C.GROUP)
    assert set(per.index) == {"Big spenders", "Browsers"}  # c5 has no persona and is left out
    assert per.loc["Browsers", C.AT_RISK_CUSTOMERS] == 2
    assert per.loc["Big spenders", C.ACTIVE_SHARE] == 1.0


def test_rf_grid(spark):
    df = spark.createDataFrame([("a", 5, 5, "Champions"), ("b", 5, 5, "Loyal Customers"), ("c", 1, 2, "Lost")], [C.CUSTOMER_ID, C.R_SCORE, C.F_SCORE, C.SEGMENT])
    got = {(r[C.R_SCORE], r[C.F_SCORE]): (r[C.CUSTOMERS], r["segments"]) for r in I.rf_grid(df).collect()}
    assert got == {(5, 5): (2, "Champions, Loyal Customers"), (1, 2): (1, "Lost")}


def test_recommendations_name_target_size_value_and_triggers(figures):
    recs = {(r.rule, r.target): r for r in I.recommend(figures, CFG)}
    win_back = recs[("win_back_segment", "At Risk")]
    assert (win_back.target_type, win_back.customers, win_back.value_at_stake) == ("segment", 2, 350.0)
    assert win_back.triggers["revenue_share"] == pytest.approx(0.2333, abs=1e-4)
    second = recs[("second_purchase", "one-time buyers")]
    assert second.customers == 2 and second.value_at_stake == pytest.approx(2 * 1500 / 17, abs=0.05)
    # Browsers: 2 of 2 customers at risk against 2 of 5 overall
    persona = recs[("at_risk_persona", "Browsers")]
    assert (persona.customers, persona.value_at_stake) == (2, 350.0)
    assert recs[("churn_risk", "high churn risk")].value_at_stake == 400.0
    assert recs[("vip_programme", "top 20% by spend")].customers == 1


def test_changing_the_data_changes_the_recommendations(spark, figures):
    before = {(r.rule, r.target) for r in I.recommend(figures, CFG)}
    # c2 and c3 come back: recent, several orders, no longer at risk; everybody buys again
    changed = [
        ("c1", 10, 1000.0, 5, "Champions", "Big spenders"),
        ("c2", 4, 400.0, 20, "Loyal Customers", "Browsers"),
        ("c3", 6, 600.0, 15, "Loyal Customers", "Browsers"),
        ("c4", 2, 200.0, 10, "Potential Loyalists", "Big spenders"),
        ("c5", 2, 50.0, 40, "Potential Loyalists", None),
    ]
    after_figures = _measure(spark, changed, with_clv=True)
    after = {(r.rule, r.target) for r in I.recommend(after_figures, CFG)}
    assert ("win_back_segment", "At Risk") in before and ("win_back_segment", "At Risk") not in after
    assert ("second_purchase", "one-time buyers") in before and ("second_purchase", "one-time buyers") not in after
    assert ("at_risk_persona", "Browsers") in before and not any(rule == "at_risk_persona" for rule, _ in after)
    assert after_figures.kpis["at_risk_revenue"] == 0.0


def _weekend(shares: dict[tuple[str, str], float]) -> pd.DataFrame:
    rows = []
    for (kind, group), share in shares.items():
        rows.append({C.GROUP_TYPE: kind, C.GROUP: group, C.DAY_TYPE: "weekend", C.ORDERS: int(100 * share), C.REVENUE: 1000.0 * share, C.ORDER_SHARE: share})
        rows.append({C.GROUP_TYPE: kind, C.GROUP: group, C.DAY_TYPE: "weekday", C.ORDERS: 100 - int(100 * share), C.REVENUE: 1000.0 * (1 - share), C.ORDER_SHARE: 1 - share})
    return pd.DataFrame(rows)


def test_weekend_rule_follows_the_measured_shares():
    base = {"kpis": {"customers": 10}, "segments": None}
    shifted = I.Figures(**base, patterns={"weekend_weekday": _weekend({("all", "All customers"): 0.3, ("persona", "Bargain"): 0.7, ("persona", "Office"): 0.1})})
    recs = {(r.rule, r.target): r for r in I.recommend(shifted, CFG)}
    assert recs[("weekend_timing", "Bargain")].triggers == {"weekend_order_share": 0.7, "base_weekend_order_share": 0.3}
    assert ("weekday_timing", "Office") in recs
    flat = I.Figures(**base, patterns={"weekend_weekday": _weekend({("all", "All customers"): 0.3, ("persona", "Bargain"): 0.35, ("persona", "Office"): 0.25})})
    assert not [r for r in I.recommend(flat, CFG) if r.rule.endswith("_timing")]


def test_seasonal_bundle_and_category_rules():
    monthly = pd.DataFrame(
        {C.MONTH: [dt.date(2024, m, 1) for m in (10, 11, 12)], C.REVENUE: [100.0, 100.0, 400.0], C.ORDERS: [1, 1, 4], C.ACTIVE_CUSTOMERS: [5, 5, 9], C.IS_PEAK: [False, False, True]}
    )
    categories = pd.DataFrame(
        [
            {C.GROUP_TYPE: "all", C.GROUP: "All customers", C.CATEGORY: "toys", C.ORDERS: 100, C.REVENUE: 2000.0, C.CUSTOMERS: 40, C.ORDER_VALUE: 20.0, C.REVENUE_SHARE: 0.2, C.BASE_REVENUE_SHARE: 0.2, C.REVENUE_LIFT: 1.0},
            {C.GROUP_TYPE: "all", C.GROUP: "All customers", C.CATEGORY: "grocery", C.ORDERS: 300, C.REVENUE: 8000.0, C.CUSTOMERS: 90, C.ORDER_VALUE: 26.67, C.REVENUE_SHARE: 0.8, C.BASE_REVENUE_SHARE: 0.8, C.REVENUE_LIFT: 1.0},
            {C.GROUP_TYPE: "segment", C.GROUP: "Families", C.CATEGORY: "toys", C.ORDERS: 50, C.REVENUE: 1500.0, C.CUSTOMERS: 12, C.ORDER_VALUE: 30.0, C.REVENUE_SHARE: 0.5, C.BASE_REVENUE_SHARE: 0.2, C.REVENUE_LIFT: 2.5},
        ]
    )
    affinities = pd.DataFrame({C.ANTECEDENT: [["toys"]], C.CONSEQUENT: ["grocery"], C.SUPPORT: [0.1], C.CONFIDENCE: [0.5], C.LIFT: [1.8]})
    fig = I.Figures(kpis={"customers": 100}, patterns={"monthly": monthly, "categories": categories, "affinities": affinities})
    recs = {r.rule: r for r in I.recommend(fig, CFG)}
    assert recs["seasonal_peak"].value_at_stake == pytest.approx(200.0)  # 400 - mean(100, 100, 400)
    assert recs["seasonal_peak"].triggers["peak_month"] == "2024-12"
    assert (recs["category_focus"].target, recs["category_focus"].customers, recs["category_focus"].value_at_stake) == ("Families", 12, 1500.0)
    assert (recs["category_bundle"].customers, recs["category_bundle"].value_at_stake) == (40, pytest.approx(40 * 0.5 * 26.67, abs=0.01))
    flat = I.Figures(kpis={"customers": 100}, patterns={"monthly": monthly.assign(**{C.REVENUE: [100.0, 100.0, 110.0]}), "affinities": affinities.assign(**{C.LIFT: [1.05]}), "categories": categories})
    rules = {r.rule for r in I.recommend(flat, CFG)}
    assert "seasonal_peak" not in rules and "category_bundle" not in rules


def test_recommendations_are_capped_and_sorted_by_value(figures):
    recs = I.recommend(figures, InsightsConfig(max_recommendations=2))
    assert len(recs) == 2
    assert recs[0].value_at_stake >= recs[1].value_at_stake


def test_no_clv_means_no_churn_rule_and_empty_figures_do_not_crash(spark):
    fig = _measure(spark, CUSTOMERS, with_clv=False)
    assert fig.kpis["clv_total"] is None
    assert not [r for r in I.recommend(fig, CFG) if r.rule == "churn_risk"]
    assert I.recommend(I.Figures(kpis={}), CFG) == []


def test_insights_config_is_validated():
    with pytest.raises(ConfigError, match="insights.top_share"):
        load_config(None, {"insights.top_share": 1.5})
    with pytest.raises(ConfigError, match="insights.active_days"):
        load_config(None, {"insights.active_days": 0})
