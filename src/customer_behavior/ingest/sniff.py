"""Checks on the first lines of a delimited file, before any full pass: pure Python, no Spark.

The reader fetches a bounded sample (the first `SAMPLE_LINES` non-blank lines, read from the
first part of the input only) and these functions tell from it the encoding a byte-order mark
announces, whether quoted fields span lines, and which header names repeat. A bad file then
fails within seconds of Spark's start instead of after a full read.
"""

from __future__ import annotations

import csv
import io

SAMPLE_LINES = 200
# Encodings of more than one byte per character: a line break is not one byte, so such a file is
# decoded whole (the CSV source's multiLine read) instead of being split on newline bytes.
_WIDE_ENCODINGS = ("UTF16", "UTF32", "UCS2", "UCS4")


def normal_encoding(encoding: str) -> str:
    return encoding.upper().replace("-", "").replace("_", "")


def is_utf8(encoding: str) -> bool:
    return normal_encoding(encoding) in ("UTF8", "AUTO")


def is_wide(encoding: str) -> bool:
    return normal_encoding(encoding).startswith(_WIDE_ENCODINGS)


def bom_encoding(first_line: str) -> str | None:
    """The encoding a byte-order mark at the start of `first_line` announces (None: no BOM).

    The line is as decoded by the reader: in UTF-8 a UTF-16 mark (FF FE or FE FF) is two
    replacement characters, in a one-byte encoding such as Latin-1 it is "ÿþ" or "þÿ"; a UTF-8
    mark is U+FEFF, or "ï»¿" in a one-byte encoding. Java's UTF-16 decoder reads the mark itself
    and takes the byte order from it, so both byte orders are "UTF-16".
    """
    if first_line.startswith(("\ufffd\ufffd", "\xff\xfe", "\xfe\xff")) and "\x00" in first_line[2:8]:
        return "UTF-16"
    if first_line.startswith(("\ufeff", "\xef\xbb\xbf")):
        return "UTF-8"
    return None


def repeated_names(names: list[str]) -> dict[str, list[int]]:
    """{name: its 1-based positions} for every header name given more than once."""
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(names, start=1):
        positions.setdefault(name, []).append(i)
    return {name: where for name, where in positions.items() if len(where) > 1}


def has_quoted_line_breaks(lines: list[str], *, delimiter: str, quote: str, escape: str, fields: int) -> bool:
    """Whether the sample holds a record whose quoted field spans lines: a line with an open
    quote that, joined with the lines after it, reads as one record of the header's width.
    An unbalanced quote that swallows the following lines into a record of another width is
    a broken line, not a multi-line record."""
    if not quote or len(delimiter) != 1:
        return False
    doubled = escape == quote
    reader = csv.reader(
        io.StringIO("\n".join(lines) + "\n"),
        delimiter=delimiter,
        quotechar=quote,
        doublequote=doubled,
        escapechar=None if doubled or not escape else escape,
        strict=False,
    )
    try:
        return any(len(record) == fields and any("\n" in value for value in record) for record in reader)
    except csv.Error:
        return False
