"""Segments against the planted truth (synthetic data): customers per (persona, churned, segment), the confusion table and its checks."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C


def persona_segment_counts(rfm_df: DataFrame, truth_df: DataFrame) -> DataFrame:
    """Customers per (persona, is_churned, segment): at most 7 x 2 x 11 rows."""
    return (
        rfm_df.join(truth_df.select(C.CUSTOMER_ID, C.PERSONA, C.IS_CHURNED), on=C.CUSTOMER_ID, how="inner")
        .groupBy(C.PERSONA, C.IS_CHURNED, C.SEGMENT)
        .agg(F.count(F.lit(1)).alias(C.CUSTOMERS))
    )


def summarise_planted_truth(count_rows: list[dict], segment_names: tuple[str, ...]) -> dict:
    """The persona x segment confusion table and the two planted-truth checks of issue 3.

    churned_in_lapsed_share: share of the customers planted as churned that fall in About to
    Sleep, At Risk, Can't Lose Them, Hibernating or Lost; top_persona_in_top_share: share of
    the planted most valuable persona (vip_loyalist) in Champions or Loyal Customers.
    """
    from customer_behavior.generate.spec import PERSONA_KEYS
    from customer_behavior.segment_table import LAPSED_SEGMENTS, TOP_SEGMENTS

    confusion = {persona: {name: 0 for name in segment_names} for persona in PERSONA_KEYS}
    churned = churned_lapsed = top = top_in_top = 0
    for row in count_rows:
        persona, segment, n = row[C.PERSONA], row[C.SEGMENT], int(row[C.CUSTOMERS])
        confusion.setdefault(persona, {name: 0 for name in segment_names})[segment] += n
        if row[C.IS_CHURNED]:
            churned += n
            churned_lapsed += n if segment in LAPSED_SEGMENTS else 0
        if persona == PERSONA_KEYS[0]:
            top += n
            top_in_top += n if segment in TOP_SEGMENTS else 0
    return {
        "confusion": confusion,
        "churned_customers": churned,
        "churned_in_lapsed_share": round(churned_lapsed / churned, 4) if churned else None,
        "top_persona": PERSONA_KEYS[0],
        "top_persona_customers": top,
        "top_persona_in_top_share": round(top_in_top / top, 4) if top else None,
    }


def format_confusion(planted: dict) -> list[str]:
    """Text lines of the confusion table for the run output."""
    confusion = planted["confusion"]
    names = list(next(iter(confusion.values())).keys()) if confusion else []
    short = [name[:9] for name in names]
    lines = ["planted persona x segment (customers):", f"{'persona':<20}" + "".join(f"{s:>10}" for s in short)]
    for persona, row in confusion.items():
        lines.append(f"{persona:<20}" + "".join(f"{row[name]:>10}" for name in names))
    lines.append(
        f"churned in lapsing segments: {planted['churned_in_lapsed_share']}; "
        f"{planted['top_persona']} in Champions/Loyal: {planted['top_persona_in_top_share']}"
    )
    return lines
