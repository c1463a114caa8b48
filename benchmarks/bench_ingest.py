"""What validation costs: `run --input` ingest versus a plain CSV -> Parquet copy.

    .venv/bin/python benchmarks/bench_ingest.py --rows 15000000

Writes N generated transactions as CSV (1% of them with a blank customer id, so the
quarantine is not empty), then times on the same files:
  plain   read the CSV (all strings), cast the columns with try_cast, write Parquet;
  ingest  the pipeline's `stage_ingest` exactly as `run --input` runs it: read, map, validate,
          duplicate check, row accounting, quarantine and transactions written.
The issue's bar: validation adds at most one pass over the input, i.e. ingest <= 2 x plain.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import JvmPeakMemory, machine, save  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from customer_behavior import columns as C  # noqa: E402
from customer_behavior.config import Config, GenerateConfig, InputConfig, SparkSettings  # noqa: E402
from customer_behavior.generate import generate  # noqa: E402
from customer_behavior.pipeline import execute, stage_ingest  # noqa: E402
from customer_behavior.session import get_session  # noqa: E402

TRANSACTIONS_PER_CUSTOMER = 15


def write_csv(spark, rows: int, path: Path) -> int:
    customers = max(1_000, rows // TRANSACTIONS_PER_CUSTOMER)
    data = generate(spark, GenerateConfig(customers=customers, seed=42, target_transactions=rows))
    blank_id = F.xxhash64(F.col(C.TRANSACTION_ID)) % F.lit(100) == F.lit(0)
    csv_df = data.transactions_df.select(
        *[F.when(blank_id, F.lit("")).otherwise(F.col(c)).alias(c) if c == C.CUSTOMER_ID else F.col(c).cast("string").alias(c) for c in data.transactions_df.columns]
    )
    csv_df.write.mode("overwrite").option("header", True).csv(str(path))
    return spark.read.option("header", True).csv(str(path)).count()


def plain_copy(spark, source: Path, target: Path) -> None:
    df = spark.read.option("header", True).csv(str(source))
    typed = [F.expr(f"try_cast({f.name} as {f.dataType.simpleString()})").alias(f.name) for f in C.TRANSACTIONS_SCHEMA.fields]
    df.select(*typed).write.mode("overwrite").parquet(str(target))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="cb-bench-ingest-"))
    with JvmPeakMemory() as memory:
        spark = get_session(SparkSettings(), app_name="bench-ingest")
        rows = write_csv(spark, args.rows, workdir / "input")
        cfg = Config(input=InputConfig(path=str(workdir / "input"), as_of="2025-01-01", max_bad_fraction=0.5))
        # warm-up: a first full plain copy (JVM start, code generation, page cache are not what we measure)
        plain_copy(spark, workdir / "input", workdir / "warmup")
        timings = {}
        for name in ("plain", "ingest", "plain_again", "ingest_again"):
            started = time.perf_counter()
            if name.startswith("plain"):
                plain_copy(spark, workdir / "input", workdir / name)
            else:
                staging = workdir / name
                staging.mkdir()
                manifest = execute(spark, cfg, staging, stages=[stage_ingest], command="bench")
            timings[name] = round(time.perf_counter() - started, 2)
    shutil.rmtree(workdir, ignore_errors=True)
    plain = min(timings["plain"], timings["plain_again"])
    ingest = min(timings["ingest"], timings["ingest_again"])
    save(
        f"ingest_{args.rows}",
        {
            "benchmark": "ingest",
            "rows": rows,
            "seconds": timings,
            "plain_seconds_best": plain,
            "ingest_seconds_best": ingest,
            "ingest_over_plain": round(ingest / plain, 2),
            "rows_accounting": manifest["rows"],
            "ingest_spark": manifest["stages"][0]["spark"],
            "driver_peak_rss_mib": memory.peak_mib,
            "machine": machine(),
        },
    )


if __name__ == "__main__":
    main()
