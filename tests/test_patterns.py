"""Behavioural patterns on tiny hand-made orders (values checkable by hand) and on generated data."""

from __future__ import annotations

import datetime as dt
from itertools import combinations

import pandas as pd
import pytest
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior import patterns as P
from customer_behavior.config import PatternsConfig, load_config
from customer_behavior.errors import ConfigError

CFG = PatternsConfig(age_bands=[30, 50])


def _ts(day: str, hour: int) -> dt.datetime:
    return dt.datetime.fromisoformat(day) + dt.timedelta(hours=hour, minutes=7)


# 2024-01-06 is a Saturday, 2024-01-08 a Monday.
ROWS = [
    # id, customer, ts, category, amount, payment, channel, status
    ("t1", "c1", _ts("2024-01-06", 10), "books", 10.0, "card", "web", "completed"),
    ("t2", "c1", _ts("2024-01-08", 10), "toys", 30.0, "card", "web", "completed"),
    ("t3", "c1", _ts("2024-02-05", 20), "books", 20.0, "paypal", "app", "completed"),
    ("t4", "c2", _ts("2024-01-08", 10), "books", 40.0, "paypal", "app", "completed"),
    ("t5", "c2", _ts("2024-01-09", 11), "garden", 60.0, "card", "store", "completed"),
    ("t6", "c2", _ts("2024-01-20", 11), "garden", -60.0, "card", "store", "returned"),  # a return: not an order
    ("t7", "c3", _ts("2024-02-10", 9), "toys", 0.0, "card", "web", "cancelled"),  # cancelled: not an order
    ("t8", "c3", _ts("2024-02-12", 9), None, 50.0, None, "web", "completed"),  # null labels -> "unknown"
    ("t9", "c4", _ts("2024-03-04", 14), "toys", 25.0, "card", "web", "completed"),
]


@pytest.fixture(scope="module")
def tiny(spark):
    tx = spark.createDataFrame(
        [(i, c, ts, cat, 1, abs(a), 0.0, a, pay, ch, st) for i, c, ts, cat, a, pay, ch, st in ROWS], schema=C.TRANSACTIONS_SCHEMA
    )
    segments = spark.createDataFrame([("c1", "Champions"), ("c2", "Champions"), ("c3", "Lost"), ("c4", "At Risk")], [C.CUSTOMER_ID, C.SEGMENT])
    personas = spark.createDataFrame([("c1", "Readers"), ("c2", "Gardeners")], [C.CUSTOMER_ID, C.PERSONA_NAME])
    customers = spark.createDataFrame([("c1", 25), ("c2", 60), ("c3", None)], f"{C.CUSTOMER_ID} string, {C.AGE} int")
    groupings = P.Groupings(segments_df=segments, personas_df=personas, customers_df=customers)
    tables = {name: df.toPandas() for name, df in P.build_patterns(tx, groupings, CFG).items()}
    return {"tx": tx, "groupings": groupings, "tables": tables}


def test_day_hour_is_a_full_grid_of_completed_orders_only(tiny):
    df = tiny["tables"]["day_hour"]
    assert len(df) == 7 * 24
    assert df[C.ORDERS].sum() == 7  # 9 rows minus the return and the cancellation
    cell = df[(df[C.DAY_OF_WEEK] == 1) & (df[C.HOUR] == 10)].iloc[0]  # Monday 10:00: t2 and t4
    assert (cell[C.DAY_NAME], cell[C.ORDERS], cell[C.REVENUE]) == ("Mon", 2, 70.0)
    saturday = df[(df[C.DAY_OF_WEEK] == 6) & (df[C.HOUR] == 10)].iloc[0]
    assert (saturday[C.DAY_NAME], saturday[C.ORDERS]) == ("Sat", 1)


def test_weekend_weekday_shares_overall_and_per_group(tiny):
    df = tiny["tables"]["weekend_weekday"].set_index([C.GROUP_TYPE, C.GROUP, C.DAY_TYPE])
    # all: 1 weekend order (t1, Saturday) of 7
    assert df.loc[("all", "All customers", "weekend"), C.ORDER_SHARE] == pytest.approx(1 / 7, abs=1e-4)
    # Champions (c1, c2): t1 on a weekend of 5 orders; order value weekday = (30+20+40+60)/4
    assert df.loc[("segment", "Champions", "weekend"), C.ORDER_SHARE] == pytest.approx(0.2)
    assert df.loc[("segment", "Champions", "weekday"), C.ORDER_VALUE] == pytest.approx(37.5)
    assert df.loc[("persona", "Readers", "weekend"), C.ORDERS] == 1
    # c3's only order is on a Monday: Lost has no weekend row at all (absent, not a crash)
    assert ("segment", "Lost", "weekend") not in df.index


def test_category_lift_against_the_base(tiny):
    df = tiny["tables"]["categories"].set_index([C.GROUP_TYPE, C.GROUP, C.CATEGORY])
    total = 10 + 30 + 20 + 40 + 60 + 50 + 25
    books_base = (10 + 20 + 40) / total
    assert df.loc[("all", "All customers", "books"), C.REVENUE_SHARE] == pytest.approx(books_base, abs=1e-4)
    # Readers (c1): books 30 of 60
    assert df.loc[("persona", "Readers", "books"), C.REVENUE_SHARE] == pytest.approx(0.5)
    assert df.loc[("persona", "Readers", "books"), C.REVENUE_LIFT] == pytest.approx(0.5 / books_base, abs=2e-3)
    assert df.loc[("segment", "Champions", "books"), C.CUSTOMERS] == 2
    assert df.loc[("all", "All customers", "unknown"), C.ORDERS] == 1  # the null category
    # "garden" is bought by Champions only: no row for At Risk or Lost
    assert ("segment", "At Risk", "garden") not in df.index
    assert df.loc[("segment", "Champions", "garden"), C.ORDER_VALUE] == 60.0  # the return is not subtracted here


def test_payment_mix_by_age_band_and_channel(tiny):
    df = tiny["tables"]["payments"]
    bands = set(df.loc[df[C.GROUP_TYPE] == "age_band", C.GROUP])
    # c1 is 25 (<30), c2 is 60 (50+), c3 has no age ("unknown"), c4 is not in the customers table (left out)
    assert bands == {"<30", "50+", "unknown"}
    channel = df[(df[C.GROUP_TYPE] == "channel") & (df[C.GROUP] == "web")].set_index(C.PAYMENT_METHOD)
    assert channel.loc["card", C.ORDERS] == 3 and channel.loc["unknown", C.ORDERS] == 1
    assert channel[C.ORDER_SHARE].sum() == pytest.approx(1.0)


def test_age_band_labels(spark):
    df = spark.createDataFrame([(None,), (17,), (30,), (49,), (50,), (90,)], f"{C.AGE} int")
    labels = [r[0] for r in df.select(P.age_band(F.col(C.AGE), [30, 50])).collect()]
    assert labels == ["unknown", "<30", "30-49", "30-49", "50+", "50+"]


def test_monthly_trend_and_peak(tiny):
    df = tiny["tables"]["monthly"].sort_values(C.MONTH).reset_index(drop=True)
    assert [str(m) for m in df[C.MONTH]] == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert df[C.REVENUE].tolist() == [140.0, 70.0, 25.0]
    assert df[C.ACTIVE_CUSTOMERS].tolist() == [2, 2, 1]
    assert df[C.NEW_CUSTOMERS].tolist() == [2, 1, 1]
    assert df[C.IS_PEAK].tolist() == [True, False, False]


def test_cohort_retention_matrix(tiny):
    df = tiny["tables"]["cohorts"].set_index([C.COHORT_MONTH, C.MONTHS_SINCE])
    january = dt.date(2024, 1, 1)
    assert df.loc[(january, 0), C.COHORT_SIZE] == 2
    assert df.loc[(january, 0), C.RETENTION] == 1.0
    assert df.loc[(january, 1), C.RETENTION] == 0.5  # c1 came back in February, c2 did not
    assert (january, 2) not in df.index


def _python_rules(baskets: list[set[str]], min_support: float, min_confidence: float) -> dict[tuple, tuple]:
    """Single-antecedent rules computed by hand: {(a, b): (support, confidence, lift)}."""
    n = len(baskets)
    items = sorted(set().union(*baskets))
    support = {frozenset([i]): sum(i in b for b in baskets) / n for i in items}
    rules = {}
    for a, b in combinations(items, 2):
        both = sum(a in x and b in x for x in baskets) / n
        if both < min_support:
            continue
        for x, y in ((a, b), (b, a)):
            confidence = both / support[frozenset([x])]
            if confidence >= min_confidence:
                rules[(x, y)] = (round(both, 4), round(confidence, 4), round(confidence / support[frozenset([y])], 3))
    return rules


def test_affinities_match_a_hand_computation(spark):
    baskets = [{"a", "b"}, {"a", "b"}, {"a", "c"}, {"b"}, {"c"}, {"a", "b", "c"}]
    df = spark.createDataFrame([(sorted(b),) for b in baskets], f"{C.ITEMS} array<string>")
    got = P.category_affinities(df, PatternsConfig(min_support=0.3, min_confidence=0.5)).toPandas()
    single = {(tuple(r[C.ANTECEDENT])[0], r[C.CONSEQUENT]): (r[C.SUPPORT], r[C.CONFIDENCE], r[C.LIFT]) for r in got.to_dict("records") if len(r[C.ANTECEDENT]) == 1}
    assert single == _python_rules(baskets, 0.3, 0.5)
    assert got[C.LIFT].tolist() == sorted(got[C.LIFT].tolist(), reverse=True)


def test_month_baskets_hold_a_customers_categories_per_month(tiny):
    orders_df = P.filter_purchase_lines(tiny["tx"]).transform(P.aggregate_orders)
    month = sorted(tuple(r[C.ITEMS]) for r in P.baskets(orders_df, "month").collect())
    # c1 Jan {books, toys}, c1 Feb {books}, c2 Jan {books, garden}, c3 Feb {unknown}, c4 Mar {toys}
    assert month == [("books",), ("books", "garden"), ("books", "toys"), ("toys",), ("unknown",)]
    assert len(P.baskets(orders_df, "customer").collect()) == 4
    assert len(P.baskets(orders_df, "day").collect()) == 7
    assert len(P.baskets(orders_df, "order").collect()) == 7  # one line per order here


def test_patterns_count_orders_not_lines(spark):
    """One order of three lines (two categories, a free line) and a second order: 2 orders."""
    rows = [
        ("o1", "c1", _ts("2024-01-06", 10), "books", 10.0, "completed"),
        ("o1", "c1", _ts("2024-01-06", 10), "toys", 5.0, "completed"),
        ("o1", "c1", _ts("2024-01-06", 10), "books", 0.0, "completed"),  # free: still part of the order
        ("o2", "c1", _ts("2024-01-08", 10), "toys", 20.0, "completed"),
        ("o3", "c2", _ts("2024-01-08", 11), "toys", 0.0, "cancelled"),
    ]
    tx = spark.createDataFrame([(i, c, ts, cat, 1, a, 0.0, a, "card", "web", st) for i, c, ts, cat, a, st in rows], schema=C.TRANSACTIONS_SCHEMA)
    tables = {name: df.toPandas() for name, df in P.build_patterns(tx, P.Groupings(), CFG).items()}
    assert tables["day_hour"][C.ORDERS].sum() == 2
    saturday = tables["day_hour"][(tables["day_hour"][C.DAY_OF_WEEK] == 6) & (tables["day_hour"][C.HOUR] == 10)].iloc[0]
    assert (saturday[C.ORDERS], saturday[C.REVENUE]) == (1, 15.0)
    categories = tables["categories"].set_index(C.CATEGORY)
    # an order counts once under each of its categories; revenue is the lines' spend
    assert categories.loc["books", [C.ORDERS, C.REVENUE]].tolist() == [1, 10.0]
    assert categories.loc["toys", [C.ORDERS, C.REVENUE]].tolist() == [2, 25.0]
    weekend = tables["weekend_weekday"].set_index(C.DAY_TYPE)
    assert (weekend.loc["weekend", C.ORDERS], weekend.loc["weekend", C.ORDER_VALUE]) == (1, 15.0)
    assert tables["monthly"][C.ORDERS].tolist() == [2]
    orders_df = P.labelled_orders(tx, P.Groupings(), CFG)
    assert sorted(tuple(r[C.ITEMS]) for r in P.baskets(orders_df, "order").collect()) == [("books", "toys"), ("toys",)]


def test_patterns_without_segments_or_personas_keep_the_overall_rows(tiny):
    tables = P.build_patterns(tiny["tx"], P.Groupings(), CFG)
    weekend = tables["weekend_weekday"].toPandas()
    assert set(weekend[C.GROUP_TYPE]) == {"all"}
    payments = tables["payments"].toPandas()
    assert set(payments[C.GROUP_TYPE]) == {"all", "channel"}


def test_category_mix_matches_pandas_on_generated_data(spark, synthetic_small):
    """Per-persona revenue and lift against an independent pandas computation over the same rows."""
    truth = synthetic_small["truth"]
    groupings = P.Groupings(personas_df=truth.select(C.CUSTOMER_ID, F.col(C.PERSONA).alias(C.PERSONA_NAME)))
    got = P.category_mix(P.labelled_orders(synthetic_small["transactions"], groupings, CFG), groupings, CFG).toPandas()
    tx = synthetic_small["transactions"].select(C.CUSTOMER_ID, C.CATEGORY, C.AMOUNT, C.STATUS).toPandas()
    persona = truth.select(C.CUSTOMER_ID, C.PERSONA).toPandas()
    orders = tx[(tx[C.STATUS] == "completed") & (tx[C.AMOUNT] > 0)].merge(persona, on=C.CUSTOMER_ID)
    base = orders.groupby(C.CATEGORY)[C.AMOUNT].sum() / orders[C.AMOUNT].sum()
    per = orders.groupby([C.PERSONA, C.CATEGORY])[C.AMOUNT].sum()
    share = per / per.groupby(level=0).transform("sum")
    expected = pd.DataFrame({"revenue": per.round(2), "lift": (share / base.reindex(share.index.get_level_values(1)).values).round(3)})
    mine = got[got[C.GROUP_TYPE] == "persona"].set_index([C.GROUP, C.CATEGORY]).sort_index()
    expected = expected.sort_index()
    assert len(mine) == len(expected) == 7 * 8
    assert mine[C.REVENUE].values == pytest.approx(expected["revenue"].values, abs=0.02)
    assert mine[C.REVENUE_LIFT].values == pytest.approx(expected["lift"].values, abs=2e-3)
    # the planted truth: tech enthusiasts over-index on electronics
    assert mine.loc[("tech_enthusiast", "electronics"), C.REVENUE_LIFT] > 2


def test_patterns_config_is_validated():
    with pytest.raises(ConfigError, match="patterns.basket"):
        load_config(None, {"patterns.basket": "order"})
    with pytest.raises(ConfigError, match="patterns.age_bands"):
        load_config(None, {"patterns.age_bands": [40, 30]})
    with pytest.raises(ConfigError, match="patterns.min_support"):
        load_config(None, {"patterns.min_support": 0})
