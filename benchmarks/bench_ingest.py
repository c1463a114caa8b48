"""What validation costs: `run --input` ingest versus a plain read + Parquet write of the same file.

    .venv/bin/python benchmarks/bench_ingest.py --rows 15000000                   # CSV input
    .venv/bin/python benchmarks/bench_ingest.py --rows 15000000 --format parquet  # Parquet input

Writes N generated transactions (1% with a blank customer id and 1% more as exact copies of
other rows, so the quarantine and the duplicate check have work to do) as CSV or Parquet, then
times on the same files, in one process, alternating, each twice:
  (a) plain   read the input (CSV: every field a string), cast the canonical columns with
              try_cast, write Parquet: one pass;
  (b) ingest  the pipeline's `stage_ingest` exactly as `run --input` runs it: read, map,
              validate, duplicate check, row accounting, quarantine and data/ written.
The figure is (b) / (a), best run of each: the issue's bar "validation adds at most one pass
over the input" means (b) / (a) <= 2.0 (docs/performance.md, "Ingest"). CPU seconds of the JVM
and the load average are recorded beside the wall times (the machine may be shared).

`--steps N` then times the stage's steps one after another, N times (best of N): planning,
the duplicate check (with collecting its sets), the one write, the quarantine; and, each to
Spark's `noop` sink, what the write's rows cost to make: the lines alone, the lines split into
fields, the rules, the rules and the row hashes.
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
from pyspark.sql import functions as F  # noqa: E402

from customer_behavior import columns as C  # noqa: E402
from customer_behavior.config import Config, GenerateConfig, InputConfig, SparkSettings  # noqa: E402
from customer_behavior.generate import generate  # noqa: E402
from customer_behavior.ingest import write as ingest_write  # noqa: E402
from customer_behavior.ingest import plan as ingest_plan, validation as V  # noqa: E402
from customer_behavior.ingest.readers import LINE  # noqa: E402
from customer_behavior.pipeline import execute, stage_ingest  # noqa: E402
from customer_behavior.session import get_session  # noqa: E402

TRANSACTIONS_PER_CUSTOMER = 15
TARGET_RATIO = 2.0


def write_input(spark, rows: int, path: Path, fmt: str) -> int:
    """N transactions, 1% with a blank customer id, plus 1% exact copies of other rows."""
    customers = max(1_000, rows // TRANSACTIONS_PER_CUSTOMER)
    data = generate(spark, GenerateConfig(customers=customers, seed=42, target_transactions=rows))
    transactions_df = data.transactions_df
    blank_id = F.xxhash64(F.col(C.TRANSACTION_ID)) % F.lit(100) == F.lit(0)
    is_copied = F.xxhash64(F.col(C.TRANSACTION_ID), F.lit("copy")) % F.lit(100) == F.lit(0)
    values = [
        F.when(blank_id, F.lit("")).otherwise(F.col(c)).alias(c) if c == C.CUSTOMER_ID else (F.col(c) if fmt == "parquet" else F.col(c).cast("string")).alias(c)
        for c in transactions_df.columns
    ]
    input_df = transactions_df.select(*values)
    input_df = input_df.unionByName(transactions_df.filter(is_copied).select(*values))
    if fmt == "parquet":
        input_df.write.mode("overwrite").parquet(str(path))
        return spark.read.parquet(str(path)).count()
    input_df.write.mode("overwrite").option("header", True).csv(str(path))
    return spark.read.option("header", True).csv(str(path)).count()


def plain_copy(spark, source: Path, target: Path, fmt: str) -> None:
    """One pass: read, cast to the canonical types (try_cast: bad values become null), write Parquet."""
    df = spark.read.parquet(str(source)) if fmt == "parquet" else spark.read.option("header", True).csv(str(source))
    typed = [F.expr(f"try_cast({f.name} as {f.dataType.simpleString()})").alias(f.name) for f in C.TRANSACTIONS_SCHEMA.fields]
    df.select(*typed).write.mode("overwrite").parquet(str(target))


def _timed(seconds: dict[str, list[float]], name: str, action) -> object:
    started = time.perf_counter()
    result = action()
    seconds.setdefault(name, []).append(round(time.perf_counter() - started, 2))
    return result


def _noop(df) -> None:
    df.write.format("noop").mode("overwrite").save()


def time_steps(spark, cfg: Config, workdir: Path, seconds: dict[str, list[float]]) -> None:
    """One pass through the ingest steps (transactions), each timed on its own."""
    plan = _timed(seconds, "planning", lambda: ingest_plan.plan_ingest(spark, cfg.input))
    table = plan.transactions
    canonical = V.canonical_transaction_columns(plan.resolved)
    if LINE in table.raw.df.columns:
        _timed(seconds, "noop: the lines", lambda: _noop(table.raw.df.select(LINE)))
    _timed(seconds, "noop: the fields", lambda: _noop(table.raw.df))
    _timed(seconds, "noop: the rules", lambda: _noop(table.checked_df.select(*canonical, V.REASON)))
    _timed(seconds, "noop: the rules and hashes", lambda: _noop(table.checked_df.select(*canonical, V.REASON, V.ROW_HASH_1, V.ROW_HASH_2)))
    final = _timed(seconds, "duplicate check", lambda: ingest_write.final_rows(table, plan))
    split_dir = workdir / "steps"
    write = lambda: ingest_write.write_both_outputs(final, split_dir, canonical=canonical, schema=C.TRANSACTIONS_SCHEMA, source_columns=table.raw.source_columns)  # noqa: E731
    _timed(seconds, "the one write", write)
    for cached_df in final.cached:
        cached_df.unpersist()
    quarantine = lambda: ingest_write.write_quarantine(  # noqa: E731
        spark, split_dir / f"{V.QUARANTINED}=true", str(workdir / "steps-quarantine"), schema=C.TRANSACTIONS_SCHEMA, source_columns=table.raw.source_columns, reasons=ingest_plan.R.TRANSACTION_REASONS
    )
    _timed(seconds, "quarantine", quarantine)
    shutil.rmtree(split_dir, ignore_errors=True)
    shutil.rmtree(workdir / "steps-quarantine", ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="generated transactions (before the 1%% copies)")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv", help="format of the input file")
    parser.add_argument("--workdir", default=None, help="where the input and outputs go (deleted afterwards)")
    parser.add_argument("--steps", type=int, default=0, help="then time the ingest steps one by one, this many times")
    args = parser.parse_args()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="cb-bench-ingest-"))
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "input"
    with JvmPeakMemory() as memory:
        spark = get_session(SparkSettings(), app_name="bench-ingest")
        rows = write_input(spark, args.rows, source, args.format)
        cfg = Config(input=InputConfig(path=str(source), format=args.format, as_of="2025-01-01", max_bad_fraction=0.5))
        # warm-up, not recorded: JVM start, class loading, code generation and the page cache
        plain_copy(spark, source, workdir / "warmup", args.format)
        seconds: dict[str, float] = {}
        cpu_seconds: dict[str, float] = {}
        load: dict[str, float] = {}
        manifest: dict = {}
        for name in ("plain", "ingest", "plain_again", "ingest_again"):
            started, cpu_started = time.perf_counter(), children_cpu_seconds()
            if name.startswith("plain"):
                plain_copy(spark, source, workdir / name, args.format)
            else:
                staging = workdir / name
                staging.mkdir()
                manifest = execute(spark, cfg, staging, stages=[stage_ingest], command="bench")
            seconds[name] = round(time.perf_counter() - started, 2)
            cpu_seconds[name] = round(children_cpu_seconds() - cpu_started, 2)
            load[name] = round(os.getloadavg()[0], 2)
            shutil.rmtree(workdir / name, ignore_errors=True)
        step_seconds: dict[str, list[float]] = {}
        for _ in range(args.steps):
            time_steps(spark, cfg, workdir, step_seconds)
    shutil.rmtree(workdir, ignore_errors=True)
    plain = min(seconds["plain"], seconds["plain_again"])
    ingest = min(seconds["ingest"], seconds["ingest_again"])
    plain_cpu = min(cpu_seconds["plain"], cpu_seconds["plain_again"])
    ingest_cpu = min(cpu_seconds["ingest"], cpu_seconds["ingest_again"])
    ratio = round(ingest / plain, 2)
    save(
        f"ingest_{args.format}_{args.rows}",
        {
            "benchmark": "ingest",
            "format": args.format,
            "rows": rows,
            "seconds": seconds,
            "jvm_cpu_seconds": cpu_seconds,
            "load_average_1min_after": load,
            "plain_seconds_best": plain,
            "ingest_seconds_best": ingest,
            "ingest_over_plain": ratio,
            "ingest_over_plain_cpu": round(ingest_cpu / plain_cpu, 2) if plain_cpu else None,
            "target": f"ingest / plain <= {TARGET_RATIO}",
            "rows_accounting": manifest["rows"],
            "ingest_spark": manifest["stages"][0].get("spark"),
            "driver_peak_rss_mib": memory.peak_mib,
            "steps_seconds": step_seconds,
            "steps_seconds_best": {name: min(runs) for name, runs in step_seconds.items()},
            "machine": machine(),
        },
    )
    for name, runs in step_seconds.items():
        print(f"  step {name}: best {min(runs):.2f} s of {runs}")
    verdict = "meets" if ratio <= TARGET_RATIO else "does NOT meet"
    print(
        f"{rows:,} rows ({args.format}): plain read + write {plain:.2f} s, ingest {ingest:.2f} s -> "
        f"ingest / plain = {ratio:.2f} (CPU {ingest_cpu:.1f} / {plain_cpu:.1f} s); {verdict} the bar of {TARGET_RATIO}"
    )


if __name__ == "__main__":
    main()
