"""Features on tiny hand-made transactions whose expected values can be checked by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from customer_behavior import columns as C
from customer_behavior.errors import InputError
from customer_behavior.features import MAX_PIVOT_VALUES, FeatureDomain, all_customer_features, customer_features, event_day_bounds, resolve_as_of

AS_OF = dt.date(2024, 2, 1)


def _ts(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day) + dt.timedelta(hours=hour)


def _row(tid, cid, day, amount, status="completed", category="books", quantity=1, discount=0.0, payment="card", channel="web", hour=12):
    unit = abs(amount) / abs(quantity) if quantity else 0.0
    return (tid, cid, _ts(day, hour) if day else None, category, quantity, unit, discount, amount, payment, channel, status)


ROWS = [
    # one-time buyer, Monday 2024-01-01 ... as_of 2024-02-01 -> recency 31
    _row("a1", "one_time", "2024-01-01", 40.0),
    # same-day repeat (Saturday 2024-01-06), then one more order on Wednesday 2024-01-10;
    # a cancellation before the first order must not become the "first purchase day"
    _row("b0", "same_day", "2024-01-04", 0.0, status="cancelled", category="zzz"),
    _row("b1", "same_day", "2024-01-06", 10.0, category="toys", quantity=2, discount=0.1, hour=9),
    _row("b2", "same_day", "2024-01-06", 30.0, category="books", quantity=4, hour=18),
    _row("b3", "same_day", "2024-01-10", 20.0, category="toys", quantity=3, payment="cash", channel="app"),
    # two orders and a return of the second one, plus a cancellation (not an order)
    _row("c1", "returner", "2023-12-15", 100.0, category="garden"),
    _row("c2", "returner", "2024-01-20", 50.0, category="books", channel="store"),
    _row("c3", "returner", "2024-01-25", -50.0, status="returned", category="books", quantity=-1, channel="store"),
    _row("c4", "returner", "2024-01-26", 0.0, status="cancelled"),
    # the only order came back
    _row("d1", "all_back", "2024-01-02", 25.0),
    _row("d2", "all_back", "2024-01-05", -25.0, status="returned", quantity=-1),
    # only a cancellation: not a customer with features
    _row("e1", "cancel_only", "2024-01-03", 0.0, status="cancelled"),
    # a null row: nullable descriptive columns are null; counted as an order, ignored by the modes
    ("f1", "nulls", _ts("2024-01-31"), None, None, None, None, 12.5, None, None, "completed"),
    # after as_of: outside the window
    _row("g1", "one_time", "2024-02-01", 999.0),
]


def _domain(df, path: str) -> FeatureDomain | None:
    """arrays: no domain (order-line arrays); counts: the domain of the bounds query;
    counts_old_base: the same values with a first day years back, so the months of the
    data fall in the second 63-bit word of the month bit sets."""
    if path == "arrays":
        return None
    domain = FeatureDomain.from_bounds(df.transform(event_day_bounds).first())
    if path == "counts_old_base":
        return FeatureDomain(first_day=dt.date(2018, 6, 1), values=domain.values)
    return domain


@pytest.fixture(scope="module", params=["arrays", "counts", "counts_old_base"])
def features(spark, request):
    df = spark.createDataFrame(ROWS, schema=C.TRANSACTIONS_SCHEMA)
    domain = _domain(df, request.param)
    assert (domain is None) == (request.param == "arrays")
    rows = customer_features(df, as_of=AS_OF, domain=domain).collect()
    return {r[C.CUSTOMER_ID]: r.asDict() for r in rows}


def test_only_customers_with_an_order(features):
    assert sorted(features) == ["all_back", "nulls", "one_time", "returner", "same_day"]


def test_one_time_buyer(features):
    f = features["one_time"]
    assert (f[C.ORDERS], f[C.MONETARY], f[C.RECENCY_DAYS], f[C.TENURE_DAYS]) == (1, 40.0, 31, 31)
    assert f[C.AVG_DAYS_BETWEEN_ORDERS] is None
    assert (f[C.BTYD_FREQUENCY], f[C.BTYD_RECENCY], f[C.BTYD_T], f[C.BTYD_MONETARY_VALUE]) == (0.0, 0.0, 30.0, 0.0)
    assert f[C.FIRST_PURCHASE_DATE] == f[C.LAST_PURCHASE_DATE] == dt.date(2024, 1, 1)
    assert f[C.AS_OF_DATE] == AS_OF


def test_same_day_repeat(features):
    f = features["same_day"]
    assert (f[C.ORDERS], f[C.MONETARY], f[C.AVG_ORDER_VALUE]) == (3, 60.0, 20.0)
    assert (f[C.RECENCY_DAYS], f[C.TENURE_DAYS], f[C.AVG_DAYS_BETWEEN_ORDERS]) == (22, 26, 2.0)
    # two purchase days: one repeat day (2024-01-10, spend 20); the same-day order is not a repeat
    assert (f[C.BTYD_FREQUENCY], f[C.BTYD_RECENCY], f[C.BTYD_T], f[C.BTYD_MONETARY_VALUE]) == (1.0, 4.0, 25.0, 20.0)
    assert f[C.FAVOURITE_CATEGORY] == "toys"
    assert f[C.PREFERRED_PAYMENT_METHOD] == "card"
    assert f[C.PREFERRED_CHANNEL] == "web"
    assert f[C.WEEKEND_SHARE] == pytest.approx(2 / 3)
    assert f[C.DISCOUNT_SHARE] == pytest.approx(1 / 3)
    assert f[C.AVG_BASKET_SIZE] == 3.0
    assert (f[C.DISTINCT_CATEGORIES], f[C.ACTIVE_MONTHS], f[C.RETURNS], f[C.RETURN_RATE]) == (2, 1, 0, 0.0)


def test_return_nets_against_spend_and_cancellation_is_ignored(features):
    f = features["returner"]
    assert (f[C.ORDERS], f[C.RETURNS], f[C.MONETARY], f[C.RETURN_RATE]) == (2, 1, 100.0, 0.5)
    assert f[C.LAST_PURCHASE_DATE] == dt.date(2024, 1, 20)
    assert f[C.ACTIVE_MONTHS] == 2
    # tie garden/books (one order each) goes to the alphabetically first
    assert f[C.FAVOURITE_CATEGORY] == "books"
    assert f[C.PREFERRED_CHANNEL] == "store"
    # BTYD is over purchases only: the repeat day spent 50, the return does not enter
    assert (f[C.BTYD_FREQUENCY], f[C.BTYD_RECENCY], f[C.BTYD_MONETARY_VALUE]) == (1.0, 36.0, 50.0)


def test_only_order_returned(features):
    f = features["all_back"]
    assert (f[C.ORDERS], f[C.MONETARY], f[C.RETURN_RATE], f[C.AVG_ORDER_VALUE]) == (1, 0.0, 1.0, 0.0)


def test_null_descriptive_columns(features):
    f = features["nulls"]
    assert (f[C.ORDERS], f[C.MONETARY], f[C.RECENCY_DAYS]) == (1, 12.5, 1)
    assert f[C.FAVOURITE_CATEGORY] is None and f[C.PREFERRED_CHANNEL] is None
    assert (f[C.DISTINCT_CATEGORIES], f[C.DISCOUNT_SHARE]) == (0, 0.0)
    assert f[C.AVG_BASKET_SIZE] is None


@pytest.mark.parametrize("path", ["arrays", "counts"])
def test_cancel_only_customer_has_no_orders(spark, path):
    df = spark.createDataFrame(ROWS, schema=C.TRANSACTIONS_SCHEMA)
    rows = all_customer_features(df, as_of=AS_OF, domain=_domain(df, path)).filter(f"{C.ORDERS} = 0").collect()
    assert [(r[C.CUSTOMER_ID], r[C.BTYD_FREQUENCY], r[C.ACTIVE_MONTHS], r[C.FAVOURITE_CATEGORY]) for r in rows] == [("cancel_only", -1.0, 0, None)]


def test_domain_from_bounds_falls_back_when_a_column_has_too_many_values():
    many = [f"v{i:03d}" for i in range(MAX_PIVOT_VALUES + 1)]
    bounds = {"first_day": dt.date(2024, 1, 1), C.CATEGORY: many, C.PAYMENT_METHOD: ["card", "cash"], C.CHANNEL: []}
    domain = FeatureDomain.from_bounds(bounds)
    assert domain.values == {C.CATEGORY: None, C.PAYMENT_METHOD: ("card", "cash"), C.CHANNEL: ()}
    assert not domain.is_small
    assert FeatureDomain.from_bounds({**bounds, C.CATEGORY: many[:MAX_PIVOT_VALUES]}).is_small


def test_value_outside_the_domain_stops_the_job(spark):
    df = spark.createDataFrame(ROWS, schema=C.TRANSACTIONS_SCHEMA)
    domain = FeatureDomain(first_day=dt.date(2023, 12, 1), values={C.CATEGORY: ("books",), C.PAYMENT_METHOD: ("card", "cash"), C.CHANNEL: ("app", "store", "web")})
    with pytest.raises(Exception, match="category value not in the domain"):
        customer_features(df, as_of=AS_OF, domain=domain).collect()


def test_as_of_defaults_to_day_after_last_event():
    assert resolve_as_of(None, dt.date(2024, 1, 1), dt.date(2024, 3, 4)) == dt.date(2024, 3, 5)


def test_as_of_before_first_transaction_is_an_error():
    with pytest.raises(InputError, match=r"features.as_of: 2023-12-31 is not after the first transaction \(2024-01-01\)"):
        resolve_as_of(dt.date(2023, 12, 31), dt.date(2024, 1, 1), dt.date(2024, 3, 4))
    with pytest.raises(InputError, match="features.as_of"):
        resolve_as_of(dt.date(2024, 1, 1), dt.date(2024, 1, 1), dt.date(2024, 3, 4))


def test_micros_equal_the_decimal_rounding(spark):
    """The shortcut of `micros` against the DECIMAL(18,6) cast, on values near the edges."""
    from pyspark.sql import functions as F

    from customer_behavior.features import micros, money

    values = [0.0, 12.34, -50.55, 0.1 + 0.2, 1e-7, 4.9999995e-7, 5e-7, -5e-7, 2.0000005, 123456.7890125, 999999999.999999, 1e9 + 0.5, 5e11 + 0.123]
    df = spark.createDataFrame([(v,) for v in values], "amount double")
    rows = df.select(micros(F.col("amount")).alias("fast"), (money(F.col("amount")) * F.lit(1_000_000)).cast("long").alias("exact")).collect()
    assert [r["fast"] for r in rows] == [r["exact"] for r in rows]
    assert rows[1]["fast"] == 12_340_000 and rows[6]["exact"] == 1
