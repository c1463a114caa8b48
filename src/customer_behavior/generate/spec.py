"""The synthetic world as pure data: personas, vocabularies, seasonality.

Nothing here touches Spark. `engine` turns these numbers into Spark expressions, and the
tests compare what was generated against these same numbers, so a change here is a
change to the planted truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from customer_behavior import columns as C

CATEGORIES = (
    "electronics",
    "fashion",
    "home_garden",
    "beauty",
    "grocery",
    "sports_outdoors",
    "books_media",
    "toys_kids",
)
PAYMENT_METHODS = ("credit_card", "debit_card", "paypal", "mobile_wallet", "buy_now_pay_later", "gift_card")
CHANNELS = C.CHANNELS
GENDERS = ("female", "male", "non_binary")
ACQUISITION_CHANNELS = ("organic_search", "paid_search", "social", "referral", "email", "direct")
COUNTRIES = (
    ("US", "North America", 0.30),
    ("CA", "North America", 0.06),
    ("GB", "Europe", 0.12),
    ("DE", "Europe", 0.11),
    ("FR", "Europe", 0.08),
    ("ES", "Europe", 0.05),
    ("NL", "Europe", 0.04),
    ("AU", "Oceania", 0.06),
    ("BR", "South America", 0.07),
    ("IN", "Asia", 0.06),
    ("JP", "Asia", 0.05),
)
QUANTITIES = (1, 2, 3, 4, 5, 6)
DISCOUNT_LEVELS = (0.05, 0.10, 0.15, 0.20, 0.25, 0.30)
DISCOUNT_LEVEL_WEIGHTS = (0.25, 0.25, 0.20, 0.15, 0.10, 0.05)

# Relative purchase intensity per calendar month (January first): a November/December peak.
MONTH_WEIGHTS = (0.85, 0.80, 0.90, 0.90, 0.95, 0.90, 0.90, 0.95, 0.95, 1.00, 1.40, 1.60)
# Days after the order within which a return arrives.
RETURN_DELAY_DAYS = 30


def hour_weights(*peaks: tuple[float, float, float], base: float = 0.02) -> tuple[float, ...]:
    """24 hourly weights: a small floor plus Gaussian bumps (hour, height, width)."""
    weights = []
    for hour in range(24):
        w = base
        for centre, height, width in peaks:
            distance = min(abs(hour - centre), 24 - abs(hour - centre))
            w += height * math.exp(-(distance**2) / (2 * width**2))
        weights.append(w)
    total = sum(weights)
    return tuple(w / total for w in weights)


@dataclass(frozen=True)
class Persona:
    """One planted kind of customer. Weights are relative and need not sum to one."""

    key: str
    label: str
    share: float
    # demographics
    age_mean: float
    age_sd: float
    gender_weights: tuple[float, ...]  # GENDERS
    acquisition_weights: tuple[float, ...]  # ACQUISITION_CHANNELS
    loyalty_probability: float
    # buying (BTYD-style): rate ~ Gamma(shape, mean) per customer, lifetime ~ Exponential(mean)
    orders_per_year: float
    rate_shape: float
    lifetime_days_mean: float
    # spend: order value ~ LogNormal(log(median_c), order_sigma), log(median_c) ~ N(log(median), customer_sigma)
    median_order_value: float
    customer_value_sigma: float
    order_value_sigma: float
    quantity_weights: tuple[float, ...]  # QUANTITIES
    category_weights: tuple[float, ...]  # CATEGORIES
    payment_weights: tuple[float, ...]  # PAYMENT_METHODS
    channel_weights: tuple[float, ...]  # CHANNELS
    weekend_share: float
    hours: tuple[float, ...]  # 24 weights
    discount_probability: float
    return_probability: float
    cancel_probability: float

    @property
    def mean_order_value(self) -> float:
        """Expected gross order value (before discount), over customers and orders."""
        return self.median_order_value * math.exp((self.customer_value_sigma**2 + self.order_value_sigma**2) / 2)


PERSONAS: tuple[Persona, ...] = (
    Persona(
        key="vip_loyalist",
        label="High-value loyalists",
        share=0.10,
        age_mean=46, age_sd=9,
        gender_weights=(0.55, 0.43, 0.02),
        acquisition_weights=(0.25, 0.10, 0.05, 0.25, 0.20, 0.15),
        loyalty_probability=0.85,
        orders_per_year=30, rate_shape=6.0, lifetime_days_mean=3000,
        median_order_value=150, customer_value_sigma=0.25, order_value_sigma=0.35,
        quantity_weights=(0.30, 0.30, 0.20, 0.10, 0.06, 0.04),
        category_weights=(0.22, 0.28, 0.20, 0.18, 0.04, 0.03, 0.03, 0.02),
        payment_weights=(0.70, 0.08, 0.12, 0.08, 0.00, 0.02),
        channel_weights=(0.55, 0.35, 0.10),
        weekend_share=0.28,
        hours=hour_weights((20, 1.0, 1.5), (13, 0.4, 1.5)),
        discount_probability=0.08, return_probability=0.05, cancel_probability=0.01,
    ),
    Persona(
        key="bargain_hunter",
        label="Weekend bargain hunters",
        share=0.18,
        age_mean=29, age_sd=6,
        gender_weights=(0.62, 0.35, 0.03),
        acquisition_weights=(0.10, 0.20, 0.45, 0.10, 0.10, 0.05),
        loyalty_probability=0.30,
        orders_per_year=11, rate_shape=4.0, lifetime_days_mean=700,
        median_order_value=32, customer_value_sigma=0.25, order_value_sigma=0.40,
        quantity_weights=(0.15, 0.25, 0.25, 0.15, 0.12, 0.08),
        category_weights=(0.04, 0.50, 0.08, 0.28, 0.03, 0.03, 0.02, 0.02),
        payment_weights=(0.08, 0.30, 0.17, 0.10, 0.35, 0.00),
        channel_weights=(0.20, 0.75, 0.05),
        weekend_share=0.70,
        hours=hour_weights((11, 0.8, 2.0), (16, 0.7, 2.0)),
        discount_probability=0.75, return_probability=0.10, cancel_probability=0.02,
    ),
    Persona(
        key="tech_enthusiast",
        label="Tech enthusiasts",
        share=0.12,
        age_mean=33, age_sd=7,
        gender_weights=(0.22, 0.75, 0.03),
        acquisition_weights=(0.35, 0.25, 0.10, 0.15, 0.05, 0.10),
        loyalty_probability=0.35,
        orders_per_year=6, rate_shape=4.0, lifetime_days_mean=1000,
        median_order_value=300, customer_value_sigma=0.30, order_value_sigma=0.45,
        quantity_weights=(0.75, 0.17, 0.05, 0.02, 0.01, 0.00),
        category_weights=(0.78, 0.02, 0.03, 0.01, 0.01, 0.03, 0.11, 0.01),
        payment_weights=(0.50, 0.05, 0.35, 0.05, 0.05, 0.00),
        channel_weights=(0.85, 0.10, 0.05),
        weekend_share=0.30,
        hours=hour_weights((22, 1.0, 1.2)),
        discount_probability=0.10, return_probability=0.08, cancel_probability=0.02,
    ),
    Persona(
        key="family_shopper",
        label="Family stock-up shoppers",
        share=0.20,
        age_mean=39, age_sd=6,
        gender_weights=(0.68, 0.31, 0.01),
        acquisition_weights=(0.20, 0.15, 0.15, 0.20, 0.20, 0.10),
        loyalty_probability=0.60,
        orders_per_year=20, rate_shape=5.0, lifetime_days_mean=1800,
        median_order_value=65, customer_value_sigma=0.20, order_value_sigma=0.30,
        quantity_weights=(0.05, 0.10, 0.20, 0.25, 0.20, 0.20),
        category_weights=(0.02, 0.04, 0.14, 0.03, 0.45, 0.02, 0.02, 0.28),
        payment_weights=(0.20, 0.70, 0.03, 0.05, 0.00, 0.02),
        channel_weights=(0.20, 0.15, 0.65),
        weekend_share=0.50,
        hours=hour_weights((10, 1.0, 1.5)),
        discount_probability=0.20, return_probability=0.03, cancel_probability=0.01,
    ),
    Persona(
        key="busy_professional",
        label="Weekday mobile professionals",
        share=0.15,
        age_mean=35, age_sd=6,
        gender_weights=(0.50, 0.48, 0.02),
        acquisition_weights=(0.10, 0.30, 0.20, 0.10, 0.20, 0.10),
        loyalty_probability=0.45,
        orders_per_year=14, rate_shape=5.0, lifetime_days_mean=1400,
        median_order_value=95, customer_value_sigma=0.20, order_value_sigma=0.30,
        quantity_weights=(0.40, 0.30, 0.15, 0.10, 0.03, 0.02),
        category_weights=(0.06, 0.30, 0.04, 0.24, 0.28, 0.04, 0.03, 0.01),
        payment_weights=(0.10, 0.05, 0.05, 0.80, 0.00, 0.00),
        channel_weights=(0.08, 0.90, 0.02),
        weekend_share=0.10,
        hours=hour_weights((12.5, 1.0, 0.8), (21, 0.8, 1.0)),
        discount_probability=0.10, return_probability=0.06, cancel_probability=0.01,
    ),
    Persona(
        key="occasional_browser",
        label="Occasional one-time buyers",
        share=0.17,
        age_mean=52, age_sd=10,
        gender_weights=(0.50, 0.49, 0.01),
        acquisition_weights=(0.30, 0.35, 0.10, 0.05, 0.05, 0.15),
        loyalty_probability=0.05,
        orders_per_year=1.5, rate_shape=3.0, lifetime_days_mean=240,
        median_order_value=45, customer_value_sigma=0.30, order_value_sigma=0.40,
        quantity_weights=(0.60, 0.25, 0.10, 0.03, 0.02, 0.00),
        category_weights=(0.05, 0.05, 0.28, 0.04, 0.03, 0.10, 0.42, 0.03),
        payment_weights=(0.15, 0.15, 0.45, 0.00, 0.00, 0.25),
        channel_weights=(0.80, 0.05, 0.15),
        weekend_share=0.35,
        hours=hour_weights((15, 1.0, 3.0)),
        discount_probability=0.15, return_probability=0.04, cancel_probability=0.03,
    ),
    Persona(
        key="outdoor_adventurer",
        label="Outdoor adventurers",
        share=0.08,
        age_mean=42, age_sd=8,
        gender_weights=(0.40, 0.58, 0.02),
        acquisition_weights=(0.20, 0.10, 0.20, 0.30, 0.10, 0.10),
        loyalty_probability=0.40,
        orders_per_year=8, rate_shape=4.0, lifetime_days_mean=1200,
        median_order_value=130, customer_value_sigma=0.25, order_value_sigma=0.35,
        quantity_weights=(0.45, 0.30, 0.15, 0.06, 0.03, 0.01),
        category_weights=(0.05, 0.05, 0.08, 0.01, 0.03, 0.70, 0.06, 0.02),
        payment_weights=(0.45, 0.35, 0.10, 0.05, 0.05, 0.00),
        channel_weights=(0.35, 0.05, 0.60),
        weekend_share=0.60,
        hours=hour_weights((8, 1.0, 1.2), (18, 0.5, 1.5)),
        discount_probability=0.12, return_probability=0.05, cancel_probability=0.01,
    ),
)

PERSONA_KEYS = tuple(p.key for p in PERSONAS)
PERSONA_LABELS = {p.key: p.label for p in PERSONAS}


def normalised(weights: tuple[float, ...]) -> tuple[float, ...]:
    total = float(sum(weights))
    return tuple(w / total for w in weights)


def cumulative(weights: tuple[float, ...]) -> tuple[float, ...]:
    """Cumulative normalised weights; the last is exactly 1.0 so every draw lands."""
    running, out = 0.0, []
    for w in normalised(weights):
        running += w
        out.append(running)
    out[-1] = 1.0
    return tuple(out)


def expected_active_days(lifetime_mean: float, window_days: float) -> float:
    """E[min(lifetime, remaining window)] for an exponential lifetime and a uniform birth day."""
    m, w = lifetime_mean, window_days
    return m * (1.0 - (m / w) * (1.0 - math.exp(-w / m)))


def expected_orders_per_customer(persona: Persona, window_days: float, rate_scale: float = 1.0) -> float:
    """Orders (first purchase included), before returns and cancellations are split off."""
    return 1.0 + persona.orders_per_year * rate_scale * expected_active_days(persona.lifetime_days_mean, window_days) / 365.25


def expected_transactions_per_customer(window_days: float, rate_scale: float = 1.0) -> float:
    """Rows per customer: orders plus return rows (returns that fall after the window are slightly fewer)."""
    shares = normalised(tuple(p.share for p in PERSONAS))
    return sum(
        s * expected_orders_per_customer(p, window_days, rate_scale) * (1.0 + p.return_probability)
        for s, p in zip(shares, PERSONAS)
    )


def rate_scale_for_target(target_transactions: int, customers: int, window_days: float) -> float:
    """The purchase-rate multiplier that makes the expected transaction count about the target."""
    base = expected_transactions_per_customer(window_days, 1.0)
    repeat = base - expected_transactions_per_customer(window_days, 0.0)
    first = base - repeat
    wanted = target_transactions / customers
    if wanted <= first:
        return 1e-6
    return (wanted - first) / repeat
