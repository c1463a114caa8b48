"""Hash-derived random streams: every value is a function of (seed, stream, entity ids).

Unlike `rand()`, whose values depend on how rows fall into partitions, these give the
same number for the same entity on 2 cores or 200. All are Spark SQL expressions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F

_TWO_POW_53 = float(2**53)


def uniform(seed: int, stream: str, *ids: Column) -> Column:
    """Uniform on the open interval (0, 1): 53 bits of xxhash64(seed, stream, ids)."""
    bits = F.shiftrightunsigned(F.xxhash64(F.lit(seed), F.lit(stream), *ids), 11)
    return (bits.cast("double") + F.lit(0.5)) / F.lit(_TWO_POW_53)


def standard_normal(seed: int, stream: str, *ids: Column) -> Column:
    """Box-Muller over two independent uniforms."""
    u1 = uniform(seed, stream + ":n1", *ids)
    u2 = uniform(seed, stream + ":n2", *ids)
    return F.sqrt(F.lit(-2.0) * F.log(u1)) * F.cos(F.lit(2.0 * math.pi) * u2)


def exponential(mean: Column, u: Column) -> Column:
    return -mean * F.log(u)


def gamma(shape: Column, mean: Column, z: Column) -> Column:
    """Gamma(shape, scale=mean/shape) by the Wilson-Hilferty cube of a normal draw.

    Accurate to a few per cent for shape >= 1 (the personas use 3 to 6); clamped away
    from zero because the cube can go negative in the far left tail.
    """
    c = F.lit(1.0) / (F.lit(9.0) * shape)
    cube = F.pow(F.lit(1.0) - c + z * F.sqrt(c), 3)
    return F.greatest(cube, F.lit(1e-3)) * mean


def poisson(mean: Column, u: Column, *, max_mean: float = 1000.0) -> Column:
    """Poisson(mean) by inverse CDF: walk the pmf up to a bound well past mean + 8 sd.

    Means above `max_mean` (never reached by the default personas) fall back to the
    normal approximation so the walk stays bounded.
    """
    cap = F.least(F.ceil(mean + F.lit(8.0) * F.sqrt(mean) + F.lit(10.0)), F.lit(int(max_mean * 2))).cast("int")
    start = F.struct(F.lit(0).alias("n"), F.exp(-mean).alias("pmf"), F.exp(-mean).alias("cdf"))

    def step(acc: Column, k: Column) -> Column:
        pmf = acc["pmf"] * mean / k.cast("double")
        return F.when(acc["cdf"] >= u, acc).otherwise(
            F.struct(k.alias("n"), pmf.alias("pmf"), (acc["cdf"] + pmf).alias("cdf"))
        )

    walked = F.aggregate(F.sequence(F.lit(1), cap), start, step, lambda acc: acc["n"])
    normal_approx = F.greatest(F.round(mean + F.sqrt(mean) * _probit(u)), F.lit(0.0)).cast("int")
    return F.when(mean > F.lit(max_mean), normal_approx).otherwise(walked)


def _probit(u: Column) -> Column:
    """A logistic approximation of the inverse normal CDF: plenty for the fallback branch of `poisson`."""
    return F.log(u / (F.lit(1.0) - u)) * F.lit(math.sqrt(3.0) / math.pi)


LOOKUP_RESOLUTION = 10_000


def lookup_table(cumulative: Sequence[float], values: Sequence[object], resolution: int = LOOKUP_RESOLUTION) -> list[object]:
    """values for each of `resolution` equal slices of (0, 1): slice b gets the value whose
    cumulative range holds the slice's midpoint (probabilities exact to 1/resolution)."""
    table, j = [], 0
    for b in range(resolution):
        midpoint = (b + 0.5) / resolution
        while j < len(cumulative) - 1 and midpoint >= cumulative[j]:
            j += 1
        table.append(values[j])
    return table


def choose(u: Column, group: Column, cumulative_by_group: Sequence[Sequence[float]], values: Sequence[object]) -> Column:
    """Categorical draw: values[j] where u falls in the group's cumulative weights.

    One lookup in a table of groups x resolution slices holding value positions: constant
    time per row, and the generated code stays small. The table is written as a literal
    string that Spark splits and casts once, at planning time (constant folding), into an
    int array; a CASE chain per group x value made methods too large, and a substring of
    a long string is linear in the position.
    """
    positions = []
    for cumulative in cumulative_by_group:
        positions.extend(lookup_table(cumulative, list(range(1, len(values) + 1))))
    table = F.split(F.lit(",".join(map(str, positions))), ",").cast("array<int>")
    slot = group * F.lit(LOOKUP_RESOLUTION) + F.floor(u * F.lit(LOOKUP_RESOLUTION)).cast("int") + F.lit(1)
    return F.element_at(F.array(*[F.lit(v) for v in values]), F.element_at(table, slot.cast("int")))


def per_group(group: Column, values: Sequence[float | int | str]) -> Column:
    """values[group]: a per-persona constant looked up in a literal array."""
    return F.element_at(F.lit(list(values)), (group + F.lit(1)).cast("int"))
