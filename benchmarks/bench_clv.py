"""CLV fit + score time at N customers (BG/NBD + Gamma-Gamma, tables/clv computed in Spark).

    .venv/bin/python benchmarks/bench_clv.py --customers 1000000

Simulates a BTYD summary of N customers in Spark (hash-derived draws from a BG/NBD
process: lambda ~ Gamma, p ~ Beta, Poisson purchases over an age T in whole days,
dropout after each repeat purchase; log-normal spend), writes it to Parquet, then times
(1) `fit_models`: one row of counts, the grouped summaries (or their bounded sample)
collected to the driver and both maximum-likelihood fits, and (2) scoring every customer
(P(alive), expected purchases, spend, CLV over 12 months, churn risk) with the result
materialised through Spark's "noop" sink. Generation is not timed. The issue's target:
1,000,000 customers within 60 s on 2 cores, driver memory bounded by clv.max_summary_rows.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import JvmPeakMemory, machine, save  # noqa: E402
from pyspark.sql import DataFrame, SparkSession, functions as F  # noqa: E402

from customer_behavior import columns as C  # noqa: E402
from customer_behavior.clv import fit_models, score_customers  # noqa: E402
from customer_behavior.config import ClvConfig, SparkSettings  # noqa: E402
from customer_behavior.generate.random import gamma, poisson, standard_normal, uniform  # noqa: E402
from customer_behavior.session import get_session  # noqa: E402

TRUE = {"r": 1.5, "alpha": 40.0, "a": 0.8, "b": 3.0}


def simulated_summary(spark: SparkSession, customers: int, seed: int) -> DataFrame:
    """A BG/NBD-like summary from hash draws (Wilson-Hilferty gammas: plausible, not exact, data)."""
    partitions = max(spark.sparkContext.defaultParallelism, customers // 250_000 + 1)
    ids = [F.col("id")]

    def gamma_draw(shape: float | F.Column, stream: str) -> F.Column:
        shape_col = shape if isinstance(shape, F.Column) else F.lit(shape)
        return gamma(shape_col, shape_col, standard_normal(seed, stream, *ids))

    g_a, g_b = gamma_draw(TRUE["a"], "p_a"), gamma_draw(TRUE["b"], "p_b")
    return (
        spark.range(0, customers, numPartitions=partitions)
        .select(
            F.format_string("B%010d", F.col("id")).alias(C.CUSTOMER_ID),
            F.col("id"),
            (gamma_draw(TRUE["r"], "lambda") / F.lit(TRUE["alpha"])).alias("lam"),
            F.least(F.greatest(g_a / (g_a + g_b), F.lit(1e-4)), F.lit(0.9999)).alias("p"),
            (F.lit(30.0) + F.floor(uniform(seed, "T", *ids) * F.lit(701.0))).alias(C.BTYD_T),
        )
        .withColumn("most", F.lit(1.0) + F.floor(F.log(uniform(seed, "J", *ids)) / F.log(F.lit(1.0) - F.col("p"))))
        .withColumn("n", poisson(F.col("lam") * F.col(C.BTYD_T), uniform(seed, "N", *ids), max_mean=25.0).cast("double"))
        .withColumn(C.BTYD_FREQUENCY, F.least(F.col("n"), F.col("most")))
        .withColumn("g1", gamma_draw(F.greatest(F.col(C.BTYD_FREQUENCY), F.lit(1.0)), "g1"))
        .withColumn("g2", gamma_draw(F.col("n") - F.col(C.BTYD_FREQUENCY) + F.lit(1.0), "g2"))
        .select(
            F.col(C.CUSTOMER_ID),
            F.col(C.BTYD_FREQUENCY),
            F.when(F.col(C.BTYD_FREQUENCY) > 0, F.floor(F.col(C.BTYD_T) * F.col("g1") / (F.col("g1") + F.col("g2")))).otherwise(F.lit(0.0)).alias(C.BTYD_RECENCY),
            F.col(C.BTYD_T),
            F.when(F.col(C.BTYD_FREQUENCY) > 0, F.round(F.exp(F.lit(4.0) + F.lit(0.6) * standard_normal(seed, "m", *ids)), 2)).otherwise(F.lit(0.0)).alias(C.BTYD_MONETARY_VALUE),
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-summary-rows", type=int, default=ClvConfig().max_summary_rows)
    parser.add_argument("--master", default="", help="Spark master (default: local mode on every core)")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="cb-bench-clv-"))
    cfg = ClvConfig(max_summary_rows=args.max_summary_rows, evaluate=False)
    with JvmPeakMemory() as memory:
        spark = get_session(SparkSettings(master=args.master), app_name="bench-clv")
        simulated_summary(spark, args.customers, args.seed).write.mode("overwrite").parquet(str(workdir / "summary"))
        summary_df = spark.read.parquet(str(workdir / "summary"))
        # warm-up on a small slice: JVM start and code generation are not what we measure
        warm = summary_df.limit(2_000)
        score_customers(warm, fit_models(warm, cfg), cfg).write.format("noop").mode("overwrite").save()

        started = time.perf_counter()
        models = fit_models(summary_df, cfg)
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        score_customers(summary_df, models, cfg).write.format("noop").mode("overwrite").save()
        score_seconds = time.perf_counter() - started
        distinct_triples = summary_df.select(C.BTYD_FREQUENCY, C.BTYD_RECENCY, C.BTYD_T).distinct().count()
        distinct_pairs = summary_df.select(C.BTYD_FREQUENCY, C.BTYD_T).distinct().count()
        cores = spark.sparkContext.defaultParallelism
    shutil.rmtree(workdir, ignore_errors=True)
    info = models.to_dict()
    suffix = "" if args.max_summary_rows == ClvConfig().max_summary_rows else f"_max{args.max_summary_rows}"
    save(
        f"clv_{args.customers}{suffix}",
        {
            "benchmark": "clv fit + score",
            "customers": args.customers,
            "spark_cores": cores,
            "fit_seconds": round(fit_seconds, 2),
            "score_seconds": round(score_seconds, 2),
            "total_seconds": round(fit_seconds + score_seconds, 2),
            "distinct_frequency_recency_T": distinct_triples,
            "distinct_frequency_T": distinct_pairs,
            "max_summary_rows": args.max_summary_rows,
            "bgnbd": {k: info["bgnbd"].get(k) for k in ("status", "params", "reason", "iterations")},
            "bgnbd_fit_data": info.get("bgnbd_fit_data"),
            "gamma_gamma": {k: info["gamma_gamma"].get(k) for k in ("status", "params", "reason", "iterations")},
            "gamma_gamma_fit_data": info.get("gamma_gamma_fit_data"),
            "series": info.get("series"),
            "simulated_with": TRUE,
            "driver_peak_rss_mib": memory.peak_mib,
            "python_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "machine": machine(),
        },
    )


if __name__ == "__main__":
    main()
