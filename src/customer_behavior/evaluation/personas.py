"""Agreement between found and planted personas: the adjusted Rand index, in Spark.

ARI (Hubert and Arabie, 1985) from the contingency table n_ij (customers in found cluster
i and planted persona j), with a_i and b_j its row and column sums and n the total:

    index    = sum_ij C(n_ij, 2)
    expected = sum_i C(a_i, 2) * sum_j C(b_j, 2) / C(n, 2)
    maximum  = (sum_i C(a_i, 2) + sum_j C(b_j, 2)) / 2
    ARI      = (index - expected) / (maximum - expected)

The contingency table is one groupBy over the customers (k x 7 rows); the sums are Spark
aggregates over it, so only one row reaches the driver.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C


def _pairs(n: Column) -> Column:
    n = n.cast("double")
    return n * (n - F.lit(1.0)) / F.lit(2.0)


def contingency(assignments_df: DataFrame, truth_df: DataFrame, *, found: str = C.CLUSTER, planted: str = C.PERSONA) -> DataFrame:
    """(found, planted, n) over the customers present in both tables."""
    return (
        assignments_df.select(F.col(C.CUSTOMER_ID), F.col(found).alias("found"))
        .join(truth_df.select(F.col(C.CUSTOMER_ID), F.col(planted).alias("planted")), on=C.CUSTOMER_ID, how="inner")
        .groupBy("found", "planted")
        .agg(F.count(F.lit(1)).alias("n"))
    )


def adjusted_rand_index(contingency_df: DataFrame) -> DataFrame:
    """One row: ari, customers. ARI is 1.0 when the expected and maximum index coincide
    (for example both partitions a single group), as scikit-learn defines it."""
    cells = contingency_df.agg(F.sum(_pairs(F.col("n"))).alias("index"), F.sum("n").alias("customers"))
    rows = contingency_df.groupBy("found").agg(F.sum("n").alias("a")).agg(F.sum(_pairs(F.col("a"))).alias("sum_a"))
    cols = contingency_df.groupBy("planted").agg(F.sum("n").alias("b")).agg(F.sum(_pairs(F.col("b"))).alias("sum_b"))
    all_pairs = _pairs(F.col("customers"))
    expected = F.when(all_pairs > F.lit(0.0), F.col("sum_a") * F.col("sum_b") / all_pairs).otherwise(F.lit(0.0))
    maximum = (F.col("sum_a") + F.col("sum_b")) / F.lit(2.0)
    return (
        cells.crossJoin(rows)
        .crossJoin(cols)
        .select(
            F.when(maximum == expected, F.lit(1.0)).otherwise((F.col("index") - expected) / (maximum - expected)).alias("ari"),
            F.col("customers"),
        )
    )
