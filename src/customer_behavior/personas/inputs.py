"""What the clustering sees: the feature catalogue and the SQL that prepares its columns.

Every feature name that `personas.features` accepts is defined here, in one of four kinds:

- behaviour: one numeric column per customer, taken (or log-scaled) from customer_features;
- share group: one column per value of category / payment method / channel, the customer's
  smoothed share of orders with that value, from one aggregation over the transactions;
- numeric demographic (age, is_loyalty_member) and nominal demographic (gender, country,
  region, acquisition_channel; one-hot encoded by MLlib) from the customers table.

Shares are additively smoothed: (orders with the value + prior / V) / (orders + prior),
with V values. A one-order customer then reads as a mild preference rather than a 100%
one, which keeps the many one-time buyers from scattering over the share space (and
measurably lifts the agreement with the planted personas; see the README).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.config import PERSONA_FEATURES
from customer_behavior.definitions import is_purchase
from customer_behavior.errors import InputError

SHARE_PREFIX = "share"


def _log1p_non_negative(column: str) -> Column:
    # Net spend can be 0 (everything returned) but never below after netting; clamp anyway.
    return F.log1p(F.greatest(F.col(column).cast("double"), F.lit(0.0)))


def _as_double(column: str) -> Column:
    return F.col(column).cast("double")


# feature name -> (the customer_features column it is computed from, how). Functions, not
# Columns, so that importing this module needs no running Spark.
BEHAVIOUR_FEATURES: dict[str, tuple[str, Callable[[str], Column]]] = {
    "log_monetary": (C.MONETARY, _log1p_non_negative),
    "log_orders": (C.ORDERS, _log1p_non_negative),
    "recency_days": (C.RECENCY_DAYS, _as_double),
    "log_avg_order_value": (C.AVG_ORDER_VALUE, _log1p_non_negative),
    "tenure_days": (C.TENURE_DAYS, _as_double),
    "weekend_share": (C.WEEKEND_SHARE, _as_double),
    "discount_share": (C.DISCOUNT_SHARE, _as_double),
    "return_rate": (C.RETURN_RATE, _as_double),
    "avg_basket_size": (C.AVG_BASKET_SIZE, _as_double),
    "distinct_categories": (C.DISTINCT_CATEGORIES, _as_double),
}
# share group name -> the transactions column whose values it spreads over
SHARE_GROUPS: dict[str, str] = {
    "category_shares": C.CATEGORY,
    "payment_shares": C.PAYMENT_METHOD,
    "channel_shares": C.CHANNEL,
}
NUMERIC_DEMOGRAPHICS: tuple[str, ...] = (C.AGE, C.IS_LOYALTY_MEMBER)
NOMINAL_DEMOGRAPHICS: tuple[str, ...] = (C.GENDER, C.COUNTRY, C.REGION, C.ACQUISITION_CHANNEL)
DEMOGRAPHICS = (*NUMERIC_DEMOGRAPHICS, *NOMINAL_DEMOGRAPHICS)

# The names users may configure are config.PERSONA_FEATURES (the user-facing vocabulary,
# validated before Spark starts); this catalogue defines each of them, and no other.
_CATALOGUE = (*BEHAVIOUR_FEATURES, *SHARE_GROUPS, *DEMOGRAPHICS)
if sorted(_CATALOGUE) != sorted(PERSONA_FEATURES):  # pragma: no cover - a programming error
    raise ImportError(f"personas.inputs defines {sorted(set(_CATALOGUE) ^ set(PERSONA_FEATURES))} differently from config.PERSONA_FEATURES")


def share_column(group: str, value: str) -> str:
    """`share__category__electronics`: stable, readable, and safe as a Spark column name."""
    safe = "".join(ch if ch.isalnum() else "_" for ch in str(value).lower())
    return f"{SHARE_PREFIX}__{SHARE_GROUPS[group]}__{safe}"


@dataclass(frozen=True)
class FeaturePlan:
    """The resolved feature set of one model: which columns, in which order, of which kind.

    `vocabulary` holds, per share group, the values that get a column (fixed at fit time
    and saved with the model, so new data is encoded exactly as the training data was).
    """

    behaviour: tuple[str, ...]
    share_groups: tuple[str, ...]
    vocabulary: dict[str, tuple[str, ...]]
    numeric_demographics: tuple[str, ...]
    nominal_demographics: tuple[str, ...]
    share_prior: float
    skipped: tuple[str, ...] = ()

    @property
    def share_columns(self) -> tuple[str, ...]:
        return tuple(share_column(g, v) for g in self.share_groups for v in self.vocabulary[g])

    @property
    def numeric_columns(self) -> tuple[str, ...]:
        """The numeric model inputs, in vector order (one-hot blocks follow them)."""
        return (*self.behaviour, *self.share_columns, *self.numeric_demographics)

    @property
    def uses_customers(self) -> bool:
        return bool(self.numeric_demographics or self.nominal_demographics)

    @property
    def transaction_columns(self) -> tuple[str, ...]:
        return tuple(SHARE_GROUPS[g] for g in self.share_groups)

    @property
    def customer_columns(self) -> tuple[str, ...]:
        return (*self.numeric_demographics, *self.nominal_demographics)

    def to_dict(self) -> dict:
        return {
            "behaviour": list(self.behaviour),
            "share_groups": list(self.share_groups),
            "vocabulary": {g: list(v) for g, v in self.vocabulary.items()},
            "numeric_demographics": list(self.numeric_demographics),
            "nominal_demographics": list(self.nominal_demographics),
            "share_prior": self.share_prior,
            "skipped": list(self.skipped),
        }

    @classmethod
    def from_dict(cls, data: dict) -> FeaturePlan:
        return cls(
            behaviour=tuple(data["behaviour"]),
            share_groups=tuple(data["share_groups"]),
            vocabulary={g: tuple(v) for g, v in data["vocabulary"].items()},
            numeric_demographics=tuple(data["numeric_demographics"]),
            nominal_demographics=tuple(data["nominal_demographics"]),
            share_prior=float(data["share_prior"]),
            skipped=tuple(data.get("skipped", ())),
        )


def plan_features(
    features: list[str] | tuple[str, ...],
    *,
    vocabulary: dict[str, tuple[str, ...]],
    customer_columns: set[str] | None,
    share_prior: float,
) -> FeaturePlan:
    """Resolve the configured names; demographics the customers table lacks are skipped.

    `customer_columns` is None when there is no customers table at all (ingested data).
    """
    skipped = []
    demographics = []
    for name in features:
        if name in DEMOGRAPHICS:
            if customer_columns is None or name not in customer_columns:
                skipped.append(name)
            else:
                demographics.append(name)
    share_groups = tuple(n for n in features if n in SHARE_GROUPS and vocabulary.get(n))
    skipped += [n for n in features if n in SHARE_GROUPS and not vocabulary.get(n)]
    plan = FeaturePlan(
        behaviour=tuple(n for n in features if n in BEHAVIOUR_FEATURES),
        share_groups=share_groups,
        vocabulary={g: tuple(vocabulary[g]) for g in share_groups},
        numeric_demographics=tuple(n for n in demographics if n in NUMERIC_DEMOGRAPHICS),
        nominal_demographics=tuple(n for n in demographics if n in NOMINAL_DEMOGRAPHICS),
        share_prior=share_prior,
        skipped=tuple(skipped),
    )
    if not plan.numeric_columns and not plan.nominal_demographics:
        raise InputError(f"personas.features: none of {', '.join(features)} is available in this data")
    return plan


# --------------------------------------------------------------------------- transforms


def level_counts(transactions_df: DataFrame, column: str) -> DataFrame:
    """Orders per value of `column` (a small table: one row per distinct value)."""
    return (
        transactions_df.filter(is_purchase() & F.col(column).isNotNull())
        .groupBy(F.col(column).alias("value"))
        .agg(F.count(F.lit(1)).alias("orders"))
    )


def top_levels(counts: list[tuple[str, int]], max_levels: int) -> tuple[str, ...]:
    """The most frequent values (ties by name), returned in alphabetical order."""
    ranked = sorted(counts, key=lambda vc: (-vc[1], str(vc[0])))[:max_levels]
    return tuple(sorted(str(v) for v, _ in ranked))


def customer_order_shares(transactions_df: DataFrame, plan: FeaturePlan) -> DataFrame:
    """One row per customer with an order: a smoothed share column per vocabulary value.

    One groupBy with a conditional count per value (the vocabulary is bounded by
    personas.max_levels), so it is a single shuffle however many values there are.
    """
    order = is_purchase()
    counts = [F.count(F.when(order, F.lit(1))).alias("_orders")]
    for group in plan.share_groups:
        column = SHARE_GROUPS[group]
        for value in plan.vocabulary[group]:
            counts.append(F.count(F.when(order & (F.col(column) == F.lit(value)), F.lit(1))).alias(share_column(group, value)))
    aggregated = transactions_df.groupBy(C.CUSTOMER_ID).agg(*counts).filter(F.col("_orders") > F.lit(0))
    shares = []
    for group in plan.share_groups:
        n_values = len(plan.vocabulary[group])
        for value in plan.vocabulary[group]:
            name = share_column(group, value)
            smoothed = (F.col(name) + F.lit(plan.share_prior / n_values)) / (F.col("_orders") + F.lit(plan.share_prior))
            shares.append(smoothed.cast("double").alias(name))
    return aggregated.select(F.col(C.CUSTOMER_ID), *shares)


def persona_inputs(features_df: DataFrame, shares_df: DataFrame | None, customers_df: DataFrame | None, plan: FeaturePlan) -> DataFrame:
    """customer_id + every model input column (numeric as double, nominal as string).

    Left joins from customer_features: a customer missing from the customers table gets
    null demographics, which the model imputes (numeric) or encodes as "unknown" (nominal).
    """
    selected = [F.col(C.CUSTOMER_ID)]
    selected += [BEHAVIOUR_FEATURES[name][1](BEHAVIOUR_FEATURES[name][0]).alias(name) for name in plan.behaviour]
    inputs_df = features_df.select(*selected)
    if plan.share_groups and shares_df is not None:
        inputs_df = inputs_df.join(shares_df, on=C.CUSTOMER_ID, how="left")
    if plan.uses_customers and customers_df is not None:
        demographics = [F.col(n).cast("double").alias(n) for n in plan.numeric_demographics]
        demographics += [F.col(n).cast("string").alias(n) for n in plan.nominal_demographics]
        inputs_df = inputs_df.join(customers_df.select(F.col(C.CUSTOMER_ID), *demographics), on=C.CUSTOMER_ID, how="left")
    return inputs_df.select(
        F.col(C.CUSTOMER_ID),
        *[F.col(n).cast("double").alias(n) for n in plan.numeric_columns],
        *[F.col(n) for n in plan.nominal_demographics],
    )


def with_fixed_layout(inputs_df: DataFrame, *, partitions: int) -> DataFrame:
    """Hash-partition by customer id and sort within partitions.

    MLlib's k-means|| initialisation samples per partition with the given seed, so the
    same rows in the same layout give the same model; this fixes the layout whatever
    the upstream partitioning (number of input files, AQE coalescing) was.
    """
    return inputs_df.repartition(partitions, F.col(C.CUSTOMER_ID)).sortWithinPartitions(F.col(C.CUSTOMER_ID))


def filter_sample(inputs_df: DataFrame, *, fraction: float, seed: int) -> DataFrame:
    """A deterministic hash sample: a customer is in it iff hash(seed, id) falls below the fraction."""
    if fraction >= 1.0:
        return inputs_df
    bucket = F.pmod(F.xxhash64(F.lit(seed), F.lit("persona-sweep"), F.col(C.CUSTOMER_ID)), F.lit(1_000_000))
    return inputs_df.filter(bucket < F.lit(int(round(fraction * 1_000_000))))


def require_columns(df: DataFrame, needed: tuple[str, ...] | list[str], what: str) -> None:
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise InputError(f"{what} lacks column(s) {', '.join(missing)} that the persona model needs (present: {', '.join(df.columns)})")
