"""Seconds of the default run's generate and features stages (issue 15: the cost of line items).

    .venv/bin/python benchmarks/bench_generate_features.py --customers 100000
    .venv/bin/python benchmarks/bench_generate_features.py --customers 100000 --lines-per-order 1

Runs the pipeline's own `stage_generate` and `stage_features` (as `customer-behavior run`
does, in Spark local mode on every core) into a temporary run directory, `--repeat` times,
and prints each stage's seconds from the manifest and the rows generated. Without
`--lines-per-order` the configuration's default is used, so the same script also measures
an older checkout (PYTHONPATH=<checkout>/src) that has no such knob.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine  # noqa: E402

from customer_behavior import pipeline  # noqa: E402
from customer_behavior.config import Config, GenerateConfig  # noqa: E402
from customer_behavior.session import get_session  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--lines-per-order", type=float, default=None, help="generate.lines_per_order (default: the configuration's)")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    generate_kwargs = {"customers": args.customers}
    if args.lines_per_order is not None:
        generate_kwargs["lines_per_order"] = args.lines_per_order
    cfg = Config(generate=GenerateConfig(**generate_kwargs))
    spark = get_session(cfg.spark)
    print(machine())
    for attempt in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="bench-gf-") as root:
            manifest = pipeline.execute(spark, cfg, Path(root), stages=[pipeline.stage_generate, pipeline.stage_features], command="bench")
        seconds = {stage["name"]: stage["seconds"] for stage in manifest["stages"]}
        rows = manifest["rows"]
        print(
            f"run {attempt + 1}: generate {seconds.get('generate', 0):.1f} s, features {seconds.get('features', 0):.1f} s, "
            f"transactions {rows.get('transactions_generated', 0):,}, customers with features {rows.get('customers_with_features', 0):,}, "
            f"load {os.getloadavg()[0]:.1f}"
        )
    spark.stop()


if __name__ == "__main__":
    main()
