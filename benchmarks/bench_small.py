"""Small inputs in seconds: a ~3,000-row CSV through the whole pipeline against Spark's own
start plus one trivial job, measured in one process.

    .venv/bin/python benchmarks/bench_small.py                 # ~3,000 rows, default config
    .venv/bin/python benchmarks/bench_small.py --rows 3000 --repeat 2

1. Spark's floor: the session started (`session.get_session`, default settings: local mode
   on every core, metrics and event log as a run has them) and one trivial job
   (`spark.range(1).count()`), timed from before the start.
2. The CSV: the transactions of a generated data set of about rows / 32 customers, written as
   one CSV file with a header (not timed).
3. The pipeline: `pipeline.execute` with `input.path` = the CSV (ingest, features, segments,
   personas, clv, patterns, insights, report), default `Config()` otherwise, in the same
   session; best of `--repeat`. Spark jobs per stage come from the manifest.

Prints both times, their ratio (issue 18's target: at most 4) and the load average; saves
benchmarks/results/small_<rows>.json. Timing on a shared machine is noisy: the ratio of two
figures taken in the same process is the fairer number.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import children_cpu_seconds, machine, save  # noqa: E402

from customer_behavior import pipeline  # noqa: E402
from customer_behavior.config import Config, GenerateConfig, InputConfig, SparkSettings  # noqa: E402
from customer_behavior.generate import generate  # noqa: E402
from customer_behavior.session import get_session  # noqa: E402

ROWS_PER_CUSTOMER = 32  # about, with the default personas and 2.5 lines per order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_000, help="about this many CSV rows")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=1, help="pipeline runs; the best is the figure")
    args = parser.parse_args()

    load_before = os.getloadavg()
    started = time.perf_counter()
    spark = get_session(SparkSettings(), event_log_dir=None)
    spark.range(1).count()
    floor_seconds = time.perf_counter() - started
    print(f"Spark start + one trivial job: {floor_seconds:.2f} s", flush=True)

    root = Path(tempfile.mkdtemp(prefix="bench_small_"))
    try:
        data = generate(spark, GenerateConfig(customers=max(10, args.rows // ROWS_PER_CUSTOMER), seed=args.seed))
        csv_dir = root / "input"
        data.transactions_df.coalesce(1).write.option("header", True).csv(str(csv_dir))
        rows = spark.read.option("header", True).csv(str(csv_dir)).count()
        cfg = dataclasses.replace(Config(), input=InputConfig(path=str(csv_dir), format="csv"))
        runs = []
        for attempt in range(args.repeat):
            run_dir = root / f"run{attempt}"
            cpu_before = children_cpu_seconds()
            started = time.perf_counter()
            manifest = pipeline.execute(spark, cfg, run_dir)
            seconds = time.perf_counter() - started
            runs.append(
                {
                    "seconds": round(seconds, 2),
                    "jvm_cpu_seconds": round(children_cpu_seconds() - cpu_before, 1),
                    "stages": {s["name"]: {"seconds": s["seconds"], "jobs": s["spark"].get("jobs")} for s in manifest["stages"]},
                    "load_average_at_end": round(os.getloadavg()[0], 2),
                }
            )
            jobs = ", ".join(f"{name} {s['jobs']}" for name, s in runs[-1]["stages"].items())
            print(f"pipeline on {rows:,} CSV rows: {seconds:.2f} s (Spark jobs: {jobs})", flush=True)
            shutil.rmtree(run_dir, ignore_errors=True)
        best = min(r["seconds"] for r in runs)
        ratio = best / floor_seconds
        print(f"pipeline / (Spark start + trivial job) = {best:.2f} / {floor_seconds:.2f} = {ratio:.2f} (target <= 4); load {os.getloadavg()}")
        save(
            f"small_{args.rows}",
            {
                "csv_rows": rows,
                "spark_start_and_trivial_job_seconds": round(floor_seconds, 2),
                "pipeline_seconds_best": best,
                "ratio": round(ratio, 2),
                "runs": runs,
                "load_average_before": load_before,
                "load_average_1_5_15": os.getloadavg(),
                "machine": machine(),
            },
        )
    finally:
        spark.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
