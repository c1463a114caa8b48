"""`run --input` end to end: a realistic messy export, the UCI preset, and the CLI's one-line errors.

The expected accounting is computed in plain Python while the test writes the file, so it
is independent of the Spark code under test. The CLI runs in-process (`cli.main`) and
reuses the session fixture's JVM; one test runs the real command in a subprocess.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import random
import subprocess
import sys
import zoneinfo
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import functions as F

from customer_behavior import cli, pipeline
from customer_behavior import columns as C
from customer_behavior.ingest import reasons as R
from customer_behavior.ingest.mapping import load_mapping_file

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
STATUS_WORDS = {"completed": "Completed", "returned": "Refund", "cancelled": "Cancelled"}


def _utc(local: dt.datetime) -> dt.datetime:
    return local.replace(tzinfo=BERLIN).astimezone(dt.timezone.utc).replace(tzinfo=None)


def make_messy_export(root: Path, seed: int = 11) -> dict:
    """A semicolon CSV in a shop system's style, good rows mixed with every kind of bad one."""
    rng = random.Random(seed)
    header = "Order No;Customer No;Order Date;Product;Qty;Unit Price;Order Status"
    good, expected = [], []
    for i in range(3000):
        customer = f"{rng.randrange(1, 301):05d}"  # leading zeros must survive
        local = dt.datetime(2024, 1, 1) + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 360))
        local = local.replace(second=0)
        status = rng.choices(["completed", "returned", "cancelled"], weights=[90, 7, 3])[0]
        qty = rng.randrange(1, 5)
        price = rng.randrange(100, 20000) / 100
        product = rng.choice(["Mug", '"Tea; green"', "Lamp", '"Sofa ""Oslo"""'])
        good.append(f"ORD{i:06d};{customer};{local:%d/%m/%Y %H:%M};{product};{qty};{price:.2f};{STATUS_WORDS[status]}")
        amount = {"completed": round(qty * price, 2), "returned": -round(qty * price, 2), "cancelled": 0.0}[status]
        expected.append({"transaction_id": f"ORD{i:06d}", "customer_id": customer, "event_ts": _utc(local), "amount": amount, "status": status})
    bad = {
        R.MISSING_CUSTOMER_ID: [f"BAD{i:03d}; ;01/02/2024 10:00;Mug;1;5.00;Completed" for i in range(30)],
        R.UNPARSEABLE_TIMESTAMP: [f"BAD{i:03d};00001;2024-02-01;Mug;1;5.00;Completed" for i in range(30, 50)],
        R.EVENT_AFTER_AS_OF: [f"BAD{i:03d};00001;01/02/2031 10:00;Mug;1;5.00;Completed" for i in range(50, 55)],
        R.NON_NUMERIC_QUANTITY: [f"BAD{i:03d};00001;01/02/2024 10:00;Mug;one;5.00;Completed" for i in range(55, 60)],
        R.NON_NUMERIC_AMOUNT: [f"BAD{i:03d};00001;01/02/2024 10:00;Mug;1;5,00 EUR;Completed" for i in range(60, 75)],
        R.AMOUNT_OUT_OF_BOUNDS: [f"BAD{i:03d};00001;01/02/2024 10:00;Mug;1000;99999.00;Completed" for i in range(75, 78)],
        R.ZERO_QUANTITY: [f"BAD{i:03d};00001;01/02/2024 10:00;Mug;0;5.00;Completed" for i in range(78, 88)],
        R.UNKNOWN_STATUS: [f"BAD{i:03d};00001;01/02/2024 10:00;Mug;1;5.00;On hold" for i in range(88, 94)],
        R.MALFORMED_LINE: [f"BAD{i:03d};00001;01/02/2024 10:00" for i in range(94, 106)],
        R.DUPLICATE_ROW: rng.sample(good, 20),
    }
    lines = good + [line for rows in bad.values() for line in rows]
    rng.shuffle(lines)
    (root / "orders.csv").write_text(header + "\r\n" + "\r\n".join(lines) + "\r\n", encoding="utf-8")
    # a customers table: 300 customers, one duplicated id, one row without an id
    customer_lines = ["id,signup,loyal,age"] + [f"{c:05d},2023-{1 + c % 12:02d}-01,{'yes' if c % 3 == 0 else 'no'},{20 + c % 50}" for c in range(1, 301)]
    customer_lines += ["00007,2023-09-09,no,33", ",2023-01-01,no,40"]
    (root / "customers.csv").write_text("\n".join(customer_lines) + "\n", encoding="utf-8")
    (root / "mapping.toml").write_text(
        """
[columns]
transaction_id = "Order No"
customer_id = "Customer No"
event_ts = "Order Date"
category = "Product"
quantity = "Qty"
unit_price = "Unit Price"
status = "Order Status"

[timestamp]
formats = ["dd/MM/yyyy HH:mm"]
timezone = "Europe/Berlin"

[returns.status_values]
returned = ["refund"]

[customers]
path = "customers.csv"
date_formats = ["yyyy-MM-dd"]
[customers.columns]
customer_id = "id"
signup_date = "signup"
is_loyalty_member = "loyal"
""",
        encoding="utf-8",
    )
    return {"expected": pd.DataFrame(expected), "bad": {reason: len(rows) for reason, rows in bad.items()}}


@pytest.fixture(autouse=True)
def ingest_only(monkeypatch):
    """`run` stops after ingest here: these tests are about ingest, and the later stages have their own."""
    monkeypatch.setattr(pipeline, "RUN_STAGES", [pipeline.stage_source])


@pytest.fixture(scope="module")
def messy_run(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("messy")
    made = make_messy_export(root)
    output = root / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "RUN_STAGES", [pipeline.stage_source])
        code = cli.main(["run", "--input", str(root / "orders.csv"), "--mapping", str(root / "mapping.toml"), "--as-of", "2025-01-01", "-o", str(output)])
    assert code == 0
    manifest = json.loads((output / "manifest.json").read_text())
    return {"root": root, "output": output, "manifest": manifest, **made}


def test_messy_export_accounting_is_exact(messy_run):
    rows = messy_run["manifest"]["rows"]
    bad = messy_run["bad"]
    assert rows["transactions_read"] == 3000 + sum(bad.values())
    assert rows["transactions_accepted"] == 3000
    assert rows["transactions_quarantined"] == sum(bad.values())
    assert {reason: rows.get(f"transactions_quarantined_{reason}", 0) for reason in R.TRANSACTION_REASONS} == {r: bad.get(r, 0) for r in R.TRANSACTION_REASONS}
    assert messy_run["manifest"]["results"]["ingest"]["transactions_rows"]["by_reason"] == {r: bad.get(r, 0) for r in R.TRANSACTION_REASONS}


def test_messy_export_accepted_rows_match_an_independent_computation(spark, messy_run):
    got = spark.read.parquet(str(messy_run["output"] / "data" / "transactions")).toPandas()
    expected = messy_run["expected"]
    assert list(got.columns) == [f.name for f in C.TRANSACTIONS_SCHEMA.fields]
    merged = expected.merge(got, on="transaction_id", how="left", suffixes=("_expected", ""))
    assert merged["customer_id"].notna().all()
    assert (merged["customer_id"] == merged["customer_id_expected"]).all()
    assert (merged["status"] == merged["status_expected"]).all()
    assert (merged["event_ts"] == merged["event_ts_expected"]).all()
    assert merged["amount"].round(2).tolist() == merged["amount_expected"].round(2).tolist()
    assert set(got["category"]) == {"Mug", "Tea; green", "Lamp", 'Sofa "Oslo"'}


def test_messy_export_quarantine_and_customers(spark, messy_run):
    quarantine = spark.read.parquet(str(messy_run["output"] / "quarantine" / "transactions"))
    assert quarantine.columns[-3:] == [C.RAW_LINE, C.SOURCE_FILE, C.REASON]
    assert quarantine.columns[:7] == ["Order No", "Customer No", "Order Date", "Product", "Qty", "Unit Price", "Order Status"]
    counts = {row[C.REASON]: row["count"] for row in quarantine.groupBy(C.REASON).count().collect()}
    assert counts == messy_run["bad"]
    assert {row[C.SOURCE_FILE] for row in quarantine.select(C.SOURCE_FILE).distinct().collect()} == {(messy_run["root"] / "orders.csv").as_uri()}
    # a rejected row keeps its original text: the product with a quoted delimiter and doubled quotes
    products = {row["Product"] for row in quarantine.filter(F.col(C.REASON) == R.DUPLICATE_ROW).collect()}
    assert products <= {"Mug", "Tea; green", "Lamp", 'Sofa "Oslo"'} and len(products) > 1
    customers_quarantine = spark.read.parquet(str(messy_run["output"] / "quarantine" / "customers"))
    assert sorted(((r["id"], r[C.REASON], r[C.SOURCE_FILE]) for r in customers_quarantine.collect()), key=str) == [
        ("00007", R.DUPLICATE_CUSTOMER_ID, (messy_run["root"] / "customers.csv").as_uri()),
        (None, R.MISSING_CUSTOMER_ID, (messy_run["root"] / "customers.csv").as_uri()),
    ]
    rows = messy_run["manifest"]["rows"]
    assert (rows["customers_read"], rows["customers_accepted"], rows["customers_quarantined_duplicate_customer_id"], rows["customers_quarantined_missing_customer_id"]) == (302, 300, 1, 1)
    customers = {r[C.CUSTOMER_ID]: r for r in spark.read.parquet(str(messy_run["output"] / "data" / "customers")).collect()}
    assert (customers["00003"][C.IS_LOYALTY_MEMBER], customers["00003"][C.SIGNUP_DATE], customers["00003"][C.AGE]) == (True, dt.date(2023, 4, 1), 23)
    # the duplicate keeps the first row by content: "00007,2023-08-01,no,27" sorts before "00007,2023-09-09,..."
    assert customers["00007"][C.SIGNUP_DATE] == dt.date(2023, 8, 1)
    assert "customers" not in messy_run["manifest"]["results"]["ingest"]["missing_optional"]
    assert set(messy_run["manifest"]["results"]["ingest"]["missing_optional"]) == {"discount", "payment_method", "channel"}


# --------------------------------------------------------------------------- UCI preset

UCI_ROWS = [
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
    '536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850.0,United Kingdom',
    '536365,71053,"WHITE METAL LANTERN, LARGE",6,12/1/2010 8:26,3.39,17850.0,United Kingdom',
    "536366,22633,HAND WARMER UNION JACK,6,6/15/2011 10:30,1.85,12583,France",
    "C536379,D,Discount,-1,12/1/2010 9:41,27.50,14527,United Kingdom",
    "536414,22139,,56,12/1/2010 11:52,0.00,,United Kingdom",
    "536367,84879,ASSORTED COLOUR BIRD ORNAMENT,0,12/1/2010 8:34,1.69,13047,United Kingdom",
]


def test_uci_preset_on_a_small_file(tmp_path, spark):
    (tmp_path / "online_retail.csv").write_text("\n".join(UCI_ROWS) + "\n", encoding="utf-8")
    output = tmp_path / "run"
    code = cli.main(["run", "--input", str(tmp_path / "online_retail.csv"), "--preset", "uci", "--max-bad-fraction", "0.5", "-o", str(output)])
    assert code == 0
    rows = json.loads((output / "manifest.json").read_text())["rows"]
    assert (rows["transactions_read"], rows["transactions_accepted"], rows["transactions_quarantined_missing_customer_id"], rows["transactions_quarantined_zero_quantity"]) == (6, 4, 1, 1)
    got = sorted(tuple(r) for r in spark.read.parquet(str(output / "data" / "transactions")).select(C.TRANSACTION_ID, C.CUSTOMER_ID, C.EVENT_TS, C.QUANTITY, C.AMOUNT, C.STATUS).collect())
    assert got == [
        ("536365", "17850", dt.datetime(2010, 12, 1, 8, 26), 6, 15.3, "completed"),
        ("536365", "17850", dt.datetime(2010, 12, 1, 8, 26), 6, 20.34, "completed"),
        ("536366", "12583", dt.datetime(2011, 6, 15, 9, 30), 6, 11.1, "completed"),  # London summer time = UTC+1
        ("C536379", "14527", dt.datetime(2010, 12, 1, 9, 41), -1, -27.5, "returned"),
    ]


# --------------------------------------------------------------------------- CLI


def test_init_mapping_writes_templates_that_load(tmp_path, capsys):
    assert cli.main(["init-mapping", str(tmp_path / "m.toml")]) == 0
    assert cli.main(["init-mapping", str(tmp_path / "uci.toml"), "--preset", "uci"]) == 0
    assert "Wrote" in capsys.readouterr().out
    default = load_mapping_file(str(tmp_path / "m.toml"))
    uci = load_mapping_file(str(tmp_path / "uci.toml"))
    assert (default.source.delimiter, default.timezone, default.invoice_prefix) == ("auto", "UTC", "")
    assert (uci.columns["customer_id"], uci.invoice_prefix, uci.timezone, uci.amount_source) == ("CustomerID", "C", "Europe/London", "quantity_x_unit_price")
    assert all(line.startswith(("#", "[")) or "=" in line or not line.strip() for line in (tmp_path / "m.toml").read_text().splitlines())
    assert cli.main(["init-mapping", str(tmp_path / "m.toml")]) == 1
    assert "already exists; pass --force" in capsys.readouterr().err


def _no_run_left(parent: Path, name: str) -> bool:
    return not (parent / name).exists() and not list(parent.glob(f".{name}.staging-*"))


def test_missing_input_is_one_line_and_leaves_nothing(tmp_path, capsys, spark):
    code = cli.main(["run", "--input", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err == [f"customer-behavior: error: input {str(tmp_path / 'nope.csv')!r} does not exist"]
    assert _no_run_left(tmp_path, "run")


def test_too_many_bad_rows_stops_after_writing_the_quarantine(tmp_path, capsys, spark):
    lines = ["customer_id,event_ts,amount"] + [f"C{i},2024-01-{1 + i % 28:02d},{i}.5" for i in range(90)] + [f",2024-01-01,{i}" for i in range(10)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    code = cli.main(["run", "--input", str(tmp_path / "t.csv"), "-o", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    kept = tmp_path / "run.quarantine" / "transactions"
    assert err[0] == (
        f"customer-behavior: error: input {str(tmp_path / 't.csv')!r}: 10 of 100 rows (10.0%) failed validation, more than --max-bad-fraction 5.0% "
        f"(missing_customer_id 10); the rejected rows with their reasons are in {str(tmp_path / 'run.quarantine')!r}; fix the mapping or raise --max-bad-fraction"
    )
    assert _no_run_left(tmp_path, "run")
    assert sorted(r[C.REASON] for r in spark.read.parquet(str(kept)).collect()) == [R.MISSING_CUSTOMER_ID] * 10
    # the same input passes when the user allows 10%
    assert cli.main(["run", "--input", str(tmp_path / "t.csv"), "--max-bad-fraction", "10%", "-o", str(tmp_path / "run")]) == 0
    assert "transactions_quarantined_missing_customer_id" in capsys.readouterr().out


def test_truncated_gzip_via_the_real_command_prints_one_line(tmp_path):
    body = "customer_id,event_ts,amount\n" + "".join(f"C{i},2024-01-01 10:00:00,{i}.5\n" for i in range(5000))
    packed = gzip.compress(body.encode())
    (tmp_path / "t.csv.gz").write_bytes(packed[: len(packed) // 2])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "customer_behavior", "run", "--input", str(tmp_path / "t.csv.gz"), "--master", "local[1]", "--driver-memory", "512m", "-o", str(tmp_path / "run")],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("customer-behavior:")]
    assert errors == [f"customer-behavior: error: input {str(tmp_path / 't.csv.gz')!r} cannot be read: the compressed file is truncated or corrupt (java.io.EOFException: Unexpected end of input stream)"]
    assert "\tat " not in result.stderr and "Exception" not in result.stderr.replace(errors[0], "")
    assert _no_run_left(tmp_path, "run")


def test_header_only_file_is_one_line_and_leaves_nothing(tmp_path, capsys, spark):
    (tmp_path / "h.csv").write_text("customer_id,event_ts,amount\n")
    code = cli.main(["run", "--input", str(tmp_path / "h.csv"), "-o", str(tmp_path / "run")])
    assert code == 1
    assert capsys.readouterr().err.strip().splitlines() == [f"customer-behavior: error: input {str(tmp_path / 'h.csv')!r} has no data rows (a header only?)"]
    assert _no_run_left(tmp_path, "run") and not (tmp_path / "run.quarantine").exists()


def test_many_copies_take_the_shuffle_join_with_the_same_outputs(spark, tmp_path, messy_run, monkeypatch):
    # Past BROADCAST_COPIES_MAX sets of copies the duplicate check's join shuffles the rows, so
    # each row's file is kept as a column before it; every output must be the same.
    from customer_behavior.ingest import write as ingest_write

    monkeypatch.setattr(ingest_write, "BROADCAST_COPIES_MAX", 0)
    output = tmp_path / "run"
    root = messy_run["root"]
    assert cli.main(["run", "--input", str(root / "orders.csv"), "--mapping", str(root / "mapping.toml"), "--as-of", "2025-01-01", "-o", str(output)]) == 0
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["rows"] == messy_run["manifest"]["rows"]
    assert manifest["results"]["ingest"]["copy_sets"] == messy_run["manifest"]["results"]["ingest"]["copy_sets"] > 0
    for table in ("data/transactions", "quarantine/transactions", "data/customers", "quarantine/customers"):
        shuffled = spark.read.parquet(str(output / table))
        broadcast = spark.read.parquet(str(messy_run["output"] / table))
        assert shuffled.count() == broadcast.count() > 0
        assert shuffled.exceptAll(broadcast).count() == 0
