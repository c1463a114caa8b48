"""Recommendations from what changed, each citing the figures that triggered it (as the
report's rules do): slipping valuable customers, lapsing segments that grew, valuable ones
that shrank, KPIs that fell, personas that drifted. Largest value at stake first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from customer_behavior import columns as C
from customer_behavior.compare import migration as M
from customer_behavior.config import CompareConfig
from customer_behavior.insights import Recommendation


@dataclass
class Changes:
    """The small figures the rules read (all already in the driver)."""

    slipping: list[dict[str, Any]] = field(default_factory=list)  # slipping_summary rows
    sizes: list[dict[str, Any]] = field(default_factory=list)  # migration.segment_sizes rows
    kpis: list[dict[str, Any]] = field(default_factory=list)  # kpi delta rows
    ari: float | None = None
    agreement_customers: int = 0


def _slipping(changes: Changes, cfg: CompareConfig) -> list[Recommendation]:
    if not changes.slipping:
        return []
    customers = sum(r[C.CUSTOMERS] for r in changes.slipping)
    value = sum(r["value_at_stake"] or 0.0 for r in changes.slipping)
    top = changes.slipping[0]
    return [Recommendation(
        rule="slipping_valuable",
        title=f"Win back the {customers:,} valuable customers who slipped into a lapsing segment",
        action="Contact them first by value at stake (exports/compare/slipping.csv): a personal offer or service call for the top of the list, "
        "a win-back campaign for the rest, before they reach Hibernating or Lost.",
        target_type="customers",
        target=f"{' / '.join(cfg.valuable_segments)} -> lapsing",
        customers=customers,
        value_at_stake=round(value, 2),
        value_basis="BASE's CLV of the slipping customers (their net spend when BASE has no CLV)",
        triggers={"slipping_customers": customers, "largest_move": f"{top[M.BASE_SEGMENT]} -> {top[M.NEW_SEGMENT]} ({top[C.CUSTOMERS]:,})", "value_at_stake": round(value, 2)},
    )]


def _segment_changes(changes: Changes, cfg: CompareConfig) -> list[Recommendation]:
    out = []
    for row in changes.sizes:
        pct, name = row["pct_change"], row[C.SEGMENT]
        if pct is None or abs(pct) <= cfg.min_change:
            continue
        grew_lapsing = pct > 0 and name in cfg.lapsing_segments
        shrank_valuable = pct < 0 and name in cfg.valuable_segments and name not in cfg.lapsing_segments
        if not (grew_lapsing or shrank_valuable):
            continue
        triggers = {"base_customers": row["base_customers"], "new_customers": row["new_customers"], "pct_change": round(pct, 4),
                    "moved_in": row["moved_in"], "moved_out": row["moved_out"]}
        if grew_lapsing:
            out.append(Recommendation(
                rule="lapsing_segment_grew", title=f"{name} grew by {pct:.0%}: re-engage it before it lapses further",
                action=f"Run a re-activation campaign for {name} (exports/segments of NEW) and look at what the {row['moved_in']:,} customers who moved in have in common.",
                target_type="segment", target=name, customers=row["new_customers"], value_at_stake=round(row[M.NEW_REVENUE], 2),
                value_basis="net spend of the segment's customers as of NEW", triggers=triggers,
            ))
        else:
            out.append(Recommendation(
                rule="valuable_segment_shrank", title=f"{name} shrank by {-pct:.0%}: find out why its customers left it",
                action=f"Look at where the {row['moved_out']:,} customers who left {name} went (the migration table) and protect the rest with loyalty benefits.",
                target_type="segment", target=name, customers=row["base_customers"], value_at_stake=round(row[M.NEW_REVENUE], 2),
                value_basis="net spend of the segment's customers as of NEW", triggers=triggers,
            ))
    return out


_KPI_ACTIONS = {
    "active_share": "Fewer customers bought within the active window: bring the next campaign forward and check for a service or stock problem.",
    "repeat_rate": "A smaller share came back for a second order: review the onboarding and second-purchase offer for new customers.",
    "clv_total": "The predicted value of the base fell: weigh retention spend towards the customers with the highest CLV.",
    "revenue": "Net revenue fell: see which segments lost spend in the migration table.",
}


def _kpi_declines(changes: Changes, cfg: CompareConfig) -> list[Recommendation]:
    out = []
    for row in changes.kpis:
        pct = row["pct_change"]
        if row["kpi"] not in _KPI_ACTIONS or pct is None or pct >= -cfg.min_change / 2:
            continue
        out.append(Recommendation(
            rule="kpi_declined", title=f"{row['kpi'].replace('_', ' ')} fell by {-pct:.1%}", action=_KPI_ACTIONS[row["kpi"]],
            target_type="kpi", target=row["kpi"], customers=0,
            value_at_stake=round(-row["delta"], 2) if row["kpi"] in ("revenue", "clv_total") else 0.0,
            value_basis="the fall itself" if row["kpi"] in ("revenue", "clv_total") else "a share, not money",
            triggers={"base": row["base"], "new": row["new"], "pct_change": round(pct, 4)},
        ))
    return out


def _persona_drift(changes: Changes, cfg: CompareConfig) -> list[Recommendation]:
    if changes.ari is None or changes.ari >= cfg.min_agreement:
        return []
    return [Recommendation(
        rule="personas_drifted", title=f"The personas drifted (agreement {changes.ari:.2f} < {cfg.min_agreement:.2f}): refresh persona-based campaigns",
        action="BASE's persona model no longer groups the customers as NEW's personas do: use NEW's personas and model for targeting, and review the persona descriptions.",
        target_type="personas", target="all personas", customers=changes.agreement_customers, value_at_stake=0.0, value_basis="not a revenue figure",
        triggers={"adjusted_rand_index": round(changes.ari, 4), "min_agreement": cfg.min_agreement},
    )]


def recommend_changes(changes: Changes, cfg: CompareConfig) -> list[Recommendation]:
    recs = [*_slipping(changes, cfg), *_segment_changes(changes, cfg), *_kpi_declines(changes, cfg), *_persona_drift(changes, cfg)]
    return sorted(recs, key=lambda r: (-r.value_at_stake, r.rule, r.target))[: cfg.max_recommendations]
