"""Calibration/holdout evaluation, as lifetimes' calibration_and_holdout_data.

Transactions are split at the calibration end date E (the first holdout day): the BTYD
summary of the purchases before E is the calibration data, on which every purchase model
(BG/NBD, MBG/NBD, Pareto/NBD) and Gamma-Gamma are refitted;
the holdout is the days [E, as_of). In lifetimes' terms this is
calibration_and_holdout_data(freq="D", calibration_period_end=E - 1 day,
observation_period_end=as_of - 1 day) on day-valued purchases. For every calibration
customer the model predicts the repeat purchases in the holdout (t = as_of - E days); the
actual is the number of distinct purchase days in the holdout (frequency_holdout).
Customers first seen in the holdout are not part of it (as in lifetimes).

Reported per model (see `literature` for the definitions): customers, MAE, RMSE, Pearson
correlation, total predicted and actual purchases, aggregate error in percent, the mean
predicted vs actual by calibration frequency (0..7+), the churn AUC and reliability table;
for all models together the weekly tracking curve and Gamma-Gamma's spend by frequency.
Three small aggregations come to the driver: per calibration frequency (8 rows), per model
and P(alive) bin (at most 10,000 rows a model), per day (one row a day of the window).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import Window as W
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.clv import literature, model, purchase, score, summary
from customer_behavior.clv.gamma_gamma import GammaGammaParams
from customer_behavior.clv.purchase import PurchaseParams
from customer_behavior.config import ClvConfig
from customer_behavior.definitions import is_purchase
from customer_behavior.errors import ModelError

FREQUENCY_GROUP = "frequency_group"
HOLDOUT_SPEND = "holdout_spend"
EXPECTED_SPEND = "_expected_spend"


def calibration_end_date(cfg: ClvConfig, as_of: dt.date) -> dt.date:
    return cfg.calibration_end_date or as_of - dt.timedelta(days=cfg.holdout_days)


def holdout_purchase_days(transactions_df: DataFrame, *, calibration_end: dt.date, as_of: dt.date) -> DataFrame:
    """customer_id, frequency_holdout (distinct purchase days in [calibration_end, as_of)), holdout_spend."""
    day = F.to_date(F.col(C.EVENT_TS))
    return (
        transactions_df.filter(is_purchase() & (day >= F.lit(calibration_end)) & (day < F.lit(as_of)))
        .groupBy(F.col(C.CUSTOMER_ID))
        .agg(F.countDistinct(day).cast("double").alias(C.FREQUENCY_HOLDOUT), F.sum(F.col(C.AMOUNT)).alias(HOLDOUT_SPEND))
    )


def holdout_frame(
    calibration_df: DataFrame, holdout_df: DataFrame, fits: dict[str, PurchaseParams], spend: GammaGammaParams | None, *, duration_days: float, max_terms: int, keep: tuple[str, ...] = ()
) -> DataFrame:
    """Calibration customers with each model's predicted holdout purchases (predicted_<key>) and P(alive) (alive_<key>) at the calibration end, and the actual holdout."""
    btyd = (C.CUSTOMER_ID, C.BTYD_FREQUENCY, C.BTYD_RECENCY, C.BTYD_T, C.BTYD_MONETARY_VALUE)
    frame_df = calibration_df.join(holdout_df, on=C.CUSTOMER_ID, how="left").select(
        *[F.col(c) for c in (*btyd, *[k for k in keep if k not in btyd])],
        F.coalesce(F.col(C.FREQUENCY_HOLDOUT), F.lit(0.0)).alias(C.FREQUENCY_HOLDOUT),
        F.coalesce(F.col(HOLDOUT_SPEND), F.lit(0.0)).alias(HOLDOUT_SPEND),
    )
    for key, params in fits.items():
        frame_df = frame_df.transform(purchase.with_expected_purchases_at, params, duration_days, max_terms=max_terms, name=f"predicted_{key}")
        frame_df = frame_df.withColumn(f"alive_{key}", purchase.prob_alive(params, max_terms))
    if spend is not None:
        frame_df = frame_df.withColumn(EXPECTED_SPEND, score.expected_average_spend(spend, F.col(C.BTYD_FREQUENCY).cast("double"), F.col(C.BTYD_MONETARY_VALUE).cast("double")))
    return frame_df


def sums_by_frequency(frame_df: DataFrame, keys: list[str], *, with_spend: bool) -> DataFrame:
    """Sufficient statistics per calibration frequency (0..7+) for every model: at most 8 rows."""
    actual = F.col(C.FREQUENCY_HOLDOUT)
    sums = [F.count(F.lit(1)).alias("n"), F.sum(actual).alias("actual"), F.sum(actual * actual).alias("aa")]
    for key in keys:
        predicted = F.col(f"predicted_{key}")
        error = predicted - actual
        sums += [
            F.sum(predicted).alias(f"predicted_{key}"), F.sum(F.abs(error)).alias(f"abs_error_{key}"), F.sum(error * error).alias(f"sq_error_{key}"),
            F.sum(predicted * predicted).alias(f"pp_{key}"), F.sum(predicted * actual).alias(f"pa_{key}"),
        ]
    if with_spend:  # repeat customers with positive spend who bought in the holdout: their mean spend there
        has_spend = (F.col(C.BTYD_FREQUENCY) > F.lit(0)) & (F.col(C.BTYD_MONETARY_VALUE) > F.lit(0.0)) & (actual > F.lit(0.0))
        sums += [
            F.sum(F.when(has_spend, 1).otherwise(0)).alias("spend_n"),
            F.sum(F.when(has_spend, F.col(EXPECTED_SPEND))).alias("spend_expected"),
            F.sum(F.when(has_spend, F.col(HOLDOUT_SPEND) / actual)).alias("spend_observed"),
        ]
    group = F.least(F.col(C.BTYD_FREQUENCY), F.lit(float(literature.FREQUENCY_CAP))).cast("int").alias(FREQUENCY_GROUP)
    return frame_df.groupBy(group).agg(*sums)


def prob_alive_histogram(frame_df: DataFrame, keys: list[str]) -> DataFrame:
    """Per model and P(alive) bin: customers, those who bought in the holdout, the sum of P(alive)."""
    entries = F.explode(F.array(*[
        F.struct(F.lit(key).alias("model"), F.col(f"alive_{key}").alias("alive")) for key in keys
    ])).alias("entry")
    bins = literature.HISTOGRAM_BINS
    return (
        frame_df.select(entries, (F.col(C.FREQUENCY_HOLDOUT) > F.lit(0.0)).cast("int").alias("bought"))
        .select(F.col("entry.model").alias("model"), F.col("entry.alive").alias("alive"), F.col("bought"))
        .groupBy(F.col("model"), F.least(F.floor(F.col("alive") * F.lit(bins)), F.lit(bins - 1)).cast("int").alias("bin"))
        .agg(F.count(F.lit(1)).alias("n"), F.sum(F.col("bought")).alias("bought"), F.sum(F.col("alive")).alias("alive_sum"))
    )


def daily_cohort_purchases(transactions_df: DataFrame, *, calibration_end: dt.date, as_of: dt.date) -> DataFrame:
    """Per day: customers first seen that day and repeat purchase days, for customers first seen before calibration_end."""
    day = F.to_date(F.col(C.EVENT_TS))
    days_df = transactions_df.filter(is_purchase() & (day < F.lit(as_of))).select(F.col(C.CUSTOMER_ID), day.alias("day")).distinct()
    first = F.min(F.col("day")).over(W.partitionBy(F.col(C.CUSTOMER_ID)).rowsBetween(W.unboundedPreceding, W.unboundedFollowing))
    return (
        days_df.withColumn("first_day", first)
        .filter(F.col("first_day") < F.lit(calibration_end))
        .groupBy(F.col("day"))
        .agg(
            F.sum(F.when(F.col("day") == F.col("first_day"), 1).otherwise(0)).alias("new"),
            F.sum(F.when(F.col("day") > F.col("first_day"), 1).otherwise(0)).alias("repeat"),
        )
    )


def evaluate_models(transactions_df: DataFrame, cfg: ClvConfig, *, as_of: dt.date, keys: tuple[str, ...], summary_fn=summary.btyd_summary) -> dict[str, Any]:
    """Fit every model in `keys` and Gamma-Gamma on the calibration period; the literature's figures for each on the holdout.

    An estimator (runs a few small jobs; the calibration frame is cached while they run).
    A model that cannot be fitted on the calibration period is an entry with status "failed"
    and its reason. ModelError when no model can be evaluated at all.
    """
    calibration_end = calibration_end_date(cfg, as_of)
    if calibration_end >= as_of:
        raise ModelError(f"holdout evaluation: clv.calibration_end {calibration_end} is not before the as-of date {as_of}")
    calibration_df = summary_fn(transactions_df, as_of=calibration_end).cache()
    try:
        return _evaluate_calibration(transactions_df, calibration_df, cfg, calibration_end=calibration_end, as_of=as_of, keys=keys)
    finally:
        calibration_df.unpersist()


def _evaluate_calibration(
    transactions_df: DataFrame, calibration_df: DataFrame, cfg: ClvConfig, *, calibration_end: dt.date, as_of: dt.date, keys: tuple[str, ...]
) -> dict[str, Any]:
    duration = float((as_of - calibration_end).days)
    counts = summary.summary_counts(calibration_df)
    if counts.customers == 0:
        raise ModelError(f"holdout evaluation: no customer purchased before the calibration end {calibration_end}")
    entries: dict[str, dict[str, Any]] = {key: {"model": key, "name": purchase.NAMES[key]} for key in keys}
    fits: dict[str, PurchaseParams] = {}
    fit_data: dict[str, Any] = {}
    try:
        grouped = model.grouped_purchase_summary(calibration_df, counts, cfg, "the purchase models")
        fit_data = grouped.to_dict()
    except ModelError as exc:
        grouped = None
        for entry in entries.values():
            entry.update(status="failed", reason=f"calibration period: {str(exc).replace('the purchase models', entry['name'])}")
    for key in keys if grouped is not None else ():
        try:
            fitted = purchase.fit(key, grouped.table, cfg)
            fits[key] = fitted.params
            entries[key].update(status="ok", parameters=fitted.params.to_dict())
        except ModelError as exc:
            entries[key].update(status="failed", reason=f"calibration period: {exc}")
    try:
        spend = model.fit_gamma_gamma(calibration_df, counts, cfg)[0].params
        spend_status: dict[str, Any] = {"status": "ok", "parameters": spend.to_dict()}
    except ModelError as exc:
        spend, spend_status = None, {"status": "failed", "reason": f"calibration period: {exc}"}
    result: dict[str, Any] = {
        "calibration_end": calibration_end.isoformat(), "as_of": as_of.isoformat(), "holdout_days": duration,
        "calibration_customers": counts.customers, "calibration_fit_data": fit_data, "gamma_gamma": spend_status,
    }
    holdout_df = holdout_purchase_days(transactions_df, calibration_end=calibration_end, as_of=as_of)
    frame_df = holdout_frame(calibration_df, holdout_df, fits, spend, duration_days=duration, max_terms=cfg.max_series_terms).cache()
    try:
        rows = [r.asDict() for r in sums_by_frequency(frame_df, list(fits), with_spend=spend is not None).collect()]
        histogram = [r.asDict() for r in prob_alive_histogram(frame_df, list(fits)).collect()] if fits else []
        daily = [r.asDict() for r in daily_cohort_purchases(transactions_df, calibration_end=calibration_end, as_of=as_of).collect()]
    finally:
        frame_df.unpersist()
    for key in fits:
        entries[key].update(literature.prediction_metrics(rows, key))
        entries[key].update(literature.churn_figures([b for b in histogram if b["model"] == key]))
    result["total_actual"] = sum(float(r["actual"]) for r in rows)
    result["spend_by_frequency"] = literature.spend_by_frequency(rows) if spend is not None else []
    result["tracking"] = literature.tracking_curve(daily, fits, calibration_end=calibration_end, as_of=as_of)
    result["models"] = list(entries.values())
    return result


def evaluate_holdout(transactions_df: DataFrame, cfg: ClvConfig, *, as_of: dt.date, summary_fn=summary.btyd_summary) -> dict[str, Any]:
    """The holdout figures of the one model clv.model names (ModelError if it cannot be fitted on the calibration period)."""
    key = model.purchase_key(cfg)
    evaluation = evaluate_models(transactions_df, cfg, as_of=as_of, keys=(key,), summary_fn=summary_fn)
    return holdout_summary(evaluation, key)


def holdout_summary(evaluation: dict[str, Any], key: str) -> dict[str, Any]:
    """One model's entry in the flat form of results.clv.holdout (what the report's one-line check reads)."""
    entry = next(e for e in evaluation["models"] if e["model"] == key)
    if entry["status"] != "ok":
        raise ModelError(f"holdout evaluation: {entry['reason']}")
    fields = ("customers", "mae", "rmse", "correlation", "total_predicted", "total_actual", "aggregate_error_pct", "churn_auc", "by_frequency")
    return {
        "model": entry["name"], "calibration_end": evaluation["calibration_end"], "as_of": evaluation["as_of"], "holdout_days": evaluation["holdout_days"],
        "calibration_params": entry["parameters"], "calibration_fit_data": evaluation["calibration_fit_data"], **{f: entry[f] for f in fields},
    }


# Planted-truth scoring lives in customer_behavior.evaluation; re-exported for the pipeline.
from customer_behavior.evaluation.churn import planted_churn_auc  # noqa: E402,F401
