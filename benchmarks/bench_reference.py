"""Side by side with the single-machine stack a user would pick instead: DuckDB (features,
segments, pattern tables), scikit-learn (the k sweep on the same sample, the final fit on
everyone) and lifetimes (MBG/NBD + Gamma-Gamma fit and scoring), on the same Parquet.

    .venv/bin/python benchmarks/bench_reference.py --customers 100000
    .venv/bin/python benchmarks/bench_reference.py --customers 1000000 --workdir benchmarks/.work

1. Data: the default synthetic data (seed 42) in `<workdir>/data/c<customers>_s<seed>`, made
   once (as benchmarks/run.py does) and reused.
2. Ours: the run's stages after the data (features, segments, personas, holdout, clv, patterns; the
   insights and report stages are not in the reference, so not here either) through
   `pipeline.execute` with the default config, timed; the driver JVM's peak RSS.
3. The reference, in a child process of its own (so its peak RSS is its own; nothing of
   Spark is loaded there), on the same Parquet files, timed step by step:
   - DuckDB: benchmarks/bench_features.py's features query, the segments query of
     benchmarks/run.py (exact quantiles), three pattern tables (orders and revenue per
     weekday x hour, per category, per month);
   - scikit-learn: the persona inputs as ours defines them (log-scaled behaviour, shares
     smoothed with the same prior, age, loyalty, one-hot gender; standardised with the
     sample sd), the k sweep (KMeans, 3 seeds, 20 iterations, k = 2..10, squared-Euclidean
     silhouette, the same tolerance rule) on the customers of our sweep sample, then the final
     fit (40 iterations) on everyone;
   - lifetimes: ModifiedBetaGeoFitter + GammaGammaFitter on DuckDB's BTYD summary of every
     customer, and the 12-month CLV (1% a month) of every customer.
4. Agreement: customers per segment (largest difference), the chosen k, the ARI between the
   two persona assignments, the CLV total and mean P(alive) (relative difference; target 1%).

Saves benchmarks/results/reference_<customers>.json and prints both times and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

BENCH_DIR = Path(__file__).resolve().parent
K_RANGE = range(2, 11)


# --------------------------------------------------------------------------- the reference (child process)


def _timed(timings: dict, name: str, fn):
    started = time.perf_counter()
    value = fn()
    timings[name] = round(time.perf_counter() - started, 2)
    return value


def reference(data: Path, out: Path, sample_ids: Path, as_of: str, threads: int) -> dict:
    import duckdb
    import numpy as np
    from lifetimes import GammaGammaFitter, ModifiedBetaGeoFitter
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    from bench_features import DUCKDB_SQL as FEATURES_SQL
    from run import duckdb_segments_sql

    from customer_behavior.config import PersonasConfig
    from customer_behavior.segment_table import load_segment_table

    timings: dict = {}
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("CREATE TEMP TABLE codes (rfm_code VARCHAR, segment VARCHAR)")
    con.executemany("INSERT INTO codes VALUES (?, ?)", sorted(load_segment_table(None).code_map().items()))
    tx = f"{data}/transactions"
    features = out / "customer_features.parquet"
    started = time.perf_counter()
    _timed(timings, "duckdb_features", lambda: con.execute(FEATURES_SQL.format(path=tx, as_of=as_of, out=features)))
    _timed(timings, "duckdb_segments", lambda: con.execute(duckdb_segments_sql(str(features), str(out), 5)))
    segment_customers = dict(con.execute("SELECT segment, count(*) FROM rfm GROUP BY ALL").fetchall())
    orders = f"(SELECT * FROM read_parquet('{tx}/*.parquet') WHERE status = 'completed' AND amount > 0)"
    pattern_sql = {
        "day_hour": f"SELECT isodow(event_ts) AS d, hour(event_ts) AS h, count(*) AS orders, sum(amount) AS revenue FROM {orders} GROUP BY ALL",
        "categories": f"SELECT category, count(*) AS orders, sum(amount) AS revenue, count(DISTINCT customer_id) AS customers FROM {orders} GROUP BY ALL",
        "monthly": f"SELECT date_trunc('month', event_ts) AS m, count(*) AS orders, sum(amount) AS revenue, count(DISTINCT customer_id) AS customers FROM {orders} GROUP BY ALL",
    }
    day_hour_orders = 0
    for name, sql in pattern_sql.items():
        _timed(timings, f"duckdb_pattern_{name}", lambda sql=sql, name=name: con.execute(f"COPY ({sql}) TO '{out}/{name}.parquet' (FORMAT PARQUET)"))
    day_hour_orders = con.execute(f"SELECT sum(orders) FROM '{out}/day_hour.parquet'").fetchone()[0]

    # persona inputs, as personas/inputs.py defines them (default features)
    cfg = PersonasConfig()
    cats = [r[0] for r in con.execute(f"SELECT category FROM {orders} GROUP BY ALL ORDER BY count(*) DESC, category LIMIT {cfg.max_levels}").fetchall()]
    pays = [r[0] for r in con.execute(f"SELECT payment_method FROM {orders} GROUP BY ALL ORDER BY count(*) DESC, payment_method LIMIT {cfg.max_levels}").fetchall()]
    chans = [r[0] for r in con.execute(f"SELECT channel FROM {orders} GROUP BY ALL ORDER BY count(*) DESC, channel LIMIT {cfg.max_levels}").fetchall()]

    def shares(column: str, values: list[str]) -> str:
        prior = cfg.share_prior
        return ", ".join(
            f"(count(*) FILTER (WHERE {column} = '{v}') + {prior / len(values)}) / (count(*) + {prior}) AS \"{column}_{v}\"" for v in sorted(values)
        )

    inputs_sql = f"""
        WITH s AS (SELECT customer_id, {shares('category', cats)}, {shares('payment_method', pays)}, {shares('channel', chans)} FROM {orders} GROUP BY customer_id)
        SELECT f.customer_id, ln(1 + greatest(f.monetary, 0)), ln(1 + greatest(f.orders, 0)), CAST(f.recency_days AS DOUBLE),
               ln(1 + greatest(f.avg_order_value, 0)), CAST(f.tenure_days AS DOUBLE), f.weekend_share, f.discount_share,
               s.* EXCLUDE (customer_id), CAST(c.age AS DOUBLE), CAST(c.is_loyalty_member AS DOUBLE), c.gender
        FROM '{features}' f LEFT JOIN s USING (customer_id) LEFT JOIN read_parquet('{data}/customers/*.parquet') c USING (customer_id)
        ORDER BY f.customer_id
    """

    def persona_inputs():
        frame = con.execute(inputs_sql).df()
        numeric = frame.iloc[:, 1:-1].to_numpy(dtype=np.float64)
        numeric = np.where(np.isnan(numeric), np.nanmean(numeric, axis=0), numeric)
        sd = numeric.std(axis=0, ddof=1)
        scaled = numeric / np.where(sd > 0, sd, 1.0)
        gender = frame.iloc[:, -1].fillna("__unknown__")
        levels = sorted(gender.unique())
        onehot = (gender.to_numpy()[:, None] == np.array(levels)[None, :]).astype(np.float64)
        return frame["customer_id"].to_numpy(), np.hstack([scaled, onehot])

    ids, x = _timed(timings, "persona_inputs", persona_inputs)
    in_sample = np.isin(ids, con.execute(f"SELECT customer_id FROM '{sample_ids}'").df()["customer_id"].to_numpy())
    sample = x[in_sample]

    def sweep():
        scores = {}
        with threadpool_limits(limits=threads):
            for k in K_RANGE:
                labels = KMeans(n_clusters=k, n_init=3, max_iter=20, tol=1e-4, random_state=cfg.seed).fit_predict(sample)
                scores[k] = float(silhouette_score(sample, labels, metric="sqeuclidean", sample_size=min(len(sample), 20_000), random_state=cfg.seed))
        best = max(scores.values())
        return scores, min(k for k, s in scores.items() if s >= best - cfg.silhouette_tolerance)

    scores, chosen_k = _timed(timings, "sklearn_sweep", sweep)

    def final_fit():
        with threadpool_limits(limits=threads):
            return KMeans(n_clusters=chosen_k, n_init=1, max_iter=40, tol=1e-4, random_state=cfg.seed).fit_predict(x)

    labels = _timed(timings, "sklearn_final_fit", final_fit)
    import pandas as pd

    con.register("ref_frame", pd.DataFrame({"customer_id": ids, "cluster": labels.astype(int)}))
    con.execute(f"COPY ref_frame TO '{out}/personas.parquet' (FORMAT PARQUET)")

    summary = con.execute(f"SELECT customer_id, frequency, recency, T, monetary_value FROM '{features}' ORDER BY customer_id").df()

    def clv():
        bgf = ModifiedBetaGeoFitter(penalizer_coef=0.0).fit(summary["frequency"], summary["recency"], summary["T"])
        repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        ggf = GammaGammaFitter(penalizer_coef=0.0).fit(repeat["frequency"], repeat["monetary_value"])
        values = ggf.customer_lifetime_value(
            bgf, summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"].clip(lower=0), time=12, discount_rate=0.01, freq="D"
        )
        alive = bgf.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"])
        return float(values.sum()), float(np.mean(alive))

    clv_total, mean_alive = _timed(timings, "lifetimes_fit_and_score", clv)
    timings["total"] = round(time.perf_counter() - started, 2)
    return {
        "timings": timings,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "segment_customers": segment_customers,
        "silhouettes": scores,
        "chosen_k": chosen_k,
        "sample_size": int(in_sample.sum()),
        "clv_total": clv_total,
        "mean_prob_alive": mean_alive,
        "day_hour_orders": int(day_hour_orders),
    }


# --------------------------------------------------------------------------- ours (parent process)


def ours(customers: int, seed: int, workdir: Path) -> dict:
    from common import JvmPeakMemory
    from run import DATA_TABLES, data_dir, ensure_data, load_stage

    from customer_behavior import pipeline
    from customer_behavior.config import Config, GenerateConfig, SparkSettings
    from customer_behavior.personas import adjusted_rand_index, contingency
    from customer_behavior.personas.inputs import filter_sample
    from customer_behavior.personas.model import sweep_fraction
    from customer_behavior.session import get_session

    spark = get_session(SparkSettings())
    base = data_dir(workdir, customers, seed)
    ensure_data(spark, base, customers, seed)
    run_dir = workdir / "reference" / f"ours_{customers}"
    import shutil

    shutil.rmtree(run_dir, ignore_errors=True)
    cfg = Config(generate=GenerateConfig(customers=customers, seed=seed))
    names = ("stage_features", "stage_segments", "stage_personas", "stage_holdout", "stage_clv", "stage_patterns")
    stages = [load_stage(base)] + [s for s in pipeline.RUN_STAGES if s.__name__ in names]
    with JvmPeakMemory() as memory:
        started = time.perf_counter()
        manifest = pipeline.execute(spark, cfg, run_dir, stages=stages, progress=lambda line: print(f"  {line}", file=sys.stderr, flush=True))
        seconds = time.perf_counter() - started
    # the customers of our sweep sample, for the reference's sweep (not timed)
    features_df = spark.read.parquet(str(run_dir / "tables" / "customer_features"))
    fraction = sweep_fraction(cfg.personas, manifest["results"]["personas"]["customers"])
    sample_ids = workdir / "reference" / f"sample_{customers}.parquet"
    filter_sample(features_df.select("customer_id"), fraction=fraction, seed=cfg.personas.seed).write.mode("overwrite").parquet(str(sample_ids))
    totals = manifest["results"]["clv"]["totals"]
    result = {
        "seconds": round(seconds, 2),
        "stages": {s["name"]: {"seconds": s["seconds"], "jobs": s["spark"].get("jobs")} for s in manifest["stages"]},
        "peak_rss_mib": memory.peak_mib,
        "segment_customers": {row["segment"]: row["customers"] for row in manifest["results"]["segments"]["summary"]},
        "chosen_k": manifest["results"]["personas"]["k"],
        "clv_totals": totals,
        "as_of": manifest["results"]["features"]["as_of"][:10],
        "data": str(base),
        "run": str(run_dir),
        "sample_ids": str(sample_ids),
    }
    return result, spark, adjusted_rand_index, contingency, DATA_TABLES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", default=str(BENCH_DIR / ".work"))
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="DuckDB / scikit-learn threads (default: every core, as Spark)")
    parser.add_argument("--reference-only", nargs=4, metavar=("DATA", "OUT", "SAMPLE_IDS", "AS_OF"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference_only:
        data, out, sample_ids, as_of = args.reference_only
        print(json.dumps(reference(Path(data), Path(out), Path(sample_ids), as_of, args.threads)))
        return

    from common import machine, save

    workdir = Path(args.workdir).resolve()
    mine, spark, adjusted_rand_index, contingency, _ = ours(args.customers, args.seed, workdir)
    print(f"ours: {mine['seconds']} s, driver JVM peak {mine['peak_rss_mib']} MiB; load {os.getloadavg()}", flush=True)
    out = workdir / "reference" / f"ref_{args.customers}"
    child = subprocess.run(
        [sys.executable, __file__, "--threads", str(args.threads), "--reference-only", mine["data"], str(out), mine["sample_ids"], mine["as_of"]],
        capture_output=True, text=True, check=False,
    )
    if child.returncode != 0:
        theirs = {"failed": child.stderr.strip().splitlines()[-1:] or ["?"], "returncode": child.returncode}
        print(f"reference failed (exit {child.returncode}): {theirs['failed'][0]}", flush=True)
    else:
        theirs = json.loads(child.stdout.strip().splitlines()[-1])
    agreement = {}
    if "timings" in theirs:
        ref_df = spark.read.parquet(str(out / "personas.parquet"))
        ours_df = spark.read.parquet(str(Path(mine["run"]) / "tables" / "personas"))
        agreement["ari_ours_vs_reference"] = round(float(adjusted_rand_index(contingency(ours_df, ref_df.withColumnRenamed("cluster", "persona")))["ari"]), 4)
        segments = set(mine["segment_customers"]) | set(theirs["segment_customers"])
        agreement["segment_customers_max_difference"] = max(abs(mine["segment_customers"].get(s, 0) - theirs["segment_customers"].get(s, 0)) for s in segments)
        agreement["chosen_k"] = {"ours": mine["chosen_k"], "reference": theirs["chosen_k"]}
        ours_clv = mine["clv_totals"].get("total_clv")
        if ours_clv:
            agreement["clv_total_relative_difference"] = round(abs(ours_clv - theirs["clv_total"]) / abs(theirs["clv_total"]), 5)
        alive = mine["clv_totals"].get("mean_prob_alive")
        if alive:
            agreement["mean_prob_alive_relative_difference"] = round(abs(alive - theirs["mean_prob_alive"]) / theirs["mean_prob_alive"], 5)
        ratio = round(mine["seconds"] / theirs["timings"]["total"], 2)
        print(f"reference: {theirs['timings']['total']} s, peak RSS {theirs['peak_rss_mib']} MiB; ours / reference = {ratio}", flush=True)
        print(f"agreement: {json.dumps(agreement)}", flush=True)
    spark.stop()
    save(
        f"reference_{args.customers}",
        {"customers": args.customers, "ours": mine, "reference": theirs, "agreement": agreement, "load_average_1_5_15": os.getloadavg(), "machine": machine()},
    )


if __name__ == "__main__":
    main()
