"""Put readers, mapping and validation together into lazy DataFrames for the pipeline.

`plan_ingest` reads nothing but the first line of a CSV file; the pipeline's
`stage_ingest` decides what is cached, counted and written.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from customer_behavior import columns as C
from customer_behavior.config import InputConfig
from customer_behavior.errors import ConfigError, InputError
from customer_behavior.ingest import reasons as R
from customer_behavior.ingest.amounts import guess_amount_format
from customer_behavior.ingest.mapping import Mapping, load_input_mapping
from customer_behavior.ingest.readers import RawTable, input_errors, read_raw, read_table
from customer_behavior.ingest.validation import (
    DuplicateCheck,
    ResolvedColumns,
    Rules,
    customer_id_of,
    duplicate_check,
    duplicate_copies,
    resolve_columns,
    resolve_customer_columns,
    transaction_id_of,
    with_customer_reason,
    with_duplicate_reason,
    with_transaction_reason,
)

QUARANTINE_DIR = "quarantine"


@dataclass(frozen=True)
class TablePlan:
    raw: RawTable
    validated_df: DataFrame  # raw columns + canonical `__cb_` columns + reason (every rule)
    # every rule but the exact-duplicate check, with the row hashes it needs (None: the
    # table has no such check): the pipeline finds the copies in the raw rows
    # (`duplicate_copies`) and joins them to this
    checked_df: DataFrame | None = None


@dataclass(frozen=True)
class IngestPlan:
    mapping: Mapping
    rules: Rules
    transactions: TablePlan
    resolved: ResolvedColumns
    customers: TablePlan | None
    duplicates: DuplicateCheck = DuplicateCheck(keep_copies=False, has_ids=True)

    def copies_df(self) -> DataFrame:
        return transaction_copies(self.transactions.raw, self.resolved, self.mapping, self.duplicates)


def transaction_copies(raw: RawTable, resolved: ResolvedColumns, mapping: Mapping, check: DuplicateCheck) -> DataFrame:
    """The duplicate check's sets of copies (and, with ids, the conflicting lines) of the transactions."""
    transaction_id = transaction_id_of(resolved) if check.has_ids else None
    return duplicate_copies(raw.df, raw.key_columns, transaction_id=transaction_id, customer_id=customer_id_of(resolved, mapping))


def rules_from_config(input_cfg: InputConfig, today: dt.date | None = None) -> Rules:
    as_of = input_cfg.as_of if input_cfg.as_of else (today or dt.datetime.now(dt.UTC).date()) + dt.timedelta(days=1)
    return Rules(as_of=as_of, min_amount=input_cfg.min_amount, max_amount=input_cfg.max_amount)


def check_patterns(spark: SparkSession, mapping: Mapping) -> None:
    """A datetime pattern Spark rejects fails every row at run time: catch it up front."""
    patterns = list(mapping.timestamp_formats) + list(mapping.customers.date_formats if mapping.customers else ())
    for pattern in patterns:
        try:
            spark.sql("SELECT try_to_timestamp('2024-01-01', :p) AS t", args={"p": pattern}).collect()
        except Exception as exc:  # noqa: BLE001 - any failure here means the pattern is unusable
            first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"timestamp.formats: {pattern!r} is not a valid Spark datetime pattern ({first})") from None


def check_amount_sample(raw: RawTable, resolved: ResolvedColumns, mapping: Mapping) -> None:
    """Stop before any full pass when most amounts of the first lines fail only because of a
    currency symbol or separators, saying which settings read them."""
    key = C.UNIT_PRICE if resolved.amount_from_product else C.AMOUNT
    if key not in resolved.sources or not raw.sample_rows:
        return
    position = raw.source_columns.index(resolved.sources[key])
    hint = guess_amount_format([row[position] for row in raw.sample_rows], mapping.amount_format)
    if hint is not None:
        column = resolved.sources[key]
        raise InputError(f"input {raw.path!r}: column {column!r} ({key}): {hint}")


def plan_ingest(spark: SparkSession, input_cfg: InputConfig, *, today: dt.date | None = None) -> IngestPlan:
    mapping = load_input_mapping(input_cfg)
    check_patterns(spark, mapping)
    rules = rules_from_config(input_cfg, today)
    raw = read_table(spark, input_cfg.table.strip()) if input_cfg.table.strip() else read_raw(spark, input_cfg.path, mapping.source)
    resolved = resolve_columns(raw, mapping)
    check_amount_sample(raw, resolved, mapping)
    check = duplicate_check(input_cfg.duplicates, resolved)
    with input_errors(input_cfg.source):
        checked_df = with_transaction_reason(raw.df, source_columns=raw.source_columns, key_columns=raw.key_columns, resolved=resolved, mapping=mapping, rules=rules)
        validated_df = with_duplicate_reason(checked_df, transaction_copies(raw, resolved, mapping, check), check)
    customers = None
    if mapping.customers is not None and mapping.customers.path:
        raw_customers = read_raw(spark, mapping.customers.path, mapping.customers.source, what="customers input")
        sources = resolve_customer_columns(raw_customers, mapping.customers)
        with input_errors(mapping.customers.path, "customers input"):
            customers_df = with_customer_reason(raw_customers.df, source_columns=raw_customers.source_columns, sources=sources, customers=mapping.customers)
        customers = TablePlan(raw=raw_customers, validated_df=customers_df)
    return IngestPlan(
        mapping=mapping, rules=rules, transactions=TablePlan(raw=raw, validated_df=validated_df, checked_df=checked_df), resolved=resolved, customers=customers, duplicates=check
    )


# --------------------------------------------------------------------------- accounting


def accounting(counts: dict[str | None, int], reason_order: tuple[str, ...] = R.TRANSACTION_REASONS) -> dict[str, Any]:
    """rows read = accepted + quarantined, with the quarantined rows per reason (every code listed)."""
    by_reason = {reason: int(counts.get(reason, 0)) for reason in reason_order}
    unknown = sorted(k for k in counts if k is not None and k not in reason_order)
    if unknown:  # pragma: no cover - a reason code missing from reasons.py is a programming error
        raise RuntimeError(f"undocumented quarantine reasons: {unknown}")
    accepted = int(counts.get(None, 0))
    quarantined = sum(by_reason.values())
    return {"read": accepted + quarantined, "accepted": accepted, "quarantined": quarantined, "by_reason": by_reason}


def too_many_bad_rows_message(path: str, acc: dict[str, Any], max_bad_fraction: float, kept_at: Path) -> str:
    fraction = acc["quarantined"] / acc["read"] if acc["read"] else 0.0
    top = sorted((r for r, n in acc["by_reason"].items() if n), key=lambda r: -acc["by_reason"][r])[:4]  # stable: ties in rule order
    detail = ", ".join(f"{r} {acc['by_reason'][r]:,}" for r in top)
    return (
        f"input {path!r}: {acc['quarantined']:,} of {acc['read']:,} rows ({fraction:.1%}) failed validation, "
        f"more than --max-bad-fraction {max_bad_fraction:.1%} ({detail}); "
        f"the rejected rows with their reasons are in {str(kept_at)!r}; fix the mapping or raise --max-bad-fraction"
    )


_STAGING_NAME = re.compile(r"^\.(?P<name>.+)\.staging-[0-9a-f]+$")


def failed_quarantine_path(staging: Path) -> Path:
    """Where a failed run's quarantine goes: beside the would-be output, as <output>.quarantine.

    The staging directory is deleted when a run fails, so the quarantine moves out first.
    """
    match = _STAGING_NAME.match(staging.name)
    name = match.group("name") if match else staging.name
    return staging.parent / f"{name}.quarantine"


def move_quarantine_out(staging: Path) -> Path:
    import shutil

    source = staging / QUARANTINE_DIR
    target = failed_quarantine_path(staging)
    if target.exists():
        if not (target / QUARANTINE_MARKER).exists():
            raise InputError(f"cannot keep the quarantine: {str(target)!r} exists and was not written by this tool; it is left in {str(source)!r}")
        shutil.rmtree(target)
    (source / QUARANTINE_MARKER).write_text("rejected rows of a failed customer-behavior run\n", encoding="utf-8")
    shutil.move(str(source), str(target))
    return target


QUARANTINE_MARKER = ".customer-behavior-quarantine"
