"""Time the whole persona stage (vocabulary, shares, feature model, k sweep, final fit,
names, profiles, writing personas / persona_profiles / persona_sweep / model) at N customers.

    .venv/bin/python benchmarks/bench_personas.py --customers 100000
    .venv/bin/python benchmarks/bench_personas.py --customers 1000000 --cores 2   # the issue's target: < 3 minutes

The synthetic data and customer_features are prepared first (generated, written to
Parquet, features computed and written) and are not part of the timing; the figure is
`pipeline.stage_personas` alone, with the default `[personas]` configuration, on a
local[cores] session. The adjusted Rand index against the planted personas is reported too.
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

from customer_behavior import pipeline  # noqa: E402
from customer_behavior.config import Config, GenerateConfig, SparkSettings  # noqa: E402
from customer_behavior.generate import generate  # noqa: E402
from customer_behavior.session import get_session  # noqa: E402
from customer_behavior.tracking import StageTracker  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--workdir", help="keep the prepared data here (default: a temporary directory)")
    args = parser.parse_args()

    cfg = Config(generate=GenerateConfig(customers=args.customers, seed=args.seed))
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

        with JvmPeakMemory() as memory:
            started = time.perf_counter()
            pipeline.stage_personas(ctx)
            seconds = time.perf_counter() - started
        result = ctx.results["personas"]
        save(
            f"personas_{args.customers}",
            {
                "customers": args.customers,
                "cores": args.cores,
                "persona_stage_seconds": round(seconds, 1),
                "k": result["k"],
                "selection": result["selection"],
                "adjusted_rand_index": result.get("adjusted_rand_index"),
                "sweep_sample_size": result["sweep_sample_size"],
                "personas": result["personas"],
                "peak_rss_mib": memory.peak_mib,
                "machine": machine(),
            },
        )
    finally:
        spark.stop()
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
