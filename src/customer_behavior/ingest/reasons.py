"""Quarantine reason codes: stable snake_case strings, checked in this order.

A row gets exactly one reason, the first rule it fails. The codes are part of the output
format (users filter the quarantine by them): add new ones, never rename.
"""

from __future__ import annotations

MALFORMED_LINE = "malformed_line"  # wrong number of fields, or a line the JSON parser rejects
MISSING_CUSTOMER_ID = "missing_customer_id"  # customer id empty or blank
UNPARSEABLE_TIMESTAMP = "unparseable_timestamp"  # event time empty or not in any of the formats
EVENT_AFTER_AS_OF = "event_after_as_of"  # event on or after the as-of date (input.as_of)
NON_NUMERIC_QUANTITY = "non_numeric_quantity"  # quantity present but not a whole number
NON_NUMERIC_AMOUNT = "non_numeric_amount"  # amount (or unit price / discount it is computed from) missing, not a finite number
AMOUNT_OUT_OF_BOUNDS = "amount_out_of_bounds"  # amount outside [input.min_amount, input.max_amount]
ZERO_QUANTITY = "zero_quantity"  # quantity is 0
UNKNOWN_STATUS = "unknown_status"  # status value not listed in returns.status_values
DUPLICATE_ROW = "duplicate_row"  # an exact copy of an earlier row (all original columns); one copy is kept
CONFLICTING_TRANSACTION_ID = "conflicting_transaction_id"  # its transaction id has lines of another customer, read first

TRANSACTION_REASONS: tuple[str, ...] = (
    MALFORMED_LINE,
    MISSING_CUSTOMER_ID,
    UNPARSEABLE_TIMESTAMP,
    EVENT_AFTER_AS_OF,
    NON_NUMERIC_QUANTITY,
    NON_NUMERIC_AMOUNT,
    AMOUNT_OUT_OF_BOUNDS,
    ZERO_QUANTITY,
    UNKNOWN_STATUS,
    DUPLICATE_ROW,
    CONFLICTING_TRANSACTION_ID,
)

# customers table (optional input)
DUPLICATE_CUSTOMER_ID = "duplicate_customer_id"  # a second row for the same customer id; the first (by content) is kept
CUSTOMER_REASONS: tuple[str, ...] = (MALFORMED_LINE, MISSING_CUSTOMER_ID, DUPLICATE_CUSTOMER_ID)
