"""The persona sweep on the driver: Spark's silhouette in numpy against scikit-learn's,
a hand-checked case, seeded and order-independent fits, and the choice over folds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.linalg import Vectors, VectorUDT
from pyspark.sql.types import IntegerType, StringType, StructField, StructType
from sklearn.metrics import silhouette_score

from customer_behavior.config import ConfigError, PersonasConfig
from customer_behavior.personas.local_sweep import BUCKETS, LocalSample, collect_sample, squared_euclidean_silhouette, sweep_local


def _blobs(seed: int, n: int = 600, k: int = 4, d: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, size=(k, d))
    labels = rng.integers(0, k, size=n)
    return centres[labels] + rng.normal(0, 1, size=(n, d)), labels


def test_silhouette_of_a_hand_made_case():
    # clusters {0, 1} and {10}: point 0: a = 1 (to 1), b = 100 -> 0.99; point 1: a = 1, b = 81 -> 80/81;
    # point 10 is alone in its cluster -> 0 (as Spark and scikit-learn define it)
    x = np.array([[0.0], [1.0], [10.0]])
    expected = (0.99 + 80 / 81 + 0.0) / 3
    assert squared_euclidean_silhouette(x, np.array([0, 0, 1])) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_silhouette_equals_scikit_learns_squared_euclidean(seed):
    x, labels = _blobs(seed)
    assert squared_euclidean_silhouette(x, labels) == pytest.approx(silhouette_score(x, labels, metric="sqeuclidean"), abs=1e-9)


def test_silhouette_equals_sparks_evaluator(spark):
    x, labels = _blobs(5, n=300)
    df = spark.createDataFrame([(Vectors.dense(row.tolist()), int(label)) for row, label in zip(x, labels)], StructType([StructField("features", VectorUDT()), StructField("cluster", IntegerType())]))
    evaluator = ClusteringEvaluator(featuresCol="features", predictionCol="cluster", metricName="silhouette", distanceMeasure="squaredEuclidean")
    assert squared_euclidean_silhouette(x, labels) == pytest.approx(evaluator.evaluate(df), abs=1e-9)


def test_one_cluster_has_no_silhouette():
    assert np.isnan(squared_euclidean_silhouette(np.zeros((4, 2)), np.zeros(4, dtype=int)))


def _sample(seed: int = 9, n: int = 3_000) -> LocalSample:
    x, _ = _blobs(seed, n=n)
    buckets = np.random.default_rng(seed + 100).integers(0, BUCKETS, size=n)
    return LocalSample(vectors=x, buckets=buckets)


def test_local_sweep_finds_the_planted_k_on_every_fold_and_is_seeded():
    cfg = PersonasConfig(k_min=2, k_max=6)
    sample = _sample()
    results = sweep_local(sample, cfg, folds=3)
    assert [k for k, *_ in results] == [2, 3, 4, 5, 6]
    by_k = {k: silhouettes for k, silhouettes, _, _ in results}
    assert all(len(s) == 3 for s in by_k.values())
    assert all(max(by_k, key=lambda k: by_k[k][fold]) == 4 for fold in range(3))  # the planted 4 blobs
    assert sweep_local(sample, cfg, folds=3) == results  # same seed, same numbers
    other_seed = sweep_local(sample, dataclasses.replace(cfg, seed=43), folds=3)
    assert [k for k, *_ in other_seed] == [2, 3, 4, 5, 6]


def test_collected_sample_is_in_customer_order_with_hash_buckets(spark):
    rows = [(f"c{i:03d}", Vectors.dense([float(i), float(i % 3)])) for i in range(50)]
    df = spark.createDataFrame(rows, StructType([StructField("customer_id", StringType()), StructField("features", VectorUDT())]))
    first = collect_sample(df.repartition(4), features_col="features", seed=42)
    again = collect_sample(df.orderBy("features").coalesce(1), features_col="features", seed=42)
    assert first.vectors[:, 0].tolist() == [float(i) for i in range(50)]
    assert np.array_equal(first.vectors, again.vectors) and np.array_equal(first.buckets, again.buckets)
    assert first.buckets.min() >= 0 and first.buckets.max() < BUCKETS
    assert not np.array_equal(first.buckets, collect_sample(df, features_col="features", seed=7).buckets)


def test_local_sweep_needs_a_bounded_sample():
    with pytest.raises(ConfigError, match="personas.sweep_sample_size: 0 with sweep_engine = local"):
        PersonasConfig(sweep_sample_size=0)
    assert PersonasConfig(sweep_sample_size=0, sweep_engine="spark").sweep_sample_size == 0
    with pytest.raises(ConfigError, match="personas.sweep_engine"):
        PersonasConfig(sweep_engine="gpu")
    with pytest.raises(ConfigError, match="personas.sweep_folds"):
        PersonasConfig(sweep_folds=0)
