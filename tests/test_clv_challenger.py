"""The ML challenger: its figures against scikit-learn, pandas and lifetimes, its split and labels
against pandas, the trees deterministic, and clv.model = "gbt" through the real stages."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from lifetimes import GammaGammaFitter, ModifiedBetaGeoFitter
from lifetimes.utils import summary_data_from_transaction_data
from pyspark.sql import functions as F
from sklearn.metrics import roc_auc_score

from customer_behavior import columns as C
from customer_behavior.clv import challenger, evaluate, ranking
from customer_behavior.config import PURCHASE_MODELS, ClvConfig, Config
from customer_behavior.definitions import is_purchase
from customer_behavior.errors import ConfigError
from customer_behavior.generate.random import uniform

AS_OF = dt.date(2025, 1, 1)
HOLDOUT = 120
END = AS_OF - dt.timedelta(days=HOLDOUT)
CFG = ClvConfig(holdout_days=HOLDOUT, challenger_trees=5, challenger_depth=3)


# --------------------------------------------------------------------------- the figures, by hand and against libraries


def test_normalized_gini_of_hand_made_orderings():
    actual = np.array([0.0, 10.0, 0.0, 30.0])
    # perfect ordering: 1; the reverse of it: the same area below the diagonal, so -1
    assert ranking.normalized_gini(actual, actual) == pytest.approx(1.0)
    assert ranking.normalized_gini(actual, -actual) == pytest.approx(-1.0)
    # ordering 30, 0, 10, 0: gains 0.75, 0.75, 1, 1 -> area (0.375 + 0.75 + 0.875 + 1) / 4 = 0.75, Gini 0.5;
    # the best ordering 30, 10, 0, 0: gains 0.75, 1, 1, 1 -> area 0.8125, Gini 0.625; normalized 0.8
    assert ranking.normalized_gini(actual, np.array([0.0, 1.0, 2.0, 3.0])) == pytest.approx(0.5 / 0.625)
    assert ranking.normalized_gini(np.zeros(3), np.arange(3.0)) is None


def test_normalized_gini_of_a_binary_outcome_is_twice_the_auc_minus_one():
    rng = np.random.default_rng(3)
    bought = rng.random(400) < 0.3
    score = rng.random(400) + bought * 0.4
    assert ranking.normalized_gini(bought.astype(float), score) == pytest.approx(2 * roc_auc_score(bought, score) - 1.0, abs=1e-9)


def test_spearman_auc_and_deciles_against_pandas_and_sklearn():
    rng = np.random.default_rng(5)
    actual = np.round(rng.gamma(0.5, 40.0, 1000), 0)  # many ties at 0
    predicted = actual * rng.random(1000) + rng.random(1000)
    bought = actual > 0
    assert ranking.spearman(actual, predicted) == pytest.approx(pd.Series(predicted).corr(pd.Series(actual), method="spearman"))
    assert ranking.auc(bought, predicted) == pytest.approx(roc_auc_score(bought, predicted))
    assert ranking.auc(bought, np.round(predicted / 20.0)) == pytest.approx(roc_auc_score(bought, np.round(predicted / 20.0)))  # ties
    frame = pd.DataFrame({"p": predicted, "a": actual}).sort_values("p", ascending=False).reset_index(drop=True)
    frame["decile"] = frame.index // 100 + 1
    expected = frame.groupby("decile").agg(mp=("p", "mean"), ma=("a", "mean"))
    deciles = ranking.decile_table(actual, predicted)
    assert [d["decile"] for d in deciles] == list(range(1, 11)) and all(d["customers"] == 100 for d in deciles)
    assert [d["mean_predicted"] for d in deciles] == pytest.approx(expected["mp"].tolist())
    assert [d["mean_actual"] for d in deciles] == pytest.approx(expected["ma"].tolist())
    assert ranking.decile_mape(deciles) == pytest.approx(100.0 * ((expected["mp"] - expected["ma"]).abs() / expected["ma"]).mean())


def test_decile_mape_leaves_out_groups_without_actual_value():
    rows = [{"mean_predicted": 2.0, "mean_actual": 4.0}, {"mean_predicted": 1.0, "mean_actual": 0.0}]
    assert ranking.decile_mape(rows) == pytest.approx(50.0)
    assert ranking.decile_mape(rows[1:]) is None


def test_verdict_names_the_best_model_of_each_figure_and_the_runner_up():
    entries = [
        {"name": "Trees", "normalized_gini": 0.70, "auc": 0.91, "decile_mape_pct": 30.0, "aggregate_error_pct": 0.5},
        {"name": "MBG/NBD", "normalized_gini": 0.80, "auc": 0.90, "decile_mape_pct": 9.0, "aggregate_error_pct": -11.0},
        {"name": "BG/NBD", "normalized_gini": 0.81, "auc": None, "decile_mape_pct": 40.0, "aggregate_error_pct": -1.0},
    ]
    assert challenger.verdict(entries) == (
        "BG/NBD ranks holdout spend best (normalized Gini 0.810 against 0.800 for MBG/NBD); "
        "Trees predicts buying again best (AUC 0.910 against 0.900 for MBG/NBD); "
        "MBG/NBD has the best decile-level spend (decile MAPE, % 9.000 against 30.000 for Trees); "
        "Trees comes closest to the holdout's total spend (aggregate error, % 0.500 against -1.000 for BG/NBD)"
    )
    assert challenger.verdict([{"name": "x", "auc": None}]) == "no model could be judged on the test customers"


# --------------------------------------------------------------------------- the challenger on 5,000 generated customers


@pytest.fixture(scope="module")
def evaluation(synthetic_small):
    return evaluate.evaluate_models(synthetic_small["transactions"], CFG, as_of=AS_OF, keys=PURCHASE_MODELS)


@pytest.fixture(scope="module")
def fitted(synthetic_small, evaluation):
    return challenger.fit_challenger(synthetic_small["transactions"], CFG, evaluation, trees=CFG.challenger_trees, depth=CFG.challenger_depth)


@pytest.fixture(scope="module")
def test_customers(synthetic_small):
    """The test customers (the hash split, computed here from the ids) with calibration spend and holdout spend, in pandas."""
    transactions = synthetic_small["transactions"]
    day = F.to_date(F.col(C.EVENT_TS))
    per_customer = (
        transactions.filter(is_purchase() & (day < F.lit(AS_OF)))
        .groupBy(C.CUSTOMER_ID)
        .agg(
            F.min(day).alias("first"),
            F.sum(F.when(day >= F.lit(END), F.col(C.AMOUNT)).otherwise(0.0)).alias("holdout_spend"),
            F.countDistinct(F.when(day >= F.lit(END), day)).alias("holdout_days"),
        )
        .filter(F.col("first") < F.lit(END))
        .withColumn("u_fold", uniform(CFG.sample_seed, challenger.FOLD_STREAM, F.col(C.CUSTOMER_ID)))
        .toPandas()
    )
    return per_customer[per_customer["u_fold"] >= challenger.TRAIN_SHARE].set_index(C.CUSTOMER_ID)


def model(result, key):
    return next(m for m in result["models"] if m["model"] == key)


def test_the_split_and_the_labels_equal_pandas(fitted, test_customers, evaluation):
    result = fitted.result
    assert result["status"] == "ok"
    assert result["test_customers"] == len(test_customers)  # 5,000 customers: no sampling
    assert result["train_customers"] + result["test_customers"] == evaluation["calibration_customers"]
    for entry in result["models"]:
        assert entry["total_actual"] == pytest.approx(test_customers["holdout_spend"].sum(), rel=1e-9)
    assert {m["model"] for m in result["models"]} == {"gbt", *PURCHASE_MODELS}


def test_probabilistic_spend_predictions_equal_lifetimes(synthetic_small, fitted, evaluation, test_customers):
    """MBG/NBD's figures on the test customers: lifetimes' expected holdout purchases x Gamma-Gamma's expected spend."""
    purchases = (
        synthetic_small["transactions"].filter(is_purchase())
        .groupBy(C.CUSTOMER_ID, F.to_date(F.col(C.EVENT_TS)).alias("day"))
        .agg(F.sum(C.AMOUNT).alias("spend"))
        .toPandas()
        .assign(day=lambda d: pd.to_datetime(d["day"]))
    )
    calibration = purchases[purchases["day"] < pd.Timestamp(END)]
    summary = summary_data_from_transaction_data(
        calibration, C.CUSTOMER_ID, "day", monetary_value_col="spend", freq="D", observation_period_end=str(END - dt.timedelta(days=1))
    ).loc[test_customers.index]
    mbg = ModifiedBetaGeoFitter()
    mbg.params_ = pd.Series(next(e for e in evaluation["models"] if e["model"] == "mbgnbd")["parameters"])[["r", "alpha", "a", "b"]]
    ggf = GammaGammaFitter()
    ggf.params_ = pd.Series(evaluation["gamma_gamma"]["parameters"])[["p", "q", "v"]]
    purchases = mbg.conditional_expected_number_of_purchases_up_to_time(HOLDOUT, summary["frequency"], summary["recency"], summary["T"])
    spend = ggf.conditional_expected_average_profit(summary["frequency"], summary["monetary_value"])
    predicted = np.asarray(purchases * spend, dtype=float)
    alive = np.asarray(mbg.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"]), dtype=float)
    actual = test_customers["holdout_spend"].to_numpy()
    ours = model(fitted.result, "mbgnbd")
    assert ours["total_predicted"] == pytest.approx(predicted.sum(), rel=1e-6)
    assert ours["normalized_gini"] == pytest.approx(ranking.normalized_gini(actual, predicted), abs=1e-6)
    assert ours["spearman"] == pytest.approx(pd.Series(predicted).corr(pd.Series(actual), method="spearman"), abs=1e-6)
    assert ours["auc"] == pytest.approx(roc_auc_score(test_customers["holdout_days"] > 0, alive), abs=1e-6)


def test_trees_learn_something_and_are_deterministic(synthetic_small, fitted, evaluation):
    gbt = model(fitted.result, "gbt")
    assert gbt["auc"] > 0.6 and gbt["normalized_gini"] > 0.2 and gbt["spearman"] > 0.2
    assert len(gbt["deciles"]) == 10
    again = challenger.fit_challenger(synthetic_small["transactions"], CFG, evaluation, trees=CFG.challenger_trees, depth=CFG.challenger_depth)
    assert again.result == fitted.result
    assert fitted.result["verdict"].count("best") == 3 and "closest to the holdout's total spend" in fitted.result["verdict"]


def test_a_holdout_without_purchases_is_a_named_failure(synthetic_small, evaluation):
    from customer_behavior.errors import ModelError

    empty = dict(evaluation, total_actual=0.0)
    with pytest.raises(ModelError, match="the holdout has no purchases"):
        challenger.fit_challenger(synthetic_small["transactions"], CFG, empty, trees=2, depth=2)


def test_gbt_needs_the_holdout_and_unknown_models_are_listed():
    with pytest.raises(ConfigError, match="needs clv.evaluate = true and clv.challenger = true"):
        ClvConfig(model="gbt", evaluate=False)
    with pytest.raises(ConfigError, match="use one of auto, mbgnbd, bgnbd, paretonbd, gbt"):
        ClvConfig(model="xgboost")


def test_clv_from_the_trees_is_their_spend_rate_discounted_over_the_horizon(synthetic_small, fitted, spark):
    cfg = dataclasses.replace(CFG, horizon_months=3, monthly_discount_rate=0.01)
    from customer_behavior.features import customer_features

    features_df = customer_features(synthetic_small["transactions"], as_of=AS_OF)
    clv = challenger.clv_from_trees(features_df, fitted, cfg).toPandas().set_index(C.CUSTOMER_ID)[C.CLV]
    predicted = challenger.with_predictions(challenger.feature_inputs(features_df), fitted.spend_model, fitted.buy_model).toPandas().set_index(C.CUSTOMER_ID)
    factor = 1 / 1.01 + 1 / 1.01**2 + 1 / 1.01**3
    expected = predicted[challenger.PREDICTED_SPEND].clip(lower=0.0) * 30.0 / HOLDOUT * factor
    assert len(clv) == features_df.count()
    np.testing.assert_allclose(clv.sort_index().to_numpy(), expected.sort_index().to_numpy(), rtol=1e-12)
    assert Config().clv.model == "auto" and Config().clv.challenger


def test_clv_model_gbt_through_the_real_stages(spark, synthetic_small, tmp_path):
    """`clv.model = "gbt"` in a run: the challenger stage fits the trees, the clv stage's CLV column is theirs."""
    from customer_behavior import pipeline
    from customer_behavior.config import InputConfig
    from customer_behavior.features import customer_features
    from customer_behavior.pipeline.context import session_conf
    from customer_behavior.runio import read_manifest

    cfg = dataclasses.replace(
        Config(), input=InputConfig(path=synthetic_small["paths"]["transactions"], format="parquet"), clv=dataclasses.replace(CFG, model="gbt")
    )
    stages = [pipeline.stage_source, pipeline.stage_features, pipeline.stage_holdout, pipeline.stage_challenger, pipeline.stage_clv]
    manifest = pipeline.execute(spark, cfg, tmp_path / "run", stages=stages, job_scope="gbt-run/")
    assert manifest == read_manifest(tmp_path / "run")
    assert [(s["name"], s["status"]) for s in manifest["stages"]] == [(n, "ok") for n in ("ingest", "features", "holdout", "challenger", "clv")]
    results = manifest["results"]
    assert results["clv"]["clv_source"] == {"model": challenger.MODEL, "reason": "clv.model = 'gbt'", "horizon_days_learned": float(HOLDOUT)}
    # the same trees again from the run's accepted transactions and its recorded evaluation
    transactions = spark.read.parquet(str(tmp_path / "run" / pipeline.DATA_DIR / "transactions"))
    with session_conf(spark, {"spark.sql.adaptive.enabled": "false"}):  # as the stage runs it: the same plans, the same sums
        again = challenger.fit_challenger(transactions, CFG, results["clv"]["evaluation"], trees=CFG.challenger_trees, depth=CFG.challenger_depth)
    assert again.result == results["challenger"]
    expected = challenger.clv_from_trees(customer_features(transactions, as_of=AS_OF), again, CFG).toPandas().set_index(C.CUSTOMER_ID)[C.CLV]
    ours = spark.read.parquet(str(tmp_path / "run" / pipeline.TABLES_DIR / "clv")).toPandas().set_index(C.CUSTOMER_ID)[C.CLV]
    assert len(ours) == len(expected) > 4_000
    np.testing.assert_allclose(ours.sort_index().to_numpy(), expected.sort_index().to_numpy(), rtol=1e-12)
