"""Agreement between found and planted personas: the adjusted Rand index.

ARI (Hubert and Arabie, 1985) from the contingency table n_ij (customers in found cluster
i and planted persona j), with a_i and b_j its row and column sums and n the total:

    index    = sum_ij C(n_ij, 2)
    expected = sum_i C(a_i, 2) * sum_j C(b_j, 2) / C(n, 2)
    maximum  = (sum_i C(a_i, 2) + sum_j C(b_j, 2)) / 2
    ARI      = (index - expected) / (maximum - expected)

The contingency table is one groupBy over the customers (k x 7 rows): it reaches the driver
in one collect and the sums are taken there.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C


def _pairs(n: float) -> float:
    return n * (n - 1.0) / 2.0


def contingency(assignments_df: DataFrame, truth_df: DataFrame, *, found: str = C.CLUSTER, planted: str = C.PERSONA) -> DataFrame:
    """(found, planted, n) over the customers present in both tables."""
    return (
        assignments_df.select(F.col(C.CUSTOMER_ID), F.col(found).alias("found"))
        .join(truth_df.select(F.col(C.CUSTOMER_ID), F.col(planted).alias("planted")), on=C.CUSTOMER_ID, how="inner")
        .groupBy("found", "planted")
        .agg(F.count(F.lit(1)).alias("n"))
    )


def adjusted_rand_index(contingency_df: DataFrame) -> dict[str, float]:
    """{"ari", "customers"}. ARI is 1.0 when the expected and maximum index coincide
    (for example both partitions a single group), as scikit-learn defines it.

    The contingency table (found x planted cells, a few dozen rows whatever the data) is
    collected once (one action) and the sums are taken on the driver."""
    cells = [(row["found"], row["planted"], float(row["n"])) for row in contingency_df.collect()]
    row_sums: dict[object, float] = {}
    col_sums: dict[object, float] = {}
    for found, planted, n in cells:
        row_sums[found] = row_sums.get(found, 0.0) + n
        col_sums[planted] = col_sums.get(planted, 0.0) + n
    customers = sum(n for _, _, n in cells)
    index = sum(_pairs(n) for _, _, n in cells)
    sum_a, sum_b = sum(map(_pairs, row_sums.values())), sum(map(_pairs, col_sums.values()))
    all_pairs = _pairs(customers)
    expected = sum_a * sum_b / all_pairs if all_pairs > 0.0 else 0.0
    maximum = (sum_a + sum_b) / 2.0
    ari = 1.0 if maximum == expected else (index - expected) / (maximum - expected)
    return {"ari": float(ari), "customers": int(customers)}
