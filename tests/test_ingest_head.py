"""The driver's read of a local file's first lines gives what Spark's text source gives, and
leaves to Spark what it cannot read the same way."""

from __future__ import annotations

import gzip

from pyspark.sql import functions as F

from customer_behavior.ingest import head

MIXED_BREAKS = b"\xef\xbb\xbfcustomer_id,amount\r\nC1,1.50\rC2,2.00\n\n   \nC3,\"caf\xc3\xa9\"\r\n\tC4,0\n"


def _spark_lines(spark, path: str, n: int) -> list[str]:
    rows = spark.read.text(path).filter(F.col("value").rlike(head.NOT_BLANK)).limit(n).collect()
    return [row["value"] for row in rows]


def test_the_first_lines_equal_sparks_text_source(spark, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes(MIXED_BREAKS)
    lines = head.head_lines(str(path), 10)
    assert lines == ["customer_id,amount", "C1,1.50", "C2,2.00", 'C3,"café"', "\tC4,0"]
    assert lines == _spark_lines(spark, str(path), 10)
    assert head.head_lines(path.as_uri(), 2) == lines[:2]


def test_a_line_cut_by_the_first_megabyte_is_not_taken(tmp_path):
    path = tmp_path / "long.csv"
    line = b"C1," + b"9" * 1000 + b"\n"
    path.write_bytes(line * (head.HEAD_BYTES // len(line) + 5))
    lines = head.head_lines(str(path), 10)
    assert lines == [line.decode().rstrip("\n")] * 10
    # more lines asked than the first megabyte holds whole: Spark reads it
    assert head.head_lines(str(path), head.HEAD_BYTES // len(line) + 1) is None


def test_what_spark_must_read_is_left_to_it(tmp_path):
    compressed = tmp_path / "orders.csv.gz"
    compressed.write_bytes(gzip.compress(b"customer_id\nC1\n"))
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(b"customer_id,city\nC1,K\xf6ln\n")
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("customer_id\nC1\n".encode("utf-16"))
    for path in (compressed, latin1, utf16, tmp_path, tmp_path / "missing.csv"):
        assert head.head_lines(str(path), 5) is None, path
    assert head.head_lines(str(tmp_path / "*.csv"), 5) is None
    assert head.head_lines("hdfs://namenode/data/orders.csv", 5) is None
