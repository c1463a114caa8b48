"""Read a user's files into a DataFrame of raw values, every CSV/JSON field a string.

No schema inference: a CSV field stays the text it was ("007" keeps its zeros) and the
validation step parses it with try_ functions. Lines with the wrong number of fields (or
that are not JSON) are kept, flagged in `RAW_LINE`, so that validation can quarantine
them; nothing is dropped here except blank lines and header lines.

A delimited file is read as lines of text and each line split with `from_csv` (Spark's
CSV parser, the same options): the line itself is then at hand as one value, so the
exact-copy check hashes one string and never needs the fields parsed (see `RawTable.key_columns`).

Every row gets `ROW_ID`, its place in the read order (file split, then position). It is
computed right after the reader's own filters, so two reads of the same table number
the rows alike: the duplicate check finds the copies in one read and marks them in another.

The file a row came from is not a column: `source_file()` is an expression valid where the
rows are read (before any shuffle), evaluated only for the rows that go to the quarantine.

Reading plans are lazy, except for the first lines of a CSV file (`sniff.SAMPLE_LINES` of
them: the header, the delimiter guess, the binary and byte-order-mark checks, and whether
quoted fields span lines), which are read once on the driver.

A file whose quoted fields hold line breaks (`source.multiline`) is read by the CSV source
itself, one record per row, each file whole: there is no line to keep, so its rows are told
apart by their fields, and the quarantine's raw text is the record of a malformed one.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, functions as F, types as T

from customer_behavior.errors import InputError
from customer_behavior.ingest import head, sniff
from customer_behavior.ingest.mapping import WHITESPACE, SourceOptions

log = logging.getLogger(__name__)

# Internal columns beside the user's.
RAW_LINE = "__cb_raw_line"  # the whole line of a malformed row (columns.RAW_LINE in the quarantine)
LINE = "__cb_line"  # the line each row of a delimited file came from
ROW_ID = "__cb_row_id"  # read order (file split, then position): which copy of a row is kept

DELIMITER_CANDIDATES = (",", ";", "\t", "|")
_CSV_EXTENSIONS = (".csv", ".tsv", ".txt", ".dat", ".psv")
_JSON_EXTENSIONS = (".json", ".jsonl", ".ndjson")
_COMPRESSIONS = (".gz", ".bz2", ".deflate", ".lz4", ".snappy", ".zst")
_WHITESPACE_RUN = r"[ \t]+"
# A character that Java's String.trim keeps: a line without one is blank (Spark's CSV reader
# skips such lines too). A regex, not btrim with these characters: at 3M lines that was 1 s.
# A field separator for reading whole lines through the CSV source (other encodings than UTF-8).
_NEVER_A_SEPARATOR = "\u0001"
TABLE_FORMAT = "table"  # RawTable.format of a catalog table (--input-table)


@dataclass(frozen=True)
class RawTable:
    df: DataFrame  # the source columns under their own names, RAW_LINE, ROW_ID (and LINE for delimited files)
    source_columns: tuple[str, ...]
    format: str
    delimiter: str | None
    path: str
    # The columns whose values make two rows exact copies: the line of a delimited file (rows
    # from equal lines are equal), otherwise every source column.
    key_columns: tuple[str, ...] = ()
    # the fields of the first data lines (delimited files): checks that need no full pass
    sample_rows: tuple[tuple[str, ...], ...] = ()

    def origin(self) -> Column:
        """Where a rejected row came from: its file, or the name of a catalog table (a view
        may join several sources, where `source_file()` is not allowed)."""
        return F.lit(self.path) if self.format == TABLE_FORMAT else source_file()


def source_file() -> Column:
    """The path of the file the current row was read from.

    Valid only where the rows are read, before any shuffle (after one it is empty), and in a
    plan over one file source. Spark evaluates it per row from the task's current file, and
    inside `when` only for the rows that need it: carrying the path on every row (the file
    source's `_metadata.file_path`) cost about 10% of the ingest stage.
    """
    return F.input_file_name()


# --------------------------------------------------------------------------- errors


def _deepest_java_message(exc: BaseException) -> str | None:
    java = getattr(exc, "java_exception", None)
    if java is None:
        return None
    try:
        while java.getCause() is not None:
            java = java.getCause()
        return str(java.toString())
    except Exception:  # noqa: BLE001 - the gateway may be gone; fall back to the Python text
        return None


_KNOWN_PROBLEMS = (
    (re.compile(r"Unexpected end of (ZLIB )?input stream|EOFException", re.I), "the compressed file is truncated or corrupt ({detail})"),
    (re.compile(r"Not in GZIP format|incorrect header check|invalid (block|stored block|distance)", re.I), "the compressed file is corrupt ({detail})"),
    (re.compile(r"is not a Parquet file|magic number|Could not read footer|CANNOT_READ_FILE_FOOTER", re.I), "it is not a readable Parquet file ({detail})"),
    (re.compile(r"PATH_NOT_FOUND|Path does not exist|FileNotFoundException", re.I), "the path does not exist ({detail})"),
    (re.compile(r"MalformedInputException|unmappable character", re.I), "it is not text in the expected encoding ({detail})"),
)


def explain_spark_error(exc: BaseException) -> str:
    """A one-line explanation of a Spark/Py4J failure while reading user data."""
    text = _deepest_java_message(exc) or str(exc)
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    detail = first[:200]
    for pattern, message in _KNOWN_PROBLEMS:
        if pattern.search(str(exc)) or pattern.search(text):
            return message.format(detail=detail)
    return detail


@contextlib.contextmanager
def input_errors(path: str, what: str = "input") -> Iterator[None]:
    """Turn a Spark or Py4J failure into a one-line InputError naming the path."""
    from py4j.protocol import Py4JError

    try:
        yield
    except InputError:
        raise
    except (Py4JError, Exception) as exc:  # noqa: BLE001 - PySpark raises many captured types
        from pyspark.errors import PySparkException

        if isinstance(exc, (Py4JError, PySparkException)) or type(exc).__module__.startswith(("pyspark", "py4j")):
            raise InputError(f"{what} {path!r} cannot be read: {explain_spark_error(exc)}") from exc
        raise


# --------------------------------------------------------------------------- files


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file:")


def _local(path: str) -> Path:
    return Path(re.sub(r"^file:(//)?", "", path)).expanduser()


def _data_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(("_", ".")))


def _strip_compression(name: str) -> str:
    lowered = name.lower()
    for ext in _COMPRESSIONS:
        if lowered.endswith(ext):
            return lowered[: -len(ext)]
    return lowered


def detect_format(files: list[Path]) -> str:
    names = [_strip_compression(p.name) for p in files]
    if names and all(n.endswith(".parquet") for n in names):
        return "parquet"
    if names and all(n.endswith(_JSON_EXTENSIONS) for n in names):
        return "json"
    return "csv"


def check_path(path: str, what: str = "input") -> list[Path] | None:
    """Fail early and clearly on a missing path, an empty directory or an empty file."""
    if not _is_local(path):
        return None
    local = _local(path)
    if not local.exists():
        raise InputError(f"{what} {path!r} does not exist")
    files = _data_files(local) if local.is_dir() else [local]
    if not files:
        raise InputError(f"{what} {path!r} is a directory without data files")
    if all(f.stat().st_size == 0 for f in files):
        raise InputError(f"{what} {path!r} is empty (0 bytes)")
    return files


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


# --------------------------------------------------------------------------- JSON lines, Parquet


def _stringify_complex(df: DataFrame) -> DataFrame:
    """Nested values become JSON text: the mapping only addresses flat columns."""
    complex_types = (T.StructType, T.ArrayType, T.MapType)
    return df.select(*[F.to_json(column(f.name)).alias(f.name) if isinstance(f.dataType, complex_types) else column(f.name) for f in df.schema.fields])


def _read_json(spark: SparkSession, path: str, options: SourceOptions, what: str) -> RawTable:
    df = (
        spark.read.option("primitivesAsString", True)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", RAW_LINE)
        .option("encoding", options.encoding)
        .json(path)
    )
    if not df.columns:
        raise InputError(f"{what} {path!r} has no JSON records")
    names = [c for c in df.columns if c != RAW_LINE]
    if RAW_LINE not in df.columns:
        df = df.withColumn(RAW_LINE, F.lit(None).cast("string"))
    complex_types = (T.StructType, T.ArrayType, T.MapType)
    values = [F.to_json(column(f.name)).alias(f.name) if isinstance(f.dataType, complex_types) else column(f.name) for f in df.schema.fields if f.name in names]
    df = df.select(*values, F.col(RAW_LINE), F.monotonically_increasing_id().alias(ROW_ID))
    # a malformed line's fields are all null: its text tells it apart from other malformed lines
    return RawTable(df=df, source_columns=tuple(names), format="json", delimiter=None, path=path, key_columns=(*names, RAW_LINE))


def _read_parquet(spark: SparkSession, path: str, what: str) -> RawTable:
    df = spark.read.parquet(path)
    names = list(df.columns)
    df = _stringify_complex(df).select("*", F.lit(None).cast("string").alias(RAW_LINE), F.monotonically_increasing_id().alias(ROW_ID))
    return RawTable(df=df, source_columns=tuple(names), format="parquet", delimiter=None, path=path, key_columns=tuple(names))


def read_table(spark: SparkSession, name: str, *, what: str = "--input-table") -> RawTable:
    """A table or view the session's catalog resolves (db.table, catalog.db.table), read like Parquet."""
    try:
        df = spark.table(name)
        names = list(df.columns)
    except Exception as exc:  # noqa: BLE001 - Spark's AnalysisException becomes one line
        raise InputError(f"{what} {name!r}: {_table_problem(exc)}") from None
    df = _stringify_complex(df).select("*", F.lit(None).cast("string").alias(RAW_LINE), F.monotonically_increasing_id().alias(ROW_ID))
    return RawTable(df=df, source_columns=tuple(names), format=TABLE_FORMAT, delimiter=None, path=name, key_columns=tuple(names))


def _table_problem(exc: BaseException) -> str:
    text = str(exc)
    if re.search(r"TABLE_OR_VIEW_NOT_FOUND|Table or view not found|SCHEMA_NOT_FOUND|NoSuchTable|NoSuchDatabase", text):
        return "no such table or view in the session's catalog (check the name: db.table or catalog.db.table)"
    return explain_spark_error(exc)


# --------------------------------------------------------------------------- entry point


def read_raw(spark: SparkSession, path: str, options: SourceOptions, *, what: str = "input") -> RawTable:
    """The raw table of a file or directory (CSV, JSON lines, Parquet), or an InputError."""
    path = os.fspath(path)
    files = check_path(path, what)
    fmt = options.format
    if fmt == "auto":
        fmt = detect_format(files) if files is not None else "csv"
    with input_errors(path, what):
        if fmt == "parquet":
            table = _read_parquet(spark, path, what)
        elif fmt == "json":
            table = _read_json(spark, path, options, what)
        else:
            table = _read_delimited(spark, path, options, what)
    if not table.source_columns:
        raise InputError(f"{what} {path!r} has no columns")
    return table
