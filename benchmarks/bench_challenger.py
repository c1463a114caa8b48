"""The ML challenger's cost and figures for several ensemble shapes, on generated data.

    .venv/bin/python benchmarks/bench_challenger.py --customers 5000 --shapes 4x3,5x3,10x4

Generates the customers (seed `--seed`), fits every probabilistic model on the calibration
period once (`evaluate.evaluate_models`, the holdout stage's work, not timed), then for each
`trees x depth` fits the challenger as its stage does (adaptive execution off) and prints the
Spark jobs it ran (deterministic), its wall time and every model's figures on the test
customers. Saves benchmarks/results/challenger_<customers>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, save  # noqa: E402

from customer_behavior.clv import challenger, evaluate  # noqa: E402
from customer_behavior.config import PURCHASE_MODELS, ClvConfig, GenerateConfig, SparkSettings  # noqa: E402
from customer_behavior.generate import generate  # noqa: E402
from customer_behavior.pipeline.context import session_conf  # noqa: E402
from customer_behavior.session import get_session  # noqa: E402

FIGURES = ("normalized_gini", "spearman", "decile_mape_pct", "auc", "aggregate_error_pct")
AS_OF = dt.date(2025, 1, 1)  # the day after the generated window


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shapes", default="4x3,10x4", help="comma-separated trees x depth")
    args = parser.parse_args()
    shapes = [tuple(int(v) for v in shape.split("x")) for shape in args.shapes.split(",")]

    spark = get_session(SparkSettings(), event_log_dir=None)
    sc = spark.sparkContext
    path = Path(tempfile.mkdtemp(prefix="bench_challenger_")) / "transactions"
    generate(spark, GenerateConfig(customers=args.customers, seed=args.seed)).transactions_df.write.parquet(str(path))
    transactions_df = spark.read.parquet(str(path))
    cfg = ClvConfig()
    evaluation = evaluate.evaluate_models(transactions_df, cfg, as_of=AS_OF, keys=PURCHASE_MODELS)

    runs = []
    for trees, depth in shapes:
        group = f"bench-challenger-{trees}x{depth}"
        sc.setJobGroup(group, group)
        started = time.perf_counter()
        with session_conf(spark, {"spark.sql.adaptive.enabled": "false"}):
            fit = challenger.fit_challenger(transactions_df, cfg, evaluation, trees=trees, depth=depth)
        seconds = time.perf_counter() - started
        jobs = len(sc.statusTracker().getJobIdsForGroup(group))
        figures = {m["model"]: {k: m[k] for k in FIGURES} for m in fit.result["models"]}
        runs.append({"trees": trees, "depth": depth, "jobs": jobs, "seconds": round(seconds, 2), "verdict": fit.result["verdict"], "models": figures})
        print(f"{trees} x {depth}: {jobs} jobs, {seconds:.1f} s; {fit.result['verdict']}", flush=True)
    save(f"challenger_{args.customers}", {"customers": args.customers, "seed": args.seed, "machine": machine(), "load_average": os.getloadavg(), "runs": runs})


if __name__ == "__main__":
    main()
