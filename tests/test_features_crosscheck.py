"""Spark features against an independent pandas implementation and against lifetimes,
on the 5,000 generated customers of the `synthetic_small` fixture."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from customer_behavior import columns as C
from customer_behavior.features import FeatureDomain, customer_features, event_day_bounds, resolve_as_of


@pytest.fixture(scope="module", params=["counts", "arrays"])
def world(synthetic_small, request):
    """Both aggregation paths: per-value counts with the bounds query's domain (the
    pipeline's) and the order-line arrays (no domain, or too many values)."""
    transactions_df = synthetic_small["transactions"]
    bounds = transactions_df.transform(event_day_bounds).first()
    domain = FeatureDomain.from_bounds(bounds) if request.param == "counts" else None
    assert domain is None or domain.is_small
    # an as-of inside the data, so the window filter is exercised too
    as_of = resolve_as_of(bounds["last_day"] - dt.timedelta(days=30), bounds["first_day"], bounds["last_day"])
    spark_pdf = customer_features(transactions_df, as_of=as_of, domain=domain).toPandas().set_index(C.CUSTOMER_ID).sort_index()
    tx = transactions_df.toPandas()
    tx["day"] = tx[C.EVENT_TS].dt.tz_localize(None).dt.normalize() if tx[C.EVENT_TS].dt.tz is not None else tx[C.EVENT_TS].dt.normalize()
    return {"as_of": as_of, "spark": spark_pdf, "tx": tx}


def _mode(orders: pd.DataFrame, column: str) -> pd.Series:
    counts = orders.dropna(subset=[column]).groupby([C.CUSTOMER_ID, column]).size().rename("n").reset_index()
    counts = counts.sort_values([C.CUSTOMER_ID, "n", column], ascending=[True, False, True])
    return counts.drop_duplicates(C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)[column]


def pandas_features(tx: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """The definitions of docs/definitions.md, written out again in plain pandas."""
    end = pd.Timestamp(as_of)
    tx = tx[tx["day"] < end]
    lines = tx[(tx[C.STATUS] == "completed") & (tx[C.AMOUNT] >= 0)].copy()  # purchase lines, free items included
    returns = tx[tx[C.STATUS] == "returned"]
    # one row per order (customer, day, id): the sum of its lines
    lines["is_discounted"] = lines[C.DISCOUNT] > 0
    orders = lines.groupby([C.CUSTOMER_ID, "day", C.TRANSACTION_ID], as_index=False).agg(
        items=(C.QUANTITY, "sum"), has_quantity=(C.QUANTITY, "count"), is_discounted=("is_discounted", "any")
    )
    g = lines.groupby(C.CUSTOMER_ID)
    per_order = orders.groupby(C.CUSTOMER_ID)
    out = pd.DataFrame({C.ORDERS: per_order.size()})
    returned = returns.groupby(C.CUSTOMER_ID)[C.AMOUNT].sum().reindex(out.index, fill_value=0.0)
    out[C.MONETARY] = g[C.AMOUNT].sum() + returned
    first, last = g["day"].min(), g["day"].max()
    out[C.RECENCY_DAYS] = (end - last).dt.days
    out[C.TENURE_DAYS] = (end - first).dt.days
    out[C.FIRST_PURCHASE_DATE] = first.dt.date
    out[C.LAST_PURCHASE_DATE] = last.dt.date
    out[C.AVG_ORDER_VALUE] = out[C.MONETARY] / out[C.ORDERS]
    out[C.AVG_DAYS_BETWEEN_ORDERS] = ((last - first).dt.days / (out[C.ORDERS] - 1)).where(out[C.ORDERS] > 1)
    lines["month"] = lines["day"].dt.to_period("M")
    out[C.ACTIVE_MONTHS] = lines.groupby(C.CUSTOMER_ID)["month"].nunique()
    out[C.DISTINCT_CATEGORIES] = g[C.CATEGORY].nunique()
    out[C.FAVOURITE_CATEGORY] = _mode(lines, C.CATEGORY)
    out[C.PREFERRED_PAYMENT_METHOD] = _mode(lines, C.PAYMENT_METHOD)
    out[C.PREFERRED_CHANNEL] = _mode(lines, C.CHANNEL)
    orders["is_weekend"] = orders["day"].dt.dayofweek >= 5
    out[C.WEEKEND_SHARE] = orders.groupby(C.CUSTOMER_ID)["is_weekend"].mean()
    out[C.DISCOUNT_SHARE] = orders.groupby(C.CUSTOMER_ID)["is_discounted"].mean()
    out[C.RETURNS] = returns.groupby(C.CUSTOMER_ID)[C.TRANSACTION_ID].nunique().reindex(out.index, fill_value=0)
    out[C.RETURN_RATE] = out[C.RETURNS] / out[C.ORDERS]
    with_quantity = orders[orders["has_quantity"] > 0].groupby(C.CUSTOMER_ID)
    out[C.AVG_BASKET_SIZE] = with_quantity["items"].sum() / with_quantity.size()
    orders = lines  # the BTYD summary is by day over the purchase lines
    # BTYD by hand: spend per purchase day, the first day left out of the mean
    days = orders.groupby([C.CUSTOMER_ID, "day"])[C.AMOUNT].sum().rename("spend").reset_index()
    days["is_first"] = days.groupby(C.CUSTOMER_ID)["day"].transform("min") == days["day"]
    out[C.BTYD_FREQUENCY] = days.groupby(C.CUSTOMER_ID).size() - 1.0
    out[C.BTYD_RECENCY] = (last - first).dt.days.astype(float)
    out[C.BTYD_T] = (end - pd.Timedelta(days=1) - first).dt.days.astype(float)
    out[C.BTYD_MONETARY_VALUE] = days[~days["is_first"]].groupby(C.CUSTOMER_ID)["spend"].mean().reindex(out.index).fillna(0.0)
    return out.sort_index()


EXACT = [
    C.ORDERS, C.RETURNS, C.RECENCY_DAYS, C.TENURE_DAYS, C.ACTIVE_MONTHS, C.DISTINCT_CATEGORIES,
    C.FIRST_PURCHASE_DATE, C.LAST_PURCHASE_DATE, C.FAVOURITE_CATEGORY, C.PREFERRED_PAYMENT_METHOD,
    C.PREFERRED_CHANNEL, C.BTYD_FREQUENCY, C.BTYD_RECENCY, C.BTYD_T,
]
FLOATS = [
    C.MONETARY, C.AVG_ORDER_VALUE, C.AVG_DAYS_BETWEEN_ORDERS, C.WEEKEND_SHARE, C.DISCOUNT_SHARE, C.RETURN_RATE,
    C.AVG_BASKET_SIZE, C.BTYD_MONETARY_VALUE,
]


def test_spark_features_equal_pandas_features(world):
    spark_pdf, expected = world["spark"], pandas_features(world["tx"], world["as_of"])
    assert len(expected) >= 4_500
    assert list(spark_pdf.index) == list(expected.index)
    assert (spark_pdf[C.AS_OF_DATE] == world["as_of"]).all()
    for column in EXACT:
        mismatched = (spark_pdf[column] != expected[column]).sum()
        assert mismatched == 0, f"{column}: {mismatched} customers differ"
    for column in FLOATS:
        got, want = spark_pdf[column].astype(float).to_numpy(), expected[column].astype(float).to_numpy()
        assert np.array_equal(np.isnan(got), np.isnan(want)), column
        ok = np.isnan(want) | (np.abs(got - want) <= 1e-9 * np.maximum(1.0, np.abs(want)))
        assert ok.all(), f"{column}: {(~ok).sum()} customers differ"
    # the data exercise the interesting cases
    assert (spark_pdf[C.ORDERS] == 1).sum() > 100
    assert (spark_pdf[C.RETURNS] > 0).sum() > 100
    assert (spark_pdf[C.ORDERS] > spark_pdf[C.BTYD_FREQUENCY] + 1).sum() > 0  # same-day repeats
    purchase_lines = world["tx"][(world["tx"][C.STATUS] == "completed") & (world["tx"]["day"] < pd.Timestamp(world["as_of"]))]
    assert len(purchase_lines) > 2 * spark_pdf[C.ORDERS].sum()  # line items: more lines than orders


def test_btyd_summary_equals_lifetimes(world):
    """Our as_of is exclusive: lifetimes' observation_period_end is the day before it."""
    from lifetimes.utils import summary_data_from_transaction_data

    tx, as_of = world["tx"], world["as_of"]
    # all order rows with their raw timestamps: lifetimes itself cuts at the observation end
    orders = tx[(tx[C.STATUS] == "completed") & (tx[C.AMOUNT] >= 0)][[C.CUSTOMER_ID, C.EVENT_TS, C.AMOUNT]]  # purchase lines
    assert (orders[C.EVENT_TS] >= pd.Timestamp(as_of)).any()
    expected = summary_data_from_transaction_data(
        orders, C.CUSTOMER_ID, C.EVENT_TS, monetary_value_col=C.AMOUNT,
        observation_period_end=pd.Timestamp(as_of - dt.timedelta(days=1)), freq="D",
    ).sort_index()
    got = world["spark"][[C.BTYD_FREQUENCY, C.BTYD_RECENCY, C.BTYD_T, C.BTYD_MONETARY_VALUE]]
    assert list(got.index) == list(expected.index)
    for column in (C.BTYD_FREQUENCY, C.BTYD_RECENCY, C.BTYD_T):
        assert (got[column].to_numpy() == expected[column].to_numpy()).all(), column
    np.testing.assert_allclose(got[C.BTYD_MONETARY_VALUE].to_numpy(), expected[C.BTYD_MONETARY_VALUE].to_numpy(), rtol=1e-12, atol=1e-9)
    assert (got[C.BTYD_FREQUENCY] > 0).mean() > 0.5
