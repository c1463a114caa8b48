"""Column functions that parse raw text into canonical values (try_ functions: bad text gives null, never a failed job)."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

from customer_behavior import columns as C
from customer_behavior.ingest.amounts import parsed_amount_sql
from customer_behavior.ingest.mapping import AmountFormat, Mapping
from customer_behavior.ingest.readers import column
from customer_behavior.ingest.resolve import _HAS_OFFSET, _NUMERIC_TYPES, ResolvedColumns

# --------------------------------------------------------------------------- column functions


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def cleaned_text(name: str) -> Column:
    """Trimmed text; empty or blank becomes null."""
    text = F.trim(column(name).cast("string"))
    return F.when(text != F.lit(""), text)  # not length(): that counts the characters


def parsed_number(name: str, data_type: T.DataType, amount_format: AmountFormat | None = None) -> Column:
    """A double from a number or from text (null when it is not a number; never an error),
    text written as `amount_format` says (currency symbols, separators) when given."""
    if isinstance(data_type, _NUMERIC_TYPES):
        return column(name).cast("double")
    if amount_format is not None and amount_format != AmountFormat():
        return F.expr(parsed_amount_sql(f"cast({_quoted(name)} as string)", amount_format))
    return F.expr(f"try_cast(trim(cast({_quoted(name)} as string)) as double)")


def is_finite(value: Column) -> Column:
    return value.isNotNull() & ~F.isnan(value) & (F.abs(value) != F.lit(float("inf")))


def parsed_timestamp(name: str, data_type: T.DataType, mapping: Mapping) -> Column:
    """UTC timestamp from a timestamp/date column or from text in the mapping's formats and zone."""
    if isinstance(data_type, T.TimestampType):
        return column(name)
    if isinstance(data_type, (T.DateType, T.TimestampNTZType)):
        wall_clock = column(name).cast("timestamp")
        return wall_clock if mapping.timezone in ("UTC", "Z") else F.to_utc_timestamp(wall_clock, mapping.timezone)
    text = cleaned_text(name)
    if mapping.timestamp_formats:
        parsed = F.coalesce(*[F.try_to_timestamp(text, F.lit(fmt)) for fmt in mapping.timestamp_formats])
    else:
        parsed = F.try_to_timestamp(text)
    if mapping.timezone in ("UTC", "Z") or not mapping.timezone_applies:
        return parsed
    shifted = F.to_utc_timestamp(parsed, mapping.timezone)
    if mapping.timestamp_formats:
        return shifted
    return F.when(text.rlike(_HAS_OFFSET), parsed).otherwise(shifted)


def status_of(text: Column, mapping: Mapping) -> Column:
    """Canonical status of a status value; null when the value is not listed (blank = completed)."""
    lowered = F.lower(text)
    status = F.when(text.isNull(), F.lit(C.STATUS_COMPLETED))
    for canonical in C.STATUSES:
        values = [v.strip().lower() for v in mapping.status_values.get(canonical, ())]
        if values:
            status = status.when(lowered.isin(values), F.lit(canonical))
    return status


def customer_id_of(resolved: ResolvedColumns, mapping: Mapping) -> Column:
    """The canonical customer id of a raw row (null when empty)."""
    customer_id = cleaned_text(resolved.sources[C.CUSTOMER_ID])
    if mapping.customer_id_strip_suffix:
        customer_id = F.regexp_replace(customer_id, mapping.customer_id_strip_suffix, "")
        customer_id = F.when(F.length(customer_id) > 0, customer_id)
    return customer_id


def transaction_id_of(resolved: ResolvedColumns) -> Column | None:
    """The transaction id of a raw row as the log gives it (null when empty); None when the
    log has no transaction id column."""
    return cleaned_text(resolved.sources[C.TRANSACTION_ID]) if C.TRANSACTION_ID in resolved.sources else None
