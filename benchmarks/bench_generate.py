"""Transactions generated and written to Parquet per second.

    .venv/bin/python benchmarks/bench_generate.py --customers 1000000
    .venv/bin/python benchmarks/bench_generate.py --customers 1000000 --writer-settings

Generates the default synthetic data set in Spark local mode on every core (the tool's
default session settings) and times writing customers, transactions and truth.

Beside it, in the same process, Spark's floor for the same output: as many rows of the
transactions schema, each column cheap arithmetic on the row number (no random draws, no
personas), written to Parquet the same way. Neither the generator nor anything else that
writes this table through Spark's Parquet writer can beat that rate on this machine.
`--writer-settings` also times the floor with other codecs and without dictionary encoding.
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
from pyspark.sql import Column, DataFrame, DataFrameWriter, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from customer_behavior import columns as C  # noqa: E402

from customer_behavior.config import GenerateConfig, SparkSettings  # noqa: E402
from customer_behavior.generate import generate  # noqa: E402
from customer_behavior.session import get_session  # noqa: E402


def floor_df(spark: SparkSession, rows: int, partitions: int) -> DataFrame:
    """`rows` rows of the transactions schema from cheap arithmetic on the row number; about
    13 rows per customer id, unique transaction ids, amounts and times spread like real ones."""
    i = F.col("id")
    h = F.xxhash64(i)
    customer = (i / F.lit(13)).cast("long")

    def pick(values: tuple[str, ...]) -> Column:
        return F.element_at(F.array(*[F.lit(v) for v in values]), (i % F.lit(len(values)) + F.lit(1)).cast("int"))

    two_years_s = 2 * 365 * 86_400
    columns = {
        C.TRANSACTION_ID: F.concat(F.lit("T"), F.lpad(customer.cast("string"), 9, "0"), F.lit("-"), F.lpad((i % F.lit(13)).cast("string"), 5, "0")),
        C.CUSTOMER_ID: F.format_string("C%09d", customer),
        C.EVENT_TS: F.timestamp_seconds(F.lit(1_672_531_200) + F.pmod(h, F.lit(two_years_s))),
        C.CATEGORY: pick(("electronics", "fashion", "home", "beauty", "sports", "books", "toys", "grocery")),
        C.QUANTITY: (i % F.lit(5) + F.lit(1)).cast("int"),
        C.UNIT_PRICE: F.pmod(h, F.lit(100_000)) / F.lit(100.0),
        C.DISCOUNT: F.when(i % F.lit(7) == F.lit(0), F.lit(0.1)).otherwise(F.lit(0.0)),
        C.AMOUNT: F.pmod(F.shiftright(h, 20), F.lit(1_000_000)) / F.lit(100.0),
        C.PAYMENT_METHOD: pick(("card", "paypal", "wallet", "bank_transfer", "cash_on_delivery")),
        C.CHANNEL: pick(("web", "mobile_app", "store")),
        C.STATUS: F.when(i % F.lit(20) == F.lit(0), F.lit(C.STATUS_RETURNED)).otherwise(F.lit(C.STATUS_COMPLETED)),
    }
    return spark.range(0, rows, numPartitions=partitions).select(*[columns[f.name].cast(f.dataType).alias(f.name) for f in C.TRANSACTIONS_SCHEMA.fields])


# (compression codec, parquet.enable.dictionary) tried on the floor with --writer-settings
WRITER_SETTINGS = (("snappy", "true"), ("uncompressed", "true"), ("lz4_raw", "true"), ("snappy", "false"), ("uncompressed", "false"))


def timed_write(df: DataFrame | DataFrameWriter, path: Path) -> tuple[float, float]:
    """Seconds and JVM CPU seconds to write `df` (or a configured writer) as Parquet."""
    writer = df.write if isinstance(df, DataFrame) else df
    started, cpu_started = time.perf_counter(), children_cpu_seconds()
    writer.mode("overwrite").parquet(str(path))
    return time.perf_counter() - started, children_cpu_seconds() - cpu_started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--writer-settings", action="store_true", help="also time the floor with other Parquet codecs and without dictionary encoding")
    args = parser.parse_args()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="cb-bench-generate-"))
    with JvmPeakMemory() as memory:
        spark = get_session(SparkSettings(), app_name="bench-generate")
        # warm-up: JVM start and code generation are not what we measure
        generate(spark, GenerateConfig(customers=1_000, seed=args.seed)).transactions_df.write.mode("overwrite").parquet(str(workdir / "warmup"))
        data = generate(spark, GenerateConfig(customers=args.customers, seed=args.seed))
        transactions_seconds, transactions_cpu_seconds = timed_write(data.transactions_df, workdir / "transactions")
        started = time.perf_counter()
        data.customers_df.write.mode("overwrite").parquet(str(workdir / "customers"))
        data.truth_df.write.mode("overwrite").parquet(str(workdir / "truth"))
        customer_seconds = time.perf_counter() - started
        rows = spark.read.parquet(str(workdir / "transactions")).count()
        files = len(list((workdir / "transactions").glob("*.parquet")))
        floor_write = floor_df(spark, rows, partitions=max(files, 1))  # as many tasks as the generator's write
        timed_write(floor_write, workdir / "floor")  # warm-up of the floor's own code
        floor_seconds, floor_cpu_seconds = timed_write(floor_write, workdir / "floor")
        writer_settings = {}
        if args.writer_settings:
            for codec, dictionary in WRITER_SETTINGS:
                seconds, _ = timed_write(floor_write.write.option("compression", codec).option("parquet.enable.dictionary", dictionary), workdir / "floor")
                writer_settings[f"{codec}, dictionary {dictionary}"] = round(rows / seconds)
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
            "floor_seconds": round(floor_seconds, 2),
            "floor_rows_per_second": round(rows / floor_seconds),
            "floor_cpu_seconds": round(floor_cpu_seconds, 2),
            "generator_over_floor": round(transactions_seconds / floor_seconds, 2),
            "floor_rows_per_second_by_writer_settings": writer_settings,
            "driver_peak_rss_mib": memory.peak_mib,
            "machine": machine(),
        },
    )


    print(
        f"{rows:,} transactions written in {transactions_seconds:.1f} s: {rows / transactions_seconds:,.0f} per second "
        f"({transactions_cpu_seconds:.1f} JVM CPU s); Spark's floor for the same rows {floor_seconds:.1f} s: "
        f"{rows / floor_seconds:,.0f} per second ({floor_cpu_seconds:.1f} JVM CPU s)"
    )


if __name__ == "__main__":
    main()
