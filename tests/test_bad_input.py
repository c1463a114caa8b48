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
