"""Amounts written for people: currency symbols and thousands/decimal separators.

`parsed_amount_sql` reads such text in Spark SQL (plain string replacements and try_cast,
no UDF). `guess_amount_format` looks at the amounts of the first
lines on the driver: when most fail only because of a symbol or separators, the run stops at
once with the settings that read them.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from customer_behavior.ingest.mapping import AmountFormat

_CURRENCY_AROUND = re.compile(r"^\s*(?P<pre>[^\d\s.,+\-()']{1,4})?\s*(?P<sign>[+-])?\s*(?P<pre2>[^\d\s.,+\-()']{1,4})?\s*(?P<number>\d[\d.,' \u00a0]*)\s*(?P<post>[^\d\s.,+\-()']{1,4})?\s*$")
_GROUPED = {sep: re.compile(rf"^\d{{1,3}}({re.escape(sep)}\d{{3}})+$") for sep in (",", ".", " ", "\u00a0", "'")}


def _sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parsed_amount_sql(text_sql: str, fmt: AmountFormat) -> str:
    """A Spark SQL expression: the text `text_sql` with the currency symbols and thousands
    separators removed and the decimal separator made a point, read with try_cast (null when
    it is still not a number). SQL rather than Column functions: try_cast of a Column is not
    in every supported PySpark."""
    for symbol in fmt.currency_symbols:
        text_sql = f"replace({text_sql}, {_sql_string(symbol)}, '')"
    if fmt.thousands_separator:
        text_sql = f"replace({text_sql}, {_sql_string(fmt.thousands_separator)}, '')"
    if fmt.decimal_separator != ".":
        text_sql = f"replace({text_sql}, {_sql_string(fmt.decimal_separator)}, '.')"
    return f"try_cast(trim({text_sql}) as double)"


def python_amount(text: str, fmt: AmountFormat) -> float | None:
    """What `parsed_amount_text` and try_cast make of `text`, for the sample check."""
    for symbol in fmt.currency_symbols:
        text = text.replace(symbol, "")
    if fmt.thousands_separator:
        text = text.replace(fmt.thousands_separator, "")
    if fmt.decimal_separator != ".":
        text = text.replace(fmt.decimal_separator, ".")
    text = text.strip()
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def _separators(number: str) -> tuple[str, str]:
    """(thousands, decimal) separators that read `number` (digits and separators only)."""
    marks = [ch for ch in number if not ch.isdigit()]
    if not marks:
        return "", "."
    last = marks[-1]
    if len(set(marks)) > 1:  # 1.234,50 or 1,234.50: the last mark is the decimal one
        return marks[0], last
    if marks.count(last) > 1 or (_GROUPED[last].match(number) and last not in ".,"):
        return last, "."
    if last == "," and not _GROUPED[","].match(number):
        return "", ","  # 12,50
    if last == "," and _GROUPED[","].match(number):
        return ",", "."  # 1,234 (a thousands comma is far more common than three decimals)
    return "", "."  # 12.50, or 1.234 read as a decimal


def guess_amount_format(values: list[str], fmt: AmountFormat, *, key: str = "amount") -> str | None:
    """A one-line hint when most non-empty sample amounts fail as they are configured but
    would read with a currency symbol or separators set; None when they read, or when no
    setting would help (they are then quarantined row by row as usual)."""
    present = [v for v in values if v is not None and v.strip()]
    failing = [v for v in present if python_amount(v, fmt) is None]
    if not present or len(failing) * 2 <= len(present):
        return None
    symbols: Counter[str] = Counter()
    separators: Counter[tuple[str, str]] = Counter()
    for value in failing:
        match = _CURRENCY_AROUND.match(value)
        if match is None:
            continue
        for part in ("pre", "pre2", "post"):
            if match.group(part):
                symbols[match.group(part)] += 1
        separators[_separators(match.group("number").strip())] += 1
    if not separators:
        return None
    decimals: Counter[str] = Counter()
    for (_, dec), n in separators.items():
        decimals[dec] += n
    decimal = decimals.most_common(1)[0][0]
    # a thousands separator any value needs ("$1,234.50" beside "$12.50"), if one goes with that decimal
    grouped = [(n, sep) for (sep, dec), n in separators.items() if dec == decimal and sep]
    thousands = max(grouped)[1] if grouped else ""
    guess = AmountFormat(
        currency_symbols=tuple(sorted(symbols, key=lambda s: (-symbols[s], s))),
        thousands_separator=thousands,
        decimal_separator=decimal,
    )
    if sum(python_amount(v, guess) is not None for v in failing) * 2 <= len(failing):
        return None
    settings = []
    if guess.currency_symbols != fmt.currency_symbols:
        settings.append(f"{key}.currency_symbols = [{', '.join(repr(s).replace(chr(39), chr(34)) for s in guess.currency_symbols)}]")
    if guess.thousands_separator != fmt.thousands_separator:
        settings.append(f"{key}.thousands_separator = {guess.thousands_separator!r}".replace("'", '"'))
    if guess.decimal_separator != fmt.decimal_separator:
        settings.append(f"{key}.decimal_separator = {guess.decimal_separator!r}".replace("'", '"'))
    if not settings:
        return None
    example = failing[0].strip()
    return f"{len(failing)} of the first {len(present)} amounts cannot be read as numbers; most look like {example!r}: set {' and '.join(settings)} in the mapping"
