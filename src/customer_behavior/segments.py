"""R, F and M scores from quantile bins and the 11 named RFM segments.

Scores (also in docs/definitions.md):
- Cut points: for each of recency_days, orders and monetary, the quantiles at 1/bins,
  2/bins, ..., (bins-1)/bins over all customers, read off one grouped histogram (one job,
  a bounded table to the driver, never a window over the whole data): exact for days and
  order counts, and for money exact on a grid of `monetary_significant_digits` significant
  digits. Unlike approxQuantile the result does not depend on partitioning. Or the user's
  cut points from the config.
- Value-based bins, so equal values always get equal scores:
  F = 1 + number of cut points strictly below the order count (likewise M for monetary);
  R = 1 + number of cut points strictly above the recency in days (recent = high).
  A block of tied values that spans several quantile bins (e.g. 40% of customers with
  exactly one order) gets the lowest score of the span: the score is then 1 + floor(bins
  x share of customers strictly worse), the "min" rank. Scores in the middle of such a
  span stay empty rather than being dealt out arbitrarily among equal customers.
- A dimension in which every customer has the same value (a one-day log) ranks nobody: for
  recency everyone gets the top score when that value is within `insights.active_days` (so
  the segments agree with the "active" KPI) and the bottom one otherwise; for orders and
  money the middle score. The run notes it, and any dimension with fewer distinct values
  than bins.
- With bins != 5, each score is mapped onto the segment table's five levels by the
  quintile that holds the centre of its bin (`segment_table.five_level`): bins=3 ->
  1/3/5, bins=10 -> 1,1,2,2,...,5,5. The stored r/f/m scores keep the 1..bins scale;
  rfm_code and segment use the five levels.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.config import SegmentsConfig
from customer_behavior.segment_table import LEVELS, SegmentTable, segment_slug

SLUG = "segment_slug"
EXPORT_COLUMNS = (
    C.CUSTOMER_ID,
    C.SEGMENT,
    C.RFM_CODE,
    C.RECENCY_DAYS,
    C.ORDERS,
    C.MONETARY,
    C.AVG_ORDER_VALUE,
    C.LAST_PURCHASE_DATE,
    C.FAVOURITE_CATEGORY,
    C.PREFERRED_CHANNEL,
)


@dataclass(frozen=True)
class CutPoints:
    """bins - 1 non-decreasing cut points per dimension (quantiles may repeat)."""

    recency: tuple[float, ...]
    frequency: tuple[float, ...]
    monetary: tuple[float, ...]
    # (dimension, distinct values) of the fitted dimensions with fewer distinct values than bins
    few_values: tuple[tuple[str, int], ...] = ()
    # (dimension, score) of the dimensions in which every customer has the same value
    flat_scores: tuple[tuple[str, int], ...] = ()

    def to_dict(self) -> dict[str, list[float]]:
        return {"recency_days": list(self.recency), "orders": list(self.frequency), "monetary": list(self.monetary)}

    def notes(self, bins: int) -> list[str]:
        """What the run says about dimensions that cannot fill the bins."""
        out = []
        flat = dict(self.flat_scores)
        for name, distinct in self.few_values:
            if name in flat:
                out.append(f"segments: every customer has the same {name}, so it ranks nobody; everyone gets {name} score {flat[name]} of {bins}")
            else:
                out.append(f"segments: {name} has {distinct} distinct values for {bins} bins; tied customers share a score, so some scores are empty")
        return out


def flat_score(name: str, value: float, *, bins: int, active_days: int) -> int:
    """The score of a dimension in which every customer has `value`: for recency the top one
    when that is within `active_days` (a one-day log: everyone bought in the last days, as
    the KPIs say) and the bottom one otherwise; for orders the bottom one when everyone has
    one order (nobody is a repeat buyer), else the middle one, as for money."""
    if name == C.RECENCY_DAYS:
        return bins if value <= active_days else 1
    if name == C.ORDERS and value <= 1:
        return 1
    return (bins + 1) // 2


def quantile_probabilities(bins: int) -> list[float]:
    return [i / bins for i in range(1, bins)]


def _histogram_key(value: Column, significant_digits: int) -> Column:
    """An exact, layout-independent bucket of a value, as its upper edge.

    Whole numbers (days, order counts) are their own bucket. Money is counted in cents
    and rounded up to `significant_digits` digits with integer arithmetic, so every
    machine computes the same edge (relative precision 10^-(digits-1)).
    """
    cents = F.ceil(value * F.lit(100)).cast("long")
    digits = F.length(F.abs(cents).cast("string"))
    unit = F.pow(F.lit(10), F.greatest(digits - F.lit(significant_digits), F.lit(0))).cast("long")
    magnitude = F.ceil(F.abs(cents) / unit).cast("long") * unit
    edge_cents = F.when(cents < 0, -F.floor(F.abs(cents) / unit).cast("long") * unit).otherwise(magnitude)
    return edge_cents.cast("double") / F.lit(100.0)


def value_histogram(features_df: DataFrame, names: list[str], *, significant_digits: int) -> DataFrame:
    """(metric, edge, customers) for each metric: one job, a bounded table.

    Recency and order counts take at most a few thousand distinct values; money is
    bucketed to `significant_digits`, at most ~9 x 10^(digits-1) buckets per decade.
    """
    money = {C.MONETARY}
    keyed = [
        F.struct(F.lit(name).alias("metric"), (_histogram_key(F.col(name), significant_digits) if name in money else F.col(name).cast("double")).alias("edge"))
        for name in names
    ]
    return (
        features_df.select(F.explode(F.array(*keyed)).alias("m"))
        .groupBy(F.col("m.metric").alias("metric"), F.col("m.edge").alias("edge"))
        .agg(F.count(F.lit(1)).alias("customers"))
    )


def quantiles_from_histogram(rows: list[tuple[float, int]], bins: int) -> list[float]:
    """For k = 1..bins-1, the smallest edge whose cumulative count reaches ceil(k x total / bins)
    (the value at that rank: exact on the grid, in integer arithmetic)."""
    ordered = sorted(rows)
    total = sum(count for _, count in ordered)
    out, running, i = [], 0, 0
    for k in range(1, bins):
        target = -(-k * total // bins)
        while i < len(ordered) - 1 and running + ordered[i][1] < target:
            running += ordered[i][1]
            i += 1
        out.append(float(ordered[i][0]))
    return out


def fit_cut_points(features_df: DataFrame, cfg: SegmentsConfig, *, active_days: int = 90) -> CutPoints:
    """Cut points per dimension: the user's, or quantiles over the whole data set.

    The quantiles come from one grouped histogram (a bounded table to the driver), not
    approxQuantile: its sketch depends on how rows fall into partitions, so the same data
    on another cluster could move a cut point and re-score customers at the edge.
    """
    given = {C.RECENCY_DAYS: cfg.recency_cuts, C.ORDERS: cfg.frequency_cuts, C.MONETARY: cfg.monetary_cuts}
    wanted = [name for name, cuts in given.items() if not cuts]
    fitted: dict[str, list[float]] = {}
    if wanted:
        histogram: dict[str, list[tuple[float, int]]] = {name: [] for name in wanted}
        for row in value_histogram(features_df, wanted, significant_digits=cfg.monetary_significant_digits).collect():
            if row["edge"] is not None:
                histogram[row["metric"]].append((row["edge"], row["customers"]))
        fitted = {name: quantiles_from_histogram(rows, cfg.bins) if rows else [0.0] * (cfg.bins - 1) for name, rows in histogram.items()}
        # money is counted on its grid: distinct grid edges, the values the scores can tell apart
        few_values = tuple((name, len(histogram[name])) for name in wanted if len(histogram[name]) < cfg.bins)
        flat_scores = tuple(
            (name, flat_score(name, histogram[name][0][0], bins=cfg.bins, active_days=active_days)) for name in wanted if len(histogram[name]) == 1
        )
    else:
        few_values = flat_scores = ()
    cuts = {name: tuple(float(c) for c in (given[name] or fitted[name])) for name in given}
    return CutPoints(recency=cuts[C.RECENCY_DAYS], frequency=cuts[C.ORDERS], monetary=cuts[C.MONETARY], few_values=few_values, flat_scores=flat_scores)


# --------------------------------------------------------------------------- column functions


def _count_true(conditions: list[Column]) -> Column:
    total = F.lit(0)
    for condition in conditions:
        total = total + F.when(condition, F.lit(1)).otherwise(F.lit(0))
    return total


def score_higher_is_better(value: Column, cuts: tuple[float, ...]) -> Column:
    """1 + number of cut points strictly below the value (ties share the lower score)."""
    return (F.lit(1) + _count_true([value > F.lit(c) for c in cuts])).cast("int")


def score_lower_is_better(value: Column, cuts: tuple[float, ...]) -> Column:
    """1 + number of cut points strictly above the value (recency: fewer days = higher)."""
    return (F.lit(1) + _count_true([value < F.lit(c) for c in cuts])).cast("int")


def five_level_col(score: Column, bins: int) -> Column:
    """Spark form of `segment_table.five_level`: ceil((2 * score - 1) * 5 / (2 * bins))."""
    if bins == LEVELS:
        return score
    return F.ceil((F.lit(2) * score - F.lit(1)) * F.lit(LEVELS) / F.lit(2 * bins)).cast("int")


def segment_of(code: Column, table: SegmentTable) -> Column:
    """Lookup in a literal map built from the table (every code is present, so never null)."""
    pairs = [item for code_name in sorted(table.code_map().items()) for item in (F.lit(code_name[0]), F.lit(code_name[1]))]
    return F.create_map(*pairs)[code]


def neutralise_formula(value: Column) -> Column:
    """Prefix a single quote to text a spreadsheet would read as a formula (= + - @, tab, CR)."""
    return F.when(value.rlike("^[=+\\-@\\t\\r]"), F.concat(F.lit("'"), value)).otherwise(value)


# --------------------------------------------------------------------------- transforms


def with_rfm_scores(features_df: DataFrame, *, cuts: CutPoints, bins: int) -> DataFrame:
    """R, F and M scores. A dimension in which every customer has the same value (a log of one
    day: every recency alike) ranks nobody: the "min" rule would give everyone the worst
    score (all Lost or At Risk beside 100% active), so everyone gets its `flat_score`."""
    flat = dict(cuts.flat_scores)
    scores = {
        C.R_SCORE: (C.RECENCY_DAYS, score_lower_is_better(F.col(C.RECENCY_DAYS), cuts.recency)),
        C.F_SCORE: (C.ORDERS, score_higher_is_better(F.col(C.ORDERS), cuts.frequency)),
        C.M_SCORE: (C.MONETARY, score_higher_is_better(F.col(C.MONETARY), cuts.monetary)),
    }
    scored_df = features_df
    for score, (dimension, value) in scores.items():
        scored_df = scored_df.withColumn(score, F.lit(flat[dimension]).cast("int") if dimension in flat else value)
    return scored_df


def with_segment(scored_df: DataFrame, *, table: SegmentTable, bins: int) -> DataFrame:
    code = F.concat(
        *[five_level_col(F.col(name), bins).cast("string") for name in (C.R_SCORE, C.F_SCORE, C.M_SCORE)]
    )
    return scored_df.withColumn(C.RFM_CODE, code).withColumn(C.SEGMENT, segment_of(F.col(C.RFM_CODE), table))


def assign_segments(features_df: DataFrame, *, cuts: CutPoints, table: SegmentTable, bins: int) -> DataFrame:
    """Features plus r/f/m scores, the five-level rfm_code and the segment name."""
    return features_df.transform(with_rfm_scores, cuts=cuts, bins=bins).transform(with_segment, table=table, bins=bins)


RFM_SEGMENT_COLUMNS = (
    C.CUSTOMER_ID,
    C.RECENCY_DAYS,
    C.ORDERS,
    C.MONETARY,
    C.AVG_ORDER_VALUE,
    C.R_SCORE,
    C.F_SCORE,
    C.M_SCORE,
    C.RFM_CODE,
    C.SEGMENT,
)


def select_rfm_segments(segmented_df: DataFrame) -> DataFrame:
    return segmented_df.select(*[F.col(name) for name in RFM_SEGMENT_COLUMNS])


def segment_summary(rfm_df: DataFrame, *, table: SegmentTable) -> DataFrame:
    """One row per segment of the table (empty ones too), in the table's order.

    customer_share and revenue_share are of all segmented customers; revenue is net
    spend; mean_order_value = segment revenue / segment orders.
    """
    # Built from spark.range, not createDataFrame(list): that would need Python on the executors.
    names_df = rfm_df.sparkSession.range(1).select(
        F.inline(F.array(*[F.struct(F.lit(i).alias("segment_order"), F.lit(name).alias(C.SEGMENT)) for i, name in enumerate(table.names())]))
    )
    per_segment_df = rfm_df.groupBy(C.SEGMENT).agg(
        F.count(F.lit(1)).alias(C.CUSTOMERS),
        F.sum(F.col(C.MONETARY).cast("decimal(28,6)")).alias(C.REVENUE),
        F.sum(F.col(C.ORDERS)).alias("segment_orders"),
        F.avg(F.col(C.R_SCORE)).alias(C.MEAN_R_SCORE),
        F.avg(F.col(C.F_SCORE)).alias(C.MEAN_F_SCORE),
        F.avg(F.col(C.M_SCORE)).alias(C.MEAN_M_SCORE),
        F.avg(F.col(C.RECENCY_DAYS)).alias(C.MEAN_RECENCY_DAYS),
    )
    totals_df = per_segment_df.agg(F.sum(C.CUSTOMERS).alias("all_customers"), F.sum(C.REVENUE).alias("all_revenue"))
    customers = F.coalesce(F.col(C.CUSTOMERS), F.lit(0).cast("long"))
    revenue = F.coalesce(F.col(C.REVENUE).cast("double"), F.lit(0.0))
    return (
        names_df.join(per_segment_df, on=C.SEGMENT, how="left")
        .crossJoin(totals_df)
        .select(
            F.col(C.SEGMENT),
            customers.alias(C.CUSTOMERS),
            F.when(F.col("all_customers") > 0, customers / F.col("all_customers")).otherwise(F.lit(0.0)).alias(C.CUSTOMER_SHARE),
            revenue.alias(C.REVENUE),
            F.when(F.col("all_revenue") != 0, revenue / F.col("all_revenue").cast("double")).alias(C.REVENUE_SHARE),
            F.col(C.MEAN_R_SCORE),
            F.col(C.MEAN_F_SCORE),
            F.col(C.MEAN_M_SCORE),
            F.col(C.MEAN_RECENCY_DAYS),
            F.when(F.col("segment_orders") > 0, revenue / F.col("segment_orders")).alias(C.MEAN_ORDER_VALUE_SEGMENT),
            F.col("segment_order"),
        )
        .orderBy("segment_order")
        .drop("segment_order")
    )


def export_rows(segmented_df: DataFrame) -> DataFrame:
    """Campaign export rows: ids and key metrics, text neutralised against formula injection,
    plus the file-name slug of the segment (the partition column of the write)."""
    text_columns = {C.CUSTOMER_ID, C.SEGMENT, C.RFM_CODE, C.FAVOURITE_CATEGORY, C.PREFERRED_CHANNEL}
    slug = F.regexp_replace(F.regexp_replace(F.lower(F.col(C.SEGMENT)), "'", ""), "[^a-z0-9]+", "_")
    return segmented_df.select(
        *[neutralise_formula(F.col(name)).alias(name) if name in text_columns else F.col(name) for name in EXPORT_COLUMNS],
        F.regexp_replace(slug, "^_+|_+$", "").alias(SLUG),
    )


__all__ = ["CutPoints", "fit_cut_points", "assign_segments", "segment_summary", "export_rows", "segment_slug", "SLUG"]


# Planted-truth scoring lives in customer_behavior.evaluation; re-exported for the pipeline.
from customer_behavior.evaluation.segments import format_confusion, persona_segment_counts, summarise_planted_truth  # noqa: E402,F401
