"""The k sweep on the driver: scikit-learn fits on the bounded, seeded sweep sample.

Choosing k needs many fits of a small sample; as MLlib fits they were hundreds of tiny
Spark jobs (about 870 per run), whose cost is scheduling, not arithmetic. The sample is
bounded (`personas.sweep_sample_size` customers, a hash sample of the scaled vectors), so
it comes to the driver once, and every candidate is fitted there by scikit-learn: the
same algorithms (k-means, bisecting k-means, a Gaussian mixture), seeded, on rows ordered
by customer id, so the sweep gives the same numbers on any cluster. The final fit on
everyone stays MLlib.

The silhouette is Spark's (`ClusteringEvaluator`, squared Euclidean): a point's mean
squared distance to the members of a cluster is exact from the cluster's size, mean and
mean squared norm, so it costs one n x k product, not n^2 distances.

Stability: the sample is split into `personas.sweep_folds` hash folds; every k is fitted
on each fold and its silhouette is the mean over the folds. The choice rule
(`choose_k`) sees the mean, so a difference of a few thousandths that one sample shows
and the next reverses no longer moves k; the spread over the folds is reported beside it.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.config import PersonasConfig

log = logging.getLogger(__name__)

BUCKET_COL = "sweep_bucket"
BUCKETS = 1_000_000
# scikit-learn's OpenMP/BLAS threads: the driver shares its cores with the executors.
MAX_THREADS = 2


@dataclass(frozen=True)
class LocalSample:
    """The sweep sample on the driver: one row per customer, in customer-id order."""

    vectors: np.ndarray  # (n, d) float64
    buckets: np.ndarray  # (n,) a hash of (seed, customer id) in [0, BUCKETS): folds are buckets mod folds

    def folds(self, folds: int) -> np.ndarray:
        return self.buckets % folds


def sweep_bucket(seed: int) -> Column:
    """A customer's bucket: a hash of (seed, id), not rand(), so folds do not depend on the layout."""
    return F.pmod(F.xxhash64(F.lit(seed), F.lit("persona-fold"), F.col(C.CUSTOMER_ID)), F.lit(BUCKETS))


def collect_sample(sample_df: DataFrame, *, features_col: str, seed: int) -> LocalSample:
    """The (bounded) sample to the driver in one job, ordered by customer id on arrival."""
    rows = sample_df.select(F.col(C.CUSTOMER_ID), vector_to_array(F.col(features_col)).alias("v"), sweep_bucket(seed).alias(BUCKET_COL)).collect()
    rows.sort(key=lambda row: row[C.CUSTOMER_ID])
    vectors = np.array([row["v"] for row in rows], dtype=np.float64).reshape(len(rows), -1)
    return LocalSample(vectors=vectors, buckets=np.array([row[BUCKET_COL] for row in rows], dtype=np.int64))


def squared_euclidean_silhouette(x: np.ndarray, labels: np.ndarray) -> float:
    """Spark's ClusteringEvaluator silhouette (distanceMeasure = squaredEuclidean).

    For a point x and a cluster C: mean_{y in C} |x - y|^2 = |x|^2 - 2 x.mean_C + mean_C |y|^2.
    The own cluster's mean excludes x itself (size / (size - 1)); a point alone in its
    cluster scores 0, as in Spark.
    """
    clusters, labels = np.unique(labels, return_inverse=True)
    if len(clusters) < 2:
        return float("nan")
    sizes = np.bincount(labels).astype(np.float64)
    norms = np.einsum("ij,ij->i", x, x)
    sums = np.zeros((len(clusters), x.shape[1]))
    np.add.at(sums, labels, x)
    means = sums / sizes[:, None]
    mean_norms = np.bincount(labels, weights=norms) / sizes
    dissimilarity = norms[:, None] - 2.0 * x @ means.T + mean_norms[None, :]
    rows = np.arange(len(x))
    own_size = sizes[labels]
    own = np.where(own_size > 1, dissimilarity[rows, labels] * own_size / np.maximum(own_size - 1, 1), 0.0)
    dissimilarity[rows, labels] = np.inf
    other = dissimilarity.min(axis=1)
    score = np.where(own < other, 1.0 - own / np.where(other > 0, other, 1.0), np.where(own > other, other / np.where(own > 0, own, 1.0) - 1.0, 0.0))
    return float(np.mean(np.where(own_size > 1, score, 0.0)))


def _estimator(cfg: PersonasConfig, k: int, seed: int):
    from sklearn.cluster import BisectingKMeans, KMeans
    from sklearn.mixture import GaussianMixture

    if cfg.algorithm == "kmeans":
        return KMeans(n_clusters=k, n_init=cfg.sweep_restarts, max_iter=cfg.sweep_max_iter, tol=cfg.tol, random_state=seed)
    if cfg.algorithm == "bisecting":
        return BisectingKMeans(n_clusters=k, n_init=cfg.sweep_restarts, max_iter=cfg.sweep_max_iter, random_state=seed)
    return GaussianMixture(n_components=k, n_init=cfg.sweep_restarts, max_iter=cfg.sweep_max_iter, tol=cfg.tol, random_state=seed)


def fit_local(x: np.ndarray, cfg: PersonasConfig, k: int, seed: int) -> tuple[np.ndarray, float]:
    """Labels and cost (within-cluster SSE; -log-likelihood for gmm) of one seeded fit."""
    estimator = _estimator(cfg, k, seed)
    with warnings.catch_warnings():
        # ConvergenceWarning: fewer distinct points than k, or max_iter reached; the silhouette says what it is worth
        warnings.simplefilter("ignore")
        labels = estimator.fit_predict(x)
    if cfg.algorithm == "gmm":
        return labels, -float(estimator.score(x)) * len(x)
    return labels, float(estimator.inertia_)


def sweep_local(sample: LocalSample, cfg: PersonasConfig, *, folds: int) -> list[tuple[int, list[float], list[float], list[int]]]:
    """Per k: the silhouettes, costs and cluster counts of its fit on every fold."""
    from threadpoolctl import threadpool_limits

    fold_of = sample.folds(folds)
    results = []
    with threadpool_limits(limits=MAX_THREADS):
        for k in range(cfg.k_min, cfg.k_max + 1):
            silhouettes, costs, produced = [], [], []
            for fold in range(folds):
                x = sample.vectors[fold_of == fold]
                if len(x) <= k:
                    continue
                labels, cost = fit_local(x, cfg, k, cfg.seed + fold)
                silhouettes.append(squared_euclidean_silhouette(x, labels))
                costs.append(cost)
                produced.append(len(np.unique(labels)))
            log.info("personas sweep: k=%d silhouettes=%s", k, ", ".join(f"{s:.4f}" for s in silhouettes))
            results.append((k, silhouettes, costs, produced))
    return results
