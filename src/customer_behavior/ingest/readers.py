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

import logging
import os
import re
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from customer_behavior.errors import InputError
from customer_behavior.ingest.delimited import (  # noqa: F401  (re-exported)
    _read_delimited,
    column,
    guess_delimiter,
    looks_binary,
)
from customer_behavior.ingest.mapping import SourceOptions
from customer_behavior.ingest.raw import (  # noqa: F401  (re-exported)
    _COMPRESSIONS,
    _JSON_EXTENSIONS,
    DELIMITER_CANDIDATES,
    LINE,
    RAW_LINE,
    ROW_ID,
    TABLE_FORMAT,
    RawTable,
    source_file,
)
from customer_behavior.ingest.spark_errors import (  # noqa: F401  (re-exported)
    explain_spark_error,
    input_errors,
)

log = logging.getLogger(__name__)


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
