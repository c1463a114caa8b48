"""The sections of the analysis stages: features, segments, personas, CLV, patterns, insights, compare."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from customer_behavior.config.knobs import date_knob, knob, optional_date
from customer_behavior.errors import ConfigError

PERSONA_ALGORITHMS = ("kmeans", "bisecting", "gmm")
PERSONA_SELECTION_RULES = ("silhouette_tolerance", "silhouette_max", "elbow")
PERSONA_SWEEP_ENGINES = ("local", "spark")
LOCAL_SWEEP_MAX_SAMPLE = 1_000_000  # customers: the local sweep's sample is on the driver
# The names `personas.features` accepts (their one list); customer_behavior.personas.inputs defines each
# one and checks at import that its catalogue is exactly this list.
PERSONA_FEATURES = (
    "log_monetary", "log_orders", "recency_days", "log_avg_order_value", "tenure_days", "weekend_share",
    "discount_share", "return_rate", "avg_basket_size", "distinct_categories",
    "category_shares", "payment_shares", "channel_shares",
    "age", "gender", "country", "region", "acquisition_channel", "is_loyalty_member",
)
DEFAULT_PERSONA_FEATURES = [
    "log_monetary", "log_orders", "recency_days", "log_avg_order_value", "tenure_days", "weekend_share",
    "discount_share", "category_shares", "payment_shares", "channel_shares",
    "age", "gender", "is_loyalty_member",
]
# Not in the default: return_rate (a ratio over few orders: one return of one order is 100%,
# far out in the tail, and k-means|| initialisation seeds a cluster on such outliers),
# country/region (not behaviour) and acquisition_channel (measured to blur the personas).


@dataclass(frozen=True)
class PersonasConfig:
    features: list[str] = knob(
        DEFAULT_PERSONA_FEATURES,
        "Features that enter the clustering (demographic ones are skipped with a note when there is no customers table). "
        f"Allowed: {', '.join(PERSONA_FEATURES)}.",
    )
    k_min: int = knob(2, "Smallest number of personas the sweep tries (at least 2).")
    k_max: int = knob(10, "Largest number of personas the sweep tries (at most the number of customers).")
    algorithm: str = knob("kmeans", "Clustering algorithm: kmeans, bisecting (BisectingKMeans) or gmm (GaussianMixture).")
    selection: str = knob(
        "silhouette_tolerance",
        "How the sweep picks k: silhouette_tolerance (smallest k whose silhouette is within silhouette_tolerance of the best), "
        "silhouette_max, or elbow (largest bend of the within-cluster cost curve).",
    )
    silhouette_tolerance: float = knob(0.005, "For selection = silhouette_tolerance: how far below the best silhouette a smaller k may be.")
    seed: int = knob(42, "Seed of the clustering initialisation and of the sweep sample.")
    max_iter: int = knob(20, "Maximum iterations of the final fit (the chosen k, on everyone): one Spark job each.")
    restarts: int = knob(
        1,
        "Final fits of the chosen k with different seeds (seed, seed+1, ...); the one with the lowest cost is kept (k-means finds local optima).",
    )
    sweep_max_iter: int = knob(20, "Maximum iterations of each fit in the k sweep.")
    sweep_restarts: int = knob(3, "Fits per k in the sweep with different seeds; the lowest cost is kept. 1 = one fit per k.")
    sweep_engine: str = knob(
        "local",
        "Where the k sweep's fits run: local (scikit-learn on the driver, over the bounded sweep sample collected once: a few Spark jobs) "
        "or spark (MLlib fits: hundreds of small Spark jobs; the only choice with sweep_sample_size = 0).",
    )
    sweep_folds: int = knob(
        3,
        "local sweep: the sample is split into this many hash folds, every k is fitted on each, and k is chosen on the mean silhouette "
        "(a stable choice); fewer folds when a fold would hold under 5,000 customers.",
    )
    sweep_partitions: int = knob(
        2, "The sweep sample is coalesced into this many partitions: its fits are many small jobs whose cost is mostly per task."
    )
    sweep_parallelism: int = knob(
        2, "Fits of different k in the sweep run concurrently in this many threads (1 = one after the other); results do not depend on it."
    )
    tol: float = knob(1e-4, "Convergence tolerance of kmeans and gmm fits: stop when no centre moves more than this (kmeans; in scaled units).")
    sweep_sample_size: int = knob(
        50_000, "The sweep fits on a deterministic hash sample of about this many customers (0 = everyone); the final model fits on everyone."
    )
    share_prior: float = knob(
        2.0, "Category/payment/channel shares are smoothed with this many pseudo-orders spread evenly over the values, so one order is not a 100% preference."
    )
    max_levels: int = knob(30, "At most this many values (the most frequent) of category, payment method and channel get a share column.")
    layout_partitions: int = knob(8, "The customers are hash-partitioned into this many sorted partitions before fitting, so fits are reproducible.")

    def __post_init__(self) -> None:
        if not self.features:
            raise ConfigError("personas.features: must name at least one feature")
        for name in self.features:
            if name not in PERSONA_FEATURES:
                raise ConfigError(f"personas.features: unknown feature {name!r}; allowed: {', '.join(PERSONA_FEATURES)}")
        if len(set(self.features)) != len(self.features):
            raise ConfigError("personas.features: a feature is listed twice")
        if self.k_min < 2:
            raise ConfigError(f"personas.k_min: {self.k_min} must be at least 2 (one persona is not a segmentation)")
        if self.k_max < self.k_min:
            raise ConfigError(f"personas.k_max: {self.k_max} must be at least personas.k_min ({self.k_min})")
        if self.k_max > 100:
            raise ConfigError(f"personas.k_max: {self.k_max} is more than 100 personas; nobody can read that many")
        if self.algorithm not in PERSONA_ALGORITHMS:
            raise ConfigError(f"personas.algorithm: {self.algorithm!r} is not one of {', '.join(PERSONA_ALGORITHMS)}")
        if self.selection not in PERSONA_SELECTION_RULES:
            raise ConfigError(f"personas.selection: {self.selection!r} is not one of {', '.join(PERSONA_SELECTION_RULES)}")
        if not 0 <= self.silhouette_tolerance < 1:
            raise ConfigError(f"personas.silhouette_tolerance: {self.silhouette_tolerance} must be >= 0 and < 1")
        if not 0 <= self.seed < 2**31:
            raise ConfigError(f"personas.seed: {self.seed} must be between 0 and 2147483647")
        if self.max_iter < 1:
            raise ConfigError(f"personas.max_iter: {self.max_iter} must be at least 1")
        if not 1 <= self.restarts <= 20:
            raise ConfigError(f"personas.restarts: {self.restarts} must be between 1 and 20")
        if self.sweep_max_iter < 1:
            raise ConfigError(f"personas.sweep_max_iter: {self.sweep_max_iter} must be at least 1")
        if not 1 <= self.sweep_restarts <= 20:
            raise ConfigError(f"personas.sweep_restarts: {self.sweep_restarts} must be between 1 and 20")
        if self.sweep_engine not in PERSONA_SWEEP_ENGINES:
            raise ConfigError(f"personas.sweep_engine: {self.sweep_engine!r} is not one of {', '.join(PERSONA_SWEEP_ENGINES)}")
        if self.sweep_engine == "local" and not 0 < self.sweep_sample_size <= LOCAL_SWEEP_MAX_SAMPLE:
            raise ConfigError(
                f"personas.sweep_sample_size: {self.sweep_sample_size} with sweep_engine = local must be between 1 and {LOCAL_SWEEP_MAX_SAMPLE:,} "
                "(the sample comes to the driver); use sweep_engine = spark to sweep on everyone"
            )
        if not 1 <= self.sweep_folds <= 10:
            raise ConfigError(f"personas.sweep_folds: {self.sweep_folds} must be between 1 and 10")
        if self.sweep_partitions < 1:
            raise ConfigError(f"personas.sweep_partitions: {self.sweep_partitions} must be at least 1")
        if not 1 <= self.sweep_parallelism <= 16:
            raise ConfigError(f"personas.sweep_parallelism: {self.sweep_parallelism} must be between 1 and 16")
        if not 0 < self.tol < 1:
            raise ConfigError(f"personas.tol: {self.tol} must be > 0 and < 1")
        if self.sweep_sample_size < 0:
            raise ConfigError(f"personas.sweep_sample_size: {self.sweep_sample_size} must be 0 (everyone) or positive")
        if self.share_prior < 0:
            raise ConfigError(f"personas.share_prior: {self.share_prior} must not be negative")
        if self.max_levels < 1:
            raise ConfigError(f"personas.max_levels: {self.max_levels} must be at least 1")
        if self.layout_partitions < 1:
            raise ConfigError(f"personas.layout_partitions: {self.layout_partitions} must be at least 1")


@dataclass(frozen=True)
class FeaturesConfig:
    as_of: dt.date | None = date_knob('End of the observation window (YYYY-MM-DD, exclusive: events on that day are not counted). "" = the day after the last event.')

    def __post_init__(self) -> None:
        object.__setattr__(self, "as_of", optional_date("features.as_of", self.as_of, unset_hint=' or ""'))

    @property
    def as_of_date(self) -> dt.date | None:
        """The same as `as_of` (kept for callers written when it was text)."""
        return self.as_of


@dataclass(frozen=True)
class SegmentsConfig:
    bins: int = knob(5, "Number of R, F and M score levels (3 to 10). Scores are mapped onto the table's 5 levels when not 5.")
    recency_cuts: list[float] = knob([], "Recency cut points in days (bins - 1 increasing values) instead of quantiles; [] = quantiles.")
    frequency_cuts: list[float] = knob([], "Order-count cut points (bins - 1 increasing values) instead of quantiles; [] = quantiles.")
    monetary_cuts: list[float] = knob([], "Net-spend cut points (bins - 1 increasing values) instead of quantiles; [] = quantiles.")
    monetary_significant_digits: int = knob(4, "Money quantiles are exact on a grid of this many significant digits (2 to 9); days and order counts are exact.")
    table_file: str = knob("", 'A TOML segment table mapping all 125 RFM codes to the 11 segments. "" = the built-in table.')

    def __post_init__(self) -> None:
        if not 3 <= self.bins <= 10:
            raise ConfigError(f"segments.bins: {self.bins} must be between 3 and 10")
        for key in ("recency_cuts", "frequency_cuts", "monetary_cuts"):
            cuts = list(getattr(self, key))
            if not cuts:
                continue
            if len(cuts) != self.bins - 1:
                raise ConfigError(f"segments.{key}: {len(cuts)} cut points given; {self.bins} bins need {self.bins - 1}")
            if any(b <= a for a, b in zip(cuts, cuts[1:])) or any(c != c or c in (float("inf"), float("-inf")) for c in cuts):
                raise ConfigError(f"segments.{key}: cut points must be finite and strictly increasing, got {cuts}")
        if not 2 <= self.monetary_significant_digits <= 9:
            raise ConfigError(f"segments.monetary_significant_digits: {self.monetary_significant_digits} must be between 2 and 9")
        # The table file itself is checked by preflight.preflight, before Spark starts.


PURCHASE_MODELS = ("mbgnbd", "bgnbd", "paretonbd")
CLV_MODELS = ("auto", *PURCHASE_MODELS, "gbt")


@dataclass(frozen=True)
class ClvConfig:
    model: str = knob("auto", 'Purchase/dropout model: "auto" (fit every model below on the calibration period, use the one with the lowest holdout MAE), "mbgnbd" (MBG/NBD, as lifetimes\' ModifiedBetaGeoFitter: one-time buyers can drop out too), "bgnbd" (BG/NBD, as BetaGeoFitter: P(alive) = 1 for every one-time buyer), "paretonbd" (Pareto/NBD, as ParetoNBDFitter: dropout at any time), or "gbt" (the CLV column from the ML challenger\'s gradient-boosted trees; P(alive) and expected purchases from the "auto" model).')
    horizon_months: int = knob(12, "CLV horizon in months (of 30 days, as lifetimes); expected_purchases covers the same horizon.")
    monthly_discount_rate: float = knob(0.01, "Monthly discount rate of the CLV's discounted cash flow (0.01 = 1% a month).")
    penalizer: float = knob(0.0, "L2 penalty on the parameters of BG/NBD and Gamma-Gamma, as lifetimes' penalizer_coef (try 0.001 if a fit does not converge).")
    max_summary_rows: int = knob(200_000, "Most grouped summary rows a fit brings to the driver; beyond it the fit uses a seeded hash sample of customers.")
    sample_seed: int = knob(42, "Seed of that sample (hash of seed and customer_id: the same on any cluster).")
    exclude_nonpositive_monetary: bool = knob(True, "Fit Gamma-Gamma without repeat customers whose monetary_value <= 0 (counted in the manifest); false = fail the spend model instead.")
    prob_alive_low: float = knob(0.3, "P(alive) below this is band likely_gone (churn risk table, see README).")
    prob_alive_high: float = knob(0.7, "P(alive) at or above this is band likely_alive.")
    max_series_terms: int = knob(2000, "Most terms of the hypergeometric series per (frequency, T); more than enough unless alpha is tiny (the manifest says if it truncates).")
    max_iterations: int = knob(2000, "Most BFGS iterations per fit before it is reported as not converged.")
    evaluate: bool = knob(True, "Calibration/holdout evaluation: refit on the transactions before the calibration end, predict the holdout period.")
    holdout_days: int = knob(180, "Length of the holdout period, ending at the as-of date (used when calibration_end is empty).")
    challenger: bool = knob(True, "Train the ML challenger (Spark MLlib gradient-boosted trees on the calibration features, predicting holdout spend and buying again) and judge it beside the probabilistic models on held-out customers (needs evaluate).")
    challenger_trees: int = knob(4, "Trees of each of the two gradient-boosted models (each tree costs challenger_depth Spark jobs: the default 4 x 3 keeps the stage within 40 jobs).")
    challenger_depth: int = knob(3, "Depth of each tree of the challenger (one Spark job per level).")
    calibration_end: dt.date | None = date_knob("First day of the holdout period, YYYY-MM-DD (calibration = purchases before it); empty = as-of date minus holdout_days.")

    def __post_init__(self) -> None:
        if self.model not in CLV_MODELS:
            raise ConfigError(f"clv.model: {self.model!r} is not a model; use one of {', '.join(CLV_MODELS)}")
        if not 1 <= self.horizon_months <= 600:
            raise ConfigError(f"clv.horizon_months: {self.horizon_months} must be between 1 and 600")
        if not 0.0 <= self.monthly_discount_rate < 1.0:
            raise ConfigError(f"clv.monthly_discount_rate: {self.monthly_discount_rate} must be >= 0 and < 1 (0.01 = 1% a month)")
        if not 0.0 <= self.penalizer <= 100.0:
            raise ConfigError(f"clv.penalizer: {self.penalizer} must be between 0 and 100")
        if not 100 <= self.max_summary_rows <= 50_000_000:
            raise ConfigError(f"clv.max_summary_rows: {self.max_summary_rows} must be between 100 and 50,000,000")
        if not 0 <= self.sample_seed < 2**31:
            raise ConfigError(f"clv.sample_seed: {self.sample_seed} must be between 0 and 2147483647")
        if not 0.0 < self.prob_alive_low < self.prob_alive_high < 1.0:
            raise ConfigError(f"clv.prob_alive_low/prob_alive_high: need 0 < low < high < 1, got {self.prob_alive_low} and {self.prob_alive_high}")
        if not 10 <= self.max_series_terms <= 100_000:
            raise ConfigError(f"clv.max_series_terms: {self.max_series_terms} must be between 10 and 100000")
        if not 10 <= self.max_iterations <= 100_000:
            raise ConfigError(f"clv.max_iterations: {self.max_iterations} must be between 10 and 100000")
        if self.holdout_days < 1:
            raise ConfigError(f"clv.holdout_days: {self.holdout_days} must be at least 1")
        if not 1 <= self.challenger_trees <= 500:
            raise ConfigError(f"clv.challenger_trees: {self.challenger_trees} must be between 1 and 500")
        if not 1 <= self.challenger_depth <= 10:
            raise ConfigError(f"clv.challenger_depth: {self.challenger_depth} must be between 1 and 10")
        if self.model == "gbt" and not (self.evaluate and self.challenger):
            raise ConfigError("clv.model = 'gbt' needs clv.evaluate = true and clv.challenger = true (the trees learn from the holdout)")
        object.__setattr__(self, "calibration_end", optional_date("clv.calibration_end", self.calibration_end, unset_hint=" or empty"))

    @property
    def calibration_end_date(self) -> dt.date | None:
        """The same as `calibration_end` (kept for callers written when it was text)."""
        return self.calibration_end


@dataclass(frozen=True)
class PatternsConfig:
    basket: str = knob("month", 'What one FPGrowth basket is: the categories a customer bought in one calendar "month" (default), on one "day", in one "order" (its lines), or over their whole history ("customer").')
    min_support: float = knob(0.02, "FPGrowth minimum support of an itemset (share of baskets).")
    min_confidence: float = knob(0.3, "FPGrowth minimum confidence of a rule.")
    max_rules: int = knob(50, "Keep at most this many rules (highest lift first).")
    age_bands: list = knob([25, 35, 45, 55, 65], "Upper bounds (exclusive) of the age bands for the payment mix: [25, 35] -> <25, 25-34, 35+.")

    def __post_init__(self) -> None:
        if self.basket not in ("customer", "month", "day", "order"):
            raise ConfigError(f"patterns.basket: {self.basket!r} must be one of customer, month, day, order")
        if not 0 < self.min_support <= 1:
            raise ConfigError(f"patterns.min_support: {self.min_support} must be > 0 and <= 1")
        if not 0 < self.min_confidence <= 1:
            raise ConfigError(f"patterns.min_confidence: {self.min_confidence} must be > 0 and <= 1")
        if self.max_rules < 1:
            raise ConfigError(f"patterns.max_rules: {self.max_rules} must be at least 1")
        if not self.age_bands or any(not isinstance(a, int) or isinstance(a, bool) for a in self.age_bands) or list(self.age_bands) != sorted(set(self.age_bands)):
            raise ConfigError(f"patterns.age_bands: {self.age_bands!r} must be a non-empty increasing list of whole numbers")


@dataclass(frozen=True)
class InsightsConfig:
    active_days: int = knob(90, "A customer is active when they bought within this many days of the as-of date.")
    top_share: float = knob(0.2, "The top share of customers (by net spend) whose share of revenue is reported (0.2 = top 20%).")
    at_risk_segments: list = knob(["At Risk", "Can't Lose Them", "About to Sleep", "Need Attention"], "RFM segments whose revenue counts as at risk and that get win-back recommendations.")
    max_recommendations: int = knob(10, "Show at most this many recommendations (largest value at stake first).")

    def __post_init__(self) -> None:
        if self.active_days < 1:
            raise ConfigError(f"insights.active_days: {self.active_days} must be at least 1")
        if not 0 < self.top_share < 1:
            raise ConfigError(f"insights.top_share: {self.top_share} must be between 0 and 1")
        if self.max_recommendations < 1:
            raise ConfigError(f"insights.max_recommendations: {self.max_recommendations} must be at least 1")


@dataclass(frozen=True)
class CompareConfig:
    valuable_segments: list = knob(["Champions", "Loyal Customers", "Can't Lose Them"], "`compare`: a customer in one of these segments in BASE who is in a lapsing segment in NEW is slipping.")
    lapsing_segments: list = knob(["At Risk", "Can't Lose Them", "About to Sleep", "Hibernating", "Lost"], "`compare`: the lapsing segments (a move between two of them, or staying, is not slipping).")
    min_change: float = knob(0.1, "`compare`: a segment that grew or shrank by more than this share (0.1 = 10%) gets a recommendation; a KPI that fell by more than half of it too.")
    min_agreement: float = knob(0.6, "`compare`: below this adjusted Rand index between BASE's persona model and NEW's personas, a recommendation says the personas drifted.")
    max_recommendations: int = knob(10, "`compare`: show at most this many recommendations (largest value at stake first).")

    def __post_init__(self) -> None:
        from customer_behavior.segment_table import SEGMENT_NAMES

        for key in ("valuable_segments", "lapsing_segments"):
            names = list(getattr(self, key))
            if not names or any(not isinstance(n, str) for n in names):
                raise ConfigError(f"compare.{key}: must be a non-empty list of segment names")
            unknown = [n for n in names if n not in SEGMENT_NAMES]
            if unknown:
                raise ConfigError(f"compare.{key}: unknown segment {unknown[0]!r}; allowed: {', '.join(SEGMENT_NAMES)}")
        if set(self.valuable_segments) <= set(self.lapsing_segments):
            raise ConfigError("compare.valuable_segments: every one is also a lapsing segment, so no customer could be slipping")
        if not 0 < self.min_change < 10:
            raise ConfigError(f"compare.min_change: {self.min_change} must be > 0 and < 10 (0.1 = 10%)")
        if not -1 <= self.min_agreement <= 1:
            raise ConfigError(f"compare.min_agreement: {self.min_agreement} must be between -1 and 1 (an adjusted Rand index)")
        if self.max_recommendations < 1:
            raise ConfigError(f"compare.max_recommendations: {self.max_recommendations} must be at least 1")
