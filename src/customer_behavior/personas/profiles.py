"""Per-persona profiles from small aggregates: sizes, revenue, mean features, modes, z-scores.

Two aggregations over the assigned customers, each returning one row per cluster (or per
cluster and value): the moments (count, sum, sum of squares) of each descriptive column,
and the counts behind the modes (top category, payment method, channel, RFM segments).
Everything after that runs on the driver over at most k x (a few dozen) numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.personas.naming import ClusterDescription

# Columns of customer_features described in the profile table, in original units.
PROFILE_COLUMNS = (
    C.MONETARY,
    C.ORDERS,
    C.RECENCY_DAYS,
    C.AVG_ORDER_VALUE,
    C.TENURE_DAYS,
    C.WEEKEND_SHARE,
    C.DISCOUNT_SHARE,
    C.RETURN_RATE,
    C.AVG_BASKET_SIZE,
)
MODE_COLUMNS = {"category": C.FAVOURITE_CATEGORY, "payment_method": C.PREFERRED_PAYMENT_METHOD, "channel": C.PREFERRED_CHANNEL}
SEGMENT_KIND = "segment"
TOP_SEGMENTS = 3


def cluster_moments(assigned_df: DataFrame, columns: Iterable[str]) -> DataFrame:
    """Per cluster: customers, and count/sum/sum of squares of each column (nulls skipped)."""
    aggregates = [F.count(F.lit(1)).alias("customers")]
    for name in columns:
        value = F.col(name).cast("double")
        aggregates += [
            F.count(value).alias(f"{name}__n"),
            F.sum(value).alias(f"{name}__sum"),
            F.sum(value * value).alias(f"{name}__sumsq"),
        ]
    return assigned_df.groupBy(C.CLUSTER).agg(*aggregates)


def cluster_value_counts(assigned_df: DataFrame, kinds: Mapping[str, str]) -> DataFrame:
    """Per (cluster, kind, value): customers. kinds maps a label to the column holding the value."""
    long_df = None
    for kind, column in kinds.items():
        part = assigned_df.select(F.col(C.CLUSTER), F.lit(kind).alias("kind"), F.col(column).cast("string").alias("value"))
        long_df = part if long_df is None else long_df.unionByName(part)
    return long_df.filter(F.col("value").isNotNull()).groupBy(C.CLUSTER, "kind", "value").agg(F.count(F.lit(1)).alias("customers"))


@dataclass(frozen=True)
class Moments:
    n: float
    total: float
    total_sq: float

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None


def _moments(row: Mapping, name: str) -> Moments:
    return Moments(float(row[f"{name}__n"] or 0), float(row[f"{name}__sum"] or 0.0), float(row[f"{name}__sumsq"] or 0.0))


def overall_stats(rows: Sequence[Mapping], columns: Iterable[str]) -> dict[str, tuple[float, float]]:
    """Overall mean and (population) standard deviation per column, combined from the cluster moments."""
    stats = {}
    for name in columns:
        n = sum(_moments(r, name).n for r in rows)
        if not n:
            continue
        total = sum(_moments(r, name).total for r in rows)
        total_sq = sum(_moments(r, name).total_sq for r in rows)
        mean = total / n
        variance = max(total_sq / n - mean * mean, 0.0)
        stats[name] = (mean, math.sqrt(variance))
    return stats


def describe(rows: Sequence[Mapping], columns: Mapping[str, str]) -> tuple[list[ClusterDescription], dict[str, dict[str, float]]]:
    """Z-scores of each cluster mean against the overall mean, keyed for naming.

    columns maps the aggregated column to its naming key (e.g. the share column
    'share__category__electronics' -> 'category:electronics'). Returns the descriptions and
    the cluster means (by aggregated column) for the profile table.
    """
    stats = overall_stats(rows, columns)
    descriptions, means = [], {}
    for row in rows:
        cluster = int(row[C.CLUSTER])
        z, cluster_means = {}, {}
        for name, key in columns.items():
            mean = _moments(row, name).mean
            cluster_means[name] = mean
            if mean is None or name not in stats:
                continue
            overall_mean, sd = stats[name]
            z[key] = (mean - overall_mean) / sd if sd > 0 else 0.0
        descriptions.append(ClusterDescription(cluster=cluster, size=int(row["customers"]), z=z))
        means[str(cluster)] = cluster_means
    return descriptions, means


PROFILE_SCHEMA = (
    "cluster int, persona_name string, customers long, customer_share double, revenue double, revenue_share double, "
    + ", ".join(f"mean_{name} double" for name in PROFILE_COLUMNS)
    + ", mean_age double, top_category string, top_payment_method string, top_channel string, dominant_segments string, standout_features string"
)


def _top(counts: list[tuple[str, int]]) -> str | None:
    return min(counts, key=lambda vc: (-vc[1], vc[0]))[0] if counts else None


def profile_rows(
    rows: Sequence[Mapping],
    value_counts: Sequence[Mapping],
    names: Mapping[int, str],
    descriptions: list[ClusterDescription],
    means: Mapping[str, Mapping[str, float | None]],
) -> list[tuple]:
    """One tuple per persona in PROFILE_SCHEMA order, largest persona first."""
    total_customers = sum(int(r["customers"]) for r in rows) or 1
    revenue = {int(r[C.CLUSTER]): _moments(r, C.MONETARY).total for r in rows}
    total_revenue = sum(revenue.values())
    by_cluster: dict[tuple[int, str], list[tuple[str, int]]] = {}
    for vc in value_counts:
        by_cluster.setdefault((int(vc[C.CLUSTER]), vc["kind"]), []).append((vc["value"], int(vc["customers"])))
    z_of = {d.cluster: d.z for d in descriptions}
    out = []
    for row in sorted(rows, key=lambda r: (-int(r["customers"]), names[int(r[C.CLUSTER])])):
        cluster = int(row[C.CLUSTER])
        size = int(row["customers"])
        cluster_means = means[str(cluster)]
        segments = sorted(by_cluster.get((cluster, SEGMENT_KIND), []), key=lambda vc: (-vc[1], vc[0]))[:TOP_SEGMENTS]
        dominant = ", ".join(f"{name} {count / size:.0%}" for name, count in segments) or None
        standouts = sorted(z_of[cluster].items(), key=lambda kv: (-abs(kv[1]), kv[0]))[:4]
        out.append(
            (
                cluster,
                names[cluster],
                size,
                size / total_customers,
                revenue[cluster],
                revenue[cluster] / total_revenue if total_revenue else None,
                *[cluster_means.get(name) for name in PROFILE_COLUMNS],
                cluster_means.get(C.AGE),
                _top(by_cluster.get((cluster, "category"), [])),
                _top(by_cluster.get((cluster, "payment_method"), [])),
                _top(by_cluster.get((cluster, "channel"), [])),
                dominant,
                ", ".join(f"{key} {value:+.1f} sd" for key, value in standouts),
            )
        )
    return out
