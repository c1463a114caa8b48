"""Transactions generated and written to Parquet per second.

    .venv/bin/python benchmarks/bench_generate.py --customers 1000000

Generates the default synthetic data set in Spark local mode on every core (the tool's
default session settings) and times writing customers, transactions and truth.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import JvmPeakMemory, children_cpu_seconds, machine, save  # noqa: E402

from customer_behavior.config import GenerateConfig, SparkSettings  # noqa: E402
from customer_behavior.generate import generate  # noqa: E402
from customer_behavior.session import get_session  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="cb-bench-generate-"))
    with JvmPeakMemory() as memory:
        spark = get_session(SparkSettings(), app_name="bench-generate")
        # warm-up: JVM start and code generation are not what we measure
        generate(spark, GenerateConfig(customers=1_000, seed=args.seed)).transactions_df.write.mode("overwrite").parquet(str(workdir / "warmup"))
        data = generate(spark, GenerateConfig(customers=args.customers, seed=args.seed))
        started, cpu_started = time.perf_counter(), children_cpu_seconds()
        data.transactions_df.write.mode("overwrite").parquet(str(workdir / "transactions"))
        transactions_seconds = time.perf_counter() - started
        transactions_cpu_seconds = children_cpu_seconds() - cpu_started
        started = time.perf_counter()
        data.customers_df.write.mode("overwrite").parquet(str(workdir / "customers"))
        data.truth_df.write.mode("overwrite").parquet(str(workdir / "truth"))
        customer_seconds = time.perf_counter() - started
        rows = spark.read.parquet(str(workdir / "transactions")).count()
        files = len(list((workdir / "transactions").glob("*.parquet")))
    shutil.rmtree(workdir, ignore_errors=True)
    save(
        f"generate_{args.customers}",
        {
            "benchmark": "generate",
            "customers": args.customers,
            "transactions": rows,
            "transactions_seconds": round(transactions_seconds, 2),
            "transactions_per_second": round(rows / transactions_seconds),
            "transactions_cpu_seconds": round(transactions_cpu_seconds, 2),
            "transactions_per_cpu_second": round(rows / transactions_cpu_seconds),
            "load_average_1min": os.getloadavg()[0],
            "customers_and_truth_seconds": round(customer_seconds, 2),
            "transaction_files": files,
            "driver_peak_rss_mib": memory.peak_mib,
            "machine": machine(),
        },
    )


if __name__ == "__main__":
    main()
