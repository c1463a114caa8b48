"""The features stage side by side with the same aggregation in DuckDB, on the same Parquet.

    .venv/bin/python benchmarks/bench_features.py --transactions out/synthetic/transactions
    .venv/bin/python benchmarks/bench_features.py --customers 1200000   # generates ~15M transactions first

Spark: `features.customer_features` written to Parquet, in local mode on every core (the
tool's default session). DuckDB: one SQL query computing the same columns (orders, net
spend, dates, shares, modes with the same tie-break, BTYD summary) written to Parquet, on
the same number of threads. Both get a warm-up run first; the figure is the second run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, save  # noqa: E402

from customer_behavior.config import GenerateConfig, SparkSettings  # noqa: E402
from customer_behavior.features import customer_features, event_day_bounds, resolve_as_of  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", help="Parquet directory of canonical transactions (else generated)")
    parser.add_argument("--customers", type=int, default=1_200_000, help="customers to generate when --transactions is not given")
    parser.add_argument("--master", default="", help="Spark master (default: local mode on every core)")
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
    bounds = transactions_df.transform(event_day_bounds).first()
    as_of: dt.date = resolve_as_of(None, bounds["first_day"], bounds["last_day"])
    cores = spark.sparkContext.defaultParallelism

    spark_seconds = []
    for attempt in range(2):
        started = time.perf_counter()
        customer_features(transactions_df, as_of=as_of).write.mode("overwrite").parquet(str(workdir / f"spark_{attempt}"))
        spark_seconds.append(time.perf_counter() - started)
    customers = spark.read.parquet(str(workdir / "spark_1")).count()

    con = duckdb.connect()
    con.execute(f"SET threads = {cores}")
    duck_seconds = []
    for attempt in range(2):
        started = time.perf_counter()
        con.execute(DUCKDB_SQL.format(path=path, as_of=as_of.isoformat(), out=workdir / f"duck_{attempt}.parquet"))
        duck_seconds.append(time.perf_counter() - started)
    duck_customers = con.execute(f"SELECT count(*) FROM '{workdir / 'duck_1.parquet'}'").fetchone()[0]
    shutil.rmtree(workdir, ignore_errors=True)
    save(
        f"features_{rows}",
        {
            "benchmark": "features vs duckdb",
            "transactions": rows,
            "customers": customers,
            "duckdb_customers": duck_customers,
            "threads": cores,
            "spark_seconds": round(spark_seconds[-1], 2),
            "duckdb_seconds": round(duck_seconds[-1], 2),
            "spark_over_duckdb": round(spark_seconds[-1] / duck_seconds[-1], 2),
            "warmup_seconds": {"spark": round(spark_seconds[0], 2), "duckdb": round(duck_seconds[0], 2)},
            "load_average_at_end": os.getloadavg()[0],
            "machine": machine(),
        },
    )


if __name__ == "__main__":
    main()
