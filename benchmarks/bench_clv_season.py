"""Where the holdout under-forecast comes from (issue #19): the generator's seasonality.

The generator thins each customer's Poisson purchases by a month weight (November 1.4,
December 1.6, the rest 0.8-1.0: `generate.spec.MONTH_WEIGHTS`). The default holdout is the
window's last 180 days (2024-07-05 to 2025-01-01), which holds both peaks; the calibration
period before it holds a year and a half of ordinary months. No model here knows the
calendar, so each predicts the calibration period's mean rate.

The script generates the same customers twice, with the planted seasonality and with flat
month weights (everything else equal, same seed), runs the holdout evaluation of every
purchase model on each, and prints each model's predicted and actual holdout purchases, plus
the ratio of the mean month weight of the holdout to that of the calibration period (what a
constant-rate model misses for a customer alive throughout).

    .venv/bin/python benchmarks/bench_clv_season.py [--customers 20000]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import subprocess
from unittest import mock

from pyspark.sql import SparkSession

from customer_behavior.clv import evaluate as clv_evaluate
from customer_behavior.config import PURCHASE_MODELS, ClvConfig, GenerateConfig
from customer_behavior.generate import engine, spec


def month_weight_ratio(start: dt.date, calibration_end: dt.date, as_of: dt.date, weights: tuple[float, ...]) -> float:
    def mean(a: dt.date, b: dt.date) -> float:
        days = [a + dt.timedelta(days=i) for i in range((b - a).days)]
        return sum(weights[d.month - 1] for d in days) / len(days)

    return mean(calibration_end, as_of) / mean(start, calibration_end)


def evaluate(spark: SparkSession, gen: GenerateConfig, clv: ClvConfig, as_of: dt.date) -> list[dict]:
    transactions_df = engine.generate(spark, gen).transactions_df.cache()
    try:
        evaluation = clv_evaluate.evaluate_models(transactions_df, clv, as_of=as_of, keys=PURCHASE_MODELS)
    finally:
        transactions_df.unpersist()
    return [entry for entry in evaluation["models"] if entry["status"] == "ok"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20_000)
    args = parser.parse_args()
    spark = SparkSession.builder.master("local[2]").config("spark.sql.shuffle.partitions", "8").config("spark.ui.enabled", "false").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    gen = dataclasses.replace(GenerateConfig(), customers=args.customers)
    clv = ClvConfig()
    as_of, start = gen.end_date + dt.timedelta(days=1), gen.start_date  # a run's default as-of date: the day after the window
    calibration_end = clv_evaluate.calibration_end_date(clv, as_of)
    flat = (1.0,) * 12
    print(f"{args.customers:,} customers; calibration {start} .. {calibration_end}, holdout {calibration_end} .. {as_of}")
    for name, weights in (("planted seasonality", spec.MONTH_WEIGHTS), ("flat month weights", flat)):
        ratio = month_weight_ratio(start, calibration_end, as_of, weights)
        with mock.patch.object(spec, "MONTH_WEIGHTS", weights):
            entries = evaluate(spark, gen, clv, as_of)
        print(f"\n{name}: mean month weight holdout / calibration = {ratio:.3f}")
        print(f"  {'model':<10} {'predicted':>10} {'actual':>10} {'error':>8} {'MAE':>6}")
        for entry in entries:
            error = 100.0 * (entry["total_predicted"] - entry["total_actual"]) / entry["total_actual"]
            print(f"  {entry['model']:<10} {entry['total_predicted']:>10,.0f} {entry['total_actual']:>10,.0f} {error:>7.1f}% {entry['mae']:>6.3f}")
    print("\nuptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
