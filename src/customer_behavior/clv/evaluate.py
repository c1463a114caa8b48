"""Calibration/holdout evaluation, as lifetimes' calibration_and_holdout_data.

Transactions are split at the calibration end date E (the first holdout day): the BTYD
summary of the purchases before E is the calibration data, on which BG/NBD is refitted;
the holdout is the days [E, as_of). In lifetimes' terms this is
calibration_and_holdout_data(freq="D", calibration_period_end=E - 1 day,
observation_period_end=as_of - 1 day) on day-valued purchases. For every calibration
customer the model predicts the repeat purchases in the holdout (t = as_of - E days); the
actual is the number of distinct purchase days in the holdout (frequency_holdout).
Customers first seen in the holdout are not part of it (as in lifetimes).

Reported: customers, mean absolute error, RMSE, Pearson correlation, total predicted and
total actual purchases, and the mean predicted vs actual by calibration frequency (0..9,
10+), lifetimes' calibration-vs-holdout chart. All from one grouped aggregation.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from pyspark.sql import DataFrame, functions as F

from customer_behavior import columns as C
from customer_behavior.clv import model, score, summary
from customer_behavior.clv.bgnbd import BgNbdParams
from customer_behavior.config import ClvConfig
from customer_behavior.errors import ModelError

FREQUENCY_CAP = 10
FREQUENCY_GROUP = "frequency_group"


def calibration_end_date(cfg: ClvConfig, as_of: dt.date) -> dt.date:
    return cfg.calibration_end_date or as_of - dt.timedelta(days=cfg.holdout_days)


def holdout_purchase_days(transactions_df: DataFrame, *, calibration_end: dt.date, as_of: dt.date) -> DataFrame:
    """customer_id, frequency_holdout: distinct purchase days in [calibration_end, as_of)."""
    day = F.to_date(F.col(C.EVENT_TS))
    return (
        transactions_df.filter(summary.is_purchase() & (day >= F.lit(calibration_end)) & (day < F.lit(as_of)))
        .groupBy(F.col(C.CUSTOMER_ID))
        .agg(F.countDistinct(day).cast("double").alias(C.FREQUENCY_HOLDOUT))
    )


def holdout_frame(
    calibration_df: DataFrame, holdout_df: DataFrame, params: BgNbdParams, *, duration_days: float, max_terms: int
) -> DataFrame:
    """Calibration customers with their predicted and actual holdout purchases."""
    return (
        calibration_df.transform(score.with_expected_purchases_at, params, duration_days, max_terms=max_terms, name=C.PREDICTED_HOLDOUT)
        .join(holdout_df, on=C.CUSTOMER_ID, how="left")
        .select(
            F.col(C.CUSTOMER_ID),
            F.col(C.BTYD_FREQUENCY),
            F.col(C.PREDICTED_HOLDOUT),
            F.coalesce(F.col(C.FREQUENCY_HOLDOUT), F.lit(0.0)).alias(C.FREQUENCY_HOLDOUT),
        )
    )


def holdout_sums_by_frequency(frame_df: DataFrame) -> DataFrame:
    """Sufficient statistics per calibration frequency (capped): at most FREQUENCY_CAP + 1 rows."""
    predicted, actual = F.col(C.PREDICTED_HOLDOUT), F.col(C.FREQUENCY_HOLDOUT)
    error = predicted - actual
    return frame_df.groupBy(F.least(F.col(C.BTYD_FREQUENCY), F.lit(float(FREQUENCY_CAP))).cast("int").alias(FREQUENCY_GROUP)).agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(predicted).alias("predicted"),
        F.sum(actual).alias("actual"),
        F.sum(F.abs(error)).alias("abs_error"),
        F.sum(error * error).alias("sq_error"),
        F.sum(predicted * predicted).alias("pp"),
        F.sum(actual * actual).alias("aa"),
        F.sum(predicted * actual).alias("pa"),
    )


def metrics_from_sums(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals, MAE, RMSE and Pearson correlation from the per-frequency sums (driver side, tiny)."""
    total = {k: sum(float(r[k]) for r in rows) for k in ("n", "predicted", "actual", "abs_error", "sq_error", "pp", "aa", "pa")}
    n = total["n"]
    if n == 0:
        raise ModelError("holdout evaluation: no calibration customers")
    cov = total["pa"] / n - (total["predicted"] / n) * (total["actual"] / n)
    var_p = total["pp"] / n - (total["predicted"] / n) ** 2
    var_a = total["aa"] / n - (total["actual"] / n) ** 2
    corr = cov / math.sqrt(var_p * var_a) if var_p > 0 and var_a > 0 else None
    by_frequency = [
        {
            "frequency_cal": f"{int(r[FREQUENCY_GROUP])}+" if int(r[FREQUENCY_GROUP]) == FREQUENCY_CAP else str(int(r[FREQUENCY_GROUP])),
            "customers": int(r["n"]),
            "mean_predicted": float(r["predicted"]) / float(r["n"]),
            "mean_actual": float(r["actual"]) / float(r["n"]),
        }
        for r in sorted(rows, key=lambda r: int(r[FREQUENCY_GROUP]))
    ]
    return {
        "customers": int(n),
        "mae": total["abs_error"] / n,
        "rmse": math.sqrt(total["sq_error"] / n),
        "correlation": corr,
        "total_predicted": total["predicted"],
        "total_actual": total["actual"],
        "by_frequency": by_frequency,
    }


def evaluate_holdout(transactions_df: DataFrame, cfg: ClvConfig, *, as_of: dt.date, summary_fn=summary.btyd_summary) -> dict[str, Any]:
    """Refit BG/NBD on the calibration period and score the holdout (runs a few small jobs)."""
    calibration_end = calibration_end_date(cfg, as_of)
    if calibration_end >= as_of:
        raise ModelError(f"holdout evaluation: clv.calibration_end {calibration_end} is not before the as-of date {as_of}")
    duration = float((as_of - calibration_end).days)
    calibration_df = summary_fn(transactions_df, as_of=calibration_end)
    counts = summary.summary_counts(calibration_df)
    fitted, fit_data = model.fit_bgnbd(calibration_df, counts, cfg)
    holdout_df = holdout_purchase_days(transactions_df, calibration_end=calibration_end, as_of=as_of)
    frame_df = holdout_frame(calibration_df, holdout_df, fitted.params, duration_days=duration, max_terms=cfg.max_series_terms)
    rows = [r.asDict() for r in holdout_sums_by_frequency(frame_df).collect()]
    return {
        "calibration_end": calibration_end.isoformat(),
        "as_of": as_of.isoformat(),
        "holdout_days": duration,
        "calibration_params": fitted.params.to_dict(),
        "calibration_fit_data": fit_data,
        **metrics_from_sums(rows),
    }


def planted_churn_auc(clv_df: DataFrame, truth_df: DataFrame) -> dict[str, float | int]:
    """Area under the ROC curve of (1 - P(alive)) against the generator's planted dropout.

    Synthetic data only (the truth table). MLlib's BinaryClassificationEvaluator computes it
    in Spark; only the number comes back.
    """
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    scored_df = clv_df.join(truth_df.select(C.CUSTOMER_ID, C.IS_CHURNED), on=C.CUSTOMER_ID, how="inner").select(
        (F.lit(1.0) - F.col(C.PROB_ALIVE)).alias("churn_score"),
        F.col(C.IS_CHURNED).cast("double").alias("label"),
    )
    evaluator = BinaryClassificationEvaluator(rawPredictionCol="churn_score", labelCol="label", metricName="areaUnderROC", numBins=0)
    return {"auc_one_minus_prob_alive": round(float(evaluator.evaluate(scored_df)), 4)}
