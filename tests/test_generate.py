"""The synthetic generator: determinism, schemas, integrity, and the planted truth."""

from __future__ import annotations

import math

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual, assertSchemaEqual

from customer_behavior import columns as C
from customer_behavior.config import GenerateConfig
from customer_behavior.generate import generate, spec
from customer_behavior.generate.engine import customer_base, window_days

PLANTED_CUSTOMERS = 21_000
# seed 42, the first order (99.54 with one line): three lines summing to 99.53 (each rounded to cents)
PINNED_FIRST_ORDER = [("grocery", 3, 26.93), ("grocery", 4, 37.68), ("toys_kids", 6, 34.92)]


@pytest.fixture(scope="module")
def planted(spark, tmp_path_factory):
    """21,000 customers (seed 11), orders joined to their planted persona, summarised per persona."""
    cfg = GenerateConfig(customers=PLANTED_CUSTOMERS, seed=11)
    root = tmp_path_factory.mktemp("planted")
    data = generate(spark, cfg)
    data.transactions_df.write.parquet(str(root / "transactions"))
    data.truth_df.write.parquet(str(root / "truth"))
    data.customers_df.write.parquet(str(root / "customers"))
    transactions = spark.read.parquet(str(root / "transactions"))
    truth = spark.read.parquet(str(root / "truth"))
    orders = transactions.filter(F.col(C.STATUS) != C.STATUS_RETURNED).join(truth.select(C.CUSTOMER_ID, C.PERSONA), on=C.CUSTOMER_ID, how="inner")
    return {"cfg": cfg, "transactions": transactions, "truth": truth, "customers": spark.read.parquet(str(root / "customers")), "orders": orders}


def test_same_seed_same_tables_on_2_and_7_partitions(spark):
    cfg = GenerateConfig(customers=1_500, seed=3)
    two = generate(spark, cfg, partitions=2)
    seven = generate(spark, cfg, partitions=7)
    assert seven.transactions_df.rdd.getNumPartitions() != two.transactions_df.rdd.getNumPartitions()
    assertDataFrameEqual(two.transactions_df, seven.transactions_df, rtol=0, atol=0)
    assertDataFrameEqual(two.customers_df, seven.customers_df)
    assertDataFrameEqual(two.truth_df, seven.truth_df, rtol=0, atol=0)


def test_another_seed_gives_different_data(spark):
    first = generate(spark, GenerateConfig(customers=500, seed=1)).truth_df.select(C.PERSONA, C.PURCHASE_RATE)
    second = generate(spark, GenerateConfig(customers=500, seed=2)).truth_df.select(C.PERSONA, C.PURCHASE_RATE)
    assert first.exceptAll(second).count() > 450


def test_pinned_values_do_not_drift(spark):
    """Exact values for seed 42 with one line per order (the shape before line items): a
    refactor that changes the generated data fails here."""
    data = generate(spark, GenerateConfig(customers=3, seed=42, lines_per_order=1))
    truth = {r[C.CUSTOMER_ID]: r for r in data.truth_df.collect()}
    assert [truth[k][C.PERSONA] for k in sorted(truth)] == ["family_shopper", "family_shopper", "bargain_hunter"]
    first = data.transactions_df.orderBy(C.TRANSACTION_ID).first()
    assert first[C.TRANSACTION_ID] == "T000000000-00000"
    assert first[C.CATEGORY] == "grocery"
    assert first[C.AMOUNT] == pytest.approx(99.54)
    assert str(first[C.EVENT_TS]) == "2023-03-30 10:24:42"


def test_pinned_lines_of_the_first_order(spark):
    """The default (about 2.5 lines per order): the first order's lines, pinned. The first
    line keeps the order's category and quantity; the lines share id, time and discount."""
    data = generate(spark, GenerateConfig(customers=3, seed=42))
    lines = data.transactions_df.filter(F.col(C.TRANSACTION_ID) == "T000000000-00000").collect()
    assert len({(r[C.EVENT_TS], r[C.DISCOUNT], r[C.PAYMENT_METHOD], r[C.CHANNEL]) for r in lines}) == 1
    assert sorted((r[C.CATEGORY], r[C.QUANTITY], r[C.AMOUNT]) for r in lines) == PINNED_FIRST_ORDER


def test_lines_per_order_multiply_rows_not_orders(spark):
    one = generate(spark, GenerateConfig(customers=2_000, seed=9, lines_per_order=1)).transactions_df
    many = generate(spark, GenerateConfig(customers=2_000, seed=9)).transactions_df
    orders = lambda df: df.select(C.TRANSACTION_ID).distinct().count()  # noqa: E731
    assert orders(many) == orders(one)  # the same orders (and refunds) ...
    assert many.count() / one.count() == pytest.approx(2.5, rel=0.05)  # ... of about 2.5 lines each
    # the order values keep their planted distribution: the mean value of a completed order
    value = lambda df: df.filter(F.col(C.STATUS) == C.STATUS_COMPLETED).groupBy(C.TRANSACTION_ID).agg(F.sum(C.AMOUNT).alias("v")).agg(F.avg("v")).first()[0]  # noqa: E731
    assert value(many) == pytest.approx(value(one), rel=0.01)


def test_schemas_match_the_canonical_tables(synthetic_small):
    assertSchemaEqual(synthetic_small["transactions"].schema, C.TRANSACTIONS_SCHEMA)
    assertSchemaEqual(synthetic_small["customers"].schema, C.CUSTOMERS_SCHEMA)
    assertSchemaEqual(synthetic_small["truth"].schema, C.TRUTH_SCHEMA)


def test_referential_integrity_and_unique_ids(synthetic_small):
    transactions, customers = synthetic_small["transactions"], synthetic_small["customers"]
    orphans = transactions.join(customers, on=C.CUSTOMER_ID, how="left_anti").count()
    # an id is one order of one customer (its lines share it)
    stats = transactions.agg(F.countDistinct(C.TRANSACTION_ID).alias("ids"), F.countDistinct(C.TRANSACTION_ID, C.CUSTOMER_ID).alias("orders")).first()
    assert orphans == 0
    assert stats["orders"] == stats["ids"]
    # no order holds two identical lines: with ids, ingest would quarantine the copy as a double export
    assert transactions.count() == transactions.distinct().count()
    assert customers.count() == 5_000 == customers.select(C.CUSTOMER_ID).distinct().count()


def test_values_are_in_range(synthetic_small):
    t = synthetic_small["transactions"]
    bad = t.filter(
        (F.col(C.EVENT_TS) < F.lit("2023-01-01").cast("timestamp"))
        | (F.col(C.EVENT_TS) >= F.lit("2025-01-01").cast("timestamp"))
        | ~F.col(C.STATUS).isin(*C.STATUSES)
        | ~F.col(C.CHANNEL).isin(*spec.CHANNELS)
        | (F.col(C.DISCOUNT) < 0) | (F.col(C.DISCOUNT) > 0.3)
        | ((F.col(C.STATUS) == C.STATUS_COMPLETED) & (F.col(C.AMOUNT) <= 0))
        | ((F.col(C.STATUS) == C.STATUS_RETURNED) & ((F.col(C.AMOUNT) >= 0) | (F.col(C.QUANTITY) >= 0)))
        | ((F.col(C.STATUS) == C.STATUS_CANCELLED) & (F.col(C.AMOUNT) != 0))
    )
    assert bad.count() == 0


def test_every_return_follows_its_purchase(synthetic_small):
    t = synthetic_small["transactions"]
    # per order: every line is refunded (same total, negated) after the purchase
    refunds = (
        t.filter(F.col(C.STATUS) == C.STATUS_RETURNED)
        .groupBy(F.regexp_replace(C.TRANSACTION_ID, "-R$", "").alias(C.TRANSACTION_ID))
        .agg(F.min(C.EVENT_TS).alias("refund_ts"), F.round(F.sum(C.AMOUNT), 2).alias("refund"), F.count("*").alias("refund_lines"))
    )
    orders = t.groupBy(C.TRANSACTION_ID).agg(F.max(C.EVENT_TS).alias(C.EVENT_TS), F.round(F.sum(C.AMOUNT), 2).alias(C.AMOUNT), F.count("*").alias("lines"))
    joined = refunds.join(orders, on=C.TRANSACTION_ID, how="left")
    assert joined.filter(F.col("refund_lines") != F.col("lines")).count() == 0
    assert joined.filter(F.col(C.AMOUNT).isNull() | (F.col("refund_ts") <= F.col(C.EVENT_TS)) | (F.col("refund") != -F.col(C.AMOUNT))).count() == 0


def _per_persona(planted):
    n_days = window_days(planted["cfg"])
    # one row per order (the sum of its lines)
    orders = planted["orders"].groupBy(C.PERSONA, C.CUSTOMER_ID, C.TRANSACTION_ID, C.STATUS).agg(F.min(C.EVENT_TS).alias(C.EVENT_TS), F.sum(C.AMOUNT).alias(C.AMOUNT))
    stats = (
        orders.groupBy(C.PERSONA)
        .agg(
            F.countDistinct(C.CUSTOMER_ID).alias("buyers"),
            F.count("*").alias("orders"),
            F.avg(F.when(F.col(C.STATUS) == C.STATUS_COMPLETED, F.col(C.AMOUNT))).alias("aov"),
            F.avg(F.dayofweek(C.EVENT_TS).isin(1, 7).cast("double")).alias("weekend_share"),
        )
        .collect()
    )
    churn = {r[C.PERSONA]: r["churned"] for r in planted["truth"].groupBy(C.PERSONA).agg(F.avg(F.col(C.IS_CHURNED).cast("double")).alias("churned")).collect()}
    return n_days, {r[C.PERSONA]: r for r in stats}, churn


def test_each_persona_matches_its_configuration(planted):
    n_days, stats, churn = _per_persona(planted)
    assert set(stats) == set(spec.PERSONA_KEYS)
    for persona in spec.PERSONAS:
        s = stats[persona.key]
        expected_orders = spec.expected_orders_per_customer(persona, n_days)
        mean_discount = sum(l * w for l, w in zip(spec.DISCOUNT_LEVELS, spec.normalised(spec.DISCOUNT_LEVEL_WEIGHTS)))
        expected_aov = persona.mean_order_value * (1 - persona.discount_probability * mean_discount)
        expected_churn = 1 - (persona.lifetime_days_mean / n_days) * (1 - math.exp(-n_days / persona.lifetime_days_mean))
        assert s["orders"] / s["buyers"] == pytest.approx(expected_orders, rel=0.06), persona.key
        assert s["aov"] == pytest.approx(expected_aov, rel=0.06), persona.key
        assert s["weekend_share"] == pytest.approx(persona.weekend_share, abs=0.03), persona.key
        assert churn[persona.key] == pytest.approx(expected_churn, abs=0.03), persona.key


def test_persona_shares_match_weights(planted):
    shares = {r[C.PERSONA]: r["count"] / PLANTED_CUSTOMERS for r in planted["truth"].groupBy(C.PERSONA).count().collect()}
    for persona, weight in zip(spec.PERSONAS, spec.normalised(tuple(p.share for p in spec.PERSONAS))):
        assert shares[persona.key] == pytest.approx(weight, abs=0.01)


@pytest.mark.parametrize(
    ("column", "vocabulary", "weights_of"),
    [
        (C.CATEGORY, spec.CATEGORIES, lambda p: p.category_weights),
        (C.PAYMENT_METHOD, spec.PAYMENT_METHODS, lambda p: p.payment_weights),
        (C.CHANNEL, spec.CHANNELS, lambda p: p.channel_weights),
    ],
)
def test_category_payment_and_channel_frequencies_match_weights(planted, column, vocabulary, weights_of):
    counts = planted["orders"].groupBy(C.PERSONA, column).count().collect()
    totals: dict[str, int] = {}
    for r in counts:
        totals[r[C.PERSONA]] = totals.get(r[C.PERSONA], 0) + r["count"]
    observed = {(r[C.PERSONA], r[column]): r["count"] / totals[r[C.PERSONA]] for r in counts}
    for persona in spec.PERSONAS:
        expected = dict(zip(vocabulary, spec.normalised(weights_of(persona))))
        top = max(expected, key=expected.get)
        measured_top = max((v for v in vocabulary), key=lambda v: observed.get((persona.key, v), 0.0))
        assert measured_top == top, (persona.key, column)
        for value in vocabulary:
            assert observed.get((persona.key, value), 0.0) == pytest.approx(expected[value], abs=0.02), (persona.key, value)


def test_november_december_peak(planted):
    monthly = {r["m"]: r["n"] for r in planted["orders"].groupBy(F.month(C.EVENT_TS).alias("m")).agg(F.count("*").alias("n")).collect()}
    rest = sum(v for m, v in monthly.items() if m <= 10) / 10
    assert monthly[11] > 1.25 * rest
    assert monthly[12] > 1.35 * rest


def test_returns_discounts_and_demographics_at_planted_rates(planted):
    orders = planted["orders"]
    rates = {
        r[C.PERSONA]: r
        for r in orders.groupBy(C.PERSONA)
        .agg(
            F.avg((F.col(C.DISCOUNT) > 0).cast("double")).alias("discounted"),
            F.avg((F.col(C.STATUS) == C.STATUS_CANCELLED).cast("double")).alias("cancelled"),
        )
        .collect()
    }
    ages = {
        r[C.PERSONA]: r["age"]
        for r in planted["customers"].join(planted["truth"], on=C.CUSTOMER_ID, how="inner").groupBy(C.PERSONA).agg(F.avg(C.AGE).alias("age")).collect()
    }
    for persona in spec.PERSONAS:
        assert rates[persona.key]["discounted"] == pytest.approx(persona.discount_probability, abs=0.02)
        assert rates[persona.key]["cancelled"] == pytest.approx(persona.cancel_probability, abs=0.01)
        assert ages[persona.key] == pytest.approx(persona.age_mean, abs=1.0)


def test_rate_scale_and_target_transactions(spark):
    base = customer_base(spark, GenerateConfig(customers=4_000, seed=5)).agg(F.avg("candidate_orders")).first()[0]
    doubled = customer_base(spark, GenerateConfig(customers=4_000, seed=5, rate_scale=2.0)).agg(F.avg("candidate_orders")).first()[0]
    assert doubled == pytest.approx(2 * base, rel=0.05)
    target = 4_000 * 30
    # the target counts orders (and refunds): distinct ids, whatever the lines per order
    n = generate(spark, GenerateConfig(customers=4_000, seed=5, target_transactions=target)).transactions_df.select(C.TRANSACTION_ID).distinct().count()
    assert n == pytest.approx(target, rel=0.08)
