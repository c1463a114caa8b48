"""Persona drift and the CLV model side by side.

NEW's customers are scored with BASE's saved persona model (RUN/model) and set against NEW's
own personas: the adjusted Rand index says how far the two partitions agree (1 = the same
grouping), and for the customers in both runs the share of each BASE persona that BASE's model
still puts in the same persona says whose behaviour moved. The CLV parameters come from the
two manifests, with their standard errors and a z value for the change.
"""

from __future__ import annotations

import math
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.evaluation.personas import adjusted_rand_index, contingency

BASE_PERSONA = "base_persona"
BASE_MODEL_PERSONA = "base_model_persona"
NEW_PERSONA = "new_persona"
CLV_PARAMETER_SCHEMA = "model string, parameter string, base double, base_se double, new double, new_se double, change double, z double"


def agreement(scored_df: DataFrame, new_personas_df: DataFrame) -> DataFrame:
    """base_model_persona, new_persona, customers: NEW's customers under both persona models."""
    return (
        contingency(scored_df, new_personas_df, found=C.PERSONA_NAME, planted=C.PERSONA_NAME)
        .select(F.col("found").alias(BASE_MODEL_PERSONA), F.col("planted").alias(NEW_PERSONA), F.col("n").alias(C.CUSTOMERS))
        .orderBy(BASE_MODEL_PERSONA, NEW_PERSONA)
    )


def agreement_index(agreement_df: DataFrame) -> dict[str, float]:
    """{"ari", "customers"}."""
    return adjusted_rand_index(agreement_df.select(F.col(BASE_MODEL_PERSONA).alias("found"), F.col(NEW_PERSONA).alias("planted"), F.col(C.CUSTOMERS).alias("n")))


def persona_retention(base_personas_df: DataFrame, scored_df: DataFrame) -> DataFrame:
    """base_persona, customers, kept, kept_share: per BASE persona, the customers in both runs and
    how many of them BASE's model still assigns to that persona as of NEW."""
    joined_df = base_personas_df.select(F.col(C.CUSTOMER_ID), F.col(C.PERSONA_NAME).alias(BASE_PERSONA)).join(
        scored_df.select(F.col(C.CUSTOMER_ID), F.col(C.PERSONA_NAME).alias(BASE_MODEL_PERSONA)), on=C.CUSTOMER_ID, how="inner"
    )
    is_kept = F.col(BASE_PERSONA) == F.col(BASE_MODEL_PERSONA)
    return (
        joined_df.groupBy(BASE_PERSONA)
        .agg(F.count(F.lit(1)).alias(C.CUSTOMERS), F.count(F.when(is_kept, F.lit(1))).alias("kept"))
        .withColumn("kept_share", F.col("kept") / F.col(C.CUSTOMERS))
        .orderBy(BASE_PERSONA)
    )


def _fit(results: dict[str, Any], model: str) -> dict[str, Any]:
    clv = results.get("clv") if isinstance(results.get("clv"), dict) else {}
    fit = clv.get(model) if isinstance(clv.get(model), dict) else {}
    return fit if fit.get("status") == "ok" else {}


def clv_parameters(base_results: dict[str, Any], new_results: dict[str, Any]) -> list[tuple]:
    """(model, parameter, base, base_se, new, new_se, change, z) for every fitted parameter of
    BG/NBD and Gamma-Gamma in either manifest; z = change / sqrt(se_base^2 + se_new^2)."""
    rows = []
    for model in ("bgnbd", "gamma_gamma"):
        base_fit, new_fit = _fit(base_results, model), _fit(new_results, model)
        names = list(dict.fromkeys([*(base_fit.get("params") or {}), *(new_fit.get("params") or {})]))
        for name in names:
            before, after = (base_fit.get("params") or {}).get(name), (new_fit.get("params") or {}).get(name)
            se_before, se_after = (base_fit.get("standard_errors") or {}).get(name), (new_fit.get("standard_errors") or {}).get(name)
            change = after - before if before is not None and after is not None else None
            spread = math.hypot(se_before, se_after) if se_before is not None and se_after is not None else None
            z = change / spread if change is not None and spread else None
            label = base_fit.get("model") or new_fit.get("model") or model
            rows.append((label if model == "bgnbd" else "Gamma-Gamma", name, before, se_before, after, se_after, change, z))
    return rows
