"""Time the whole persona stage (vocabulary, shares, feature model, k sweep, final fit,
names, profiles, writing personas / persona_profiles / persona_sweep / model) at N customers.

    .venv/bin/python benchmarks/bench_personas.py --customers 100000
    .venv/bin/python benchmarks/bench_personas.py --customers 1000000   # the issue's target: < 180 s on 2 cores
    .venv/bin/python benchmarks/bench_personas.py --customers 100000 --before   # also the pre-tuning knobs, same process

The synthetic data, customer_features and the RFM segments are prepared first (generated,
written to Parquet) and are not part of the timing; the figure is `pipeline.stage_personas`
alone, with the default `[personas]` configuration (or `--set key=value` overrides), on a
local[cores] session. Printed per run: wall seconds, CPU seconds of the driver JVM over the
run, the number of Spark jobs of the stage (from the stage tracker), the chosen k and the
adjusted Rand index against the planted personas; the load average beside them.

`--before` first runs the stage with the knob values of the first version (sweep on 50,000
customers with 3 restarts per k and 40 iterations, 3 restarts of the final fit), then
with the current defaults, back to back on the same prepared data, so the ratio is fair
on a shared machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import JvmPeakMemory, children_cpu_seconds, machine, save  # noqa: E402

from customer_behavior import pipeline  # noqa: E402
from customer_behavior.config import Config, GenerateConfig, PersonasConfig, SparkSettings  # noqa: E402
from customer_behavior.generate import generate  # noqa: E402
from customer_behavior.session import get_session  # noqa: E402
from customer_behavior.tracking import StageTracker  # noqa: E402

# The [personas] knobs of the first version (before the performance work).
BEFORE_KNOBS = {
    "sweep_sample_size": 50_000,
    "sweep_restarts": 3,
    "sweep_max_iter": 40,
    "restarts": 3,
    "max_iter": 40,
    "tol": 1e-4,
}


def parse_overrides(pairs: list[str]) -> dict:
    fields = {f.name: f for f in dataclasses.fields(PersonasConfig)}
    overrides = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in fields:
            raise SystemExit(f"--set: unknown personas knob {key!r}")
        default = getattr(PersonasConfig(), key)
        overrides[key] = type(default)(value) if not isinstance(default, list) else value.split(",")
    return overrides


def next_job_id(spark) -> int | None:
    """The id the next Spark job will get, from the DAG scheduler (through Py4J).

    The difference over a run is the number of jobs it started. The stage tracker's count
    comes from the UI store, which keeps only the last spark.ui.retainedJobs (1000) jobs,
    so a second run in the same process would be miscounted by it.
    """
    try:
        return int(spark.sparkContext._jsc.sc().dagScheduler().nextJobId().get())
    except Exception:  # noqa: BLE001 - an internal of Spark; fall back to the tracker's count
        return None


def run_stage(ctx: pipeline.RunContext, cfg: PersonasConfig, label: str) -> dict:
    ctx.cfg = dataclasses.replace(ctx.cfg, personas=cfg)
    cpu_before = children_cpu_seconds()
    jobs_before = next_job_id(ctx.spark)
    with JvmPeakMemory() as memory:
        started = time.perf_counter()
        pipeline.stage_personas(ctx)
        seconds = time.perf_counter() - started
    jobs = next_job_id(ctx.spark) - jobs_before if jobs_before is not None else None
    record = ctx.tracker.records[-1]
    result = ctx.results["personas"]
    row = {
        "run": label,
        "persona_stage_seconds": round(seconds, 1),
        "jvm_cpu_seconds": round(children_cpu_seconds() - cpu_before, 1),
        "spark_jobs": jobs if jobs is not None else record.spark.get("jobs"),
        "k": result["k"],
        "adjusted_rand_index": result.get("adjusted_rand_index"),
        "selection": result["selection"],
        "sweep_sample_size": result["sweep_sample_size"],
        "personas": result["personas"],
        "peak_rss_mib": memory.peak_mib,
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "knobs": {k: getattr(cfg, k, None) for k in BEFORE_KNOBS},
    }
    print(
        f"[{label}] {row['persona_stage_seconds']} s wall, {row['jvm_cpu_seconds']} JVM CPU s, "
        f"{row['spark_jobs']} Spark jobs, k={row['k']}, ARI={row['adjusted_rand_index']}, load {row['load_average_at_end']}",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--workdir", help="keep the prepared data here and reuse it (default: a temporary directory)")
    parser.add_argument("--before", action="store_true", help="first run the stage with the first version's knobs, for a same-process ratio")
    parser.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE", help="override a [personas] knob (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="log the persona stage's phases with their times")
    args = parser.parse_args()
    if args.verbose:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("customer_behavior.personas").setLevel(logging.INFO)

    current = PersonasConfig(**parse_overrides(args.set))
    cfg = Config(generate=GenerateConfig(customers=args.customers, seed=args.seed), personas=current)
    spark = get_session(SparkSettings(master=f"local[{args.cores}]", driver_memory=args.driver_memory, shuffle_partitions=4 * args.cores))
    root = Path(args.workdir or tempfile.mkdtemp(prefix="bench_personas_"))
    try:
        ctx = pipeline.RunContext(spark=spark, cfg=cfg, root=root, tracker=StageTracker(spark, print))
        data = generate(spark, cfg.generate)
        for name, df in (("customers", data.customers_df), ("transactions", data.transactions_df), ("truth", data.truth_df)):
            if not (root / pipeline.DATA_DIR / name).exists():
                pipeline.write_parquet(df, ctx.path(pipeline.DATA_DIR, name))
        ctx.tables["transactions"] = spark.read.parquet(ctx.path(pipeline.DATA_DIR, "transactions"))
        ctx.tables["customers"] = spark.read.parquet(ctx.path(pipeline.DATA_DIR, "customers"))
        pipeline.stage_features(ctx)
        pipeline.stage_segments(ctx)

        runs = []
        if args.before:
            runs.append(run_stage(ctx, dataclasses.replace(current, **BEFORE_KNOBS), "before"))
        runs.append(run_stage(ctx, current, "current"))
        save(
            f"personas_{args.customers}",
            {"customers": args.customers, "cores": args.cores, "runs": runs, "load_average_1_5_15": os.getloadavg(), "machine": machine()},
        )
    finally:
        spark.stop()
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
