"""The holdout evaluation of every purchase model, figure by figure against lifetimes (or pandas/sklearn) on the same split."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
from lifetimes.utils import calibration_and_holdout_data
from pyspark.sql import functions as F
from sklearn.metrics import roc_auc_score

from customer_behavior import columns as C
from customer_behavior.clv import choice, evaluate, literature
from customer_behavior.config import PURCHASE_MODELS, ClvConfig
from customer_behavior.definitions import is_purchase
from customer_behavior.errors import ConfigError

AS_OF = dt.date(2025, 1, 1)
HOLDOUT = 120
END = AS_OF - dt.timedelta(days=HOLDOUT)
FITTERS = {"bgnbd": BetaGeoFitter, "mbgnbd": ModifiedBetaGeoFitter, "paretonbd": ParetoNBDFitter}


@pytest.fixture(scope="module")
def evaluation(synthetic_small):
    return evaluate.evaluate_models(synthetic_small["transactions"], ClvConfig(holdout_days=HOLDOUT), as_of=AS_OF, keys=PURCHASE_MODELS)


@pytest.fixture(scope="module")
def purchases(synthetic_small):
    """Purchase days with their spend, on the driver (5,000 customers: a test-only table)."""
    return (
        synthetic_small["transactions"].filter(is_purchase())
        .groupBy(C.CUSTOMER_ID, F.to_date(F.col(C.EVENT_TS)).alias("day"))
        .agg(F.sum(C.AMOUNT).alias("spend"))
        .toPandas()
        .assign(day=lambda d: pd.to_datetime(d["day"]))
    )


@pytest.fixture(scope="module")
def split(purchases):
    data = calibration_and_holdout_data(
        purchases, C.CUSTOMER_ID, "day", freq="D",
        calibration_period_end=str(END - dt.timedelta(days=1)), observation_period_end=str(AS_OF - dt.timedelta(days=1)),
    )
    holdout = purchases[purchases["day"] >= pd.Timestamp(END)].groupby(C.CUSTOMER_ID)["spend"].sum()
    data["holdout_spend"] = holdout.reindex(data.index).fillna(0.0)
    calibration = purchases[purchases["day"] < pd.Timestamp(END)].sort_values("day")
    first = calibration.groupby(C.CUSTOMER_ID)["spend"].first()
    days = calibration.groupby(C.CUSTOMER_ID)["spend"].agg(["sum", "count"])
    data["monetary_cal"] = np.where(days["count"] > 1, (days["sum"] - first) / (days["count"] - 1).clip(lower=1), 0.0)
    return data


def entry(evaluation, key):
    return next(e for e in evaluation["models"] if e["model"] == key)


def lifetimes_with(key, params, split):
    fitter = FITTERS[key]()
    np.random.seed(0)
    fitter.fit(split["frequency_cal"], split["recency_cal"], split["T_cal"])
    fitted = dict(fitter.params_)
    fitter.params_[:] = [params[name] for name in fitter.params_.index]
    return fitter, fitted


@pytest.mark.parametrize("key", PURCHASE_MODELS)
def test_each_model_holdout_figures_equal_lifetimes(evaluation, split, key):
    ours = entry(evaluation, key)
    assert ours["status"] == "ok" and ours["customers"] == len(split)
    fitter, fitted = lifetimes_with(key, ours["parameters"], split)
    for name, value in fitted.items():
        assert ours["parameters"][name] == pytest.approx(value, rel=0.01), name
    predicted = fitter.conditional_expected_number_of_purchases_up_to_time(HOLDOUT, split["frequency_cal"], split["recency_cal"], split["T_cal"])
    actual = split["frequency_holdout"]
    assert ours["total_actual"] == actual.sum()
    assert ours["total_predicted"] == pytest.approx(predicted.sum(), rel=1e-6)
    assert ours["mae"] == pytest.approx(np.mean(np.abs(predicted - actual)), rel=1e-6)
    assert ours["rmse"] == pytest.approx(np.sqrt(np.mean((predicted - actual) ** 2)), rel=1e-6)
    assert ours["correlation"] == pytest.approx(np.corrcoef(predicted, actual)[0, 1], rel=1e-6)
    assert ours["aggregate_error_pct"] == pytest.approx(100 * (predicted.sum() / actual.sum() - 1), rel=1e-6)
    group = np.minimum(split["frequency_cal"], 7).astype(int)
    by_frequency = pd.DataFrame({"group": group, "p": predicted, "a": actual}).groupby("group").mean()
    assert [row["frequency_cal"] for row in ours["by_frequency"]] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    for row, (_, expected) in zip(ours["by_frequency"], by_frequency.iterrows()):
        assert row["mean_predicted"] == pytest.approx(expected["p"], rel=1e-6)
        assert row["mean_actual"] == pytest.approx(expected["a"], rel=1e-9)

    alive = fitter.conditional_probability_alive(split["frequency_cal"], split["recency_cal"], split["T_cal"])
    churned = (actual == 0).astype(int)
    assert ours["churn_auc"] == pytest.approx(roc_auc_score(churned, 1.0 - alive), abs=2e-3)
    assert sum(row["customers"] for row in ours["reliability"]) == len(split)
    for row in ours["reliability"]:
        top = row["prob_alive_to"] if row["prob_alive_to"] < 1.0 else 1.0 + 1e-12
        member = (alive >= row["prob_alive_from"]) & (alive < top)
        assert row["customers"] == pytest.approx(member.sum(), abs=2)  # a P(alive) on a bin edge may fall either side
        assert row["share_bought_again"] == pytest.approx((actual[member] > 0).mean(), abs=0.01)
        assert row["mean_prob_alive"] == pytest.approx(alive[member].mean(), abs=1e-3)


def test_tracking_curve_equals_lifetimes_expectations(evaluation, purchases):
    """Cumulative repeat purchase days of the calibration cohort, actual and expected, at each weekly point."""
    first = purchases.groupby(C.CUSTOMER_ID)["day"].transform("min")
    cohort = purchases[first < pd.Timestamp(END)].assign(first=first)
    new = cohort[cohort["day"] == cohort["first"]].groupby("day").size()
    repeat_days = cohort[cohort["day"] > cohort["first"]]["day"]
    points = evaluation["tracking"]
    assert points[-1]["day"] == (AS_OF - dt.timedelta(days=1)).isoformat()
    assert all(dt.date.fromisoformat(b["day"]) - dt.date.fromisoformat(a["day"]) == dt.timedelta(days=7) for a, b in zip(points[:-2], points[1:-1]))
    for key in PURCHASE_MODELS:
        params = entry(evaluation, key)["parameters"]
        fitter = FITTERS[key]()
        fitter.params_ = pd.Series(params)
        for point in points[::10] + points[-1:]:
            day = pd.Timestamp(point["day"])
            assert point["actual"] == (repeat_days <= day).sum()
            ages = np.array([(day - d).days for d in new.index if d <= day], dtype=float)
            counts = np.array([n for d, n in new.items() if d <= day], dtype=float)
            expected = (counts * fitter.expected_number_of_purchases_up_to_time(ages)).sum()
            assert point[key] == pytest.approx(expected, rel=1e-9), (key, point["day"])


def test_gamma_gamma_spend_by_frequency_equals_lifetimes(evaluation, split):
    params = evaluation["gamma_gamma"]["parameters"]
    repeat = split[(split["frequency_cal"] > 0) & (split["monetary_cal"] > 0)]
    gg = GammaGammaFitter().fit(repeat["frequency_cal"], repeat["monetary_cal"])
    for name in ("p", "q", "v"):
        assert params[name] == pytest.approx(gg.params_[name], rel=0.01), name
    gg.params_[:] = [params["p"], params["q"], params["v"]]
    bought = repeat[repeat["frequency_holdout"] > 0]
    table = pd.DataFrame({
        "group": np.minimum(bought["frequency_cal"], 7).astype(int),
        "expected": gg.conditional_expected_average_profit(bought["frequency_cal"], bought["monetary_cal"]),
        "observed": bought["holdout_spend"] / bought["frequency_holdout"],
    }).groupby("group").agg(n=("expected", "size"), expected=("expected", "mean"), observed=("observed", "mean"))
    assert [row["frequency_cal"] for row in evaluation["spend_by_frequency"]] == ["1", "2", "3", "4", "5", "6", "7+"]
    for row, (_, want) in zip(evaluation["spend_by_frequency"], table.iterrows()):
        assert row["customers"] == want["n"]
        assert row["mean_expected_spend"] == pytest.approx(want["expected"], rel=1e-6)
        assert row["mean_observed_spend"] == pytest.approx(want["observed"], rel=1e-6)


def test_auto_chooses_the_lowest_holdout_mae(evaluation):
    order, record = choice.model_order(ClvConfig(), evaluation)
    maes = {key: entry(evaluation, key)["mae"] for key in PURCHASE_MODELS}
    assert order[0] == min(maes, key=maes.get) and sorted(order) == sorted(PURCHASE_MODELS)
    assert record["rule"] == "lowest holdout MAE" and [r["mae"] for r in record["ranking"]] == sorted(maes.values())
    assert choice.model_order(ClvConfig(model="paretonbd"), evaluation)[0] == ("paretonbd",)


def test_a_holdout_without_purchases_falls_back_and_says_why(synthetic_small):
    later = AS_OF + dt.timedelta(days=60)  # the holdout [AS_OF, AS_OF + 60 days) is after the last purchase
    evaluation = evaluate.evaluate_models(synthetic_small["transactions"], ClvConfig(holdout_days=60), as_of=later, keys=("mbgnbd",))
    fitted = entry(evaluation, "mbgnbd")
    assert evaluation["total_actual"] == 0 and fitted["status"] == "ok", fitted.get("reason")
    assert fitted["churn_auc"] is None and fitted["aggregate_error_pct"] is None
    order, record = choice.model_order(ClvConfig(), evaluation)
    assert order == PURCHASE_MODELS and record["rule"] == "fallback"
    assert "the holdout has no purchases" in record["reason"]


def test_a_calibration_without_repeat_purchases_names_each_model(spark):
    rows = [(f"t{i}", f"c{i}", dt.datetime(2024, 1, 1 + i % 20, 10), 50.0) for i in range(40)]
    rows += [(f"h{i}", f"c{i}", dt.datetime(2024, 6, 1 + i % 20, 10), 30.0) for i in range(0, 40, 3)]
    transactions_df = spark.createDataFrame(
        [(t, c, ts, "books", 1, a, 0.0, a, "card", "web", "completed") for t, c, ts, a in rows],
        [C.TRANSACTION_ID, C.CUSTOMER_ID, C.EVENT_TS, C.CATEGORY, C.QUANTITY, C.UNIT_PRICE, C.DISCOUNT, C.AMOUNT, C.PAYMENT_METHOD, C.CHANNEL, C.STATUS],
    )
    evaluation = evaluate.evaluate_models(transactions_df, ClvConfig(calibration_end="2024-05-01"), as_of=dt.date(2024, 7, 1), keys=PURCHASE_MODELS)
    for key in PURCHASE_MODELS:
        assert entry(evaluation, key)["status"] == "failed"
        assert "no customer has a repeat purchase" in entry(evaluation, key)["reason"]
    assert evaluation["gamma_gamma"]["status"] == "failed"
    order, record = choice.model_order(ClvConfig(), evaluation)
    assert record["rule"] == "fallback" and "no model could be fitted on the calibration period" in record["reason"]


def test_unknown_model_is_one_line_listing_the_models():
    with pytest.raises(ConfigError, match=r"clv.model: 'weibull' is not a model; use one of auto, mbgnbd, bgnbd, paretonbd, gbt$"):
        ClvConfig(model="weibull")


def test_histogram_figures_on_a_hand_made_case():
    """Four customers by hand: P(alive) 0.1 and 0.2 did not buy again, 0.2 and 0.8 did."""
    bins = [
        {"bin": 1000, "n": 1, "bought": 0, "alive_sum": 0.1},
        {"bin": 2000, "n": 2, "bought": 1, "alive_sum": 0.4},
        {"bin": 8000, "n": 1, "bought": 1, "alive_sum": 0.8},
    ]
    figures = literature.churn_figures(bins)
    # churners (no purchase): 0.1 and 0.2; buyers: 0.2 and 0.8. Pairs where the churner has the lower P(alive):
    # (0.1, 0.2) 1, (0.1, 0.8) 1, (0.2, 0.2) tie 0.5, (0.2, 0.8) 1 -> 3.5 / 4
    assert figures["churn_auc"] == pytest.approx(3.5 / 4)
    assert sum(r["customers"] for r in figures["reliability"]) == 4
    assert figures["reliability"][0] == {"decile": 1, "prob_alive_from": 0.1, "prob_alive_to": 0.1001, "customers": 1, "mean_prob_alive": 0.1, "share_bought_again": 0.0}
