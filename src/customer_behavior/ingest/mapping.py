"""The mapping from a user's columns to the canonical schema: pure data, no Spark.

A mapping comes from, in order of precedence (later wins): the defaults, a built-in
preset (`--preset uci`), a TOML mapping file (`--mapping FILE`) and the simple flags
(`--delimiter`, `--timestamp-format`, `--timezone`, `--format`). `init-mapping` writes
the commented template below, which documents every key.
"""

from __future__ import annotations

import re
import tomllib
import zoneinfo
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from customer_behavior import columns as C
from customer_behavior.config import INPUT_FORMATS
from customer_behavior.errors import ConfigError

FORMATS = INPUT_FORMATS
WHITESPACE = "whitespace"
AMOUNT_SOURCES = ("auto", "amount", "quantity_x_unit_price")

# Canonical transaction columns a mapping may name; the rest of the schema is derived.
TRANSACTION_FIELDS = (
    C.TRANSACTION_ID, C.CUSTOMER_ID, C.EVENT_TS, C.CATEGORY, C.QUANTITY, C.UNIT_PRICE,
    C.DISCOUNT, C.AMOUNT, C.PAYMENT_METHOD, C.CHANNEL, C.STATUS,
)
CUSTOMER_FIELDS = (
    C.CUSTOMER_ID, C.SIGNUP_DATE, C.AGE, C.GENDER, C.COUNTRY, C.REGION, C.ACQUISITION_CHANNEL, C.IS_LOYALTY_MEMBER,
)
DEFAULT_STATUS_VALUES = {
    C.STATUS_COMPLETED: ("completed", "complete", "paid", "ok", "sale", "purchase"),
    C.STATUS_RETURNED: ("returned", "return", "refund", "refunded"),
    C.STATUS_CANCELLED: ("cancelled", "canceled", "cancel", "void"),
}
_ZONE_LETTERS = re.compile(r"[XxZOVz]")
_OFFSET_RE = re.compile(r"^(Z|UTC|GMT|[+-]\d{1,2}(:\d{2})?)$")


@dataclass(frozen=True)
class SourceOptions:
    """How to read one input: file format and the CSV dialect."""

    format: str = "auto"
    delimiter: str = "auto"
    header: bool = True
    quote: str = '"'
    escape: str = '"'  # RFC 4180 / spreadsheet style: a quote inside quotes is doubled
    column_names: tuple[str, ...] = ()
    encoding: str = "UTF-8"  # a byte-order mark wins (a UTF-16 file is read as UTF-16)
    # quoted fields with line breaks: "auto" (when the first lines hold such a record), True, False
    multiline: str | bool = "auto"


@dataclass(frozen=True)
class AmountFormat:
    """How amounts (and unit prices) are written: "$1,234.50" needs a symbol and a separator."""

    currency_symbols: tuple[str, ...] = ()  # removed wherever they occur ("$", "EUR", "€")
    thousands_separator: str = ""  # removed: "," in 1,234.50, "." in 1.234,50, " " in 1 234,50
    decimal_separator: str = "."  # "," in 12,50


@dataclass(frozen=True)
class CustomersMapping:
    """An optional customers table next to the transactions."""

    path: str = ""
    source: SourceOptions = field(default_factory=SourceOptions)
    columns: dict[str, str] = field(default_factory=dict)
    date_formats: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mapping:
    source: SourceOptions = field(default_factory=SourceOptions)
    # canonical name -> the user's column name; a canonical name not listed is looked up
    # by its own name (case, spaces and underscores ignored)
    columns: dict[str, str] = field(default_factory=dict)
    timestamp_formats: tuple[str, ...] = ()
    timezone: str = "UTC"
    amount_source: str = "auto"
    amount_format: AmountFormat = field(default_factory=AmountFormat)
    negative_is_return: bool = True
    status_values: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_STATUS_VALUES))
    invoice_prefix: str = ""
    invoice_prefix_status: str = C.STATUS_RETURNED
    # a regex removed from the end of customer ids, e.g. "\\.0$" for ids a spreadsheet turned into floats
    customer_id_strip_suffix: str = ""
    customers: CustomersMapping | None = None

    @property
    def timezone_applies(self) -> bool:
        """Whether event times are wall-clock times in `timezone` (no offset in the pattern)."""
        return not any(_ZONE_LETTERS.search(_strip_quoted(f)) for f in self.timestamp_formats)


def _strip_quoted(pattern: str) -> str:
    return re.sub(r"'[^']*'", "", pattern)


# --------------------------------------------------------------------------- loading


def _str(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: {value!r} is not a string")
    return value


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: {value!r} is not true or false")
    return value


def _str_list(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value] if value else []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key}: {value!r} is not a list of strings")
    return tuple(value)


def _check_keys(section: str, table: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{section}: must be a table ([{section}])")
    for key in table:
        if key not in allowed:
            raise ConfigError(f"unknown mapping key '{section}.{key}'; allowed keys in [{section}]: {', '.join(allowed)}")
    return table


def _source(section: str, table: Any, base: SourceOptions) -> SourceOptions:
    table = _check_keys(section, table, ("format", "delimiter", "header", "quote", "escape", "column_names", "encoding", "multiline"))
    values: dict[str, Any] = {}
    for key in ("format", "delimiter", "quote", "escape", "encoding"):
        if key in table:
            values[key] = _str(f"{section}.{key}", table[key])
    if "header" in table:
        values["header"] = _bool(f"{section}.header", table["header"])
    if "column_names" in table:
        values["column_names"] = _str_list(f"{section}.column_names", table["column_names"])
    if "multiline" in table:
        if table["multiline"] not in ("auto", True, False):
            raise ConfigError(f"{section}.multiline: {table['multiline']!r} is not \"auto\", true or false")
        values["multiline"] = table["multiline"]
    return replace(base, **values)


def _columns(section: str, table: Any, allowed: tuple[str, ...], base: dict[str, str]) -> dict[str, str]:
    table = _check_keys(section, table, allowed)
    merged = dict(base)
    for key, value in table.items():
        merged[key] = _str(f"{section}.{key}", value).strip()
    return {k: v for k, v in merged.items() if v}


def mapping_from_dict(data: dict[str, Any], base: Mapping | None = None) -> Mapping:
    """Apply a parsed mapping file (a dict) on top of `base`."""
    m = base or Mapping()
    _check_keys("mapping", data, ("source", "columns", "timestamp", "amount", "returns", "customers"))
    values: dict[str, Any] = {}
    if "source" in data:
        values["source"] = _source("source", data["source"], m.source)
    if "columns" in data:
        values["columns"] = _columns("columns", data["columns"], TRANSACTION_FIELDS, m.columns)
    if "timestamp" in data:
        table = _check_keys("timestamp", data["timestamp"], ("formats", "timezone"))
        if "formats" in table:
            values["timestamp_formats"] = _str_list("timestamp.formats", table["formats"])
        if "timezone" in table:
            values["timezone"] = _str("timestamp.timezone", table["timezone"])
    if "amount" in data:
        table = _check_keys("amount", data["amount"], ("source", "currency_symbols", "thousands_separator", "decimal_separator"))
        if "source" in table:
            values["amount_source"] = _str("amount.source", table["source"])
        amount_format: dict[str, Any] = {}
        if "currency_symbols" in table:
            amount_format["currency_symbols"] = _str_list("amount.currency_symbols", table["currency_symbols"])
        for key in ("thousands_separator", "decimal_separator"):
            if key in table:
                amount_format[key] = _str(f"amount.{key}", table[key])
        if amount_format:
            values["amount_format"] = replace(m.amount_format, **amount_format)
    if "returns" in data:
        table = _check_keys("returns", data["returns"], ("negative_is_return", "invoice_prefix", "invoice_prefix_status", "status_values", "customer_id_strip_suffix"))
        if "negative_is_return" in table:
            values["negative_is_return"] = _bool("returns.negative_is_return", table["negative_is_return"])
        if "invoice_prefix" in table:
            values["invoice_prefix"] = _str("returns.invoice_prefix", table["invoice_prefix"])
        if "invoice_prefix_status" in table:
            values["invoice_prefix_status"] = _str("returns.invoice_prefix_status", table["invoice_prefix_status"])
        if "customer_id_strip_suffix" in table:
            values["customer_id_strip_suffix"] = _str("returns.customer_id_strip_suffix", table["customer_id_strip_suffix"])
        if "status_values" in table:
            status_table = _check_keys("returns.status_values", table["status_values"], C.STATUSES)
            merged = dict(m.status_values)
            merged.update({k: _str_list(f"returns.status_values.{k}", v) for k, v in status_table.items()})
            values["status_values"] = merged
    if "customers" in data:
        table = _check_keys("customers", data["customers"], ("path", "source", "columns", "date_formats"))
        current = m.customers or CustomersMapping()
        values["customers"] = CustomersMapping(
            path=_str("customers.path", table.get("path", current.path)),
            source=_source("customers.source", table.get("source", {}), current.source),
            columns=_columns("customers.columns", table.get("columns", {}), CUSTOMER_FIELDS, current.columns),
            date_formats=_str_list("customers.date_formats", table.get("date_formats", list(current.date_formats))),
        )
    return validate_mapping(replace(m, **values))


def load_mapping_file(path: str, base: Mapping | None = None) -> Mapping:
    mapping_path = Path(path).expanduser()
    if not mapping_path.is_file():
        raise ConfigError(f"input.mapping: mapping file {path!r} does not exist; write one with 'customer-behavior init-mapping'")
    try:
        data = tomllib.loads(mapping_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"input.mapping: {path!r} is not valid TOML: {exc}") from None
    mapping = mapping_from_dict(data, base)
    customers = mapping.customers
    if customers and customers.path and not Path(customers.path).is_absolute() and "://" not in customers.path:
        # a relative customers path is relative to the mapping file, like an include
        resolved = (mapping_path.parent / customers.path).resolve()
        if resolved.exists() or not Path(customers.path).exists():
            mapping = replace(mapping, customers=replace(customers, path=str(resolved)))
    return mapping


def validate_timezone(key: str, tz: str) -> None:
    if _OFFSET_RE.match(tz):
        return
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{key}: {tz!r} is not a time zone; use a region id such as \"Europe/Berlin\", \"UTC\" or an offset such as \"+02:00\"") from None


def validate_mapping(m: Mapping) -> Mapping:
    if m.source.format not in FORMATS:
        raise ConfigError(f"source.format: {m.source.format!r} is not one of {', '.join(FORMATS)}")
    if m.source.delimiter == "":
        raise ConfigError("source.delimiter: must not be empty; use \"auto\", \",\", \";\", \"\\t\", \"|\" or \"whitespace\"")
    if len(m.source.quote) > 1 or len(m.source.escape) > 1:
        raise ConfigError("source.quote / source.escape: must be a single character (or empty)")
    if not m.source.header and not m.source.column_names and m.columns:
        unnamed = [v for v in m.columns.values() if not re.match(r"^_c\d+$", v)]
        if unnamed:
            raise ConfigError("source.header: the file has no header row, so name its columns in source.column_names (or refer to them as _c0, _c1, ...)")
    if m.amount_source not in AMOUNT_SOURCES:
        raise ConfigError(f"amount.source: {m.amount_source!r} is not one of {', '.join(AMOUNT_SOURCES)}")
    if m.invoice_prefix_status not in (C.STATUS_RETURNED, C.STATUS_CANCELLED):
        raise ConfigError(f"returns.invoice_prefix_status: {m.invoice_prefix_status!r} must be \"returned\" or \"cancelled\"")
    validate_timezone("timestamp.timezone", m.timezone)
    _validate_amount_format(m.amount_format)
    if m.customer_id_strip_suffix:
        try:
            re.compile(m.customer_id_strip_suffix)
        except re.error as exc:
            raise ConfigError(f"returns.customer_id_strip_suffix: {m.customer_id_strip_suffix!r} is not a regular expression ({exc})") from None
    seen: dict[str, str] = {}
    for status, values in m.status_values.items():
        for value in values:
            key = value.strip().lower()
            if key in seen and seen[key] != status:
                raise ConfigError(f"returns.status_values: {value!r} is listed under both {seen[key]} and {status}")
            seen[key] = status
    if m.customers is not None and m.customers.source.format not in FORMATS:
        raise ConfigError(f"customers.source.format: {m.customers.source.format!r} is not one of {', '.join(FORMATS)}")
    return m


def _validate_amount_format(fmt: AmountFormat) -> None:
    if fmt.decimal_separator not in (".", ","):
        raise ConfigError(f"amount.decimal_separator: {fmt.decimal_separator!r} must be \".\" or \",\"")
    if fmt.thousands_separator not in ("", ",", ".", " ", "\u00a0", "'", "_"):
        raise ConfigError(f"amount.thousands_separator: {fmt.thousands_separator!r} must be \"\" (none), \",\", \".\", \" \", \"'\" or \"_\"")
    if fmt.thousands_separator == fmt.decimal_separator:
        raise ConfigError(f"amount.thousands_separator: {fmt.thousands_separator!r} is also the decimal separator; set amount.decimal_separator too")
    for symbol in fmt.currency_symbols:
        if not symbol.strip() or re.search(r"[\d.,+\-]", symbol):
            raise ConfigError(f"amount.currency_symbols: {symbol!r} must be text without digits, signs or separators, such as \"$\" or \"EUR\"")


def with_flags(
    m: Mapping, *, format: str = "", delimiter: str = "", timestamp_format: str = "", timezone: str = "",
    currency_symbols: str = "", thousands_separator: str = "", decimal_separator: str = "",
) -> Mapping:
    """The simple cases given as flags, on top of a preset or mapping file."""
    amount_format = m.amount_format
    if currency_symbols:
        amount_format = replace(amount_format, currency_symbols=tuple(s.strip() for s in currency_symbols.split(",") if s.strip()))
    if thousands_separator:
        amount_format = replace(amount_format, thousands_separator={"none": "", "space": " "}.get(thousands_separator, thousands_separator))
    if decimal_separator:
        amount_format = replace(amount_format, decimal_separator=decimal_separator)
    m = replace(m, amount_format=amount_format)
    source = m.source
    if format:
        source = replace(source, format=format)
    if delimiter:
        source = replace(source, delimiter=_unescape(delimiter))
    values: dict[str, Any] = {"source": source}
    if timestamp_format:
        values["timestamp_formats"] = tuple(f.strip() for f in timestamp_format.split("||") if f.strip())
    if timezone:
        values["timezone"] = timezone
    return validate_mapping(replace(m, **values))


def _unescape(delimiter: str) -> str:
    named = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " ", "whitespace": WHITESPACE}
    return named.get(delimiter.lower(), delimiter)


# --------------------------------------------------------------------------- template




def mapping_template(preset: str = "") -> str:
    if not preset:
        from customer_behavior.ingest.template import TEMPLATE

        return TEMPLATE
    from customer_behavior.ingest.presets import preset_toml

    return preset_toml(preset)


def load_input_mapping(input_cfg: Any) -> Mapping:
    """The mapping of an `input` config section: preset, then mapping file, then flags."""
    from customer_behavior.ingest.presets import preset_dict

    mapping = Mapping()
    if input_cfg.preset:
        mapping = mapping_from_dict(preset_dict(input_cfg.preset), mapping)
    if input_cfg.mapping:
        mapping = load_mapping_file(input_cfg.mapping, mapping)
    try:
        return with_flags(
            mapping,
            format="" if input_cfg.format == "auto" else input_cfg.format,
            delimiter=input_cfg.delimiter,
            timestamp_format=input_cfg.timestamp_format,
            timezone=input_cfg.timezone,
            currency_symbols=input_cfg.currency_symbols,
            thousands_separator=input_cfg.thousands_separator,
            decimal_separator=input_cfg.decimal_separator,
        )
    except ConfigError as exc:
        raise ConfigError(f"input: {exc}") from None
