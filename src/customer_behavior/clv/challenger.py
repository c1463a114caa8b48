"""The ML challenger: Spark MLlib gradient-boosted trees against the probabilistic CLV models.

Trained on the calibration period exactly as the holdout evaluation splits it (`evaluate`):
the features are the features stage's per-customer columns computed as of the calibration
end (RFM, lifetime, behaviour, the BTYD summary), the labels what the customer did in the
holdout: the spend (a `GBTRegressor`, squared loss: it predicts the mean) and whether they
bought at all (a `GBTClassifier`).

The holdout labels are what the trees learn from, so they are judged on other customers:
the calibration customers are split by a seeded hash (`TRAIN_SHARE` to train, the rest to
test). On the test customers every model predicts holdout spend (the probabilistic ones:
expected holdout purchases x Gamma-Gamma's expected spend per purchase; the trees: their
prediction) and scores buying again (P(alive) for the probabilistic ones, the classifier's
probability for the trees); `ranking.value_figures` judges each the same way.

Bounded whatever the data: the trees train on a hash sample of at most `clv.max_summary_rows`
customers, and at most `TEST_MAX_CUSTOMERS` test customers' predictions reach the driver.
Both samples depend only on the seed and the customer ids, and the training rows are laid out
by customer id before the fit, so the same data gives the same trees on any cluster.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassifier
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.ml.regression import GBTRegressor
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.clv import evaluate, purchase, ranking
from customer_behavior.clv.gamma_gamma import GammaGammaParams
from customer_behavior.config import ClvConfig
from customer_behavior.errors import ModelError
from customer_behavior.features import customer_features
from customer_behavior.generate.random import uniform

MODEL = "Gradient-boosted trees (Spark MLlib)"
KEY = "gbt"
TRAIN_SHARE = 2.0 / 3.0
TEST_MAX_CUSTOMERS = 100_000
LAYOUT_PARTITIONS = 8
FOLD_STREAM = "clv-challenger-fold"
SAMPLE_STREAM = "clv-challenger-sample"
FEATURES = (
    C.RECENCY_DAYS, C.ORDERS, C.MONETARY, C.TENURE_DAYS, C.AVG_ORDER_VALUE, C.AVG_DAYS_BETWEEN_ORDERS, C.ACTIVE_MONTHS,
    C.DISTINCT_CATEGORIES, C.WEEKEND_SHARE, C.RETURNS, C.RETURN_RATE, C.DISCOUNT_SHARE, C.AVG_BASKET_SIZE,
    C.BTYD_FREQUENCY, C.BTYD_RECENCY, C.BTYD_T, C.BTYD_MONETARY_VALUE,
)
FEATURE_VECTOR = "_challenger_features"
BOUGHT = "_bought"
IN_TRAIN = "_in_train"
PREDICTED_SPEND = "gbt_holdout_spend"
BUY_PROBABILITY = "gbt_buy_probability"


@dataclass(frozen=True)
class Challenger:
    """The fitted trees (to score other customers with) and their figures beside the probabilistic models'."""

    spend_model: PipelineModel
    buy_model: PipelineModel
    horizon_days: float  # the holdout length the spend model predicts
    result: dict[str, Any]


def feature_inputs(features_df: DataFrame) -> DataFrame:
    """The trees' inputs from customer features: every column a double, a one-time buyer's missing gap as -1."""
    return features_df.select(
        F.col(C.CUSTOMER_ID), *[F.coalesce(F.col(name).cast("double"), F.lit(-1.0)).alias(f"_x_{name}") for name in FEATURES]
    )


def _assembler() -> VectorAssembler:
    return VectorAssembler(inputCols=[f"_x_{name}" for name in FEATURES], outputCol=FEATURE_VECTOR)


def _in_share(stream: str, seed: int, share: float) -> Column:
    return uniform(seed, stream, F.col(C.CUSTOMER_ID)) < F.lit(share)


def with_predictions(inputs_df: DataFrame, spend_model: PipelineModel, buy_model: PipelineModel) -> DataFrame:
    """inputs_df with the trees' predicted holdout spend and probability of buying (the assembled vector dropped)."""
    spent = spend_model.transform(inputs_df).withColumnRenamed("prediction", PREDICTED_SPEND).drop(FEATURE_VECTOR)
    bought = buy_model.transform(spent).withColumn(BUY_PROBABILITY, vector_to_array(F.col("probability"))[1])
    return bought.drop(FEATURE_VECTOR, "probability", "rawPrediction", "prediction")


def fit_challenger(
    transactions_df: DataFrame, cfg: ClvConfig, evaluation: dict[str, Any], *, trees: int, depth: int
) -> Challenger:
    """Train the trees on the calibration period of `evaluation` and judge every model on the test customers."""
    calibration_end = dt.date.fromisoformat(evaluation["calibration_end"])
    as_of = dt.date.fromisoformat(evaluation["as_of"])
    duration = float(evaluation["holdout_days"])
    fits = {e["model"]: purchase.params_from_dict(e["model"], e["parameters"]) for e in evaluation["models"] if e["status"] == "ok"}
    gamma = evaluation["gamma_gamma"]
    spend = GammaGammaParams(**gamma["parameters"]) if gamma.get("status") == "ok" else None
    customers = int(evaluation["calibration_customers"])
    if not evaluation.get("total_actual"):
        raise ModelError("ML challenger: the holdout has no purchases, so there is nothing to learn or to judge")

    features_df = customer_features(transactions_df, as_of=calibration_end)
    holdout_df = evaluate.holdout_purchase_days(transactions_df, calibration_end=calibration_end, as_of=as_of)
    frame_df = evaluate.holdout_frame(features_df, holdout_df, fits, spend, duration_days=duration, max_terms=cfg.max_series_terms, keep=FEATURES)
    frame_df = frame_df.join(feature_inputs(features_df), on=C.CUSTOMER_ID).withColumn(BOUGHT, (F.col(C.FREQUENCY_HOLDOUT) > F.lit(0.0)).cast("double"))

    is_train = _in_share(FOLD_STREAM, cfg.sample_seed, TRAIN_SHARE)
    train_fraction = min(1.0, 0.9 * cfg.max_summary_rows / max(customers * TRAIN_SHARE, 1.0))
    test_fraction = min(1.0, 0.9 * TEST_MAX_CUSTOMERS / max(customers * (1.0 - TRAIN_SHARE), 1.0))
    in_train = is_train & _in_share(SAMPLE_STREAM, cfg.sample_seed, train_fraction)
    in_test = ~is_train & _in_share(SAMPLE_STREAM, cfg.sample_seed, test_fraction)
    # the features and labels are a pass over all the transactions: the two samples are computed once
    sampled_df = frame_df.filter(in_train | in_test).withColumn(IN_TRAIN, in_train).cache()
    try:
        return _fit_and_judge(sampled_df, fits, spend, trees=trees, depth=depth, seed=cfg.sample_seed, duration=duration)
    finally:
        sampled_df.unpersist()


def _fit_and_judge(
    sampled_df: DataFrame, fits: dict[str, Any], spend: GammaGammaParams | None, *, trees: int, depth: int, seed: int, duration: float
) -> Challenger:
    """Train on the sample's training customers, score every model on its test customers."""
    train_df = (
        sampled_df.filter(F.col(IN_TRAIN))
        .select(C.CUSTOMER_ID, *[f"_x_{name}" for name in FEATURES], F.col(evaluate.HOLDOUT_SPEND), F.col(BOUGHT))
        .repartition(LAYOUT_PARTITIONS, F.col(C.CUSTOMER_ID))
        .sortWithinPartitions(C.CUSTOMER_ID)
        .cache()
    )
    try:
        train_counts = train_df.agg(F.count(F.lit(1)).alias("n"), F.sum(BOUGHT).alias("bought")).first()
        if not train_counts["n"] or train_counts["bought"] in (0, train_counts["n"]):
            raise ModelError("ML challenger: the training customers all bought again or none did; the trees cannot learn from that")
        regressor = GBTRegressor(labelCol=evaluate.HOLDOUT_SPEND, featuresCol=FEATURE_VECTOR, maxIter=trees, maxDepth=depth, seed=seed)
        classifier = GBTClassifier(labelCol=BOUGHT, featuresCol=FEATURE_VECTOR, maxIter=trees, maxDepth=depth, seed=seed)
        spend_model = Pipeline(stages=[_assembler(), regressor]).fit(train_df)
        buy_model = Pipeline(stages=[_assembler(), classifier]).fit(train_df)
    finally:
        train_df.unpersist()

    test_df = with_predictions(sampled_df.filter(~F.col(IN_TRAIN)).drop(IN_TRAIN), spend_model, buy_model)
    columns = [C.CUSTOMER_ID, evaluate.HOLDOUT_SPEND, BOUGHT, PREDICTED_SPEND, BUY_PROBABILITY]
    for key in fits:
        spend_of_key = F.col(f"predicted_{key}") * F.col(evaluate.EXPECTED_SPEND) if spend is not None else F.lit(None).cast("double")
        test_df = test_df.withColumn(f"spend_{key}", spend_of_key)
        columns += [f"spend_{key}", f"alive_{key}"]
    # at most about TEST_MAX_CUSTOMERS rows, in customer order whatever the partitioning
    rows = sorted(test_df.select(*columns).collect(), key=lambda row: row[0])
    if not rows:
        raise ModelError("ML challenger: no test customers (too few calibration customers)")
    table = np.array([[float(v) if v is not None else np.nan for v in row[1:]] for row in rows])
    actual, bought = table[:, 0], table[:, 1] > 0.5
    figures = {KEY: {"model": KEY, "name": MODEL, **ranking.value_figures(actual, table[:, 2], bought, table[:, 3])}}
    for i, key in enumerate(fits):
        spend_column, alive_column = table[:, 4 + 2 * i], table[:, 5 + 2 * i]
        if spend is None:
            continue
        figures[key] = {"model": key, "name": purchase.NAMES[key], **ranking.value_figures(actual, spend_column, bought, alive_column)}
    result = {
        "status": "ok",
        "model": MODEL,
        "trees": trees,
        "max_depth": depth,
        "features": list(FEATURES),
        "train_customers": int(train_counts["n"]),
        "test_customers": len(rows),
        "horizon_days": duration,
        "models": list(figures.values()),
        "verdict": verdict(list(figures.values())),
    }
    return Challenger(spend_model=spend_model, buy_model=buy_model, horizon_days=duration, result=result)


VERDICT_METRICS = (  # (figure, what the best one does, higher is better)
    ("normalized_gini", "ranks holdout spend best (normalized Gini", True),
    ("auc", "predicts buying again best (AUC", True),
    ("decile_mape_pct", "has the best decile-level spend (decile MAPE, %", False),
    ("aggregate_error_pct", "comes closest to the holdout's total spend (aggregate error, %", False),
)


def verdict(entries: list[dict[str, Any]]) -> str:
    """One sentence: for each figure of `VERDICT_METRICS`, the best model, its figure and the runner-up's."""

    def score(entry: dict[str, Any], metric: str, higher: bool) -> float:
        return float(entry[metric]) if higher else -abs(float(entry[metric]))

    parts = []
    for metric, label, higher in VERDICT_METRICS:
        scored = sorted((e for e in entries if e.get(metric) is not None), key=lambda e: score(e, metric, higher), reverse=True)
        if not scored:
            continue
        top = scored[0]
        margin = f" against {scored[1][metric]:.3f} for {scored[1]['name']}" if len(scored) > 1 else ""
        parts.append(f"{top['name']} {label} {top[metric]:.3f}{margin})")
    return "; ".join(parts) if parts else "no model could be judged on the test customers"


def monthly_clv_factor(horizon_months: int, monthly_discount_rate: float) -> float:
    """Sum over the horizon's months of the discount factor: CLV = spend per 30 days x this."""
    return float(sum(1.0 / (1.0 + monthly_discount_rate) ** month for month in range(1, horizon_months + 1)))


def clv_from_trees(features_df: DataFrame, challenger: Challenger, cfg: ClvConfig) -> DataFrame:
    """customer_id, clv: the spend model's prediction for the holdout length after the as-of date, as a
    rate per 30 days over the CLV horizon, discounted monthly (a constant rate: the trees know one
    holdout's length, not a dropout process)."""
    per_month = F.greatest(F.col(PREDICTED_SPEND), F.lit(0.0)) * F.lit(30.0 / challenger.horizon_days)
    factor = monthly_clv_factor(cfg.horizon_months, cfg.monthly_discount_rate)
    scored = challenger.spend_model.transform(feature_inputs(features_df)).withColumnRenamed("prediction", PREDICTED_SPEND)
    return scored.select(F.col(C.CUSTOMER_ID), (per_month * F.lit(factor)).alias(C.CLV))
