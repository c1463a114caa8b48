"""The benchmark suite: the whole pipeline per stage, next to DuckDB, pandas and Spark's floor.

    make bench ARGS="--customers 1000000"
    .venv/bin/python benchmarks/run.py --sizes 100000,1000000,5000000   # one process per size

For each size: the default synthetic data (seed 42) is generated once into the work dir
(benchmarks/.work/data/c<customers>_s<seed>, reused when already there) and the run's
stages after the data source (today features, segments, personas, clv, patterns, insights,
report) run on
those Parquet files through `pipeline.execute`, with the default config and session
settings (metrics on). Recorded per stage: wall time (the manifest's), transactions per
second, the driver JVM's peak resident memory (sampled from /proc) and its heap peak.
Side by side, on the same Parquet files:
- DuckDB: the features query (`bench_features.DUCKDB_SQL`) and the RFM quantile scoring
  and segment summary of the segments stage, on as many threads as Spark has cores;
- Spark's floor: one scan and one group-by of the transactions by customer (count and
  sum(amount), written to the noop sink); pipeline total / floor = passes' worth of work;
- pandas: the features in plain pandas (up to --pandas-max customers, skipped above).
Results: benchmarks/results/pipeline_<customers>.json, and the table in docs/performance.md
(between the generated-table markers; the rest of that file is kept as written).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_features import DUCKDB_SQL as DUCKDB_FEATURES_SQL  # noqa: E402
from common import RESULTS_DIR, JvmPeakMemory, machine, save  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from customer_behavior import columns as C  # noqa: E402
from customer_behavior import pipeline, tracking  # noqa: E402
from customer_behavior.config import Config, GenerateConfig, SparkSettings  # noqa: E402
from customer_behavior.generate import engine as generate_engine  # noqa: E402
from customer_behavior.segment_table import load_segment_table  # noqa: E402
from customer_behavior.session import get_session  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
DOC = BENCH_DIR.parent / "docs" / "performance.md"
BEGIN, END = "<!-- benchmarks/run.py: begin generated table -->", "<!-- benchmarks/run.py: end generated table -->"
DATA_TABLES = ("customers", "transactions", "truth")
# The stages that produce the data; the benchmark points the run at existing Parquet instead.
SOURCE_STAGES = {"stage_generate", "stage_source", "stage_ingest"}


# --------------------------------------------------------------------------- data


def data_dir(workdir: Path, customers: int, seed: int) -> Path:
    return workdir / "data" / f"c{customers}_s{seed}"


def ensure_data(spark: SparkSession, base: Path, customers: int, seed: int) -> dict:
    """Generate the default data set into `base` unless a complete copy is there already."""
    if all((base / name / "_SUCCESS").exists() for name in DATA_TABLES):
        return {"generated_in_this_process": False, "path": str(base)}
    data = generate_engine.generate(spark, GenerateConfig(customers=customers, seed=seed))
    started = time.perf_counter()
    for name, df in zip(DATA_TABLES, (data.customers_df, data.transactions_df, data.truth_df)):
        pipeline.write_parquet(df, str(base / name))
    return {"generated_in_this_process": True, "path": str(base), "generate_seconds": round(time.perf_counter() - started, 2)}


def load_stage(base: Path):
    """A run stage that points the run at the data in `base` (what stage_generate leaves in ctx)."""

    def stage_load(ctx: pipeline.RunContext) -> None:
        for name in DATA_TABLES:
            ctx.tables[name] = ctx.spark.read.parquet(str(base / name))
        ctx.rows["transactions_read"] = ctx.rows["transactions_accepted"] = ctx.tables["transactions"].count()
        ctx.rows["transactions_quarantined"] = 0

    return stage_load


def measured(stage, memory: JvmPeakMemory):
    name = stage.__name__.removeprefix("stage_")

    def run_stage(ctx: pipeline.RunContext) -> None:
        with memory.section(name):
            stage(ctx)

    run_stage.__name__ = stage.__name__
    return run_stage


# --------------------------------------------------------------------------- Spark


def run_pipeline_on(spark: SparkSession, base: Path, run_dir: Path, customers: int, seed: int, memory: JvmPeakMemory) -> dict:
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    cfg = Config(generate=GenerateConfig(customers=customers, seed=seed))
    stages = [load_stage(base)] + [measured(s, memory) for s in pipeline.RUN_STAGES if s.__name__ not in SOURCE_STAGES]
    return pipeline.execute(spark, cfg, run_dir, stages=stages, progress=lambda line: print(f"  {line}", file=sys.stderr, flush=True))


def spark_floor(spark: SparkSession, transactions: str, repeats: int = 2) -> dict:
    """One scan and one group-by of the transactions by customer: the least any stage can cost."""
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        (
            spark.read.parquet(transactions)
            .groupBy(C.CUSTOMER_ID)
            .agg(F.count(F.lit(1)).alias("rows"), F.sum(F.col(C.AMOUNT)).alias("amount"))
            .write.format("noop")
            .mode("overwrite")
            .save()
        )
        seconds.append(time.perf_counter() - started)
    return {"seconds": round(min(seconds), 3), "all_seconds": [round(s, 3) for s in seconds]}


# --------------------------------------------------------------------------- DuckDB


def duckdb_segments_sql(features: str, out: str, bins: int) -> str:
    """RFM scores from quantile cut points (same value-based rule as segments.py), segment, summary."""
    probs = "[" + ", ".join(str(i / bins) for i in range(1, bins)) + "]"
    return f"""
CREATE OR REPLACE TEMP TABLE rfm AS
WITH f AS (SELECT customer_id, recency_days, orders, monetary, avg_order_value FROM read_parquet('{features}')),
cuts AS (
    SELECT quantile_disc(recency_days, {probs}) AS rc, quantile_disc(orders, {probs}) AS fc, quantile_disc(monetary, {probs}) AS mc FROM f
),
scored AS (
    SELECT f.*,
        1 + len(list_filter(rc, lambda c: recency_days < c)) AS r_score,
        1 + len(list_filter(fc, lambda c: orders > c)) AS f_score,
        1 + len(list_filter(mc, lambda c: monetary > c)) AS m_score
    FROM f, cuts
)
SELECT scored.*, codes.segment
FROM scored JOIN codes ON codes.rfm_code = CAST(r_score AS VARCHAR) || CAST(f_score AS VARCHAR) || CAST(m_score AS VARCHAR);
COPY rfm TO '{out}/rfm_segments.parquet' (FORMAT PARQUET);
COPY (
    SELECT segment, count(*) AS customers, count(*) / sum(count(*)) OVER () AS customer_share,
        sum(monetary) AS revenue, sum(monetary) / sum(sum(monetary)) OVER () AS revenue_share,
        avg(r_score) AS mean_r_score, avg(f_score) AS mean_f_score, avg(m_score) AS mean_m_score,
        avg(recency_days) AS mean_recency_days, sum(monetary) / sum(orders) AS mean_order_value
    FROM rfm GROUP BY segment
) TO '{out}/segment_summary.parquet' (FORMAT PARQUET);
"""


def run_duckdb(transactions: str, as_of: dt.date, threads: int, out: Path, bins: int) -> dict:
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    codes = sorted(load_segment_table(None).code_map().items())
    con.execute("CREATE TEMP TABLE codes (rfm_code VARCHAR, segment VARCHAR)")
    con.executemany("INSERT INTO codes VALUES (?, ?)", codes)
    features = out / "customer_features.parquet"
    started = time.perf_counter()
    con.execute(DUCKDB_FEATURES_SQL.format(path=transactions, as_of=as_of.isoformat(), out=features))
    features_seconds = time.perf_counter() - started
    started = time.perf_counter()
    con.execute(duckdb_segments_sql(str(features), str(out), bins))
    segments_seconds = time.perf_counter() - started
    customers = con.execute(f"SELECT count(*) FROM '{features}'").fetchone()[0]
    segment_counts = dict(con.execute("SELECT segment, count(*) FROM rfm GROUP BY ALL ORDER BY ALL").fetchall())
    probs = [i / bins for i in range(1, bins)]
    cuts = con.execute(
        f"SELECT quantile_disc(recency_days, {probs}), quantile_disc(orders, {probs}), quantile_disc(monetary, {probs}) FROM '{features}'"
    ).fetchone()
    con.close()
    return {
        "threads": threads,
        "features_seconds": round(features_seconds, 3),
        "segments_seconds": round(segments_seconds, 3),
        "customers": customers,
        "segment_customers": segment_counts,
        "cut_points": {C.RECENCY_DAYS: list(cuts[0]), C.ORDERS: list(cuts[1]), C.MONETARY: list(cuts[2])},
    }


# --------------------------------------------------------------------------- pandas


def pandas_features(transactions: str, as_of: dt.date):
    """The per-customer features in plain pandas (money as float64, not decimal)."""
    import numpy as np
    import pandas as pd

    cols = [C.CUSTOMER_ID, C.EVENT_TS, C.CATEGORY, C.QUANTITY, C.DISCOUNT, C.AMOUNT, C.PAYMENT_METHOD, C.CHANNEL, C.STATUS]
    tx = pd.read_parquet(transactions, columns=cols)
    ts = tx[C.EVENT_TS]
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    tx["day"] = ts.dt.normalize()
    as_of_ts = pd.Timestamp(as_of)
    tx = tx[tx["day"] < as_of_ts]
    amount = tx[C.AMOUNT].astype("float64")
    is_order = (tx[C.STATUS] == C.STATUS_COMPLETED) & (amount > 0)
    is_return = tx[C.STATUS] == C.STATUS_RETURNED
    orders = tx[is_order].assign(amount=amount[is_order])
    orders["month"] = orders["day"].dt.year * 12 + orders["day"].dt.month
    orders["weekend"] = orders["day"].dt.dayofweek >= 5
    orders["discounted"] = orders[C.DISCOUNT].astype("float64") > 0
    g = orders.groupby(C.CUSTOMER_ID, sort=False)
    out = g.agg(
        orders=(C.AMOUNT, "size"),
        order_spend=(C.AMOUNT, "sum"),
        first_purchase_date=("day", "min"),
        last_purchase_date=("day", "max"),
        active_months=("month", "nunique"),
        distinct_categories=(C.CATEGORY, "nunique"),
        weekend_orders=("weekend", "sum"),
        discounted_orders=("discounted", "sum"),
        avg_basket_size=(C.QUANTITY, "mean"),
    )
    returns = tx[is_return].assign(amount=amount[is_return]).groupby(C.CUSTOMER_ID, sort=False).agg(returns=(C.AMOUNT, "size"), returned_spend=(C.AMOUNT, "sum"))
    out = out.join(returns, how="left")
    out["returns"] = out["returns"].fillna(0).astype("int64")
    out[C.MONETARY] = out["order_spend"] + out["returned_spend"].fillna(0.0)
    for column, name in ((C.CATEGORY, C.FAVOURITE_CATEGORY), (C.PAYMENT_METHOD, C.PREFERRED_PAYMENT_METHOD), (C.CHANNEL, C.PREFERRED_CHANNEL)):
        counts = orders.groupby([C.CUSTOMER_ID, column], sort=False).size().rename("n").reset_index()
        counts = counts.sort_values([C.CUSTOMER_ID, "n", column], ascending=[True, False, True]).drop_duplicates(C.CUSTOMER_ID)
        out = out.join(counts.set_index(C.CUSTOMER_ID)[column].rename(name), how="left")
    days = orders.groupby([C.CUSTOMER_ID, "day"], sort=True)[C.AMOUNT].sum().reset_index()
    btyd = days.groupby(C.CUSTOMER_ID, sort=False).agg(purchase_days=("day", "size"), first_spend=(C.AMOUNT, "first"), total_spend=(C.AMOUNT, "sum"))
    out = out.join(btyd, how="left")
    first, last = out["first_purchase_date"], out["last_purchase_date"]
    n = out[C.ORDERS]
    out[C.RECENCY_DAYS] = (as_of_ts - last).dt.days
    out[C.TENURE_DAYS] = (as_of_ts - first).dt.days
    out[C.AVG_ORDER_VALUE] = out[C.MONETARY] / n
    out[C.AVG_DAYS_BETWEEN_ORDERS] = np.where(n > 1, (last - first).dt.days / (n - 1).clip(lower=1), np.nan)
    out[C.WEEKEND_SHARE] = out["weekend_orders"] / n
    out[C.RETURN_RATE] = out["returns"] / n
    out[C.DISCOUNT_SHARE] = out["discounted_orders"] / n
    out[C.BTYD_FREQUENCY] = (out["purchase_days"] - 1).astype("float64")
    out[C.BTYD_RECENCY] = (last - first).dt.days.astype("float64")
    out[C.BTYD_T] = ((as_of_ts - first).dt.days - 1).astype("float64")
    repeat = out["total_spend"] - out["first_spend"]
    out[C.BTYD_MONETARY_VALUE] = np.where(out[C.BTYD_FREQUENCY] > 0, repeat / out[C.BTYD_FREQUENCY].clip(lower=1), 0.0)
    out[C.AS_OF_DATE] = as_of
    return out.drop(columns=["order_spend", "returned_spend", "weekend_orders", "discounted_orders", "purchase_days", "first_spend", "total_spend"]).reset_index()


def columns_differing(spark_table: str, other: str) -> list[str]:
    """Feature columns where another implementation's Parquet differs from Spark's (1e-6 tolerance)."""
    import numpy as np
    import pandas as pd

    def as_text(values: pd.Series) -> pd.Series:  # dates (datetime64 in pandas, date objects from Parquet) as YYYY-MM-DD
        return values.dt.date.astype(str) if values.dtype.kind == "M" else values.astype(str)

    expected = pd.read_parquet(spark_table).set_index(C.CUSTOMER_ID).sort_index()
    actual = pd.read_parquet(other).set_index(C.CUSTOMER_ID).reindex(expected.index)
    differing = []
    for name in expected.columns:
        if name == C.AS_OF_DATE and name not in actual.columns:
            continue  # a constant column the DuckDB query leaves out
        if name not in actual.columns:
            differing.append(f"{name} (missing)")
            continue
        a, b = expected[name], actual[name]
        if a.dtype.kind in "fiu" and b.dtype.kind in "fiub":
            same = np.allclose(a.astype(float), b.astype(float), rtol=1e-6, atol=1e-6, equal_nan=True)
        else:
            same = (as_text(a) == as_text(b)).all()
        if not same:
            differing.append(name)
    return differing


def run_pandas(transactions: str, as_of: dt.date, out: Path) -> dict:
    import resource

    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    features = pandas_features(transactions, as_of)
    features.to_parquet(out, index=False)
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "customers": len(features),
        "python_peak_rss_mib_so_far": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


# --------------------------------------------------------------------------- one size


def bench_size(spark: SparkSession, memory: JvmPeakMemory, args: argparse.Namespace, customers: int) -> dict:
    workdir = Path(args.workdir)
    base = data_dir(workdir, customers, args.seed)
    print(f"== {customers:,} customers (seed {args.seed}): data in {base}", file=sys.stderr, flush=True)
    data_info = ensure_data(spark, base, customers, args.seed)  # main() generated it in a child process already
    transactions_path = str(base / "transactions")
    run_dir = workdir / "runs" / f"c{customers}_s{args.seed}"
    memory.peak_bytes = 0  # the run's peak, not the generator's
    manifest = run_pipeline_on(spark, base, run_dir, customers, args.seed, memory)
    run_peak = memory.peak_mib
    transactions = manifest["rows"]["transactions_read"]

    stages = []
    for record in manifest["stages"]:
        seconds = record["seconds"]
        stages.append(
            {
                "stage": record["name"],
                "status": record["status"],
                "seconds": seconds,
                "transactions_per_second": round(transactions / seconds) if seconds else None,
                "driver_peak_rss_mib": memory.section_peaks_mib.get(record["name"]),
                "driver_heap_peak_mib": memory.heap_peaks_mib.get(record["name"]),
                "spark": {k: record["spark"].get(k) for k in ("jobs", "stages", "tasks", "input_records", "shuffle_write_bytes", "disk_spilled_bytes", "gc_ms") if k in record["spark"]},
            }
        )
    total = round(sum(s["seconds"] for s in stages), 3)
    print("  Spark floor (scan + group-by) ...", file=sys.stderr, flush=True)
    floor = spark_floor(spark, transactions_path)
    as_of = dt.date.fromisoformat(manifest["results"]["features"]["as_of"])
    threads = spark.sparkContext.defaultParallelism
    print("  DuckDB features and segments ...", file=sys.stderr, flush=True)
    duck = run_duckdb(transactions_path, as_of, threads, workdir / "duckdb" / f"c{customers}", manifest["config"]["segments"]["bins"])
    spark_segments = {row["segment"]: row["customers"] for row in manifest["results"]["segments"]["summary"]}
    # Spark's cut points are approxQuantile's (segments.quantile_relative_error), DuckDB's exact
    # quantile_disc: a few customers near a cut point may land in the neighbouring segment.
    duck["compared_with_spark"] = {
        "same_customers": duck["customers"] == manifest["rows"]["customers_with_features"],
        "spark_cut_points": manifest["results"]["segments"]["cut_points"],
        "segment_customers_max_abs_difference": max(
            abs(duck["segment_customers"].get(name, 0) - spark_segments.get(name, 0)) for name in set(duck["segment_customers"]) | set(spark_segments)
        ),
    }
    if customers <= args.pandas_max:
        print("  pandas features ...", file=sys.stderr, flush=True)
        pandas_result = run_pandas(transactions_path, as_of, workdir / "pandas" / f"c{customers}.parquet")
        pandas_result["matches_spark_customers"] = pandas_result["customers"] == manifest["rows"]["customers_with_features"]
        # value cross-check (not timed): every feature column of pandas and DuckDB against Spark's table
        spark_table = str(run_dir / "tables" / "customer_features")
        pandas_result["columns_differing_from_spark"] = columns_differing(spark_table, str(workdir / "pandas" / f"c{customers}.parquet"))
        duck["compared_with_spark"]["feature_columns_differing"] = columns_differing(spark_table, str(workdir / "duckdb" / f"c{customers}" / "customer_features.parquet"))
    else:
        pandas_result = {"skipped": f"above --pandas-max {args.pandas_max:,} customers (pandas holds every transaction in memory)"}
    features_seconds = next((s["seconds"] for s in stages if s["stage"] == "features"), None)
    segments_seconds = next((s["seconds"] for s in stages if s["stage"] == "segments"), None)
    return {
        "benchmark": "pipeline",
        "customers": customers,
        "seed": args.seed,
        "transactions": transactions,
        "data": data_info,
        "run_dir": str(run_dir),
        "spark": {**manifest["spark"], "driver_heap_max_mib": memory.heap_max_mib()},
        "versions": manifest["versions"],
        "stages": stages,
        "pipeline_seconds": total,
        "pipeline_transactions_per_second": round(transactions / total) if total else None,
        "pipeline_driver_peak_rss_mib": run_peak,
        "spark_floor": {**floor, "pipeline_over_floor": round(total / floor["seconds"], 2) if floor["seconds"] else None},
        "duckdb": {
            **duck,
            "spark_features_over_duckdb": round(features_seconds / duck["features_seconds"], 2) if features_seconds else None,
            "spark_segments_over_duckdb": round(segments_seconds / duck["segments_seconds"], 2) if segments_seconds else None,
        },
        "pandas_features": pandas_result,
        "load_average": list(os.getloadavg()),
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
    }


# --------------------------------------------------------------------------- docs/performance.md


def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def markdown_table(results: list[dict]) -> str:
    lines = []
    for r in sorted(results, key=lambda r: r["customers"]):
        pandas = r["pandas_features"]
        duck = r["duckdb"]
        lines += [
            f"### {r['customers']:,} customers, {r['transactions']:,} transactions",
            "",
            f"{r['machine']['cores']} cores, {r['machine']['memory_gib']} GiB; Spark {r['versions'].get('spark')}, {r['spark']['master']}; "
            f"load average at the end {r['load_average'][0]:.1f}; finished {r['finished_at']}.",
            "",
            "| stage | seconds | transactions/s | driver peak RSS (MiB) | driver heap peak (MiB) |",
            "|---|---:|---:|---:|---:|",
        ]
        for s in r["stages"]:
            lines.append(
                f"| {s['stage']} | {_fmt(s['seconds'], 2)} | {_fmt(s['transactions_per_second'])} | {_fmt(s['driver_peak_rss_mib'])} | {_fmt(s['driver_heap_peak_mib'])} |"
            )
        lines.append(f"| **pipeline** | **{_fmt(r['pipeline_seconds'], 2)}** | {_fmt(r['pipeline_transactions_per_second'])} | {_fmt(r['pipeline_driver_peak_rss_mib'])} | |")
        pandas_cell = f"{_fmt(pandas['seconds'], 2)} s" if "seconds" in pandas else "skipped (> 1M customers)"
        lines += [
            "",
            "| side by side | seconds | ratio |",
            "|---|---:|---|",
            f"| Spark floor: scan + group-by customer | {_fmt(r['spark_floor']['seconds'], 2)} | pipeline / floor = {_fmt(r['spark_floor']['pipeline_over_floor'], 2)} |",
            f"| DuckDB features ({duck['threads']} threads) | {_fmt(duck['features_seconds'], 2)} | Spark features / DuckDB = {_fmt(duck['spark_features_over_duckdb'], 2)} |",
            f"| DuckDB RFM scores + segment summary | {_fmt(duck['segments_seconds'], 2)} | Spark segments / DuckDB = {_fmt(duck['spark_segments_over_duckdb'], 2)} |",
            f"| pandas features | {pandas_cell} | |",
            "",
        ]
        compared = duck.get("compared_with_spark")
        if compared:
            lines += [
                f"DuckDB and Spark: same customers with features: {compared['same_customers']}; customers per segment differ by at most "
                f"{compared['segment_customers_max_abs_difference']:,} (Spark's cut points are approximate quantiles, DuckDB's exact; a block of tied values at a cut point moves as a whole).",
                "",
            ]
        if "columns_differing_from_spark" in pandas:
            lines += [
                "Feature values against Spark's `tables/customer_features` (1e-6 tolerance), columns differing: "
                f"pandas {pandas['columns_differing_from_spark'] or 'none'}, DuckDB {compared.get('feature_columns_differing') or 'none'}.",
                "",
            ]
    return "\n".join(lines)


def write_doc(results: list[dict]) -> None:
    generated = f"{BEGIN}\n<!-- regenerated from benchmarks/results/pipeline_*.json; edit outside the markers -->\n\n{markdown_table(results)}\n{END}"
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + generated + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## Measured (benchmarks/run.py)\n\n" + generated + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    print(f"updated {DOC}", file=sys.stderr)


def all_results() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(RESULTS_DIR.glob("pipeline_*.json"))]


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000, help="one size (default 100000)")
    parser.add_argument("--sizes", default="", help="several sizes, comma-separated, e.g. 100000,1000000,5000000 (overrides --customers)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", default=str(BENCH_DIR / ".work"), help="generated data (reused), run outputs, DuckDB/pandas outputs")
    parser.add_argument("--pandas-max", type=int, default=1_000_000, help="largest size at which the pandas features run")
    parser.add_argument("--warmup-customers", type=int, default=2_000, help="run the pipeline once at this size first, unrecorded (0 = no warm-up)")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)  # main() runs itself with it in a child process
    parser.add_argument("--doc-only", action="store_true", help="only regenerate docs/performance.md from benchmarks/results")
    args = parser.parse_args()
    if args.doc_only:
        write_doc(all_results())
        return
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()] or [args.customers]
    if len(sizes) > 1:
        # One process (one driver JVM) per size: JVM memory is rarely given back, so sizes
        # sharing a driver would carry the previous size's peak into the next one's.
        for customers in sizes:
            command = [sys.executable, __file__, "--customers", str(customers), "--seed", str(args.seed), "--workdir", args.workdir]
            command += ["--pandas-max", str(args.pandas_max), "--warmup-customers", str(args.warmup_customers)]
            subprocess.run(command, check=True)
        return

    workdir = Path(args.workdir)
    if args.generate_only:
        spark = get_session(SparkSettings(), app_name="customer-behavior-bench-generate")
        print(f"== generating {sizes[0]:,} customers (seed {args.seed})", file=sys.stderr, flush=True)
        print(json.dumps(ensure_data(spark, data_dir(workdir, sizes[0], args.seed), sizes[0], args.seed)), file=sys.stderr)
        return
    for customers in [args.warmup_customers, sizes[0]]:
        if customers and not all((data_dir(workdir, customers, args.seed) / name / "_SUCCESS").exists() for name in DATA_TABLES):
            # Generated in its own JVM, so that the measured driver's memory starts clean.
            subprocess.run([sys.executable, __file__, "--generate-only", "--customers", str(customers), "--seed", str(args.seed), "--workdir", args.workdir], check=True)

    with JvmPeakMemory() as memory:
        settings = SparkSettings()
        event_log = str(Path(args.workdir) / "spark-events")
        spark = get_session(settings, app_name="customer-behavior-bench", event_log_dir=event_log)
        memory.track_heap(spark)
        if args.warmup_customers:
            # JVM start, class loading and code generation are not what the first stage should pay for
            print(f"== warm-up: the pipeline once at {args.warmup_customers:,} customers (not recorded)", file=sys.stderr, flush=True)
            base = data_dir(Path(args.workdir), args.warmup_customers, args.seed)
            ensure_data(spark, base, args.warmup_customers, args.seed)
            # Under other job groups: the tracker sums the metrics of every job of a stage's group
            # in this application, and the warm-up's must not count for the measured run.
            prefix, tracking.JOB_GROUP_PREFIX = tracking.JOB_GROUP_PREFIX, "bench-warmup:"
            try:
                run_pipeline_on(spark, base, workdir / "runs" / "warmup", args.warmup_customers, args.seed, JvmPeakMemory())
            finally:
                tracking.JOB_GROUP_PREFIX = prefix
        save(f"pipeline_{sizes[0]}", bench_size(spark, memory, args, sizes[0]))
    write_doc(all_results())


if __name__ == "__main__":
    main()
