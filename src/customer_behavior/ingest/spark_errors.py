"""Spark and Py4J failures while reading, turned into one-line InputErrors naming the path."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from customer_behavior.errors import InputError

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
