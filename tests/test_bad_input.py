"""The bad-input catalogue of issue #21: real exports a new user brings, each read exactly or
refused in one line, with exact accounting (read = accepted + quarantined) in every case."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from customer_behavior import columns as C
from customer_behavior.errors import InputError
from customer_behavior.ingest import reasons as R
from tests.test_ingest import ingest_rows, run_ingest, write, write_bytes

HEADER = "transaction_id,customer_id,event_ts,amount,category"
ROWS = ["T1,C1,2024-03-01 10:00:00,12.50,Bücher", 'T2,C2,2024-03-02 11:00:00,7.00,"東京, Ginza"', "T3,C1,2024-03-03 12:00:00,1.25,Café"]
EXPECTED = {
    "T1": ("C1", dt.datetime(2024, 3, 1, 10), 12.5, "Bücher"),
    "T2": ("C2", dt.datetime(2024, 3, 2, 11), 7.0, "東京, Ginza"),
    "T3": ("C1", dt.datetime(2024, 3, 3, 12), 1.25, "Café"),
}


def _values(result) -> dict[str, tuple]:
    return {tid: (r[C.CUSTOMER_ID], r[C.EVENT_TS], r[C.AMOUNT], r[C.CATEGORY]) for tid, r in result["accepted"].items()}


def _assert_exact(result, *, read: int, accepted: int, **by_reason: int) -> None:
    acc = result["accounting"]
    assert (acc["read"], acc["accepted"], acc["quarantined"]) == (read, accepted, read - accepted)
    assert {k: v for k, v in acc["by_reason"].items() if v} == by_reason


# --------------------------------------------------------------------------- encodings

TEXT = "\r\n".join([HEADER, *ROWS]) + "\r\n"
ENCODED = {
    "utf16_le_bom": TEXT.encode("utf-16-le") and b"\xff\xfe" + TEXT.encode("utf-16-le"),
    "utf16_be_bom": b"\xfe\xff" + TEXT.encode("utf-16-be"),
    "utf8_bom": b"\xef\xbb\xbf" + TEXT.encode("utf-8"),
}


@pytest.mark.parametrize("case", sorted(ENCODED))
def test_a_byte_order_mark_tells_the_encoding(spark, tmp_path, case):
    path = write_bytes(tmp_path / f"{case}.csv", ENCODED[case])
    result = ingest_rows(spark, path)
    _assert_exact(result, read=3, accepted=3)
    assert _values(result) == EXPECTED


@pytest.mark.parametrize("name", ["UTF-16", "UTF-16LE"])
def test_source_encoding_utf16_is_read_exactly(spark, tmp_path, name):
    # "Unicode text" of a spreadsheet: UTF-16 LE with a mark; a directory of two such files,
    # the second repeating the header
    folder = tmp_path / "exports"
    folder.mkdir()
    write_bytes(folder / "a.txt", "\ufeff".encode("utf-16-le") + ("\t".join(HEADER.split(",")) + "\r\n" + ROWS[0].replace(",", "\t") + "\r\n").encode("utf-16-le"))
    write_bytes(folder / "b.txt", "\ufeff".encode("utf-16-le") + ("\t".join(HEADER.split(",")) + "\r\n" + "T3\tC1\t2024-03-03 12:00:00\t1.25\tCafé\r\n").encode("utf-16-le"))
    mapping = write(tmp_path / "m.toml", f'[source]\nencoding = "{name}"\n')
    result = ingest_rows(spark, folder, mapping=str(mapping))
    _assert_exact(result, read=2, accepted=2)
    assert _values(result) == {k: EXPECTED[k] for k in ("T1", "T3")}


# --------------------------------------------------------------------------- column names

ODD_NAMES = ["order.id", "customer.id", "Order Date (UTC)", 'the "total"', "Kategorie ä`b"]


def test_column_names_of_any_characters_work_everywhere(spark, tmp_path):
    header = ",".join(f'"{n.replace(chr(34), chr(34) * 2)}"' if '"' in n else n for n in ODD_NAMES)
    lines = [header, ROWS[0], "T9,,2024-03-01 10:00:00,3.00,x", ROWS[2], ROWS[2]]
    path = write(tmp_path / "dotted.csv", "\n".join(lines) + "\n")
    mapping = write(
        tmp_path / "m.toml",
        "[columns]\n"
        'transaction_id = "order.id"\ncustomer_id = "customer.id"\nevent_ts = "Order Date (UTC)"\n'
        "amount = 'the \"total\"'\ncategory = \"Kategorie ä`b\"\n",
    )
    result = ingest_rows(spark, path, mapping=str(mapping))
    _assert_exact(result, read=4, accepted=2, missing_customer_id=1, duplicate_row=1)
    assert _values(result) == {k: EXPECTED[k] for k in ("T1", "T3")}
    manifest, run = run_ingest(spark, path, tmp_path / "stage", mapping=str(mapping))
    quarantine = sorted(spark.read.parquet(str(run / "quarantine" / "transactions")).collect(), key=lambda r: r[C.REASON])
    assert [(r["order.id"], r["Kategorie ä`b"], r[C.REASON]) for r in quarantine] == [("T3", "Café", R.DUPLICATE_ROW), ("T9", "x", R.MISSING_CUSTOMER_ID)]
    assert manifest["rows"]["transactions_read"] == 4


def test_a_dotted_column_found_by_its_own_name(spark, tmp_path):
    # no mapping: "customer.id" is looked up as customer_id (dots ignored like spaces)
    path = write(tmp_path / "d.csv", "customer.id,event.ts,amount\nC1,2024-03-01,2.50\n")
    result = ingest_rows(spark, path)
    _assert_exact(result, read=1, accepted=1)
    (row,) = result["accepted"].values()
    assert (row[C.CUSTOMER_ID], row[C.AMOUNT]) == ("C1", 2.5)


def test_a_repeated_header_name_is_one_clear_error(spark, tmp_path):
    path = write(tmp_path / "twice.csv", "customer_id,event_ts,amount,category,amount\nC1,2024-03-01,1,x,2\n")
    with pytest.raises(InputError) as caught:
        ingest_rows(spark, path)
    assert str(caught.value) == (
        f"input {str(path)!r}: the header repeats a column name ('amount' at positions 3, 5); rename the copies so that each column has its own name"
    )


# --------------------------------------------------------------------------- quoted line breaks

MULTILINE = [
    "transaction_id,customer_id,event_ts,amount,category",
    'T1,C1,2024-03-01 10:00:00,12.50,"Garden,\nHose ""Pro"""',
    "T2,C2,2024-03-02 11:00:00,7.00,plain",
    'T3,C3,2024-03-03 12:00:00,abc,"two\r\nlines"',
    "   ",
    "T4,C4,2024-03-04 12:00:00",
    "transaction_id,customer_id,event_ts,amount,category",
    'T1,C1,2024-03-01 10:00:00,12.50,"Garden,\nHose ""Pro"""',
]


def test_quoted_line_breaks_are_read_as_one_record(spark, tmp_path):
    path = write(tmp_path / "addresses.csv", "\n".join(MULTILINE) + "\n")
    result = ingest_rows(spark, path)  # source.multiline = "auto" sees a record across lines
    _assert_exact(result, read=5, accepted=2, non_numeric_amount=1, malformed_line=1, duplicate_row=1)
    assert {k: v[3] for k, v in _values(result).items()} == {"T1": 'Garden,\nHose "Pro"', "T2": "plain"}
    manifest, run = run_ingest(spark, path, tmp_path / "stage")
    quarantine = {r[C.REASON]: r for r in spark.read.parquet(str(run / "quarantine" / "transactions")).collect()}
    assert quarantine[R.MALFORMED_LINE][C.RAW_LINE] == "T4,C4,2024-03-04 12:00:00"
    assert quarantine[R.NON_NUMERIC_AMOUNT][C.CATEGORY] == "two\r\nlines"
    assert quarantine[R.DUPLICATE_ROW][C.CATEGORY] == 'Garden,\nHose "Pro"'
    assert manifest["rows"]["transactions_read"] == 5


def test_multiline_false_quarantines_each_broken_line(spark, tmp_path):
    path = write(tmp_path / "addresses.csv", "\n".join(MULTILINE) + "\n")
    mapping = write(tmp_path / "m.toml", "[source]\nmultiline = false\n")
    result = ingest_rows(spark, path, mapping=str(mapping))
    # 8 lines (T1 and T3 two each, T4, T1's two again; the blank line and the header skipped):
    # the first halves parse (T3's amount is "abc"), the second halves and T4 are malformed
    _assert_exact(result, read=8, accepted=2, malformed_line=4, non_numeric_amount=1, duplicate_row=1)
    assert sorted(result["accepted"]) == ["T1", "T2"]


# --------------------------------------------------------------------------- amount formats

AMOUNT_CASES = {
    # case: (amounts as written, mapping [amount] lines, the settings the error suggests)
    "dollar": (['"$12.50"', '"$7.00"', '"$1,234.50"'], 'currency_symbols = ["$"]\nthousands_separator = ","', 'amount.currency_symbols = ["$"] and amount.thousands_separator = ","'),
    "euro_suffix": (["12.50 EUR", "7.00 EUR", "1234.50 EUR"], 'currency_symbols = ["EUR"]', 'amount.currency_symbols = ["EUR"]'),
    "thousands_comma": (['"12.50"', '"7.00"', '"1,234.50"'], 'thousands_separator = ","', None),  # 2 of 3 read: rows, not an error
    "german": (['"12,50"', '"7,00"', '"1.234,50"'], 'thousands_separator = "."\ndecimal_separator = ","', 'amount.thousands_separator = "." and amount.decimal_separator = ","'),
}


def _amount_file(tmp_path, amounts):
    lines = [HEADER] + [f"T{i},C{i},2024-03-0{i} 10:00:00,{a},x" for i, a in enumerate(amounts, start=1)]
    return write(tmp_path / "amounts.csv", "\n".join(lines) + "\n")


@pytest.mark.parametrize("case", sorted(AMOUNT_CASES))
def test_formatted_amounts_read_with_their_settings(spark, tmp_path, case):
    amounts, settings, suggestion = AMOUNT_CASES[case]
    path = _amount_file(tmp_path, amounts)
    mapping = write(tmp_path / "m.toml", f"[amount]\n{settings}\n")
    result = ingest_rows(spark, path, mapping=str(mapping))
    _assert_exact(result, read=3, accepted=3)
    assert {tid: row[C.AMOUNT] for tid, row in result["accepted"].items()} == {"T1": 12.5, "T2": 7.0, "T3": 1234.5}
    if suggestion is None:  # most read as they are: the odd one is quarantined, no error
        _assert_exact(ingest_rows(spark, path), read=3, accepted=2, non_numeric_amount=1)
        return
    with pytest.raises(InputError) as caught:
        ingest_rows(spark, path)
    example = amounts[0].strip('"')
    assert str(caught.value) == (
        f"input {str(path)!r}: column 'amount' (amount): 3 of the first 3 amounts cannot be read as numbers; "
        f"most look like {example!r}: set {suggestion} in the mapping"
    )


def test_amount_format_flags(spark, tmp_path):
    path = _amount_file(tmp_path, ['"€ 12,50"', '"€ 7,00"', '"€ 1.234,50"'])
    result = ingest_rows(spark, path, currency_symbols="€", thousands_separator=".", decimal_separator=",")
    assert {tid: row[C.AMOUNT] for tid, row in result["accepted"].items()} == {"T1": 12.5, "T2": 7.0, "T3": 1234.5}
    _assert_exact(result, read=3, accepted=3)


# --------------------------------------------------------------------------- tiny and degenerate logs


def _full_run(spark, path, tmp_path):
    from customer_behavior.config import Config, InputConfig
    from customer_behavior.pipeline import execute

    staging = tmp_path / "run"
    staging.mkdir()
    cfg = Config(input=InputConfig(path=str(path), as_of="2025-01-01", max_bad_fraction=1.0))
    return execute(spark, cfg, staging, command="test"), staging


def _stage(manifest, name):
    return next(s for s in manifest["stages"] if s["name"] == name)


def test_a_log_of_nothing_but_returns_stops_at_ingest(spark, tmp_path):
    path = write(tmp_path / "returns.csv", "customer_id,event_ts,amount,status\nC1,2024-03-01,-5.00,returned\nC2,2024-03-02,0,cancelled\n")
    with pytest.raises(InputError) as caught:
        run_ingest(spark, path, tmp_path)
    assert str(caught.value) == (
        f"input {str(path)!r}: none of the 2 accepted rows is a purchase (all are returns or cancellations); there is nothing to analyse"
    )


def test_five_one_time_buyers_of_one_day_get_a_whole_run(spark, tmp_path):
    # a small shop's first day: no categories, five customers, one order each
    lines = ["customer_id,event_ts,amount"] + [f"C{i},2024-12-31 1{i}:00:00,{10 * i}.00" for i in range(1, 6)]
    manifest, run = _full_run(spark, write(tmp_path / "day.csv", "\n".join(lines) + "\n"), tmp_path)
    assert (manifest["rows"]["transactions_read"], manifest["rows"]["transactions_accepted"]) == (5, 5)
    assert {s["name"]: s["status"] for s in manifest["stages"]}["personas"] == "ok"
    assert "segments: every customer has the same orders, so it ranks nobody; everyone gets orders score 1 of 5" in manifest["summary_lines"]
    assert "personas: k_max 10 lowered to 5, the number of customers with orders (k = 2..5)" in _stage(manifest, "personas")["notes"]
    segments_note = "segments: every customer has the same recency_days, so it ranks nobody; everyone gets recency_days score 5 of 5"
    assert segments_note in manifest["summary_lines"]
    assert "patterns: category affinities skipped: the input has no category column" in _stage(manifest, "patterns")["notes"]
    rfm = spark.read.parquet(str(run / "tables" / "rfm_segments")).collect()
    assert {r[C.SEGMENT] for r in rfm} == {"New Customers"}  # R 5, F 1: not Lost beside "100% active"
    html = (run / "report" / "report.html").read_text(encoding="utf-8")
    assert segments_note in html and "category affinities skipped" in html


def test_one_customer_skips_personas_and_the_run_goes_on(spark, tmp_path):
    lines = ["customer_id,event_ts,amount,category", "C1,2024-06-01,10.00,books", "C1,2024-09-01,20.00,toys", "C1,2024-12-01,5.00,books"]
    manifest, run = _full_run(spark, write(tmp_path / "one.csv", "\n".join(lines) + "\n"), tmp_path)
    personas_stage = _stage(manifest, "personas")
    assert (personas_stage["status"], personas_stage["notes"][0]) == ("skipped", "personas: 1 customer(s) with orders; clustering needs at least 2")
    assert _stage(manifest, "report")["status"] == "ok"
    assert not (run / "tables" / "personas").exists()
    html = (run / "report" / "report.html").read_text(encoding="utf-8")
    assert "personas skipped: personas: 1 customer(s) with orders; clustering needs at least 2" in html
    assert (run / "report" / "report.md").read_text(encoding="utf-8").count("personas skipped") == 1
