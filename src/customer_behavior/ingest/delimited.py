"""Delimited and whitespace-separated text: encoding, delimiter and header found from a sample, malformed lines kept whole."""

from __future__ import annotations

import csv
import logging
import re

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from customer_behavior.errors import InputError
from customer_behavior.ingest import head, sniff
from customer_behavior.ingest.mapping import WHITESPACE, SourceOptions
from customer_behavior.ingest.raw import _NEVER_A_SEPARATOR, _WHITESPACE_RUN, DELIMITER_CANDIDATES, LINE, RAW_LINE, ROW_ID, RawTable

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- CSV


def _lines(spark: SparkSession, path: str, encoding: str) -> DataFrame:
    """Every line of the files (one column, `value`), line breaks removed.

    UTF-8 through the text source. Other encodings through the CSV source, which honours
    them, with a field separator that does not occur; a line that contains it after all is
    taken whole from the malformed-record column. A wide encoding (UTF-16) is decoded file by
    file (multiLine): split on newline bytes, its two-byte line breaks would be cut in half.
    """
    if sniff.is_utf8(encoding):
        return spark.read.text(path)
    whole = "__cb_whole_line"
    lines_df = (
        spark.read.schema(f"value string, {whole} string")
        .option("sep", _NEVER_A_SEPARATOR).option("quote", "\u0000").option("header", False)
        .option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", whole)
        .option("multiLine", sniff.is_wide(encoding))
        .option("encoding", encoding).csv(path)
    )
    return lines_df.select(F.coalesce(F.col(whole), F.col("value")).alias("value"))


def _is_blank(line: Column) -> Column:
    return ~line.rlike(head.NOT_BLANK)


def _sample(spark: SparkSession, path: str, encoding: str) -> list[str]:
    """The first `sniff.SAMPLE_LINES` non-blank lines (a bounded read of the first part): read
    by the driver when the file is a plain local UTF-8 one (no Spark job), else through Spark."""
    lines = head.head_lines(path, sniff.SAMPLE_LINES) if sniff.is_utf8(encoding) else None
    if lines is None and sniff.is_utf8(encoding):
        first = head.head_lines(path, 1)  # a binary file's first line is all its check needs (its lines may all look blank)
        lines = first if first and looks_binary(first[0]) else None
    if lines is None:
        rows = _lines(spark, path, encoding).filter(~_is_blank(F.col("value"))).limit(sniff.SAMPLE_LINES).collect()
        lines = [row["value"] for row in rows]
    return [line.rstrip("\r") for line in lines]


def _sample_in_its_encoding(spark: SparkSession, path: str, options: SourceOptions, what: str) -> tuple[list[str], str]:
    """(the sample, the encoding to read the file in): a byte-order mark the configured
    encoding does not decode as one (a UTF-16 file read as UTF-8) wins over it."""
    encoding = options.encoding
    sample = _sample(spark, path, encoding)
    announced = sniff.bom_encoding(sample[0]) if sample else None
    if announced is not None and sniff.normal_encoding(announced) != sniff.normal_encoding(encoding):
        log.info("%s %s: its byte-order mark says %s; reading it as %s instead of %s", what, path, announced, announced, encoding)
        encoding = announced
        sample = _sample(spark, path, encoding)
    return sample, encoding


def looks_binary(line: str) -> bool:
    if "\x00" in line:
        return True
    odd = sum(1 for ch in line if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\t\r\n"))
    return odd > max(2, len(line) // 20)


def guess_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in DELIMITER_CANDIDATES}
    best = max(DELIMITER_CANDIDATES, key=lambda d: counts[d])
    if counts[best] > 0:
        return best
    return WHITESPACE if re.search(_WHITESPACE_RUN, line.strip()) else ","


def _header_fields(line: str, delimiter: str, quote: str) -> list[str]:
    if delimiter == WHITESPACE:
        return re.split(_WHITESPACE_RUN, line.strip())
    if len(delimiter) == 1:
        return next(csv.reader([line], delimiter=delimiter, quotechar=quote or None))
    return line.split(delimiter)


def _column_names(header_fields: list[str], options: SourceOptions, path: str, what: str) -> list[str]:
    if not options.header:
        if options.column_names:
            if len(options.column_names) != len(header_fields):
                raise InputError(
                    f"{what} {path!r}: source.column_names names {len(options.column_names)} columns "
                    f"but the first line has {len(header_fields)} fields"
                )
            return list(options.column_names)
        return [f"_c{i}" for i in range(len(header_fields))]
    names = [raw.strip().lstrip("\ufeff").strip() or f"_c{i}" for i, raw in enumerate(header_fields)]
    repeated = sniff.repeated_names(names)
    if repeated:
        detail = "; ".join(f"{name!r} at positions {', '.join(map(str, where))}" for name, where in repeated.items())
        raise InputError(f"{what} {path!r}: the header repeats a column name ({detail}); rename the copies so that each column has its own name")
    return names


def _ddl(names: list[str]) -> str:
    return ", ".join(f"`{name.replace('`', '``')}` STRING" for name in names)


def _read_delimited(spark: SparkSession, path: str, options: SourceOptions, what: str) -> RawTable:
    sample, encoding = _sample_in_its_encoding(spark, path, options, what)
    if not sample:
        raise InputError(f"{what} {path!r} is empty (only blank lines)")
    first = sample[0]
    if looks_binary(first):
        raise InputError(f"{what} {path!r} does not look like a text file (binary data); is it compressed with an unsupported codec, or a spreadsheet? Export it as CSV")
    delimiter = guess_delimiter(first) if options.delimiter == "auto" else options.delimiter
    header_fields = _header_fields(first, delimiter, options.quote)
    names = _column_names(header_fields, options, path, what)
    header_line = first if options.header else None
    csv_options = {
        "sep": delimiter,
        "quote": options.quote if options.quote else "\u0000",
        "escape": options.escape or "\\",
        "mode": "PERMISSIVE",
        "columnNameOfCorruptRecord": RAW_LINE,
    }
    data_sample = sample[1:] if options.header else sample
    multiline = options.multiline
    if multiline == "auto":
        multiline = delimiter != WHITESPACE and sniff.has_quoted_line_breaks(data_sample, delimiter=delimiter, quote=options.quote, escape=options.escape, fields=len(names))
    sample_rows = tuple(tuple(fields) for fields in _sample_fields(data_sample, delimiter, options) if len(fields) == len(names))
    if delimiter == WHITESPACE:
        df = _read_whitespace(spark, path, names, header_line, encoding)
    elif multiline:
        df = _read_records(spark, path, names, header_fields if options.header else None, csv_options | {"encoding": encoding})
        return RawTable(
            df=df, source_columns=tuple(names), format="csv", delimiter=delimiter, path=path, key_columns=(*names, RAW_LINE), sample_rows=sample_rows
        )
    else:
        fields = F.from_csv(F.col(LINE), _ddl([*names, RAW_LINE]), csv_options)
        df = (
            _data_lines(spark, path, encoding, header_line)
            .select(F.col(LINE), F.col(ROW_ID), fields.alias("__cb_fields"))
            .select(*[F.col("__cb_fields").getField(name).alias(name) for name in [*names, RAW_LINE]], F.col(LINE), F.col(ROW_ID))
        )
    return RawTable(df=df, source_columns=tuple(names), format="csv", delimiter=delimiter, path=path, key_columns=(LINE,), sample_rows=sample_rows)


def _sample_fields(lines: list[str], delimiter: str, options: SourceOptions) -> list[list[str]]:
    if delimiter == WHITESPACE or len(delimiter) != 1:
        return [_header_fields(line, delimiter, options.quote) for line in lines]
    doubled = options.escape == options.quote
    try:
        return list(csv.reader(lines, delimiter=delimiter, quotechar=options.quote or None, doublequote=doubled, escapechar=None if doubled or not options.escape else options.escape))
    except csv.Error:
        return []


def _read_records(spark: SparkSession, path: str, names: list[str], header_fields: list[str] | None, csv_options: dict[str, str]) -> DataFrame:
    """Records whose quoted fields may span lines: the CSV source parses each file whole.

    As with lines, blank records are skipped and so is every record equal to the header (each
    file of a directory starts with it); a malformed record keeps its text in RAW_LINE."""
    df = spark.read.schema(_ddl([*names, RAW_LINE])).options(**csv_options).option("header", False).option("multiLine", True).csv(path)
    raw = F.col(RAW_LINE)
    is_blank = raw.isNotNull() & _is_blank(raw)
    keep = ~is_blank
    if header_fields is not None:
        first, *rest = [column(name) == F.lit(value) for name, value in zip(names, header_fields, strict=True)]
        first = first | (column(names[0]) == F.lit("\ufeff" + header_fields[0]))
        is_header = first
        for condition in rest:
            is_header = is_header & condition
        keep = keep & ~F.coalesce(is_header, F.lit(False))
    return df.filter(keep).select(*[column(name) for name in [*names, RAW_LINE]], F.monotonically_increasing_id().alias(ROW_ID))


def column(name: str) -> Column:
    """A source column by its name, whatever characters it holds (dots, spaces, backticks)."""
    return F.col("`" + name.replace("`", "``") + "`")


def _data_lines(spark: SparkSession, path: str, encoding: str, header_line: str | None) -> DataFrame:
    """The lines that hold rows, as LINE, numbered in ROW_ID.

    Blank lines are skipped, and so is every line equal to the header line: each file of a
    directory starts with it, and files concatenated with their headers repeat it.
    """
    line = F.col("value")
    is_data = ~_is_blank(line)
    if header_line is not None:
        header = header_line.lstrip("\ufeff")
        is_data = is_data & ~line.isin(header, "\ufeff" + header)
    return _lines(spark, path, encoding).filter(is_data).select(line.alias(LINE), F.monotonically_increasing_id().alias(ROW_ID))


def _read_whitespace(spark: SparkSession, path: str, names: list[str], header_line: str | None, encoding: str) -> DataFrame:
    """Fields separated by runs of spaces/tabs: split each line with a regex in Spark SQL."""
    trimmed = F.regexp_replace(F.col("value"), r"^[ \t\r]+|[ \t\r]+$", "")
    lines_df = _lines(spark, path, encoding).select(trimmed.alias("value")).filter(F.length(F.col("value")) > 0)
    if header_line is not None:
        # every file of a directory repeats the header
        lines_df = lines_df.filter(F.col("value") != F.lit(header_line.strip(" \t\r")))
    lines_df = lines_df.select(F.col("value").alias(LINE), F.monotonically_increasing_id().alias(ROW_ID))
    fields = F.split(F.col(LINE), _WHITESPACE_RUN)
    is_malformed = F.size(F.col("fields")) != F.lit(len(names))
    return (
        lines_df.withColumn("fields", fields)
        .select(
            *[F.get(F.col("fields"), i).alias(name) for i, name in enumerate(names)],
            F.when(is_malformed, F.col(LINE)).alias(RAW_LINE),
            F.col(LINE),
            F.col(ROW_ID),
        )
    )
