"""Personas: exact recovery of well-separated planted groups, ARI against scikit-learn,
naming independent of cluster numbers, save/load/score round trip, and bad input."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random

import pytest
from pyspark.sql import functions as F
from sklearn.metrics import adjusted_rand_score

from customer_behavior import columns as C
from customer_behavior.cli import main
from customer_behavior.config import ConfigError, PersonasConfig, load_config
from customer_behavior.errors import StageSkipped
from customer_behavior.features import customer_features
from customer_behavior.personas import adjusted_rand_index, contingency, fit_personas, score_personas
from customer_behavior.personas.model import METADATA_FILE, load_model, write_model
from customer_behavior.personas.naming import ClusterDescription, name_clusters

AS_OF = dt.date(2024, 7, 1)
# Three kinds of customer that differ in everything: what, where, how, when and how much.
GROUPS = {
    "tech": dict(category="electronics", channel="web", payment="credit_card", value=300.0, orders=8, weekend=False, discount=0.0),
    "family": dict(category="grocery", channel="store", payment="debit_card", value=40.0, orders=12, weekend=False, discount=0.0),
    "bargain": dict(category="fashion", channel="app", payment="buy_now_pay_later", value=25.0, orders=7, weekend=True, discount=0.2),
}
PER_GROUP = 30


def _planted_rows():
    """Transactions and truth of 90 customers; a fixed-seed Python RNG only jitters values."""
    rng = random.Random(3)
    transactions, truth = [], []
    monday = dt.date(2024, 1, 1)
    for group, spec in GROUPS.items():
        for i in range(PER_GROUP):
            customer = f"{group}-{i:02d}"
            truth.append((customer, group))
            for n in range(spec["orders"] + rng.randint(0, 2)):
                week = rng.randint(0, 24)
                day = monday + dt.timedelta(days=7 * week + (5 if spec["weekend"] else rng.randint(0, 4)))
                ts = dt.datetime.combine(day, dt.time(12))
                amount = round(spec["value"] * rng.uniform(0.8, 1.2), 2)
                transactions.append(
                    (f"{customer}-{n}", customer, ts, spec["category"], 1, amount, spec["discount"], amount, spec["payment"], spec["channel"], "completed")
                )
    return transactions, truth


@pytest.fixture(scope="module")
def planted(spark):
    transactions, truth = _planted_rows()
    transactions_df = spark.createDataFrame(transactions, schema=C.TRANSACTIONS_SCHEMA).cache()
    truth_df = spark.createDataFrame(truth, schema=f"{C.CUSTOMER_ID} string, {C.PERSONA} string")
    features_df = customer_features(transactions_df, as_of=AS_OF).cache()
    return {"transactions": transactions_df, "truth": truth_df, "features": features_df}


SMALL_CONFIG = PersonasConfig(k_min=2, k_max=5, restarts=1, layout_partitions=2)


@pytest.fixture(scope="module")
def fitted(planted):
    fit = fit_personas(planted["features"], planted["transactions"], None, SMALL_CONFIG)
    assignments = {r[C.CUSTOMER_ID]: (r[C.CLUSTER], r[C.PERSONA_NAME]) for r in fit.assignments_df.collect()}
    return fit, assignments


def test_well_separated_groups_are_recovered_exactly(planted, fitted):
    fit, assignments = fitted
    assert fit.chosen_k == 3
    assert fit.rule.startswith("silhouette_tolerance")
    ari = adjusted_rand_index(contingency(fit.assignments_df, planted["truth"]))
    assert ari["ari"] == pytest.approx(1.0)
    assert ari["customers"] == 3 * PER_GROUP
    # every planted group is exactly one persona
    by_group = {}
    for customer, (cluster, _) in assignments.items():
        by_group.setdefault(customer.split("-")[0], set()).add(cluster)
    assert all(len(clusters) == 1 for clusters in by_group.values())
    assert len({next(iter(c)) for c in by_group.values()}) == 3


def test_names_say_what_the_groups_are(fitted):
    _, assignments = fitted
    names = {customer.split("-")[0]: name for customer, (_, name) in assignments.items()}
    assert names == {"tech": "Tech enthusiasts", "family": "Grocery stock-up shoppers", "bargain": "Weekend bargain hunters"}


def test_no_customers_table_skips_demographics_with_a_note(fitted):
    fit, _ = fitted
    assert fit.plan.numeric_demographics == () and fit.plan.nominal_demographics == ()
    assert set(fit.plan.skipped) == {"age", "gender", "is_loyalty_member"}
    assert any("skipped feature(s) age, gender, is_loyalty_member (no customers table)" in note for note in fit.notes)


def test_sweep_and_profile_tables(fitted):
    fit, _ = fitted
    assert [row[0] for row in fit.sweep_rows] == [2, 3, 4, 5]
    assert [row[0] for row in fit.sweep_rows if row[-1]] == [3]
    chosen = next(row for row in fit.sweep_rows if row[-1])
    assert chosen[1] == max(row[1] for row in fit.sweep_rows)  # silhouette is best at the planted k
    profiles = {row[1]: row for row in fit.profile_rows}
    tech = profiles["Tech enthusiasts"]
    assert tech[2] == PER_GROUP and tech[3] == pytest.approx(1 / 3)
    assert sum(row[5] for row in fit.profile_rows) == pytest.approx(1.0)  # revenue shares
    assert (tech[-5], tech[-4], tech[-3]) == ("electronics", "credit_card", "web")  # top category, payment, channel
    assert profiles["Weekend bargain hunters"][6 + 5] == pytest.approx(1.0)  # mean weekend share


def test_ari_matches_scikit_learn(spark):
    rng = random.Random(11)
    found = [rng.randint(0, 3) for _ in range(200)]
    planted = [f"p{(f + (rng.random() < 0.3)) % 3}" for f in found]
    rows = [(f"c{i}", f, p) for i, (f, p) in enumerate(zip(found, planted))]
    df = spark.createDataFrame(rows, schema="customer_id string, cluster int, persona string")
    table = contingency(df.select(C.CUSTOMER_ID, C.CLUSTER), df.select(C.CUSTOMER_ID, C.PERSONA))
    ours = adjusted_rand_index(table)["ari"]
    assert ours == pytest.approx(adjusted_rand_score(planted, found), abs=1e-12)
    assert 0.0 < ours < 1.0


def test_ari_of_a_relabelled_partition_is_one(spark):
    df = spark.createDataFrame([("a", 0, "x"), ("b", 0, "x"), ("c", 1, "y"), ("d", 2, "z")], "customer_id string, cluster int, persona string")
    assert adjusted_rand_index(contingency(df, df))["ari"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- naming


DESCRIPTIONS = [
    ClusterDescription(cluster=0, size=100, z={"monetary": 2.0, "orders": 1.5, "recency_days": -1.0, "category:electronics": 0.1}),
    ClusterDescription(cluster=1, size=300, z={"monetary": -0.5, "orders": -1.2, "recency_days": 1.4, "category:electronics": -0.2}),
    ClusterDescription(cluster=2, size=150, z={"monetary": 0.2, "orders": 0.0, "recency_days": 0.1, "category:electronics": 2.5}),
    ClusterDescription(cluster=3, size=120, z={"monetary": 0.1, "orders": 0.1, "recency_days": 0.0, "category:electronics": 1.9}),
    ClusterDescription(cluster=4, size=80, z={"monetary": 0.0, "orders": 0.0, "recency_days": 0.0, "category:electronics": 0.0}),
]


def test_names_from_centroids():
    names = name_clusters(DESCRIPTIONS)
    assert names[0] == "High-value loyalists"
    assert names[1] == "Occasional one-time buyers"
    assert names[2] == "Tech enthusiasts"  # the stronger electronics cluster gets the name
    assert len(set(names.values())) == len(DESCRIPTIONS)  # unique, also for the weaker one and the average one


def test_names_do_not_depend_on_cluster_numbers():
    names = name_clusters(DESCRIPTIONS)
    by_content = {d.content_key(): names[d.cluster] for d in DESCRIPTIONS}
    for permutation in ([4, 3, 2, 1, 0], [2, 0, 4, 1, 3], [10, 11, 12, 13, 14]):
        renumbered = [ClusterDescription(cluster=p, size=d.size, z=d.z) for p, d in zip(permutation, DESCRIPTIONS)]
        for shuffled in (renumbered, list(reversed(renumbered))):
            renamed = name_clusters(shuffled)
            assert {d.content_key(): renamed[d.cluster] for d in shuffled} == by_content


# --------------------------------------------------------------------------- model round trip


def test_fit_is_deterministic_whatever_the_input_partitioning(planted, fitted):
    fit, assignments = fitted
    # also whatever the sweep's threads: the first fit ran k concurrently, this one in turn
    sequential = dataclasses.replace(SMALL_CONFIG, sweep_parallelism=1)
    again = fit_personas(planted["features"].repartition(3), planted["transactions"].repartition(5), None, sequential)
    assert {r[C.CUSTOMER_ID]: (r[C.CLUSTER], r[C.PERSONA_NAME]) for r in again.assignments_df.collect()} == assignments
    assert [(k, round(s, 9), round(c, 6)) for k, s, c, *_ in again.sweep_rows] == [(k, round(s, 9), round(c, 6)) for k, s, c, *_ in fit.sweep_rows]


def test_save_load_score_round_trip(planted, fitted, tmp_path):
    fit, assignments = fitted
    write_model(fit.model, str(tmp_path / "model"), fit.metadata(SMALL_CONFIG))
    model, metadata = load_model(str(tmp_path / "model"))
    assert metadata["k"] == 3 and metadata["tool"] == "customer-behavior"
    scored = score_personas(model, metadata, planted["features"], planted["transactions"], None)
    assert {r[C.CUSTOMER_ID]: (r[C.CLUSTER], r[C.PERSONA_NAME]) for r in scored.collect()} == assignments


def test_score_command(planted, fitted, tmp_path, capsys):
    fit, assignments = fitted
    write_model(fit.model, str(tmp_path / "model"), fit.metadata(SMALL_CONFIG))
    # new customers: the same behaviour under new ids
    new_df = planted["transactions"].withColumn(C.CUSTOMER_ID, F.concat(F.lit("new-"), F.col(C.CUSTOMER_ID)))
    new_df.write.parquet(str(tmp_path / "new" / "transactions"))
    code = main(["score", "--model", str(tmp_path / "model"), "--input", str(tmp_path / "new"), "--output", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    scored = planted["transactions"].sparkSession.read.parquet(str(tmp_path / "out" / "personas")).collect()
    assert {r[C.CUSTOMER_ID]: r[C.PERSONA_NAME] for r in scored} == {f"new-{c}": name for c, (_, name) in assignments.items()}
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["rows"]["customers_scored"] == 3 * PER_GROUP


# --------------------------------------------------------------------------- bad input


def test_score_rejects_a_directory_that_is_not_our_model(tmp_path, capsys):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / METADATA_FILE).write_text(json.dumps({"tool": "something-else"}))
    code = main(["score", "--model", str(tmp_path / "model"), "--input", str(tmp_path), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert "is not a saved persona model of customer-behavior" in err


def test_score_names_a_missing_column(planted, fitted, tmp_path, capsys):
    fit, _ = fitted
    write_model(fit.model, str(tmp_path / "model"), fit.metadata(SMALL_CONFIG))
    planted["transactions"].drop(C.CHANNEL).write.parquet(str(tmp_path / "new"))
    code = main(["score", "--model", str(tmp_path / "model"), "--input", str(tmp_path / "new"), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert "lacks column(s) channel" in err
    assert not (tmp_path / "out").exists()


def test_score_needs_customers_when_the_model_uses_demographics(planted, fitted, spark):
    fit, _ = fitted
    metadata = fit.metadata(SMALL_CONFIG)
    metadata["plan"] = dict(metadata["plan"], numeric_demographics=["age"])
    with pytest.raises(Exception, match="needs customer column"):
        score_personas(fit.model, metadata, planted["features"], planted["transactions"], None)


def test_k_max_above_the_number_of_customers_is_lowered_with_a_note(planted):
    # issue #21: a small shop's log no longer stops the run at personas; k_max is clamped
    few_df = planted["features"].orderBy(C.CUSTOMER_ID).limit(4)
    fit = fit_personas(few_df, planted["transactions"], None, PersonasConfig(k_min=2, k_max=10))
    assert "personas: k_max 10 lowered to 4, the number of customers with orders (k = 2..4)" in fit.notes
    assert fit.customers == 4 and 2 <= fit.chosen_k <= 4
    for df in fit.cached:
        df.unpersist()


def test_one_customer_skips_personas(planted):
    with pytest.raises(StageSkipped, match=r"^personas: 1 customer\(s\) with orders; clustering needs at least 2$"):
        fit_personas(planted["features"].orderBy(C.CUSTOMER_ID).limit(1), planted["transactions"], None, PersonasConfig(k_min=2, k_max=10))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"personas.k_min": 1}, "personas.k_min: 1 must be at least 2"),
        ({"personas.k_min": 5, "personas.k_max": 4}, "personas.k_max: 4 must be at least personas.k_min"),
        ({"personas.features": "log_orders,favourite_colour"}, "personas.features: unknown feature 'favourite_colour'"),
        ({"personas.algorithm": "dbscan"}, "personas.algorithm: 'dbscan' is not one of"),
        ({"personas.sweep_restarts": 0}, "personas.sweep_restarts: 0 must be between 1 and 20"),
        ({"personas.sweep_parallelism": 0}, "personas.sweep_parallelism: 0 must be between 1 and 16"),
        ({"personas.sweep_partitions": 0}, "personas.sweep_partitions: 0 must be at least 1"),
        ({"personas.sweep_max_iter": 0}, "personas.sweep_max_iter: 0 must be at least 1"),
        ({"personas.tol": 0.0}, r"personas.tol: 0.0 must be > 0 and < 1"),
    ],
)
def test_bad_config(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


GMM_LIMIT = "GaussianMixture with full covariances over ~20 dimensions and 30 customers per group: ARI 0.59 (a known limit, see README)"


@pytest.mark.parametrize(
    "algorithm",
    [
        # BisectingKMeans splits a cluster by moving its centre by 1e-4 x the centre's norm: with
        # mean-centred features the root centre is ~0 and it never split (one cluster) until the
        # scaler stopped centring.
        "bisecting",
        # GaussianMixture with full covariances over ~20 dimensions and 30 customers per group: ARI 0.59.
        pytest.param("gmm", marks=pytest.mark.xfail(strict=True, reason=GMM_LIMIT)),
    ],
)
def test_other_algorithms_recover_the_planted_groups(planted, algorithm):
    cfg = PersonasConfig(k_min=3, k_max=3, restarts=1, layout_partitions=2, algorithm=algorithm)
    fit = fit_personas(planted["features"], planted["transactions"], None, cfg)
    assert fit.chosen_k == 3
    assert adjusted_rand_index(contingency(fit.assignments_df, planted["truth"]))["ari"] == pytest.approx(1.0)
