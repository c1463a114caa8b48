"""Which source column feeds each canonical column; the rules and the internal column names validation adds."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from pyspark.sql import types as T

from customer_behavior import columns as C
from customer_behavior.errors import InputError
from customer_behavior.ingest.mapping import Mapping
from customer_behavior.ingest.readers import RawTable

# Where an absent optional column shows up downstream (recorded in the manifest and report).
OPTIONAL_USES = {
    C.CATEGORY: "patterns: category mix and category affinities; features: distinct_categories, favourite_category",
    C.PAYMENT_METHOD: "patterns: payment mix; features: preferred_payment_method",
    C.CHANNEL: "patterns: channel mix; features: preferred_channel",
    C.QUANTITY: "features: avg_basket_size",
    C.DISCOUNT: "features: discount_share",
    C.UNIT_PRICE: "unit_price is left empty",
    C.STATUS: "returns recognised only by negative quantities or amounts (and the invoice prefix, if set)",
    C.TRANSACTION_ID: "transaction ids derived from a hash of each row",
    "customers": "report: demographic breakdowns (age, gender, country, region, acquisition channel, loyalty)",
}
REQUIRED = (C.CUSTOMER_ID, C.EVENT_TS)
_NUMERIC_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType, T.DecimalType)
_HAS_OFFSET = r"\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|UTC|GMT|[+-]\d\d(:?\d\d)?)$"
_MAX_QUANTITY = 2_000_000_000


@dataclass(frozen=True)
class Rules:
    as_of: dt.date  # events on or after midnight UTC of this day are quarantined
    min_amount: float
    max_amount: float


@dataclass(frozen=True)
class ResolvedColumns:
    """Which source column feeds each canonical column (absent optional ones are missing)."""

    sources: dict[str, str]
    amount_from_product: bool
    missing_optional: dict[str, str]


# --------------------------------------------------------------------------- resolving names


def _normal(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _find(wanted: str, present: tuple[str, ...]) -> str | None:
    if wanted in present:
        return wanted
    matches = [p for p in present if _normal(p) == _normal(wanted)]
    return matches[0] if len(matches) == 1 else None


def _missing_message(table: RawTable, missing: list[str], what: str) -> str:
    present = ", ".join(table.source_columns) or "(none)"
    hint = ""
    if len(table.source_columns) == 1 and any(d in table.source_columns[0] for d in ",;\t|"):
        hint = "; the header was read as a single column: is the delimiter right (--delimiter)?"
    return f"{what} {table.path!r}: required column missing: {'; '.join(missing)}. Present columns: {present}{hint}. Map your columns with --mapping FILE (customer-behavior init-mapping writes a template)"


def resolve_columns(table: RawTable, mapping: Mapping, what: str = "input") -> ResolvedColumns:
    """Match canonical names to the file's columns, or fail listing missing and present columns."""
    present = table.source_columns
    sources: dict[str, str] = {}
    missing: list[str] = []
    for name in (C.TRANSACTION_ID, C.CUSTOMER_ID, C.EVENT_TS, C.CATEGORY, C.QUANTITY, C.UNIT_PRICE, C.DISCOUNT, C.AMOUNT, C.PAYMENT_METHOD, C.CHANNEL, C.STATUS):
        wanted = mapping.columns.get(name)
        found = _find(wanted or name, present)
        if found is not None:
            sources[name] = found
        elif wanted:  # named explicitly, so its absence is a mistake, not an optional column
            missing.append(f"{name} (mapped to {wanted!r})")
    missing += [name for name in REQUIRED if name not in sources and name not in mapping.columns]
    if mapping.amount_source == "amount" and C.AMOUNT not in sources and C.AMOUNT not in mapping.columns:
        missing.append("amount")
    if mapping.amount_source == "quantity_x_unit_price":
        missing += [n for n in (C.QUANTITY, C.UNIT_PRICE) if n not in sources and n not in mapping.columns]
    if mapping.amount_source == "auto" and C.AMOUNT not in sources and not (C.QUANTITY in sources and C.UNIT_PRICE in sources):
        missing.append("amount (or quantity and unit_price)")
    if missing:
        raise InputError(_missing_message(table, missing, what))
    amount_from_product = mapping.amount_source == "quantity_x_unit_price" or (mapping.amount_source == "auto" and C.AMOUNT not in sources)
    missing_optional = {name: OPTIONAL_USES[name] for name in OPTIONAL_USES if name != "customers" and name not in sources}
    if mapping.customers is None or not mapping.customers.path:
        missing_optional["customers"] = OPTIONAL_USES["customers"]
    return ResolvedColumns(sources=sources, amount_from_product=amount_from_product, missing_optional=missing_optional)
