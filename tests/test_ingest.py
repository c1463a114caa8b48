"""The bad-input catalogue of `ingest`: every case asserts its exact quarantine reason or
error, and the row accounting (rows read = accepted + quarantined, per reason).

Row-level cases share one file (one Spark action for all of them); unusable-file cases
each get their own tiny file, most of which fail before Spark reads anything.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest

from customer_behavior import columns as C
from customer_behavior.config import Config, InputConfig
from customer_behavior.errors import ConfigError, InputError
from customer_behavior.preflight import preflight
from customer_behavior.ingest import reasons as R
from customer_behavior.ingest.plan import accounting, plan_ingest
from customer_behavior.ingest.readers import input_errors
from customer_behavior.ingest.readers import ROW_ID
from customer_behavior.ingest.validation import (
    KEPT_ROW_ID,
    REASON,
    ROW_HASH_1,
    ROW_HASH_2,
    accepted_transactions,
    counts_from_metrics,
    duplicate_copies,
    reason_counters,
    row_hashes,
)

AS_OF = "2025-01-01"


def ingest_rows(spark, path: Path | str, **input_kwargs) -> dict:
    """Plan and validate one input; return the accounting, each row's reason and the accepted rows."""
    cfg = InputConfig(path=str(path), as_of=input_kwargs.pop("as_of", AS_OF), max_bad_fraction=1.0, **input_kwargs)
    plan = plan_ingest(spark, cfg)
    validated_df = plan.transactions.validated_df.cache()
    try:
        with input_errors(str(path)):
            counts = counts_from_metrics(validated_df.agg(*reason_counters(R.TRANSACTION_REASONS)).first().asDict(), R.TRANSACTION_REASONS)
        accepted = [row.asDict() for row in accepted_transactions(validated_df, resolved=plan.resolved).collect()]
    finally:
        validated_df.unpersist()
    return {"accounting": accounting(counts), "accepted": {row[C.TRANSACTION_ID]: row for row in accepted}, "plan": plan}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- row-level catalogue

HEADER = "txn,customer,ts,amount,qty,status,category"
# (case id, line after the id column, expected reason or None when accepted)
ROW_CASES = [
    ("ok_plain", "C001,2024-03-01 10:00:00,10.00,1,completed,books", None),
    ("blank_customer", "   ,2024-03-01 10:00:00,10.00,1,completed,books", R.MISSING_CUSTOMER_ID),
    ("empty_customer", ",2024-03-01 10:00:00,10.00,1,completed,books", R.MISSING_CUSTOMER_ID),
    ("word_timestamp", "C002,yesterday,10.00,1,completed,books", R.UNPARSEABLE_TIMESTAMP),
    ("impossible_date", "C002,2024-02-30 10:00:00,10.00,1,completed,books", R.UNPARSEABLE_TIMESTAMP),
    ("empty_timestamp", "C002,,10.00,1,completed,books", R.UNPARSEABLE_TIMESTAMP),
    ("future_event", "C003,2099-06-01 00:00:00,10.00,1,completed,books", R.EVENT_AFTER_AS_OF),
    ("event_at_as_of_midnight", "C003,2025-01-01 00:00:00,10.00,1,completed,books", R.EVENT_AFTER_AS_OF),
    ("last_second_before_as_of", "C003,2024-12-31 23:59:59,10.00,1,completed,books", None),
    ("decimal_comma_amount", 'C004,2024-03-01 10:00:00,"10,50",1,completed,books', R.NON_NUMERIC_AMOUNT),
    ("nan_amount", "C004,2024-03-01 10:00:00,NaN,1,completed,books", R.NON_NUMERIC_AMOUNT),
    ("infinite_amount", "C004,2024-03-01 10:00:00,Infinity,1,completed,books", R.NON_NUMERIC_AMOUNT),
    ("empty_amount", "C004,2024-03-01 10:00:00,,1,completed,books", R.NON_NUMERIC_AMOUNT),
    ("huge_amount", "C005,2024-03-01 10:00:00,2000000,1,completed,books", R.AMOUNT_OUT_OF_BOUNDS),
    ("huge_refund", "C005,2024-03-01 10:00:00,-2000000,-1,returned,books", R.AMOUNT_OUT_OF_BOUNDS),
    ("zero_quantity", "C006,2024-03-01 10:00:00,10.00,0,completed,books", R.ZERO_QUANTITY),
    ("fractional_quantity", "C006,2024-03-01 10:00:00,10.00,1.5,completed,books", R.NON_NUMERIC_QUANTITY),
    ("word_quantity", "C006,2024-03-01 10:00:00,10.00,two,completed,books", R.NON_NUMERIC_QUANTITY),
    ("unknown_status", "C007,2024-03-01 10:00:00,10.00,1,shipped,books", R.UNKNOWN_STATUS),
    ("too_few_fields", "C008,2024-03-01 10:00:00,10.00", R.MALFORMED_LINE),
    ("too_many_fields", "C008,2024-03-01 10:00:00,10.00,1,completed,books,extra", R.MALFORMED_LINE),
    ("first_rule_wins", "   ,not a date,abc,0,completed,books", R.MISSING_CUSTOMER_ID),
    ("leading_zeros_id", "000123,2024-03-01 10:00:00,10.00,1,completed,books", None),
    ("quoted_delimiter", 'C009,2024-03-01 10:00:00,10.00,1,completed,"Books, Comics"', None),
    ("refund_status", "C010,2024-03-02 10:00:00,7.50,1,REFUND,books", None),
    ("negative_quantity", "C010,2024-03-03 10:00:00,7.50,-2,,books", None),
    ("cancelled", "C010,2024-03-04 10:00:00,7.50,1,Canceled,books", None),
]
DUPLICATE_OF_GOOD = "dup_good", "C011,2024-03-05 10:00:00,5.00,1,completed,toys"
DUPLICATE_OF_BAD = "dup_bad", "C011,never,5.00,1,completed,toys"
NEAR_DUPLICATE = "dup_good", "C011,2024-03-05 10:00:00,5.00 ,1,completed,toys"  # a trailing space: not exact


@pytest.fixture(scope="module")
def catalogue(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("ingest_catalogue")
    lines = [HEADER] + [f"{case},{rest}" for case, rest, _ in ROW_CASES]
    # an exact duplicate of a good row (x3: two copies quarantined), of a bad row (x2), and a near-duplicate
    lines += [f"{DUPLICATE_OF_GOOD[0]},{DUPLICATE_OF_GOOD[1]}"] * 3
    lines += [f"{DUPLICATE_OF_BAD[0]},{DUPLICATE_OF_BAD[1]}"] * 2
    lines += [f"{NEAR_DUPLICATE[0]},{NEAR_DUPLICATE[1]}"]
    path = write(root / "catalogue.csv", "\n".join(lines) + "\n")
    mapping = write(root / "mapping.toml", '[columns]\ntransaction_id = "txn"\ncustomer_id = "customer"\nevent_ts = "ts"\nquantity = "qty"\n')
    result = ingest_rows(spark, path, mapping=str(mapping))
    # each row's reason, by case id (the id column survives even in malformed rows)
    validated = result["plan"].transactions.validated_df
    result["reasons"] = sorted(((row["txn"], row[REASON]) for row in validated.select("txn", REASON).collect()), key=str)
    return result


@pytest.mark.parametrize(("case", "expected"), [(case, expected) for case, _, expected in ROW_CASES], ids=[c for c, _, _ in ROW_CASES])
def test_row_case_gets_its_reason(catalogue, case, expected):
    assert [reason for txn, reason in catalogue["reasons"] if txn == case] == [expected]


def test_catalogue_accounting_is_exact(catalogue):
    expected_bad = [e for _, _, e in ROW_CASES if e is not None]
    acc = catalogue["accounting"]
    # + duplicates: 3 good copies (1 kept, 2 quarantined), 2 bad copies (both unparseable), 1 near-duplicate (kept)
    assert acc["read"] == len(ROW_CASES) + 3 + 2 + 1
    assert acc["quarantined"] == len(expected_bad) + 2 + 2
    assert acc["accepted"] == len(ROW_CASES) - len(expected_bad) + 1 + 1
    assert acc["read"] == acc["accepted"] + acc["quarantined"] == sum(acc["by_reason"].values()) + acc["accepted"]
    assert acc["by_reason"][R.DUPLICATE_ROW] == 2
    assert acc["by_reason"][R.UNPARSEABLE_TIMESTAMP] == 3 + 2
    assert acc["by_reason"][R.MALFORMED_LINE] == 2
    assert acc["by_reason"][R.MISSING_CUSTOMER_ID] == 3


def test_duplicates_keep_one_copy_and_bad_copies_keep_their_reason(catalogue):
    dup_reasons = sorted(str(reason) for txn, reason in catalogue["reasons"] if txn == "dup_good")
    assert dup_reasons == ["None", "None", R.DUPLICATE_ROW, R.DUPLICATE_ROW]  # 1 kept + the near-duplicate kept
    assert [reason for txn, reason in catalogue["reasons"] if txn == "dup_bad"] == [R.UNPARSEABLE_TIMESTAMP] * 2


def test_row_hashes_tell_null_positions_apart(spark):
    # xxhash64 skips nulls: without the null flags ("a", null) and (null, "a") would hash alike
    df = spark.createDataFrame([("a", None), (None, "a"), ("a", None), ("ab", None), ("a", "b")], "x string, y string")
    first, second = row_hashes(("x", "y"))
    pairs = [(row["h1"], row["h2"]) for row in df.select(first.alias("h1"), second.alias("h2")).collect()]
    assert pairs[0] == pairs[2]  # an exact copy
    assert len({pairs[0], pairs[1], pairs[3], pairs[4]}) == 4
    assert all(h1 != h2 for h1, h2 in pairs)  # two different hashes, not one twice


def test_duplicate_copies_keep_the_first_read(spark):
    # key "a" three times (row ids 5, 2, 9: row 2 is kept), "b" once, "c" twice (3 kept), a null key twice
    rows = [("a", 5), ("a", 2), ("a", 9), ("b", 7), ("c", 4), ("c", 3), (None, 8), (None, 6)]
    df = spark.createDataFrame(rows, f"line string, {ROW_ID} long")
    copies = duplicate_copies(df, ("line",))
    h1, h2 = row_hashes(("line",))
    hashes = {row["line"]: (row["h1"], row["h2"]) for row in df.select("line", h1.alias("h1"), h2.alias("h2")).collect()}
    got = sorted((row[ROW_HASH_1], row[ROW_HASH_2], row[KEPT_ROW_ID]) for row in copies.collect())
    assert got == sorted([(*hashes["a"], 2), (*hashes["c"], 3), (*hashes[None], 6)])


def test_reason_counters_count_every_row_once(spark):
    rows = [(None,), (None,), (R.ZERO_QUANTITY,), (R.DUPLICATE_ROW,), (R.DUPLICATE_ROW,), (R.MISSING_CUSTOMER_ID,)]
    df = spark.createDataFrame(rows, f"{REASON} string")
    metrics = df.agg(*reason_counters(R.TRANSACTION_REASONS)).first().asDict()
    counts = counts_from_metrics(metrics, R.TRANSACTION_REASONS)
    assert counts == {None: 2, R.DUPLICATE_ROW: 2, R.ZERO_QUANTITY: 1, R.MISSING_CUSTOMER_ID: 1}
    assert accounting(counts)["read"] == metrics["rows"] == 6


def test_accepted_values_are_canonical(catalogue):
    rows = catalogue["accepted"]
    assert rows["leading_zeros_id"][C.CUSTOMER_ID] == "000123"
    assert rows["quoted_delimiter"][C.CATEGORY] == "Books, Comics"
    assert (rows["refund_status"][C.STATUS], rows["refund_status"][C.AMOUNT], rows["refund_status"][C.QUANTITY]) == ("returned", -7.5, -1)
    assert (rows["negative_quantity"][C.STATUS], rows["negative_quantity"][C.AMOUNT], rows["negative_quantity"][C.QUANTITY]) == ("returned", -7.5, -2)
    assert (rows["cancelled"][C.STATUS], rows["cancelled"][C.AMOUNT]) == ("cancelled", 0.0)
    assert rows["ok_plain"][C.EVENT_TS] == dt.datetime(2024, 3, 1, 10, 0, 0)
    assert (rows["ok_plain"][C.AMOUNT], rows["ok_plain"][C.QUANTITY], rows["ok_plain"][C.STATUS]) == (10.0, 1, "completed")
    assert rows["last_second_before_as_of"][C.EVENT_TS] == dt.datetime(2024, 12, 31, 23, 59, 59)


def test_bounds_are_configurable(spark, tmp_path):
    path = write(tmp_path / "t.csv", "customer_id,event_ts,amount\nA,2024-01-01,5\nB,2024-01-01,50\nC,2024-01-01,-1\n")
    result = ingest_rows(spark, path, min_amount=0.0, max_amount=10.0)
    assert result["accounting"]["by_reason"][R.AMOUNT_OUT_OF_BOUNDS] == 2  # 50 > 10; -1 < 0
    assert result["accounting"]["accepted"] == 1


# --------------------------------------------------------------------------- unusable files


def _gzip_truncated(path: Path) -> Path:
    body = "customer_id,event_ts,amount\n" + "".join(f"C{i},2024-01-01 10:00:00,{i}.5\n" for i in range(5000))
    packed = gzip.compress(body.encode())
    path.write_bytes(packed[: len(packed) // 2])
    return path


UNUSABLE = {
    "missing_path": (lambda d: d / "nope.csv", {}, InputError, "does not exist"),
    "empty_file": (lambda d: write(d / "empty.csv", ""), {}, InputError, "is empty (0 bytes)"),
    "blank_lines_only": (lambda d: write(d / "blank.csv", "\n\n  \n"), {}, InputError, "is empty (only blank lines)"),
    "empty_directory": (lambda d: (d / "emptydir").mkdir() or d / "emptydir", {}, InputError, "is a directory without data files"),
    "binary_garbage": (lambda d: write_bytes(d / "x.csv", bytes(range(256)) * 40), {}, InputError, "does not look like a text file"),
    "wrong_delimiter": (
        lambda d: write(d / "semi.csv", "customer_id;event_ts;amount\nA;2024-01-01;5\n"),
        {"delimiter": ","},
        InputError,
        "required column missing: customer_id; event_ts; amount (or quantity and unit_price). Present columns: customer_id;event_ts;amount; the header was read as a single column",
    ),
    "required_column_missing": (
        lambda d: write(d / "nocust.csv", "order,event_ts,amount,qty\n1,2024-01-01,5,1\n"),
        {},
        InputError,
        "required column missing: customer_id. Present columns: order, event_ts, amount, qty.",
    ),
    "mapped_column_absent": (
        lambda d: (write(d / "m.toml", '[columns]\ncustomer_id = "CustID"\n'), write(d / "f.csv", "customer_id,event_ts,amount\nA,2024-01-01,5\n"))[1],
        {"mapping": "m.toml"},
        InputError,
        "required column missing: customer_id (mapped to 'CustID'). Present columns: customer_id, event_ts, amount.",
    ),
    "truncated_gzip": (lambda d: _gzip_truncated(d / "t.csv.gz"), {}, InputError, "the compressed file is truncated or corrupt (java.io.EOFException: Unexpected end of input stream)"),
    "not_parquet": (lambda d: write_bytes(d / "x.parquet", b"PAR0 not really" * 20), {}, InputError, "it is not a readable Parquet file"),
    "bad_timestamp_pattern": (lambda d: write(d / "f.csv", "customer_id,event_ts,amount\nA,2024-01-01,5\n"), {"timestamp_format": "yyyy-bb"}, ConfigError, "'yyyy-bb' is not a valid Spark datetime pattern"),
    "headerless_names_mismatch": (lambda d: (write(d / "m.toml", '[source]\nheader = false\ncolumn_names = ["customer_id", "event_ts"]\n'), write(d / "f.csv", "A,2024-01-01,5\n"))[1], {"mapping": "m.toml"}, InputError, "source.column_names names 2 columns but the first line has 3 fields"),
}


@pytest.mark.parametrize("case", sorted(UNUSABLE))
def test_unusable_input_is_one_clear_error(spark, tmp_path, case):
    make, kwargs, error, message = UNUSABLE[case]
    path = make(tmp_path)
    if "mapping" in kwargs:
        kwargs = {**kwargs, "mapping": str(tmp_path / kwargs["mapping"])}
    with pytest.raises(error) as info:
        ingest_rows(spark, path, **kwargs)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_header_only_has_no_data_rows(spark, tmp_path):
    path = write(tmp_path / "h.csv", "customer_id,event_ts,amount\n")
    assert ingest_rows(spark, path)["accounting"] == {"read": 0, "accepted": 0, "quarantined": 0, "by_reason": {r: 0 for r in R.TRANSACTION_REASONS}}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"preset": "nope"}, "input.preset: 'nope' is not a built-in preset"),
        ({"timezone": "Mars/Olympus"}, "'Mars/Olympus' is not a time zone"),
        ({"max_bad_fraction": 1.5}, "input.max_bad_fraction: 1.5 must be between 0 and 1"),
        ({"min_amount": 10.0, "max_amount": 1.0}, "input.min_amount: 10.0 must be below input.max_amount 1.0"),
        ({"as_of": "31/12/2024"}, "input.as_of: '31/12/2024' is not a date"),
        ({"mapping": "/no/such/mapping.toml"}, "input.mapping: mapping file '/no/such/mapping.toml' does not exist"),
        ({"format": "xlsx"}, "input.format: 'xlsx' is not one of auto, csv, parquet, json"),
    ],
)
def test_bad_input_config_fails_before_spark(overrides, message):
    with pytest.raises(ConfigError) as info:
        preflight(Config(input=InputConfig(path="x.csv", **overrides)))
    assert message in str(info.value)


def test_unknown_mapping_key_names_the_key(tmp_path):
    mapping = write(tmp_path / "m.toml", '[columns]\ncustomer = "x"\n')
    with pytest.raises(ConfigError, match=r"unknown mapping key 'columns.customer'; allowed keys in \[columns\]: transaction_id, customer_id"):
        preflight(Config(input=InputConfig(path="x.csv", mapping=str(mapping))))


# --------------------------------------------------------------------------- readers and formats


def test_whitespace_delimited_with_malformed_line(spark, tmp_path):
    path = write(tmp_path / "w.txt", "customer_id   event_ts     amount\nA  2024-01-01\t5.5\n\nB 2024-01-02 7\nC 2024-01-03\n")
    result = ingest_rows(spark, path, delimiter="whitespace")
    assert result["accounting"]["read"] == 3 and result["accounting"]["by_reason"][R.MALFORMED_LINE] == 1
    assert sorted((r[C.CUSTOMER_ID], r[C.AMOUNT]) for r in result["accepted"].values()) == [("A", 5.5), ("B", 7.0)]


def test_whitespace_is_guessed_for_space_aligned_files(spark, tmp_path):
    path = write(tmp_path / "w.txt", "customer_id event_ts amount\nA 2024-01-01 5.5\n")
    result = ingest_rows(spark, path)
    assert result["plan"].transactions.raw.delimiter == "whitespace" and result["accounting"]["accepted"] == 1


def test_tab_delimiter_guessed_and_headerless_names(spark, tmp_path):
    (tmp_path / "m.toml").write_text('[source]\nheader = false\ncolumn_names = ["cust", "when", "total"]\n[columns]\ncustomer_id = "cust"\nevent_ts = "when"\namount = "total"\n')
    path = write(tmp_path / "t.tsv", "A\t2024-01-01\t5\nB\t2024-01-02\t6\n")
    result = ingest_rows(spark, path, mapping=str(tmp_path / "m.toml"))
    assert result["plan"].transactions.raw.delimiter == "\t"
    assert sorted(r[C.AMOUNT] for r in result["accepted"].values()) == [5.0, 6.0]


def test_directory_of_gzip_files_each_with_header(spark, tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    for i in range(2):
        (folder / f"part{i}.csv.gz").write_bytes(gzip.compress(f"customer_id,event_ts,amount\nA{i},2024-01-0{i + 1},{i + 1}\n".encode()))
    result = ingest_rows(spark, folder)
    assert result["accounting"]["read"] == 2 and result["accounting"]["accepted"] == 2


def test_json_lines_with_a_corrupt_line(spark, tmp_path):
    lines = [json.dumps({"customer_id": "007", "event_ts": "2024-01-01T10:00:00Z", "amount": 5}), "{not json", json.dumps({"customer_id": "008", "event_ts": "2024-01-02", "amount": "x"})]
    path = write(tmp_path / "t.jsonl", "\n".join(lines) + "\n")
    result = ingest_rows(spark, path)
    assert result["accounting"]["by_reason"][R.MALFORMED_LINE] == 1
    assert result["accounting"]["by_reason"][R.NON_NUMERIC_AMOUNT] == 1
    (row,) = result["accepted"].values()
    assert (row[C.CUSTOMER_ID], row[C.AMOUNT], row[C.EVENT_TS]) == ("007", 5.0, dt.datetime(2024, 1, 1, 10))


def test_parquet_with_typed_columns(spark, tmp_path):
    df = spark.createDataFrame(
        [("A", dt.datetime(2024, 1, 1, 12), 3, 2.5), ("B", dt.datetime(2024, 1, 2, 12), 0, 1.0)],
        "cust string, ts timestamp, qty int, price double",
    )
    df.write.parquet(str(tmp_path / "p"))
    (tmp_path / "m.toml").write_text('[columns]\ncustomer_id = "cust"\nevent_ts = "ts"\nquantity = "qty"\nunit_price = "price"\n')
    result = ingest_rows(spark, tmp_path / "p", mapping=str(tmp_path / "m.toml"))
    assert result["accounting"]["by_reason"][R.ZERO_QUANTITY] == 1
    (row,) = result["accepted"].values()
    assert (row[C.AMOUNT], row[C.EVENT_TS], row[C.TRANSACTION_ID][:1]) == (7.5, dt.datetime(2024, 1, 1, 12), "H")


def test_formats_and_time_zone(spark, tmp_path):
    path = write(tmp_path / "f.csv", "customer_id,event_ts,amount\nA,05/07/2024 14:30,1\nB,20240705,2\nC,2024-07-05,3\n")
    result = ingest_rows(spark, path, timestamp_format="dd/MM/yyyy HH:mm||yyyyMMdd", timezone="Europe/Berlin")
    assert result["accounting"]["by_reason"][R.UNPARSEABLE_TIMESTAMP] == 1  # C matches neither pattern
    times = {r[C.CUSTOMER_ID]: r[C.EVENT_TS] for r in result["accepted"].values()}
    # Berlin is UTC+2 in July
    assert times == {"A": dt.datetime(2024, 7, 5, 12, 30), "B": dt.datetime(2024, 7, 4, 22, 0)}


def test_iso_offsets_are_not_shifted_again(spark, tmp_path):
    path = write(tmp_path / "f.csv", "customer_id,event_ts,amount\nA,2024-07-05T14:30:00+02:00,1\nB,2024-07-05 14:30:00,1\n")
    result = ingest_rows(spark, path, timezone="America/New_York")
    times = {r[C.CUSTOMER_ID]: r[C.EVENT_TS] for r in result["accepted"].values()}
    assert times == {"A": dt.datetime(2024, 7, 5, 12, 30), "B": dt.datetime(2024, 7, 5, 18, 30)}


def test_quantity_times_price_with_discount_and_derived_ids(spark, tmp_path):
    path = write(tmp_path / "f.csv", "customer_id,event_ts,quantity,unit_price,discount\nA,2024-01-01,3,10.00,0.1\nA,2024-01-01,3,10.00,0.2\nB,2024-01-01,1,,0\n")
    result = ingest_rows(spark, path)
    assert result["accounting"]["by_reason"][R.NON_NUMERIC_AMOUNT] == 1  # B has no unit price
    rows = sorted(result["accepted"].values(), key=lambda r: r[C.AMOUNT])
    assert [r[C.AMOUNT] for r in rows] == [24.0, 27.0]
    assert len({r[C.TRANSACTION_ID] for r in rows}) == 2 and all(r[C.TRANSACTION_ID].startswith("H") for r in rows)
    assert "transaction_id" in result["plan"].resolved.missing_optional and "category" in result["plan"].resolved.missing_optional


def test_status_values_and_invoice_prefix_from_mapping(spark, tmp_path):
    (tmp_path / "m.toml").write_text(
        '[returns]\ninvoice_prefix = "X"\ninvoice_prefix_status = "cancelled"\n[returns.status_values]\ncompleted = ["shipped"]\n'
    )
    path = write(tmp_path / "f.csv", "transaction_id,customer_id,event_ts,amount,status\n1,A,2024-01-01,5,shipped\nX2,A,2024-01-01,5,\n3,A,2024-01-01,5,lost\n")
    result = ingest_rows(spark, path, mapping=str(tmp_path / "m.toml"))
    assert result["accounting"]["by_reason"][R.UNKNOWN_STATUS] == 1
    assert {k: (r[C.STATUS], r[C.AMOUNT]) for k, r in result["accepted"].items()} == {"1": ("completed", 5.0), "X2": ("cancelled", 0.0)}


# --------------------------------------------------------------------------- the ingest stage


def run_ingest(spark, path: Path, tmp_path: Path, **input_kwargs) -> tuple[dict, Path]:
    """`stage_ingest` as `run --input` runs it; returns the manifest and the run directory."""
    from customer_behavior.config import Config
    from customer_behavior.pipeline import execute, stage_ingest

    cfg = Config(input=InputConfig(path=str(path), as_of=AS_OF, max_bad_fraction=1.0, **input_kwargs))
    staging = tmp_path / "run"
    staging.mkdir(parents=True)
    return execute(spark, cfg, staging, stages=[stage_ingest], command="test"), staging


TRICKY_LINE = 'T9,C9,2024-03-01 10:00:00,abc,"He said ""hi"", then left",  spaced  ,Zoë ☕ C:\\temp\\x'


def test_directory_with_headers_blank_lines_and_a_copy_across_files(spark, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    header = "transaction_id,customer_id,event_ts,amount,note,extra,more"
    a_rows = [f"T{i},C{i},2024-03-01 10:00:00,{i}.5,n{i},x,y" for i in range(40)]
    # a BOM before the header, a tab-only line and a blank line (skipped), the header again (skipped)
    a_text = "\ufeff" + header + "\n" + "\n".join(a_rows[:20]) + "\n\t\n\n" + header + "\n" + "\n".join(a_rows[20:]) + "\n"
    (folder / "a.csv").write_text(a_text, encoding="utf-8")
    # b: an exact copy of a row of a, a rejected row with awkward text, one more good row (CRLF line ends)
    (folder / "b.csv").write_text("\r\n".join([header, a_rows[3], TRICKY_LINE, "T50,C50,2024-03-02 10:00:00,2.0,n,x,y"]) + "\r\n", encoding="utf-8")
    manifest, run = run_ingest(spark, folder, tmp_path)
    rows = manifest["rows"]
    assert (rows["transactions_read"], rows["transactions_accepted"]) == (43, 41)
    assert (rows["transactions_quarantined_duplicate_row"], rows["transactions_quarantined_non_numeric_amount"]) == (1, 1)
    assert manifest["results"]["ingest"]["copy_sets"] == 1
    data = spark.read.parquet(str(run / "data" / "transactions"))
    assert data.columns == [f.name for f in C.TRANSACTIONS_SCHEMA.fields]
    assert sorted(r[C.TRANSACTION_ID] for r in data.collect()) == sorted([f"T{i}" for i in range(40)] + ["T50"])
    quarantine = {r[C.REASON]: r for r in spark.read.parquet(str(run / "quarantine" / "transactions")).collect()}
    # the rejected row's original values, exactly as an independent CSV parser splits the line
    tricky = quarantine[R.NON_NUMERIC_AMOUNT]
    import csv

    assert [tricky[name] for name in header.split(",")] == next(csv.reader([TRICKY_LINE]))
    assert (tricky[C.RAW_LINE], tricky[C.SOURCE_FILE]) == (None, (folder / "b.csv").as_uri())
    copy = quarantine[R.DUPLICATE_ROW]
    assert [copy[name] for name in header.split(",")] == a_rows[3].split(",")
    assert copy[C.SOURCE_FILE] in {(folder / "a.csv").as_uri(), (folder / "b.csv").as_uri()}


def test_other_encodings_are_read_as_lines_too(spark, tmp_path):
    text = "customer_id,event_ts,amount,category\nA,2024-01-01,5,Möbel\nB,2024-01-02,6,Café\x01Bar\nA,2024-01-01,5,Möbel\n"
    path = write_bytes(tmp_path / "latin1.csv", text.encode("latin-1"))
    (tmp_path / "m.toml").write_text('[source]\nencoding = "ISO-8859-1"\n')
    # no transaction ids: the copy is quarantined only under the "quarantine" policy (issue 15)
    manifest, run = run_ingest(spark, path, tmp_path, mapping=str(tmp_path / "m.toml"), duplicates="quarantine")
    assert (manifest["rows"]["transactions_accepted"], manifest["rows"]["transactions_quarantined_duplicate_row"]) == (2, 1)
    # a line holding the separator used to read whole lines stays whole
    assert sorted(r[C.CATEGORY] for r in spark.read.parquet(str(run / "data" / "transactions")).collect()) == ["Café\x01Bar", "Möbel"]


def test_parquet_and_json_inputs_find_copies_by_their_columns(spark, tmp_path):
    rows = [("A", "2024-01-01 10:00:00", 5.0), ("A", "2024-01-01 10:00:00", 5.0), ("B", "2024-01-02 10:00:00", None), ("C", "2024-01-03 10:00:00", 7.0)]
    spark.createDataFrame(rows, "customer_id string, event_ts string, amount double").coalesce(1).write.parquet(str(tmp_path / "p"))
    lines = [json.dumps({"customer_id": c, "event_ts": t, "amount": a}) for c, t, a in rows] + ["{broken", "{broken"]
    (tmp_path / "j").mkdir()
    write(tmp_path / "j" / "t.jsonl", "\n".join(lines) + "\n")
    for name, expected_malformed in (("p", 0), ("j", 2)):
        manifest, run = run_ingest(spark, tmp_path / name, tmp_path / f"run-{name}", duplicates="quarantine")  # no ids: "auto" would keep the copy
        rows_ = manifest["rows"]
        assert (rows_["transactions_accepted"], rows_["transactions_quarantined_duplicate_row"], rows_["transactions_quarantined_non_numeric_amount"]) == (2, 1, 1)
        # two malformed lines with the same text are copies of each other, and both keep their reason
        assert rows_.get("transactions_quarantined_malformed_line", 0) == expected_malformed
        quarantine = spark.read.parquet(str(run / "quarantine" / "transactions"))
        files = {r[C.SOURCE_FILE] for r in quarantine.collect()}
        assert len(files) == 1 and files.pop().startswith((tmp_path / name).as_uri())


def test_a_source_column_named_like_a_quarantine_column_keeps_its_value(spark, tmp_path):
    path = write(tmp_path / "r.csv", "customer_id,event_ts,amount,Reason\nA,2024-01-01,5,gift\nB,2024-01-01,x,refund\n")
    manifest, run = run_ingest(spark, path, tmp_path)
    assert manifest["rows"]["transactions_quarantined_non_numeric_amount"] == 1
    (row,) = spark.read.parquet(str(run / "quarantine" / "transactions")).collect()
    assert (row["customer_id"], row["source_Reason"], row[C.REASON]) == ("B", "refund", R.NON_NUMERIC_AMOUNT)
