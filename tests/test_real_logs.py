"""Real-shaped transaction logs: orders made of lines, free items, repeated identical purchases.

The hand-made log below has every shape of issue 15: several lines per order, several orders
on one day, a free line inside an order, a customer whose only purchase was free, identical
lines without ids (ingest gives each its own derived id), a return and a cancellation. The
expected values are written out by hand, and the BTYD summary is compared with lifetimes'
`summary_data_from_transaction_data` itself and the orders with a DuckDB count of distinct
ids, both over the same rows.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest
from lifetimes.utils import summary_data_from_transaction_data

from customer_behavior import columns as C
from customer_behavior.clv import summary as clv_summary
from customer_behavior.features import FeatureDomain, customer_features, event_day_bounds

AS_OF = dt.date(2024, 2, 1)


def _ts(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2024, 1, day, hour, 0)


# id, customer, ts, category, quantity, unit price, discount, amount, status
# 2024-01-06 and 2024-01-13 are Saturdays, 2024-01-14 a Sunday.
LINES = [
    ("o1", "a", _ts(6, 10), "books", 2, 5.0, 0.0, 10.0, "completed"),  # order o1: three lines
    ("o1", "a", _ts(6, 10), "toys", 1, 5.0, 0.1, 5.0, "completed"),  # a discounted line
    ("o1", "a", _ts(6, 10), "books", 1, 0.0, 0.0, 0.0, "completed"),  # a free line inside an order
    ("o2", "a", _ts(6, 18), "garden", 1, 20.0, 0.0, 20.0, "completed"),  # second order on the same day
    ("o3", "a", _ts(15, 9), "books", 1, 7.0, 0.0, 7.0, "completed"),
    ("o3", "a", _ts(15, 9), "toys", 2, 4.0, 0.0, 8.0, "completed"),
    ("r1", "a", _ts(20, 9), "toys", -1, 5.0, 0.0, -5.0, "returned"),
    ("o9", "a", _ts(22, 9), "toys", 1, 5.0, 0.0, 0.0, "cancelled"),
    ("o4", "b", _ts(10, 12), "books", 1, 0.0, 0.0, 0.0, "completed"),  # b's only purchase was free
    ("Hc1", "c", _ts(8, 11), None, 1, 12.5, 0.0, 12.5, "completed"),  # identical lines, derived ids
    ("Hc1-7", "c", _ts(8, 11), None, 1, 12.5, 0.0, 12.5, "completed"),
    ("Hc2", "c", _ts(25, 10), None, 1, 3.0, 0.0, 3.0, "completed"),
    ("o5", "d", _ts(12, 9), "books", 1, 9.0, 0.0, 0.0, "cancelled"),  # d never purchased
    ("o6", "e", _ts(13, 10), "books", 1, 0.0, 0.0, 0.0, "completed"),  # free, Saturday
    ("o7", "e", _ts(14, 10), "books", 1, 4.0, 0.0, 4.0, "completed"),  # Sunday
    ("o8", "e", _ts(14, 15), "books", 1, 0.0, 0.0, 0.0, "completed"),  # free, Sunday, same day as o7
    ("o10", "e", _ts(20, 10), "books", 1, 0.0, 0.0, 0.0, "completed"),  # a repeat day with spend 0
]

# customer: orders, returns, monetary, avg_order_value, avg_basket_size, weekend_share, discount_share, (frequency, recency, T, monetary_value)
EXPECTED = {
    "a": (3, 1, 45.0, 15.0, 8 / 3, 2 / 3, 1 / 3, (1.0, 9.0, 25.0, 15.0)),
    "b": (1, 0, 0.0, 0.0, 1.0, 0.0, 0.0, (0.0, 0.0, 21.0, 0.0)),
    "c": (3, 0, 28.0, 28.0 / 3, 1.0, 0.0, 0.0, (1.0, 17.0, 23.0, 3.0)),
    "e": (4, 0, 4.0, 1.0, 1.0, 1.0, 0.0, (2.0, 7.0, 18.0, 2.0)),  # 2024-01-20 is a Saturday too
}


@pytest.fixture(scope="module")
def log(spark):
    rows = [(i, c, ts, cat, q, p, d, a, "card", "web", s) for i, c, ts, cat, q, p, d, a, s in LINES]
    return spark.createDataFrame(rows, schema=C.TRANSACTIONS_SCHEMA)


@pytest.fixture(scope="module")
def pandas_log():
    return pd.DataFrame(LINES, columns=[C.TRANSACTION_ID, C.CUSTOMER_ID, C.EVENT_TS, C.CATEGORY, C.QUANTITY, C.UNIT_PRICE, C.DISCOUNT, C.AMOUNT, C.STATUS])


def _features(log, *, with_domain: bool) -> pd.DataFrame:
    domain = FeatureDomain.from_bounds(log.transform(event_day_bounds).first()) if with_domain else None
    return customer_features(log, as_of=AS_OF, domain=domain).toPandas().set_index(C.CUSTOMER_ID).sort_index()


def _lifetimes(pandas_log: pd.DataFrame) -> pd.DataFrame:
    """lifetimes over the purchase lines: completed, amount >= 0 (free items included)."""
    purchases = pandas_log[(pandas_log[C.STATUS] == "completed") & (pandas_log[C.AMOUNT] >= 0)]
    return summary_data_from_transaction_data(
        purchases, C.CUSTOMER_ID, C.EVENT_TS, monetary_value_col=C.AMOUNT, freq="D", observation_period_end=pd.Timestamp(AS_OF - dt.timedelta(days=1))
    ).sort_index()


@pytest.mark.parametrize("with_domain", [True, False], ids=["count_path", "array_path"])
def test_features_of_a_real_shaped_log_by_hand(log, with_domain):
    got = _features(log, with_domain=with_domain)
    assert list(got.index) == sorted(EXPECTED)  # d (cancelled only) has no purchase
    for customer, (orders, returns, monetary, aov, basket, weekend, discount, btyd) in EXPECTED.items():
        row = got.loc[customer]
        assert (int(row[C.ORDERS]), int(row[C.RETURNS])) == (orders, returns), customer
        values = (row[C.MONETARY], row[C.AVG_ORDER_VALUE], row[C.AVG_BASKET_SIZE], row[C.WEEKEND_SHARE], row[C.DISCOUNT_SHARE])
        assert values == pytest.approx((monetary, aov, basket, weekend, discount), abs=1e-12), customer
        assert tuple(row[[C.BTYD_FREQUENCY, C.BTYD_RECENCY, C.BTYD_T, C.BTYD_MONETARY_VALUE]]) == pytest.approx(btyd, abs=1e-12), customer


@pytest.mark.parametrize("with_domain", [True, False], ids=["count_path", "array_path"])
def test_btyd_summary_equals_lifetimes_on_a_real_shaped_log(log, pandas_log, with_domain):
    expected = _lifetimes(pandas_log)
    got = _features(log, with_domain=with_domain)
    standalone = clv_summary.btyd_summary(log, as_of=AS_OF).toPandas().set_index(C.CUSTOMER_ID).sort_index()
    for table in (got, standalone):
        assert list(table.index) == list(expected.index)
        for column in ("frequency", "recency", "T", "monetary_value"):
            assert table[column].to_numpy() == pytest.approx(expected[column].to_numpy(), abs=1e-9), column


def test_orders_equal_a_duckdb_count_of_distinct_ids(log, pandas_log):
    lines = pandas_log  # noqa: F841 - read by DuckDB by name
    counted = duckdb.sql(
        "SELECT customer_id, count(DISTINCT transaction_id) AS orders, sum(amount) AS spend FROM lines "
        "WHERE status = 'completed' AND amount >= 0 GROUP BY customer_id ORDER BY customer_id"
    ).df().set_index(C.CUSTOMER_ID)
    got = _features(log, with_domain=True)
    assert got[C.ORDERS].astype(int).to_dict() == counted["orders"].astype(int).to_dict()
    assert got[C.ORDERS].sum() == 11  # 17 lines: 14 purchase lines in 11 orders, a return, two cancellations


# --------------------------------------------------------------------------- through ingest

# A whitespace-aligned log without transaction ids, one row per purchase, as exported by a
# shop system: identical lines are real repeated purchases (same customer, items and price on
# one day), free items have amount 0.00, one customer bought only a free item.
WHITESPACE_LOG = """\
customer   date         items  amount
00001      2024-01-05   2      19.98
00001      2024-01-05   2      19.98
00001      2024-01-05   1       0.00
00001      2024-01-19   1       7.50
00002      2024-01-07   1       0.00
00003      2024-01-08   3      30.00
00003      2024-01-08   3      30.00
00003      2024-01-08   3      30.00
00003      2024-01-21   1      -4.00
00004      2024-01-09   1       5.25
00004      2024-01-30   2      11.00
"""
WHITESPACE_MAPPING = """\
[columns]
customer_id = "customer"
event_ts = "date"
quantity = "items"
amount = "amount"

[timestamp]
formats = ["yyyy-MM-dd"]
"""


def _run(spark, tmp_path, name: str, stages, **input_kwargs) -> tuple[dict, object]:
    from customer_behavior.config import Config, InputConfig
    from customer_behavior.pipeline import execute

    staging = tmp_path / name
    staging.mkdir()
    cfg = Config(input=InputConfig(as_of="2025-01-01", max_bad_fraction=1.0, **input_kwargs))
    return execute(spark, cfg, staging, stages=stages, command="test"), staging


@pytest.fixture(scope="module")
def whitespace_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("whitespace_log")
    (root / "purchases.txt").write_text(WHITESPACE_LOG, encoding="utf-8")
    (root / "mapping.toml").write_text(WHITESPACE_MAPPING, encoding="utf-8")
    return root


def test_a_log_without_ids_keeps_identical_lines_and_equals_lifetimes(spark, tmp_path, whitespace_files):
    from customer_behavior.pipeline import stage_features, stage_ingest

    manifest, run = _run(spark, tmp_path, "run", [stage_ingest, stage_features], path=str(whitespace_files / "purchases.txt"), mapping=str(whitespace_files / "mapping.toml"))
    rows, ingest = manifest["rows"], manifest["results"]["ingest"]
    # 11 lines: all accepted, the 3 extra copies kept and counted, nothing quarantined
    assert (rows["transactions_read"], rows["transactions_accepted"], rows["transactions_quarantined"]) == (11, 11, 0)
    assert (ingest["identical_lines_kept"], rows["transactions_identical_lines_kept"]) == (3, 3)
    assert ingest["duplicates"] == {"policy": "auto", "identical_lines": "kept"}
    tx = spark.read.parquet(str(run / "data" / "transactions")).toPandas()
    assert tx[C.TRANSACTION_ID].nunique() == 11  # each line its own derived id: one order per line
    # an independent reading of the same file: pandas splits on whitespace, lifetimes summarises
    raw = pd.read_csv(whitespace_files / "purchases.txt", sep=r"\s+", dtype={"customer": str})
    raw["date"] = pd.to_datetime(raw["date"])
    purchases = raw[raw["amount"] >= 0]
    expected = summary_data_from_transaction_data(
        purchases, "customer", "date", monetary_value_col="amount", freq="D", observation_period_end=pd.Timestamp("2024-01-30")
    ).sort_index()
    got = spark.read.parquet(str(run / "tables" / "customer_features")).toPandas().set_index(C.CUSTOMER_ID).sort_index()
    assert list(got.index) == list(expected.index) == ["00001", "00002", "00003", "00004"]
    for column in ("frequency", "recency", "T", "monetary_value"):
        assert got[column].to_numpy() == pytest.approx(expected[column].to_numpy(), abs=1e-9), column
    lines = tx  # noqa: F841 - read by DuckDB by name
    orders = duckdb.sql(
        "SELECT customer_id, count(DISTINCT transaction_id) AS orders, sum(amount) AS net FROM lines "
        "WHERE status = 'completed' AND amount >= 0 OR status = 'returned' GROUP BY customer_id"
    ).df()
    purchase_orders = duckdb.sql("SELECT customer_id, count(DISTINCT transaction_id) AS n FROM lines WHERE status = 'completed' AND amount >= 0 GROUP BY ALL").df()
    assert got[C.ORDERS].astype(int).to_dict() == dict(zip(purchase_orders[C.CUSTOMER_ID], purchase_orders["n"].astype(int), strict=True))
    assert got[C.ORDERS].astype(int).to_dict() == {"00001": 4, "00002": 1, "00003": 3, "00004": 2}
    assert got[C.MONETARY].to_dict() == pytest.approx(dict(zip(orders[C.CUSTOMER_ID], orders["net"], strict=True)), abs=1e-9)
    assert got.loc["00001", C.MONETARY] == pytest.approx(47.46)  # both identical lines count
    assert manifest["results"]["features"]["has_time_of_day"] is False


def test_the_quarantine_policy_treats_identical_lines_as_a_double_export(spark, tmp_path, whitespace_files):
    from customer_behavior.pipeline import stage_ingest

    manifest, _ = _run(
        spark, tmp_path, "run", [stage_ingest], path=str(whitespace_files / "purchases.txt"), mapping=str(whitespace_files / "mapping.toml"), duplicates="quarantine"
    )
    rows = manifest["rows"]
    assert (rows["transactions_read"], rows["transactions_accepted"], rows["transactions_quarantined_duplicate_row"]) == (11, 8, 3)
    assert manifest["results"]["ingest"]["identical_lines_kept"] == 0


def test_with_ids_auto_quarantines_copies_and_the_second_customer_of_an_id(spark, tmp_path):
    from customer_behavior import pipeline

    lines = [
        "txn,customer,ts,amount",
        "A1,c1,2024-01-05 10:00:00,10.00",
        "A1,c1,2024-01-05 10:00:00,5.00",  # a second line of order A1
        "A1,c1,2024-01-05 10:00:00,5.00",  # an exact copy: a double export
        "A1,c2,2024-01-06 11:00:00,7.00",  # A1 belongs to c1 (read first): conflicting
        "A1,c2,2024-01-06 11:00:00,8.00",  # conflicting
        "A1,c2,2024-01-06 11:00:00,8.00",  # a copy of a conflicting line: duplicate_row (checked first)
        "B2,c2,2024-01-07 12:00:00,3.00",
    ]
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "m.toml").write_text('[columns]\ntransaction_id = "txn"\ncustomer_id = "customer"\nevent_ts = "ts"\n', encoding="utf-8")
    manifest, run = _run(spark, tmp_path, "run", [pipeline.stage_ingest], path=str(path), mapping=str(tmp_path / "m.toml"))
    rows = manifest["rows"]
    assert (rows["transactions_read"], rows["transactions_accepted"]) == (7, 3)
    assert (rows["transactions_quarantined_duplicate_row"], rows["transactions_quarantined_conflicting_transaction_id"]) == (2, 2)
    assert manifest["results"]["ingest"]["duplicates"] == {"policy": "auto", "identical_lines": "quarantined"}
    quarantine = spark.read.parquet(str(run / "quarantine" / "transactions")).toPandas()
    conflicting = quarantine[quarantine[C.REASON] == "conflicting_transaction_id"]
    assert sorted(zip(conflicting["customer"], conflicting["amount"], strict=True)) == [("c2", "7.00"), ("c2", "8.00")]
    accepted = spark.read.parquet(str(run / "data" / "transactions")).toPandas()
    assert sorted(zip(accepted[C.TRANSACTION_ID], accepted[C.CUSTOMER_ID], accepted[C.AMOUNT], strict=True)) == [("A1", "c1", 5.0), ("A1", "c1", 10.0), ("B2", "c2", 3.0)]


def test_a_log_whose_every_amount_is_zero_stops_with_one_line(spark, tmp_path, capsys):
    from customer_behavior import cli, pipeline

    path = tmp_path / "free.csv"
    path.write_text("customer_id,event_ts,amount\nc1,2024-01-05,0.00\nc2,2024-01-06,0\n", encoding="utf-8")
    output = tmp_path / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "RUN_STAGES", [pipeline.stage_source, pipeline.stage_features])
        code = cli.main(["run", "--input", str(path), "--as-of", "2025-01-01", "-o", str(output)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and "no spend to analyse" in err[0]
    assert not output.exists()  # nothing written


def test_the_uci_preset_counts_invoices_not_lines(spark, tmp_path):
    from customer_behavior.pipeline import stage_features, stage_ingest

    # invoice 536365: two lines, one of them free; 536370: one line on the same day; C536379 a return
    rows = [
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
        "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850.0,United Kingdom",
        '536365,71053,"WHITE METAL LANTERN, LARGE",6,12/1/2010 8:26,0.00,17850.0,United Kingdom',
        "536370,22728,ALARM CLOCK BAKELIKE PINK,24,12/1/2010 8:45,3.75,17850.0,United Kingdom",
        "536366,22633,HAND WARMER UNION JACK,6,6/15/2011 10:30,1.85,12583,France",
        "536366,22632,HAND WARMER RED POLKA DOT,6,6/15/2011 10:30,1.85,12583,France",
        "536366,22634,CHILDS BREAKFAST SET,2,6/15/2011 10:30,9.95,12583,France",
        "C536379,D,Discount,-1,12/1/2010 9:41,27.50,12583,United Kingdom",
    ]
    path = tmp_path / "online_retail.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    manifest, run = _run(spark, tmp_path, "run", [stage_ingest, stage_features], path=str(path), preset="uci")
    assert manifest["rows"]["transactions_accepted"] == 7
    got = spark.read.parquet(str(run / "tables" / "customer_features")).toPandas().set_index(C.CUSTOMER_ID)
    assert got[C.ORDERS].astype(int).to_dict() == {"17850": 2, "12583": 1}  # 3 and 3 lines
    assert got.loc["17850", C.AVG_BASKET_SIZE] == pytest.approx(18.0)  # (6 + 6 + 24) items / 2 invoices
    assert got.loc["17850", C.AVG_ORDER_VALUE] == pytest.approx((15.3 + 90.0) / 2)
    assert got.loc["12583", C.AVG_BASKET_SIZE] == pytest.approx(14.0)
    assert got.loc["12583", C.RETURNS] == 1
