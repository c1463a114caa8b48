"""The raw table every reader returns, and the internal columns it carries beside the user's."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

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
