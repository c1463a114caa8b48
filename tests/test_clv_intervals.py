"""Parameter-uncertainty intervals: the driver re-scoring against lifetimes' CLV, and the intervals' behaviour (no Spark)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from lifetimes import GammaGammaFitter, ModifiedBetaGeoFitter
from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

from customer_behavior import columns as C
from customer_behavior.clv import bgnbd, gamma_gamma, intervals
from customer_behavior.config import ClvConfig


@pytest.fixture(scope="module")
def setup():
    data = load_cdnow_summary_data_with_monetary_value().reset_index()
    sample = data.rename(columns={"frequency": C.BTYD_FREQUENCY, "recency": C.BTYD_RECENCY, "monetary_value": C.BTYD_MONETARY_VALUE})
    sample[C.SEGMENT] = np.where(sample[C.BTYD_FREQUENCY] > 2, "frequent", "rare")
    purchase_fit = bgnbd.fit(data["frequency"], data["recency"], data["T"], modified=True)
    repeat = data[(data["frequency"] > 0) & (data["monetary_value"] > 0)]
    spend_fit = gamma_gamma.fit(repeat["frequency"], repeat["monetary_value"])
    return data, sample, purchase_fit, spend_fit


def test_rescoring_equals_lifetimes_customer_lifetime_value(setup):
    data, sample, purchase_fit, spend_fit = setup
    purchases, clv = intervals.rescore(sample, purchase_fit.params, spend_fit.params, horizon_months=6, monthly_discount_rate=0.01)
    mbg = ModifiedBetaGeoFitter().fit(data["frequency"], data["recency"], data["T"])
    mbg.params_[:] = [purchase_fit.params.r, purchase_fit.params.alpha, purchase_fit.params.a, purchase_fit.params.b]
    gg = GammaGammaFitter().fit(data["frequency"][data["frequency"] > 0], data["monetary_value"][data["frequency"] > 0])
    gg.params_[:] = [spend_fit.params.p, spend_fit.params.q, spend_fit.params.v]
    expected = gg.customer_lifetime_value(mbg, data["frequency"], data["recency"], data["T"], data["monetary_value"], time=6, discount_rate=0.01, freq="D")
    repeat = (data["frequency"] > 0).to_numpy()  # one-time buyers: lifetimes would use their 0 spend, we the population mean
    np.testing.assert_allclose(clv[repeat], expected.to_numpy()[repeat], rtol=1e-6)
    np.testing.assert_allclose(purchases, mbg.conditional_expected_number_of_purchases_up_to_time(180, data["frequency"], data["recency"], data["T"]), rtol=1e-9)


def test_intervals_contain_the_total_and_collapse_without_uncertainty(setup):
    _, sample, purchase_fit, spend_fit = setup
    cfg = ClvConfig(horizon_months=6)
    totals = pd.DataFrame({C.SEGMENT: ["frequent", "rare"], "customers": [100, 200], "expected_purchases": [1000.0, 300.0], "total_clv": [50000.0, 9000.0]})
    rows = intervals.group_intervals(sample, totals, C.SEGMENT, purchase_fit, spend_fit, cfg)
    for row in rows:
        assert row["expected_purchases_low"] < row["expected_purchases"] < row["expected_purchases_high"]
        assert row["total_clv_low"] < row["total_clv"] < row["total_clv_high"]
        assert row["expected_purchases_high"] / row["expected_purchases_low"] < 1.5  # 2,357 customers pin the parameters down
    exact = dataclasses.replace(purchase_fit, log_covariance=np.zeros((4, 4)))
    exact_spend = dataclasses.replace(spend_fit, log_covariance=np.zeros((3, 3)))
    for row in intervals.group_intervals(sample, totals, C.SEGMENT, exact, exact_spend, cfg):
        assert row["expected_purchases_low"] == pytest.approx(row["expected_purchases"], rel=1e-12)
        assert row["total_clv_high"] == pytest.approx(row["total_clv"], rel=1e-12)
    # ten times the covariance: wider intervals
    wide = dataclasses.replace(purchase_fit, log_covariance=purchase_fit.log_covariance * 10)
    wider = intervals.group_intervals(sample, totals, C.SEGMENT, wide, spend_fit, cfg)
    assert all(w["expected_purchases_high"] - w["expected_purchases_low"] > r["expected_purchases_high"] - r["expected_purchases_low"] for w, r in zip(wider, rows))
