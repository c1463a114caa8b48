"""Persona names from what each cluster is, never from its arbitrary number.

Input: each cluster's mean features in their original units and the overall mean and
standard deviation, so a cluster is described by z-scores ("spends 2.1 sd above the
average customer"). Every candidate name has a score over those z-scores (a combined
name scores the weaker of its parts, so both must stand out). Names are handed out
greedily, best (score, name, cluster content) first, each name and each cluster used
once; clusters nothing fits get a name built from their strongest standout features.
Names come in tiers, handed out tier by tier: lifecycle and combined names first ("High-value
loyalists"), then category names ("Tech enthusiasts"), then single traits, payment and
channel names ("Pay-later shoppers"). A payment method alone often stands out further than
anything else, but says less about who the customers are.
The ordering keys never involve the cluster number, so renumbering the clusters gives
the same names for the same clusters.

Keys of the z-score dict: behaviour columns of customer_features ("monetary",
"orders", ...), "age", and "<column>:<value>" for the share of orders with that value
("category:electronics", "channel:app").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

Z = Mapping[str, float]

MIN_SCORE = 0.5  # a name must stand out by at least half a standard deviation

# Friendly names for category values common in e-commerce data; any other value becomes
# "<Value> enthusiasts".
CATEGORY_NAMES = {
    "electronics": "Tech enthusiasts",
    "sports_outdoors": "Outdoor adventurers",
    "fashion": "Fashion followers",
    "beauty": "Beauty lovers",
    "books_media": "Book and media lovers",
    "home_garden": "Home and garden nesters",
    "grocery": "Grocery stock-up shoppers",
    "toys_kids": "Toy and kids shoppers",
}
PAYMENT_NAMES = {
    "buy_now_pay_later": "Pay-later shoppers",
    "gift_card": "Gift-card shoppers",
    "mobile_wallet": "Mobile-wallet payers",
    "paypal": "PayPal shoppers",
    "credit_card": "Credit-card shoppers",
    "debit_card": "Debit-card shoppers",
}
CHANNEL_NAMES = {"app": "App-first shoppers", "store": "In-store shoppers", "web": "Web shoppers"}
FEATURE_WORDS = {
    "monetary": "spend",
    "orders": "frequency",
    "recency_days": "recency",
    "avg_order_value": "order value",
    "tenure_days": "tenure",
    "weekend_share": "weekend buying",
    "discount_share": "discount use",
    "return_rate": "returns",
    "avg_basket_size": "basket size",
    "distinct_categories": "category range",
    "age": "age",
}


def _z(z: Z, key: str) -> float:
    return float(z.get(key, 0.0))


def _all_of(*parts: Callable[[Z], float]) -> Callable[[Z], float]:
    return lambda z: min(part(z) for part in parts)


def _high(key: str) -> Callable[[Z], float]:
    return lambda z: _z(z, key)


def _low(key: str) -> Callable[[Z], float]:
    return lambda z: -_z(z, key)


def _title(value: str) -> str:
    words = str(value).replace("_", " ").replace("-", " ").split()
    return " ".join(words).capitalize() if words else str(value)


def candidate_names(z_keys: set[str]) -> dict[str, tuple[int, Callable[[Z], float]]]:
    """Every name that can be given: (tier, scoring function), for the features present."""
    names: dict[str, tuple[int, Callable[[Z], float]]] = {
        "High-value loyalists": (0, _all_of(_high("monetary"), _high("orders"))),
        "Lapsed regulars": (0, _all_of(_high("recency_days"), _high("orders"))),
        "Occasional one-time buyers": (0, _all_of(_low("orders"), _high("recency_days"))),
        "Weekend bargain hunters": (0, _all_of(_high("weekend_share"), _high("discount_share"))),
        "New customers": (0, _all_of(_low("tenure_days"), _low("recency_days"))),
        "Bargain hunters": (2, _high("discount_share")),
        "Big spenders": (2, _high("avg_order_value")),
        "Frequent returners": (2, _high("return_rate")),
        "Weekend shoppers": (2, _high("weekend_share")),
        "Weekday shoppers": (2, _low("weekend_share")),
        "Bulk buyers": (2, _high("avg_basket_size")),
    }
    if "channel:app" in z_keys:
        names["Weekday mobile professionals"] = (0, _all_of(_high("channel:app"), _low("weekend_share")))
    if "category:grocery" in z_keys and "category:toys_kids" in z_keys:
        names["Family stock-up shoppers"] = (0, _all_of(_high("category:grocery"), _high("category:toys_kids")))
    for key in sorted(z_keys):
        column, sep, value = key.partition(":")
        if not sep:
            continue
        if column == "category":
            names.setdefault(CATEGORY_NAMES.get(value, f"{_title(value)} enthusiasts"), (1, _high(key)))
        elif column == "payment_method":
            names.setdefault(PAYMENT_NAMES.get(value, f"{_title(value)} payers"), (2, _high(key)))
        elif column == "channel":
            names.setdefault(CHANNEL_NAMES.get(value, f"{_title(value)} shoppers"), (2, _high(key)))
    return names


def _describe(z: Z, *, count: int) -> str:
    """'High spend, low recency customers' from the strongest standout features."""
    plain = [(key, value) for key, value in z.items() if key in FEATURE_WORDS]
    ranked = sorted(plain, key=lambda kv: (-abs(kv[1]), kv[0]))[:count]
    if not ranked:
        return "Average customers"
    parts = [f"{'high' if value > 0 else 'low'} {FEATURE_WORDS[key]}" for key, value in ranked]
    return (", ".join(parts) + " customers").capitalize()


@dataclass(frozen=True)
class ClusterDescription:
    cluster: int
    size: int
    z: dict[str, float]

    def content_key(self) -> tuple:
        """Identifies the cluster by what it is (size, then rounded z-scores), not its number."""
        return (-self.size, tuple(sorted((k, round(v, 6)) for k, v in self.z.items())))


def name_clusters(clusters: list[ClusterDescription]) -> dict[int, str]:
    """cluster number -> a unique persona name."""
    keys = set().union(*(c.z.keys() for c in clusters)) if clusters else set()
    candidates = candidate_names(keys)
    scored = []
    for description in clusters:
        for name, (tier, score_of) in candidates.items():
            score = score_of(description.z)
            if score >= MIN_SCORE:
                scored.append((tier, -round(score, 9), name, description.content_key(), description.cluster))
    scored.sort(key=lambda item: item[:4])
    names: dict[int, str] = {}
    used: set[str] = set()
    for _, _, name, _, cluster in scored:
        if cluster in names or name in used:
            continue
        names[cluster] = name
        used.add(name)
    # Clusters no candidate fits: describe them by their standout features, made unique.
    for description in sorted((c for c in clusters if c.cluster not in names), key=ClusterDescription.content_key):
        for count in (2, 3, 4):
            name = _describe(description.z, count=count)
            if name not in used:
                break
        else:
            rank = 1 + sorted(c.content_key() for c in clusters).index(description.content_key())
            name = f"{_describe(description.z, count=2)} ({rank})"
        names[description.cluster] = name
        used.add(name)
    return names
