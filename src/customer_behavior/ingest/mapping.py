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
from customer_behavior.errors import ConfigError

FORMATS = ("auto", "csv", "parquet", "json")
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
        table = _check_keys("amount", data["amount"], ("source",))
        if "source" in table:
            values["amount_source"] = _str("amount.source", table["source"])
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


def with_flags(m: Mapping, *, format: str = "", delimiter: str = "", timestamp_format: str = "", timezone: str = "") -> Mapping:
    """The simple cases given as flags, on top of a preset or mapping file."""
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


TEMPLATE = '''# customer-behavior input mapping: how your transaction log maps to the canonical schema.
# Use it with:  customer-behavior run --input PATH --mapping THIS_FILE
# Every key is optional. A canonical column that is not listed under [columns] is looked up
# in your file by its own name (case, spaces and underscores ignored: "Customer ID" finds customer_id).

[source]
# auto (by file extension: .csv/.tsv/.txt[.gz], .parquet, .json/.jsonl/.ndjson[.gz]), csv, parquet, json
format = "auto"
# CSV only. "auto" guesses from the header line among , ; tab |. Any string works ("\\t" for tab);
# "whitespace" splits on runs of spaces and tabs (fixed-width-looking exports; no quoting then).
delimiter = "auto"
# Does the first line of every file hold the column names?
header = true
# Without a header: name the columns here (in file order), or refer to them as _c0, _c1, ...
column_names = []
quote = '"'
# The character that escapes a quote inside a quoted field: '"' for doubled quotes ("" as in
# spreadsheet exports), "\\\\" for backslash-escaped quotes.
escape = '"'
# A byte-order mark (UTF-8, UTF-16 LE/BE) wins over this: "Unicode text" exports need no setting.
encoding = "UTF-8"
# Quoted fields holding line breaks (addresses, descriptions): "auto" reads records across lines
# when the first 200 lines hold one; true always (each file is then parsed whole), false never
# (such a record is quarantined as malformed_line).
multiline = "auto"

[columns]
# canonical name = "your column name". Required: customer_id, event_ts, and either amount or
# quantity + unit_price. Optional (absent -> empty, and the analyses that need them are skipped
# with the reason in the report): transaction_id (derived from the row when absent), category,
# quantity, unit_price, discount (a fraction 0..1), payment_method, channel, status.
# transaction_id = "order_id"
# customer_id = "customer_id"
# event_ts = "order_date"
# amount = "total"
# quantity = "qty"
# unit_price = "price"
# category = "category"
# payment_method = "payment_type"
# channel = "channel"
# status = "order_status"

[timestamp]
# Spark datetime patterns, tried in order, e.g. ["yyyyMMdd"], ["dd/MM/yyyy HH:mm", "dd/MM/yyyy"].
# [] = ISO 8601 ("2024-03-01", "2024-03-01 14:30:00", "2024-03-01T14:30:00+02:00").
formats = []
# Zone of timestamps written without an offset: "UTC", a region such as "Europe/Berlin", or "+02:00".
timezone = "UTC"

[amount]
# "amount" (the net amount is a column), "quantity_x_unit_price" (amount = quantity x unit_price
# x (1 - discount)), or "auto" (amount when mapped/present, else the product).
source = "auto"

[returns]
# A negative quantity or amount marks a return (status "returned", amount made negative).
negative_is_return = true
# Transaction ids starting with this prefix are returns or cancellations (UCI: "C"). "" = off.
invoice_prefix = ""
# What the prefix marks: "returned" (a refund, negative amount) or "cancelled" (amount 0).
invoice_prefix_status = "returned"
# A regex removed from the end of every customer id, e.g. "\\\\.0$" when a spreadsheet turned ids into floats.
customer_id_strip_suffix = ""

[returns.status_values]
# Values of your status column (case-insensitive) for each canonical status. An empty status
# counts as completed; any other unlisted value is quarantined as unknown_status.
completed = ["completed", "complete", "paid", "ok", "sale", "purchase"]
returned = ["returned", "return", "refund", "refunded"]
cancelled = ["cancelled", "canceled", "cancel", "void"]

# An optional customers table (demographics). Without it the demographic breakdowns are skipped.
# [customers]
# path = "customers.csv"          # relative to this file
# date_formats = ["yyyy-MM-dd"]   # for signup_date
# [customers.source]
# delimiter = "auto"
# [customers.columns]
# customer_id = "id"
# signup_date = "created"
# age = "age"
# gender = "gender"
# country = "country"
# region = "region"
# acquisition_channel = "source"
# is_loyalty_member = "loyalty"   # true/false, yes/no, y/n, 1/0
'''


def mapping_template(preset: str = "") -> str:
    if not preset:
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
        )
    except ConfigError as exc:
        raise ConfigError(f"input: {exc}") from None
