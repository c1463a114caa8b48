"""The observation window: event day bounds, the as-of date, the small FeatureDomain of categorical values."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.errors import InputError
from customer_behavior.features.names import HAS_TIME_OF_DAY, MAX_ABS_AMOUNT, MAX_PIVOT_VALUES, PIVOT_COLUMNS

# --------------------------------------------------------------------------- as-of date


def event_day_bounds(transactions_df: DataFrame) -> DataFrame:
    """One row: the first and last event day and, per categorical column, its sorted
    distinct values (at most MAX_PIVOT_VALUES + 1 of them reach the driver): a tiny
    aggregate the pipeline collects and turns into a `FeatureDomain`.

    A hash aggregation by the value combination comes first (a few hundred groups on
    usual data), so collect_set, an object aggregate, sees those groups, not every row."""
    day = F.to_date(F.col(C.EVENT_TS))
    has_time_of_day = F.col(C.EVENT_TS) != F.date_trunc("day", F.col(C.EVENT_TS))
    combinations_df = transactions_df.groupBy(*[F.col(name) for name in PIVOT_COLUMNS]).agg(
        F.min(day).alias("first_day"),
        F.max(day).alias("last_day"),
        F.max(F.abs(F.col(C.AMOUNT))).alias(MAX_ABS_AMOUNT),
        F.max(has_time_of_day).alias(HAS_TIME_OF_DAY),
    )
    value_sets = [
        F.slice(F.array_sort(F.collect_set(F.col(name))), 1, MAX_PIVOT_VALUES + 1).alias(name) for name in PIVOT_COLUMNS
    ]
    return combinations_df.agg(
        F.min("first_day").alias("first_day"),
        F.max("last_day").alias("last_day"),
        F.max(MAX_ABS_AMOUNT).alias(MAX_ABS_AMOUNT),
        F.max(HAS_TIME_OF_DAY).alias(HAS_TIME_OF_DAY),
        *value_sets,
    )


def require_spend(max_abs_amount: float | None) -> None:
    """InputError when every amount is 0: nothing to segment, value or model."""
    if max_abs_amount is not None and max_abs_amount == 0:
        raise InputError(
            "features: there is no spend to analyse: every amount in the transactions is 0 "
            "(check the amount column of the mapping, or amount.source = \"quantity_x_unit_price\")"
        )


@dataclass(frozen=True)
class FeatureDomain:
    """What the one-pass aggregation must know before it starts: the first event day (the
    base of the month bit sets) and the values of the categorical columns (one count
    column per value). A column with more than MAX_PIVOT_VALUES values gets None, and the
    features fall back to the order-line arrays."""

    first_day: dt.date
    values: dict[str, tuple[str, ...] | None]

    @classmethod
    def from_bounds(cls, bounds: Row) -> FeatureDomain:
        values = {name: tuple(bounds[name]) if len(bounds[name]) <= MAX_PIVOT_VALUES else None for name in PIVOT_COLUMNS}
        return cls(first_day=bounds["first_day"], values=values)

    @property
    def is_small(self) -> bool:
        return all(values is not None for values in self.values.values())


def resolve_as_of(configured: dt.date | None, first_day: dt.date | None, last_day: dt.date | None) -> dt.date:
    """The exclusive end of the observation window; InputError if nothing lies before it."""
    if first_day is None or last_day is None:
        raise InputError("features: the transactions are empty; there is nothing to compute features from")
    as_of = configured or last_day + dt.timedelta(days=1)
    if as_of <= first_day:
        raise InputError(
            f"features.as_of: {as_of.isoformat()} is not after the first transaction ({first_day.isoformat()}); "
            "choose a later date or leave it empty (= the day after the last event)"
        )
    return as_of
