"""Category affinities: FPGrowth association rules over baskets of categories."""

from __future__ import annotations

from pyspark.ml.fpm import FPGrowth
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.config import PatternsConfig
from customer_behavior.patterns.orders import PARTS

# --------------------------------------------------------------------------- affinities


def baskets(orders_df: DataFrame, basket: str) -> DataFrame:
    """One row per basket with its distinct categories (`items`); see PatternsConfig.basket."""
    categories = F.col(PARTS).getField(C.CATEGORY)
    if basket == "order":  # the parts of an order are its distinct categories, sorted
        return orders_df.select(categories.alias(C.ITEMS))
    keys = [F.col(C.CUSTOMER_ID)]
    if basket == "month":
        keys.append(F.trunc(F.col(C.EVENT_TS), "month").alias("period"))
    elif basket == "day":
        keys.append(F.to_date(F.col(C.EVENT_TS)).alias("period"))
    return orders_df.groupBy(*keys).agg(F.array_sort(F.array_distinct(F.flatten(F.collect_list(categories)))).alias(C.ITEMS)).select(C.ITEMS)


def category_affinities(baskets_df: DataFrame, cfg: PatternsConfig) -> DataFrame:
    """Association rules {antecedent} -> consequent with support, confidence and lift (MLlib FPGrowth).

    Fits FPGrowth (an action). Rules are sorted by lift, then confidence, then the rule's text so the
    order is stable; at most `max_rules` are kept.
    """
    model = FPGrowth(itemsCol=C.ITEMS, minSupport=cfg.min_support, minConfidence=cfg.min_confidence).fit(baskets_df)
    rules = model.associationRules
    return (
        rules.select(
            F.array_sort(F.col("antecedent")).alias(C.ANTECEDENT),
            F.col("consequent").getItem(0).alias(C.CONSEQUENT),
            F.round(F.col("support"), 4).alias(C.SUPPORT),
            F.round(F.col("confidence"), 4).alias(C.CONFIDENCE),
            F.round(F.col("lift"), 3).alias(C.LIFT),
        )
        .orderBy(F.col(C.LIFT).desc(), F.col(C.CONFIDENCE).desc(), F.array_join(F.col(C.ANTECEDENT), "|"), F.col(C.CONSEQUENT))
        .limit(cfg.max_rules)
    )
