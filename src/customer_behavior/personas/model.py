"""The MLlib side: feature stages, the k sweep, the final fit, and the saved model.

The feature vector is built by MLlib stages so that the saved PipelineModel carries
every fitted statistic (imputation means, string indexes, scaling) and new customers
are encoded exactly as the training customers were:

    Imputer (numeric, mean) -> VectorAssembler -> StandardScaler (mean 0, sd 1)
    -> StringIndexer + OneHotEncoder (nominal demographics, unscaled)
    -> VectorAssembler -> KMeans | BisectingKMeans | GaussianMixture

Fitting is an action by nature; these functions are called from the personas stage of
the pipeline, which owns the caching of the DataFrames they read.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pyspark import inheritable_thread_target
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.clustering import BisectingKMeans, GaussianMixture, KMeans
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.feature import Imputer, OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from customer_behavior import TOOL_NAME, __version__
from customer_behavior import columns as C
from customer_behavior.config import PersonasConfig
from customer_behavior.errors import ModelError, StageSkipped
from customer_behavior.personas.inputs import FeaturePlan

log = logging.getLogger(__name__)

FEATURES_COL = "features"
RAW_FEATURES_COL = "raw_features"
SCALED_FEATURES_COL = "scaled_features"
PROBABILITY_COL = "persona_probability"
PIPELINE_DIR = "pipeline"
METADATA_FILE = "persona_model.json"
MODEL_KIND = "persona-model"


def feature_stages(plan: FeaturePlan) -> list:
    """Unfitted MLlib stages turning the input columns into the `features` vector.

    Numeric inputs are imputed (mean) and standardised. One-hot columns enter unscaled
    (0/1): standardising them would give a rare level a weight of 1/sd (a 2% level
    would count seven times a typical feature) and split off a cluster of that level.
    """
    stages: list = []
    numeric = list(plan.numeric_columns)
    imputed = [f"{name}__imputed" for name in numeric]
    parts = []
    if numeric:
        stages.append(Imputer(inputCols=numeric, outputCols=imputed, strategy="mean"))
        stages.append(VectorAssembler(inputCols=imputed, outputCol=RAW_FEATURES_COL))
        # Scaled, not centred: the clusterings are translation-invariant, but Spark's
        # BisectingKMeans splits a cluster by moving its centre by 1e-4 x the centre's norm,
        # so with centred features the root (centre ~0) never splits.
        stages.append(StandardScaler(inputCol=RAW_FEATURES_COL, outputCol=SCALED_FEATURES_COL, withMean=False, withStd=True))
        parts.append(SCALED_FEATURES_COL)
    if plan.nominal_demographics:
        nominal = list(plan.nominal_demographics)
        indexed = [f"{name}__index" for name in nominal]
        encoded = [f"{name}__onehot" for name in nominal]
        # alphabetical order: the index does not depend on which value happens to be commonest;
        # "keep" gives unseen and null values their own slot instead of failing.
        stages.append(StringIndexer(inputCols=nominal, outputCols=indexed, handleInvalid="keep", stringOrderType="alphabetAsc"))
        stages.append(OneHotEncoder(inputCols=indexed, outputCols=encoded, dropLast=False, handleInvalid="keep"))
        parts += encoded
    stages.append(VectorAssembler(inputCols=parts, outputCol=FEATURES_COL))
    return stages


def clustering_estimator(cfg: PersonasConfig, k: int, *, restart: int = 0, max_iter: int | None = None):
    common: dict[str, Any] = {
        "k": k,
        "seed": cfg.seed + restart,
        "maxIter": cfg.max_iter if max_iter is None else max_iter,
        "featuresCol": FEATURES_COL,
        "predictionCol": C.CLUSTER,
    }
    if cfg.algorithm == "kmeans":
        return KMeans(initMode="k-means||", initSteps=2, tol=cfg.tol, **common)
    if cfg.algorithm == "bisecting":
        return BisectingKMeans(minDivisibleClusterSize=1.0, **common)
    return GaussianMixture(probabilityCol=PROBABILITY_COL, tol=cfg.tol, **common)


def cluster_cost(model: Any, algorithm: str) -> float:
    """Within-cluster sum of squared distances (k-means kinds); -log-likelihood for gmm."""
    if algorithm == "gmm":
        return -float(model.summary.logLikelihood)
    return float(model.summary.trainingCost)


def _iterations(model: Any) -> int | None:
    summary = model.summary if model.hasSummary else None
    return getattr(summary, "numIter", None) if summary is not None else None


def cluster_count(model: Any) -> int:
    return len(model.clusterCenters()) if hasattr(model, "clusterCenters") else int(model.getK())


# --------------------------------------------------------------------------- sweep


@dataclass(frozen=True)
class SweepPoint:
    k: int
    silhouette: float
    cost: float
    clusters: int  # clusters the fit actually produced (can be fewer than k on degenerate data)
    silhouette_sd: float = 0.0  # spread of the silhouette over the local sweep's folds (0: one fit)


def clamp_k_range(cfg: PersonasConfig, customers: int) -> tuple[PersonasConfig, str | None]:
    """The config with k_max (and k_min) lowered to what `customers` allow, and a note when it
    was; StageSkipped when there are too few customers to cluster at all."""
    if customers < 2:
        raise StageSkipped(f"personas: {customers} customer(s) with orders; clustering needs at least 2")
    if cfg.k_max <= customers:
        return cfg, None
    clamped = replace(cfg, k_min=min(cfg.k_min, customers), k_max=customers)
    return clamped, f"personas: k_max {cfg.k_max} lowered to {customers}, the number of customers with orders (k = {clamped.k_min}..{clamped.k_max})"


def sweep_fraction(cfg: PersonasConfig, customers: int) -> float:
    if cfg.sweep_sample_size == 0 or customers <= cfg.sweep_sample_size:
        return 1.0
    return cfg.sweep_sample_size / customers


def fit_best(df: DataFrame, cfg: PersonasConfig, k: int, *, restarts: int | None = None, max_iter: int | None = None) -> Any:
    """The fit with the lowest cost over `restarts` seeds (default `cfg.restarts`; ties: the earlier seed).

    k-means|| and Lloyd iterations find a local optimum that depends on the seed; on the
    synthetic data the worst of three seeds can lose 0.1 of agreement with the truth.
    """
    best, best_cost = None, None
    for restart in range(cfg.restarts if restarts is None else restarts):
        # A projection of a cached DataFrame is not itself cached, so MLlib persists its own
        # RDD of vectors for the fit and iterates over that.
        model = clustering_estimator(cfg, k, restart=restart, max_iter=max_iter).fit(df.select(F.col(FEATURES_COL)))
        cost = cluster_cost(model, cfg.algorithm)
        log.info("personas fit: k=%d seed=%d cost=%.1f iterations=%s", k, cfg.seed + restart, cost, _iterations(model))
        if best_cost is None or cost < best_cost:
            best, best_cost = model, cost
    return best


def sweep(scaled_sample_df: DataFrame, cfg: PersonasConfig) -> tuple[list[SweepPoint], dict[int, Any]]:
    """Fit every k in [k_min, k_max] on the (cached) scaled sample; silhouette and cost per k.

    The fits are many small Spark jobs whose time is mostly scheduling, so the k run in
    `cfg.sweep_parallelism` threads (each fit is seeded and reads a fixed layout, so the
    result does not depend on the threads; the job group is inherited).
    """
    evaluator = ClusteringEvaluator(featuresCol=FEATURES_COL, predictionCol=C.CLUSTER, metricName="silhouette", distanceMeasure="squaredEuclidean")

    def sweep_point(k: int) -> tuple[SweepPoint, Any]:
        model = fit_best(scaled_sample_df, cfg, k, restarts=cfg.sweep_restarts, max_iter=cfg.sweep_max_iter)
        produced = cluster_count(model)
        silhouette = float(evaluator.copy().evaluate(model.transform(scaled_sample_df))) if produced > 1 else float("nan")
        point = SweepPoint(k=k, silhouette=silhouette, cost=cluster_cost(model, cfg.algorithm), clusters=produced)
        log.info("personas sweep: k=%d silhouette=%.4f cost=%.1f", k, silhouette, point.cost)
        return point, model

    ks = list(range(cfg.k_min, cfg.k_max + 1))
    if cfg.sweep_parallelism > 1:
        with ThreadPoolExecutor(max_workers=cfg.sweep_parallelism, thread_name_prefix="persona-sweep") as pool:
            results = list(pool.map(inheritable_thread_target(scaled_sample_df.sparkSession)(sweep_point), ks))
    else:
        results = [sweep_point(k) for k in ks]
    return [point for point, _ in results], {point.k: model for point, model in results}


def choose_k(points: list[SweepPoint], rule: str, tolerance: float) -> tuple[int, str]:
    """The chosen k and a sentence saying why (recorded in the manifest)."""
    valid = [p for p in points if p.silhouette == p.silhouette]  # drop NaN (degenerate fits)
    if not valid:
        raise ModelError("personas: no k in the sweep produced more than one cluster; the customers are indistinguishable on these features")
    best = max(valid, key=lambda p: (p.silhouette, -p.k))
    if rule == "elbow" and len(points) >= 3:
        bends = [(points[i - 1].cost - 2 * points[i].cost + points[i + 1].cost, points[i].k) for i in range(1, len(points) - 1)]
        bend, k = max(bends, key=lambda bk: (bk[0], -bk[1]))
        return k, f"elbow: k={k} has the largest second difference of the within-cluster cost ({bend:.4g})"
    if rule == "silhouette_tolerance":
        k = min(p.k for p in valid if p.silhouette >= best.silhouette - tolerance)
        return k, (
            f"silhouette_tolerance: smallest k whose silhouette is within {tolerance} of the best "
            f"(best {best.silhouette:.4f} at k={best.k}; k={k} has {next(p.silhouette for p in valid if p.k == k):.4f})"
        )
    return best.k, f"silhouette_max: k={best.k} has the highest silhouette ({best.silhouette:.4f})"


def sweep_table_rows(points: list[SweepPoint], chosen_k: int, *, sample_size: int, algorithm: str) -> list[tuple]:
    measure = "neg_log_likelihood" if algorithm == "gmm" else "within_cluster_sse"
    return [(p.k, p.silhouette, p.cost, measure, p.clusters, sample_size, p.silhouette_sd, p.k == chosen_k) for p in points]


SWEEP_SCHEMA = "k int, silhouette double, cost double, cost_measure string, clusters int, sample_size long, silhouette_sd double, is_chosen boolean"


# --------------------------------------------------------------------------- save / load


def write_model(model: PipelineModel, path: str, metadata: dict[str, Any]) -> None:
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    model.write().overwrite().save(str(root / PIPELINE_DIR))
    payload = {"tool": TOOL_NAME, "kind": MODEL_KIND, "version": __version__, **metadata}
    (root / METADATA_FILE).write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


def read_metadata(path: str) -> dict[str, Any]:
    root = Path(path)
    hint = f"model {str(path)!r} is not a saved persona model of {TOOL_NAME} (expected RUN/model from 'customer-behavior run')"
    if not root.is_dir():
        raise ModelError(f"{hint}: no such directory")
    try:
        data = json.loads((root / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ModelError(f"{hint}: {METADATA_FILE} is missing or unreadable") from None
    if not isinstance(data, dict) or data.get("tool") != TOOL_NAME or data.get("kind") != MODEL_KIND:
        raise ModelError(f"{hint}: {METADATA_FILE} is not ours")
    if not (root / PIPELINE_DIR).is_dir():
        raise ModelError(f"{hint}: the fitted pipeline ({PIPELINE_DIR}/) is missing")
    return data


def load_model(path: str) -> tuple[PipelineModel, dict[str, Any]]:
    metadata = read_metadata(path)
    try:
        model = PipelineModel.load(str(Path(path) / PIPELINE_DIR))
    except Exception as exc:  # noqa: BLE001 - a JVM error about a broken directory becomes one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"model {str(path)!r}: the fitted pipeline cannot be loaded ({first[:200]})") from None
    return model, metadata


def names_column(names: dict[int, str]) -> Any:
    """cluster -> persona name as a SQL CASE expression (a handful of branches)."""
    expr = None
    for cluster, name in sorted(names.items()):
        condition = F.col(C.CLUSTER) == F.lit(cluster)
        expr = F.when(condition, F.lit(name)) if expr is None else expr.when(condition, F.lit(name))
    return expr if expr is not None else F.lit(None).cast("string")


def assign_personas(model: PipelineModel, inputs_df: DataFrame, names: dict[int, str]) -> DataFrame:
    """customer_id, cluster, persona_name for every row of the model inputs."""
    return model.transform(inputs_df).select(
        F.col(C.CUSTOMER_ID), F.col(C.CLUSTER).cast("int").alias(C.CLUSTER), names_column(names).alias(C.PERSONA_NAME)
    )


def full_model(feature_model: PipelineModel, cluster_model: Any) -> PipelineModel:
    return PipelineModel(stages=[*feature_model.stages, cluster_model])


def fit_feature_model(inputs_df: DataFrame, plan: FeaturePlan) -> PipelineModel:
    return Pipeline(stages=feature_stages(plan)).fit(inputs_df)
