"""The first lines of a plain local file, read by the driver without a Spark job.

The readers look at a file's first lines (its encoding, delimiter, header and a sample of
amounts) before any full pass, so that a bad file fails fast. Through Spark that sample is a
job of its own, and the first job of a fresh session costs seconds; a local, uncompressed
UTF-8 file gives the same lines from one bounded read of its first megabyte. Anything else
(a directory, a glob, a remote or compressed file, another encoding, bytes that are not clean
UTF-8, a first megabyte without enough lines) returns None, and the caller asks Spark, which
handles every case alike.

The lines are split as Spark's text source splits them (Hadoop's line reader: LF, CR LF or a
lone CR ends a line, and a UTF-8 byte-order mark at the start is skipped), so both paths give
the same sample.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

HEAD_BYTES = 1 << 20
# Hadoop picks a codec by suffix: such a file is read through Spark, which decompresses it.
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".deflate", ".lz4", ".snappy", ".zst", ".xz", ".zip", ".br")
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_UTF8_BOM = b"\xef\xbb\xbf"  # Hadoop's line reader skips it at the start of a file
NOT_BLANK = r"[^\x00-\x20]"  # a character that is not blank (ASCII controls and space are)


def local_file(path: str) -> Path | None:
    """The regular local file `path` names (a plain path or a file: URI), else None."""
    parsed = urlparse(path)
    if parsed.scheme not in ("", "file") or any(ch in path for ch in "*?[{"):
        return None
    local = Path(parsed.path if parsed.scheme == "file" else path)
    if not local.is_file() or local.name.lower().endswith(COMPRESSED_SUFFIXES):
        return None
    return local


def head_lines(path: str, max_lines: int) -> list[str] | None:
    """Up to `max_lines` non-blank lines from the start of a local UTF-8 file, or None when
    Spark must read it (see the module docstring)."""
    local = local_file(path)
    if local is None:
        return None
    with local.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
        at_end = not handle.read(1)
    pieces = _LINE_BREAK.split(head.removeprefix(_UTF8_BOM))
    if not at_end:
        pieces = pieces[:-1]  # the last piece may be cut in the middle of a line
    try:
        lines = [piece.decode("utf-8") for piece in pieces]
    except UnicodeDecodeError:
        return None
    kept = [line for line in lines if re.search(NOT_BLANK, line)][:max_lines]
    if len(kept) < max_lines and not at_end:
        return None
    return kept


__all__ = ["NOT_BLANK", "head_lines", "local_file"]
