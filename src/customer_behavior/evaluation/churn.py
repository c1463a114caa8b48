"""Churn risk against the planted dropout (synthetic data): the area under the ROC curve."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C


def planted_churn_auc(clv_df: DataFrame, truth_df: DataFrame) -> dict[str, float | int]:
    """Area under the ROC curve of (1 - P(alive)) against the generator's planted dropout.

    Synthetic data only (the truth table). MLlib's BinaryClassificationEvaluator computes it
    in Spark; only the number comes back.
    """
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    scored_df = clv_df.join(truth_df.select(C.CUSTOMER_ID, C.IS_CHURNED), on=C.CUSTOMER_ID, how="inner").select(
        (F.lit(1.0) - F.col(C.PROB_ALIVE)).alias("churn_score"),
        F.col(C.IS_CHURNED).cast("double").alias("label"),
    )
    evaluator = BinaryClassificationEvaluator(rawPredictionCol="churn_score", labelCol="label", metricName="areaUnderROC", numBins=0)
    return {"auc_one_minus_prob_alive": round(float(evaluator.evaluate(scored_df)), 4)}
