"""The persona stage's driver logic: vocabulary, feature model, sweep, final fit, names, profiles.

Called by `pipeline.stage_personas` (fit) and by `score` (assign with a saved model).
MLlib fits are actions by nature, so this is where the stage's caching lives; every
DataFrame it caches is listed in `PersonaFit.cached` for the pipeline to unpersist
once the tables are written. Only small aggregates come to the driver: the value
vocabulary (bounded), counts, the sweep metrics and the per-cluster moments.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame
from pyspark.sql import Window as W
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.config import PersonasConfig
from customer_behavior.definitions import is_purchase
from customer_behavior.errors import InputError, StageSkipped
from customer_behavior.personas import model as M
from customer_behavior.personas.inputs import (
    SHARE_GROUPS,
    FeaturePlan,
    customer_order_shares,
    filter_sample,
    persona_inputs,
    plan_features,
    require_columns,
    share_column,
    with_fixed_layout,
)
from customer_behavior.personas.local_sweep import LocalSample, collect_sample, sweep_local
from customer_behavior.personas.naming import name_clusters
from customer_behavior.personas.profiles import (
    MODE_COLUMNS,
    PROFILE_COLUMNS,
    SEGMENT_KIND,
    cluster_moments,
    cluster_value_counts,
    describe,
    profile_rows,
)

log = logging.getLogger(__name__)

# A fold of the local sweep holds at least this many customers (fewer folds on small samples).
MIN_FOLD_CUSTOMERS = 5_000


@contextlib.contextmanager
def _timed(phase: str) -> Iterator[None]:
    """Log how long a phase of the stage took (the benchmark's --verbose shows these)."""
    started = time.perf_counter()
    yield
    log.info("personas %s: %.1f s", phase, time.perf_counter() - started)


@dataclass
class PersonaFit:
    model: PipelineModel
    plan: FeaturePlan
    names: dict[int, str]
    assignments_df: DataFrame  # customer_id, cluster, persona_name
    profile_rows: list[tuple]
    sweep_rows: list[tuple]
    chosen_k: int
    rule: str
    customers: int
    sample_size: int
    notes: list[str] = field(default_factory=list)
    cached: list[DataFrame] = field(default_factory=list)

    def metadata(self, cfg: PersonasConfig) -> dict[str, Any]:
        return {
            "features": list(cfg.features),
            "plan": self.plan.to_dict(),
            "algorithm": cfg.algorithm,
            "k": self.chosen_k,
            "selection": self.rule,
            "names": {str(c): n for c, n in sorted(self.names.items())},
            "trained_on_customers": self.customers,
        }


def value_vocabulary_counts(transactions_df: DataFrame, columns: dict[str, str], max_levels: int) -> DataFrame:
    """Per share group, the `max_levels` most frequent values over orders (ties by value).

    One scan of the transactions (an explode of (group, value) pairs); the ranking runs
    over the aggregated table, a row per distinct value.
    """
    pairs = F.array(*[F.struct(F.lit(group).alias("grp"), F.col(column).cast("string").alias("value")) for group, column in columns.items()])
    counted = (
        transactions_df.filter(is_purchase())
        .select(F.explode(pairs).alias("pair"))
        .select("pair.grp", "pair.value")
        .filter(F.col("value").isNotNull())
        .groupBy("grp", "value")
        .agg(F.count(F.lit(1)).alias("orders"))
    )
    rank = F.row_number().over(W.partitionBy("grp").orderBy(F.col("orders").desc(), F.col("value").asc()))
    return counted.withColumn("rank", rank).filter(F.col("rank") <= F.lit(max_levels)).select("grp", "value", "orders")


def discover_vocabulary(transactions_df: DataFrame, features: list[str], max_levels: int) -> dict[str, tuple[str, ...]]:
    groups = {g: SHARE_GROUPS[g] for g in features if g in SHARE_GROUPS}
    present = {g: c for g, c in groups.items() if c in transactions_df.columns}
    vocabulary: dict[str, list[str]] = {g: [] for g in groups}
    if present:
        for row in value_vocabulary_counts(transactions_df, present, max_levels).collect():
            vocabulary[row["grp"]].append(row["value"])
    return {g: tuple(sorted(values)) for g, values in vocabulary.items()}


def descriptive_df(assigned_df: DataFrame, features_df: DataFrame, inputs_df: DataFrame, plan: FeaturePlan, segments_df: DataFrame | None) -> DataFrame:
    """Assigned customers with the columns the profiles describe, in original units."""
    feature_columns = [c for c in (*PROFILE_COLUMNS, *MODE_COLUMNS.values()) if c in features_df.columns]
    extra = [c for c in (*plan.share_columns, C.AGE) if c in inputs_df.columns]
    df = (
        assigned_df.join(features_df.select(C.CUSTOMER_ID, *feature_columns), on=C.CUSTOMER_ID, how="left")
        .join(inputs_df.select(C.CUSTOMER_ID, *extra), on=C.CUSTOMER_ID, how="left")
    )
    if segments_df is not None and C.SEGMENT in segments_df.columns:
        df = df.join(segments_df.select(C.CUSTOMER_ID, C.SEGMENT), on=C.CUSTOMER_ID, how="left")
    return df


def run_local_sweep(sample: LocalSample, cfg: PersonasConfig) -> tuple[list[M.SweepPoint], int]:
    """The sweep's points from scikit-learn fits on the collected sample, and the folds used."""
    folds = max(1, min(cfg.sweep_folds, len(sample.vectors) // MIN_FOLD_CUSTOMERS))
    points = []
    for k, silhouettes, costs, produced in sweep_local(sample, cfg, folds=folds):
        valid = [s for s in silhouettes if s == s]
        mean = float(np.mean(valid)) if len(valid) == len(silhouettes) and valid else float("nan")
        spread = float(np.std(valid)) if len(valid) > 1 else 0.0
        if not produced:  # every fold has at most k customers: no fit, a point that cannot win
            points.append(M.SweepPoint(k=k, silhouette=float("nan"), cost=float("nan"), clusters=0, silhouette_sd=0.0))
            continue
        points.append(M.SweepPoint(k=k, silhouette=mean, cost=float(np.mean(costs)), clusters=min(produced), silhouette_sd=spread))
    return points, folds


def fit_personas(
    features_df: DataFrame,
    transactions_df: DataFrame,
    customers_df: DataFrame | None,
    cfg: PersonasConfig,
    *,
    segments_df: DataFrame | None = None,
) -> PersonaFit:
    """The fitted personas; the DataFrames it cached are in `PersonaFit.cached` (the caller
    unpersists them after writing the assignments), and are unpersisted here when the fit fails."""
    cached: list[DataFrame] = []
    try:
        return _fit_personas(features_df, transactions_df, customers_df, cfg, segments_df=segments_df, cached=cached)
    except BaseException:
        for df in cached:
            df.unpersist()
        raise


def _fit_personas(
    features_df: DataFrame,
    transactions_df: DataFrame,
    customers_df: DataFrame | None,
    cfg: PersonasConfig,
    *,
    segments_df: DataFrame | None,
    cached: list[DataFrame],
) -> PersonaFit:
    notes: list[str] = []
    with _timed("vocabulary"):
        vocabulary = discover_vocabulary(transactions_df, cfg.features, cfg.max_levels)
    plan = plan_features(
        cfg.features,
        vocabulary=vocabulary,
        customer_columns=set(customers_df.columns) if customers_df is not None else None,
        share_prior=cfg.share_prior,
    )
    if plan.skipped:
        reason = "no customers table" if customers_df is None else "not in the data"
        notes.append(f"personas: skipped feature(s) {', '.join(plan.skipped)} ({reason})")

    shares_df = customer_order_shares(transactions_df, plan) if plan.share_groups else None
    inputs_df = persona_inputs(features_df, shares_df, customers_df, plan).transform(with_fixed_layout, partitions=cfg.layout_partitions).cache()
    cached.append(inputs_df)
    with _timed("inputs (shares, joins, layout)"):
        customers = inputs_df.count()
    try:
        cfg, clamped = M.clamp_k_range(cfg, customers)
    except StageSkipped:
        inputs_df.unpersist()
        raise
    if clamped:
        notes.append(clamped)

    with _timed("feature model"):
        feature_model = M.fit_feature_model(inputs_df, plan)
    # The scaled vectors are not cached: every fit on them persists its own RDD of vectors
    # (MLlib does so when its input is not cached) and iterates over that, cheaper than
    # decoding a cached DataFrame of vectors at every iteration. The local sweep collects the
    # sample once; the MLlib sweep (sweep_engine = spark) caches it for its many fits.
    scaled_df = feature_model.transform(inputs_df).select(C.CUSTOMER_ID, M.FEATURES_COL)
    fraction = M.sweep_fraction(cfg, customers)
    sample_df = filter_sample(scaled_df, fraction=fraction, seed=cfg.seed).coalesce(cfg.sweep_partitions)
    local = None
    if cfg.sweep_engine == "local":
        # one job: the bounded sample to the driver; no cache, no count
        with _timed("sweep sample (to the driver)"):
            local = collect_sample(sample_df, features_col=M.FEATURES_COL, seed=cfg.seed)
        sample_size = len(local.vectors)
    else:
        sample_df = sample_df.cache()
        cached.append(sample_df)
        with _timed("sweep sample"):
            sample_size = sample_df.count() if fraction < 1.0 else customers
    if fraction < 1.0:
        if sample_size < cfg.k_max:
            raise InputError(f"personas.sweep_sample_size: the sample has {sample_size} customers, fewer than personas.k_max ({cfg.k_max}); raise it")
        notes.append(f"personas: the k sweep fitted on a hash sample of {sample_size:,} of {customers:,} customers; the final model on everyone")

    models: dict[int, Any] = {}
    if local is not None:
        with _timed("sweep (local)"):
            points, folds = run_local_sweep(local, cfg)
        if folds > 1:
            notes.append(f"personas: k chosen on the mean silhouette over {folds} hash folds of the sweep sample (scikit-learn on the driver)")
    else:
        with _timed("sweep"):
            points, models = M.sweep(sample_df, cfg)
    chosen_k, rule = M.choose_k(points, cfg.selection, cfg.silhouette_tolerance)
    # Without a sample the sweep already saw everyone: its fit is the final one when the
    # sweep's fits were as thorough as the final fit's.
    same_fit = bool(models) and fraction >= 1.0 and (cfg.sweep_restarts, cfg.sweep_max_iter) == (cfg.restarts, cfg.max_iter)
    with _timed(f"final fit (k={chosen_k})"):
        cluster_model = models[chosen_k] if same_fit else M.fit_best(scaled_df if fraction < 1.0 else sample_df, cfg, chosen_k)
    model = M.full_model(feature_model, cluster_model)

    # One computation of the assignments and their descriptive columns serves the two
    # profile aggregations and the personas table the pipeline writes.
    assigned_df = cluster_model.transform(scaled_df).select(C.CUSTOMER_ID, F.col(C.CLUSTER).cast("int").alias(C.CLUSTER))
    described_df = descriptive_df(assigned_df, features_df, inputs_df, plan, segments_df).cache()
    cached.append(described_df)
    share_keys = {share_column(g, v): f"{SHARE_GROUPS[g]}:{v}" for g in plan.share_groups for v in plan.vocabulary[g]}
    described_columns = {c: c for c in (*PROFILE_COLUMNS, C.AGE) if c in described_df.columns} | share_keys
    with _timed("cluster moments"):
        moment_rows = [r.asDict() for r in cluster_moments(described_df, described_columns).collect()]
    kinds = {kind: column for kind, column in MODE_COLUMNS.items() if column in described_df.columns}
    if C.SEGMENT in described_df.columns:
        kinds[SEGMENT_KIND] = C.SEGMENT
    with _timed("cluster value counts"):
        value_counts = [r.asDict() for r in cluster_value_counts(described_df, kinds).collect()]

    descriptions, means = describe(moment_rows, described_columns)
    names = name_clusters(descriptions)
    return PersonaFit(
        model=model,
        plan=plan,
        names=names,
        assignments_df=described_df.select(C.CUSTOMER_ID, C.CLUSTER, M.names_column(names).alias(C.PERSONA_NAME)),
        profile_rows=profile_rows(moment_rows, value_counts, names, descriptions, means),
        sweep_rows=M.sweep_table_rows(points, chosen_k, sample_size=sample_size, algorithm=cfg.algorithm),
        chosen_k=chosen_k,
        rule=rule,
        customers=customers,
        sample_size=sample_size,
        notes=notes,
        cached=cached,
    )


# --------------------------------------------------------------------------- scoring

SCORE_TRANSACTION_COLUMNS = (
    C.CUSTOMER_ID, C.EVENT_TS, C.CATEGORY, C.QUANTITY, C.DISCOUNT, C.AMOUNT, C.PAYMENT_METHOD, C.CHANNEL, C.STATUS,
)


def score_personas(
    model: PipelineModel,
    metadata: dict[str, Any],
    features_df: DataFrame,
    transactions_df: DataFrame,
    customers_df: DataFrame | None,
) -> DataFrame:
    """customer_id, cluster, persona_name for new customers, encoded as at training time."""
    plan = FeaturePlan.from_dict(metadata["plan"])
    names = {int(c): n for c, n in metadata["names"].items()}
    if plan.uses_customers:
        if customers_df is None:
            raise InputError(
                f"the persona model needs customer column(s) {', '.join(plan.customer_columns)}; pass the customers table with --customers"
            )
        require_columns(customers_df, plan.customer_columns, "the customers table")
    shares_df = customer_order_shares(transactions_df, plan) if plan.share_groups else None
    inputs_df = persona_inputs(features_df, shares_df, customers_df, plan)
    return M.assign_personas(model, inputs_df, names)
