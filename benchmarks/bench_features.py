"""The features stage side by side with the same aggregation in DuckDB, on the same Parquet.

    .venv/bin/python benchmarks/bench_features.py --transactions out/synthetic/transactions
    .venv/bin/python benchmarks/bench_features.py --customers 1200000   # generates ~15M transactions first
    .venv/bin/python benchmarks/bench_features.py --customers 220000 --compare-arrays   # ~2.8M, old path too

Spark: the features stage as the pipeline runs it: the bounds query (first/last day and
the categorical values, collected) and then `features.customer_features` with that domain,
written to Parquet, in local mode on every core (the tool's default session). DuckDB: one
SQL query computing the same columns (orders, net spend, dates, shares, modes with the
same tie-break, BTYD summary) written to Parquet, on the same number of threads. Each gets
a warm-up run first; the figure is the best of the `--repeat` runs after it. Printed: Spark
seconds, DuckDB seconds and the ratio, with CPU seconds of each (the JVM's; DuckDB's
threads in this process) and the load average, since the machine may be shared.
`--compare-arrays` also times the order-line-array path (no domain) in the same JVM.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import children_cpu_seconds, machine, save  # noqa: E402

from customer_behavior.config import GenerateConfig, SparkSettings  # noqa: E402
from customer_behavior.features import FeatureDomain, customer_features, event_day_bounds, resolve_as_of  # noqa: E402
from customer_behavior.generate import generate  # noqa: E402
from customer_behavior.session import get_session  # noqa: E402

DUCKDB_SQL = """
COPY (
WITH tx AS (
    SELECT customer_id, CAST(event_ts AS DATE) AS day, category, quantity, discount, amount, payment_method, channel,
           status = 'completed' AND amount > 0 AS is_order, status = 'returned' AS is_return
    FROM read_parquet('{path}/*.parquet') WHERE CAST(event_ts AS DATE) < DATE '{as_of}'
),
orders AS (SELECT * FROM tx WHERE is_order),
days AS (SELECT customer_id, day, sum(CAST(amount AS DECIMAL(18,6))) AS spend FROM orders GROUP BY ALL),
btyd AS (
    SELECT customer_id, count(*) - 1 AS frequency, arg_min(spend, day) AS first_spend, sum(spend) AS total_spend
    FROM days GROUP BY ALL
),
modes AS (
    SELECT customer_id,
        arg_min(category, (-n_cat, category)) AS favourite_category
    FROM (SELECT customer_id, category, count(*) AS n_cat FROM orders WHERE category IS NOT NULL GROUP BY ALL) GROUP BY ALL
),
pay AS (
    SELECT customer_id, arg_min(payment_method, (-n, payment_method)) AS preferred_payment_method
    FROM (SELECT customer_id, payment_method, count(*) AS n FROM orders WHERE payment_method IS NOT NULL GROUP BY ALL) GROUP BY ALL
),
chan AS (
    SELECT customer_id, arg_min(channel, (-n, channel)) AS preferred_channel
    FROM (SELECT customer_id, channel, count(*) AS n FROM orders WHERE channel IS NOT NULL GROUP BY ALL) GROUP BY ALL
),
agg AS (
    SELECT customer_id,
        count(*) FILTER (WHERE is_order) AS orders,
        count(*) FILTER (WHERE is_return) AS returns,
        sum(CAST(amount AS DECIMAL(18,6))) FILTER (WHERE is_order OR is_return) AS monetary,
        min(day) FILTER (WHERE is_order) AS first_purchase_date,
        max(day) FILTER (WHERE is_order) AS last_purchase_date,
        count(DISTINCT date_trunc('month', day)) FILTER (WHERE is_order) AS active_months,
        count(DISTINCT category) FILTER (WHERE is_order) AS distinct_categories,
        count(*) FILTER (WHERE is_order AND dayofweek(day) IN (0, 6)) AS weekend_orders,
        count(*) FILTER (WHERE is_order AND discount > 0) AS discounted_orders,
        avg(quantity) FILTER (WHERE is_order) AS avg_basket_size
    FROM tx GROUP BY ALL HAVING count(*) FILTER (WHERE is_order) > 0
)
SELECT agg.customer_id, DATE '{as_of}' - last_purchase_date AS recency_days, orders, CAST(monetary AS DOUBLE) AS monetary,
    first_purchase_date, last_purchase_date, DATE '{as_of}' - first_purchase_date AS tenure_days,
    CAST(monetary AS DOUBLE) / orders AS avg_order_value,
    CASE WHEN orders > 1 THEN (last_purchase_date - first_purchase_date) / (orders - 1) END AS avg_days_between_orders,
    active_months, distinct_categories, favourite_category, preferred_payment_method, preferred_channel,
    weekend_orders / orders AS weekend_share, returns, returns / orders AS return_rate,
    discounted_orders / orders AS discount_share, avg_basket_size,
    CAST(frequency AS DOUBLE) AS frequency, CAST(last_purchase_date - first_purchase_date AS DOUBLE) AS recency,
    CAST(DATE '{as_of}' - first_purchase_date - 1 AS DOUBLE) AS T,
    CASE WHEN frequency > 0 THEN CAST(total_spend - first_spend AS DOUBLE) / frequency ELSE 0 END AS monetary_value
FROM agg JOIN btyd USING (customer_id) LEFT JOIN modes USING (customer_id) LEFT JOIN pay USING (customer_id)
    LEFT JOIN chan USING (customer_id)
) TO '{out}' (FORMAT PARQUET)
"""


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(run, repeat: int) -> dict:
    """Warm-up, then `repeat` timed runs: best wall seconds and the CPU seconds of that run."""
    run()
    best = None
    for _ in range(repeat):
        wall, jvm_cpu, own_cpu = time.perf_counter(), children_cpu_seconds(), _own_cpu_seconds()
        run()
        result = {
            "seconds": round(time.perf_counter() - wall, 2),
            "jvm_cpu_seconds": round(children_cpu_seconds() - jvm_cpu, 2),
            "python_cpu_seconds": round(_own_cpu_seconds() - own_cpu, 2),
            "load_average": round(os.getloadavg()[0], 2),
        }
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", help="Parquet directory of canonical transactions (else generated)")
    parser.add_argument("--customers", type=int, default=1_200_000, help="customers to generate when --transactions is not given")
    parser.add_argument("--master", default="", help="Spark master (default: local mode on every core)")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs after the warm-up (the best counts)")
    parser.add_argument("--compare-arrays", action="store_true", help="also time the order-line-array path in the same JVM")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    import duckdb

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="cb-bench-features-"))
    spark = get_session(SparkSettings(master=args.master), app_name="bench-features")
    path = args.transactions
    if not path:
        path = str(workdir / "transactions")
        generate(spark, GenerateConfig(customers=args.customers)).transactions_df.write.mode("overwrite").parquet(path)
    transactions_df = spark.read.parquet(path)
    rows = transactions_df.count()
    cores = spark.sparkContext.defaultParallelism
    state: dict = {}

    def spark_stage() -> None:
        # what stage_features does: the bounds query, then the one pass with its domain
        bounds = transactions_df.transform(event_day_bounds).first()
        as_of = resolve_as_of(None, bounds["first_day"], bounds["last_day"])
        state["as_of"], state["domain"] = as_of, FeatureDomain.from_bounds(bounds)
        customer_features(transactions_df, as_of=as_of, domain=state["domain"]).write.mode("overwrite").parquet(str(workdir / "spark"))

    def spark_arrays() -> None:
        customer_features(transactions_df, as_of=state["as_of"]).write.mode("overwrite").parquet(str(workdir / "spark_arrays"))

    spark_result = _timed(spark_stage, args.repeat)
    customers = spark.read.parquet(str(workdir / "spark")).count()
    arrays_result = _timed(spark_arrays, args.repeat) if args.compare_arrays else None

    con = duckdb.connect()
    con.execute(f"SET threads = {cores}")
    sql = DUCKDB_SQL.format(path=path, as_of=state["as_of"].isoformat(), out=workdir / "duck.parquet")
    duck_result = _timed(lambda: con.execute(sql), args.repeat)
    duck_customers = con.execute(f"SELECT count(*) FROM '{workdir / 'duck.parquet'}'").fetchone()[0]
    shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "benchmark": "features vs duckdb",
        "transactions": rows,
        "customers": customers,
        "duckdb_customers": duck_customers,
        "threads": cores,
        "domain_is_small": state["domain"].is_small,
        "spark_seconds": spark_result["seconds"],
        "duckdb_seconds": duck_result["seconds"],
        "spark_over_duckdb": round(spark_result["seconds"] / duck_result["seconds"], 2),
        "spark_cpu_seconds": spark_result["jvm_cpu_seconds"],
        "duckdb_cpu_seconds": duck_result["python_cpu_seconds"],
        "spark_over_duckdb_cpu": round(spark_result["jvm_cpu_seconds"] / max(duck_result["python_cpu_seconds"], 0.01), 2),
        "spark": spark_result,
        "duckdb": duck_result,
        "machine": machine(),
    }
    if arrays_result is not None:
        result["spark_arrays_path"] = arrays_result
        result["arrays_over_counts"] = round(arrays_result["seconds"] / spark_result["seconds"], 2)
    save(f"features_{rows}", result)
    print(
        f"features, {rows:,} transactions, {customers:,} customers, {cores} threads: Spark {spark_result['seconds']:.2f} s, "
        f"DuckDB {duck_result['seconds']:.2f} s, Spark/DuckDB {result['spark_over_duckdb']:.2f} "
        f"(CPU s: Spark {spark_result['jvm_cpu_seconds']:.1f}, DuckDB {duck_result['python_cpu_seconds']:.1f}; "
        f"load {spark_result['load_average']:.1f})"
    )


if __name__ == "__main__":
    main()
