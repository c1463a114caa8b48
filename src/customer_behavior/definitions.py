"""What a line, a purchase, an order, a return and a weekend are: one definition of each.

Every stage that counts orders or purchases (features, patterns, clv, personas, insights
through the features) imports these column functions; docs/definitions.md states them.

- A row of the transactions is a **line**.
- A **purchase line** is a completed line with an amount >= 0: a free item (amount 0) is
  a purchase; it counts for orders, frequency, recency and T and adds 0 to spend. Only
  cancelled lines and returns are not purchases.
- An **order** is a `transaction_id` of a customer with at least one purchase line (on
  ingested logs without ids, ingest derives one id per line). Its value is the sum of its
  lines, its basket size the sum of their quantities. Lines of one order normally share a
  timestamp; an id whose lines fall on different calendar days is one order per day.
- A **return** is a line with status "returned" (negative amount); returns are counted as
  distinct return ids, the way orders are.
- **Weekend** is Saturday or Sunday of the event's calendar day in the session time zone
  (UTC): ISO day of week 6 or 7.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from customer_behavior import columns as C

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def ratio(numerator: Column, denominator: Column) -> Column:
    """numerator / denominator as a double, null when the denominator is 0 (ANSI-safe)."""
    return F.when(denominator != F.lit(0), numerator.cast("double") / denominator.cast("double"))


def is_purchase() -> Column:
    """A completed line with a non-negative amount (free items included)."""
    return (F.col(C.STATUS) == F.lit(C.STATUS_COMPLETED)) & (F.col(C.AMOUNT) >= F.lit(0))


def is_return() -> Column:
    return F.col(C.STATUS) == F.lit(C.STATUS_RETURNED)


def order_key() -> Column:
    """What tells one order of a customer from another: its transaction id."""
    return F.col(C.TRANSACTION_ID)


def iso_day_of_week(ts: Column) -> Column:
    """1 = Monday ... 7 = Sunday (Spark's dayofweek starts on Sunday); ts may be a date."""
    return ((F.dayofweek(ts) + F.lit(5)) % F.lit(7) + F.lit(1)).cast("int")


def day_name(iso_day: Column) -> Column:
    return F.element_at(F.array(*[F.lit(name) for name in DAY_NAMES]), iso_day)


def is_weekend(ts: Column) -> Column:
    """Saturday or Sunday (of a timestamp or a date)."""
    return iso_day_of_week(ts) >= F.lit(6)
