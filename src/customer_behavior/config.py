"""Configuration: frozen dataclasses per stage, composed into one `Config`.

Every knob has a default and a one-line help text (the field's metadata), which is also
what `customer-behavior init-config` writes as a comment. A TOML file (read with the
standard library) and CLI flags override the defaults; everything is validated here,
before Spark starts, with an error that names the key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from customer_behavior.errors import ConfigError


def knob(default: Any, help: str, **kwargs: Any) -> Any:
    """A config field with its help text (shown by init-config)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: typing.cast(Any, type(default))(default), metadata={"help": help}, **kwargs)
    return field(default=default, metadata={"help": help}, **kwargs)


_MEMORY_RE = re.compile(r"^\d+[kmgt]?$", re.IGNORECASE)
# table, db.table or catalog.db.table; a part may be `back-quoted`
_NAME_PART = r"(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)"
_TABLE_NAME_RE = re.compile(rf"^{_NAME_PART}(?:\.{_NAME_PART}){{0,2}}$")
_DATABASE_NAME_RE = re.compile(rf"^{_NAME_PART}(?:\.{_NAME_PART})?$")


@dataclass(frozen=True)
class SparkSettings:
    remote: str = knob("", 'Spark Connect server, e.g. "sc://host:15002" (then master and driver_memory are the server\'s). "" = SPARK_REMOTE when set, else a classic session.')
    master: str = knob("", 'Spark master. "" = local mode on every core with task retries (local[N,4]); or spark://host:port, yarn, k8s://...')
    driver_memory: str = knob("auto", 'Driver JVM heap, e.g. "4g". "auto" = half the machine\'s memory, between 1g and 8g. Ignored when a session already exists.')
    shuffle_partitions: int = knob(0, "spark.sql.shuffle.partitions. 0 = auto: 4 x the cores (adaptive execution coalesces small ones).")
    ui: bool = knob(False, "Start the Spark UI (bound to 127.0.0.1 in local mode) and print its address.")
    metrics: bool = knob(True, "Record Spark's own metrics per stage in the manifest (input, output and shuffle bytes, spill, GC time), read from the driver UI's REST API: the UI then runs on a random port (on 127.0.0.1 in local mode) even without spark.ui.")
    event_log: bool = knob(True, "Write the Spark event log into <output>/spark-events for the History Server.")
    conf: dict = knob({}, "Extra Spark settings passed through as they are, e.g. {\"spark.executor.memory\" = \"2g\"}.")

    def __post_init__(self) -> None:
        if self.driver_memory != "auto" and not _MEMORY_RE.match(self.driver_memory):
            raise ConfigError(f"spark.driver_memory: {self.driver_memory!r} is not a memory size; use e.g. \"4g\", \"512m\" or \"auto\"")
        if self.remote and not self.remote.startswith("sc://"):
            raise ConfigError(f"spark.remote: {self.remote!r} is not a Spark Connect address; use sc://HOST:PORT")
        if self.remote and self.master:
            raise ConfigError("spark.remote and spark.master: give one (a Connect server has its own master)")
        if self.shuffle_partitions < 0:
            raise ConfigError(f"spark.shuffle_partitions: {self.shuffle_partitions} must be 0 (auto) or a positive number")
        for key, value in self.conf.items():
            if not isinstance(value, (str, int, float, bool)):
                raise ConfigError(f"spark.conf.{key}: must be a string, number or boolean")


@dataclass(frozen=True)
class GenerateConfig:
    customers: int = knob(100_000, "Number of synthetic customers (transactions follow from the personas, about 15 per customer).")
    seed: int = knob(42, "Seed of every random stream: the same seed and size give identical tables on any number of cores.")
    start_date: dt.date = knob(dt.date(2023, 1, 1), "First day of the fixed observation window.")
    end_date: dt.date = knob(dt.date(2024, 12, 31), "Last day of the observation window (the as-of date defaults to the day after).")
    rate_scale: float = knob(1.0, "Multiplies every persona's purchase rate (more or fewer transactions per customer).")
    target_transactions: int = knob(0, "If > 0: choose rate_scale so the expected number of orders is about this (overrides rate_scale; lines multiply the rows).")
    lines_per_order: float = knob(2.5, "Mean number of lines (rows) per order: 1 + Poisson(mean - 1). 1 = one row per order; orders per customer do not change.")

    def __post_init__(self) -> None:
        if self.customers < 1:
            raise ConfigError(f"generate.customers: {self.customers} must be a whole number of at least 1")
        if self.customers > 10_000_000_000:
            raise ConfigError(f"generate.customers: {self.customers} is more than 10 billion; use a smaller size")
        if not 0 <= self.seed < 2**31:
            raise ConfigError(f"generate.seed: {self.seed} must be between 0 and 2147483647")
        if self.end_date <= self.start_date:
            raise ConfigError(f"generate.end_date: {self.end_date} must be after generate.start_date {self.start_date}")
        if (self.end_date - self.start_date).days < 28:
            raise ConfigError("generate.end_date: the observation window must be at least 28 days long")
        if not 0 < self.rate_scale <= 100:
            raise ConfigError(f"generate.rate_scale: {self.rate_scale} must be > 0 and <= 100")
        if not 1.0 <= self.lines_per_order <= 20.0:
            raise ConfigError(f"generate.lines_per_order: {self.lines_per_order} must be between 1 and 20 (1 = one line per order)")
        if self.target_transactions < 0:
            raise ConfigError(f"generate.target_transactions: {self.target_transactions} must be 0 (off) or positive")


@dataclass(frozen=True)
class OutputConfig:
    path: str = knob("out/run", "Run directory: manifest.json, data/, tables/, exports/, model/, report/, spark-events/.")
    overwrite: bool = knob(False, "Replace an existing run at that path (never a directory that is not a run of this tool).")
    database: str = knob("", 'Also publish every result table as <database>.<table> managed tables (db or catalog.db), replaced together when the run succeeds. "" = the run directory only.')

    def __post_init__(self) -> None:
        if not self.path.strip():
            raise ConfigError("output.path: must not be empty")
        if self.database.strip() and not _DATABASE_NAME_RE.match(self.database.strip()):
            raise ConfigError(f"output.database: {self.database!r} is not a database name; use db or catalog.db")


PERSONA_ALGORITHMS = ("kmeans", "bisecting", "gmm")
PERSONA_SELECTION_RULES = ("silhouette_tolerance", "silhouette_max", "elbow")
PERSONA_SWEEP_ENGINES = ("local", "spark")
LOCAL_SWEEP_MAX_SAMPLE = 1_000_000  # customers: the local sweep's sample is on the driver
# The names `personas.features` accepts; customer_behavior.personas.inputs defines each one.
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


_DUPLICATE_POLICIES = ("auto", "quarantine", "keep")
_INPUT_FORMATS = ("auto", "csv", "parquet", "json")


@dataclass(frozen=True)
class InputConfig:
    path: str = knob("", 'Your transaction log: a file or a directory of CSV (also .gz), Parquet or JSON-lines files. "" = generate synthetic data.')
    table: str = knob("", 'Or a table or view of the session\'s catalog: "db.table" or "catalog.db.table" (instead of path). "" = none.')
    format: str = knob("auto", "auto (by file extension), csv, parquet or json. Overrides the mapping's source.format.")
    mapping: str = knob("", "Mapping file (TOML) from your columns to the canonical ones; write a template with 'customer-behavior init-mapping'.")
    preset: str = knob("", 'Built-in mapping applied before the mapping file: "uci" (UCI Online Retail layout). "" = none.')
    delimiter: str = knob("", 'CSV delimiter, overriding the mapping: ",", ";", "\\t", "|", "whitespace" (runs of spaces/tabs) or "auto". "" = from the mapping.')
    timestamp_format: str = knob("", 'Spark datetime pattern of the event time, e.g. "yyyyMMdd" or "dd/MM/yyyy HH:mm" (several: separate with ||). "" = from the mapping (default ISO 8601).')
    timezone: str = knob("", 'Zone of event times written without an offset, e.g. "Europe/Berlin". "" = from the mapping (default UTC).')
    as_of: str = knob("", 'Events on or after this date (YYYY-MM-DD) are quarantined as event_after_as_of. "" = the day after the run date (UTC).')
    currency_symbols: str = knob("", 'Currency symbols removed from amounts, comma-separated, e.g. "$" or "EUR,€". "" = from the mapping (amount.currency_symbols).')
    thousands_separator: str = knob("", 'Thousands separator removed from amounts: ",", ".", "space", "\'" or "none". "" = from the mapping.')
    decimal_separator: str = knob("", 'Decimal separator of amounts: "." or ",". "" = from the mapping (default ".").')
    min_amount: float = knob(-1_000_000.0, "Amounts below this are quarantined as amount_out_of_bounds (returns are negative).")
    max_amount: float = knob(1_000_000.0, "Amounts above this are quarantined as amount_out_of_bounds.")
    max_bad_fraction: float = knob(0.05, "Stop the run (after writing the quarantine) when more than this share of the rows is rejected; 1.0 = never stop.")
    duplicates: str = knob(
        "auto",
        'Identical lines: "quarantine" (all copies but one, as duplicate_row: a double export), "keep" (repeated purchases) or "auto": '
        "quarantine when the log has transaction ids, keep when it has none (a log without ids cannot tell a double export from a repeat).",
    )

    def __post_init__(self) -> None:
        if self.duplicates not in _DUPLICATE_POLICIES:
            raise ConfigError(f"input.duplicates: {self.duplicates!r} is not one of {', '.join(_DUPLICATE_POLICIES)}")
        if self.format not in _INPUT_FORMATS:
            raise ConfigError(f"input.format: {self.format!r} is not one of {', '.join(_INPUT_FORMATS)}")
        if not 0.0 <= self.max_bad_fraction <= 1.0:
            raise ConfigError(f"input.max_bad_fraction: {self.max_bad_fraction} must be between 0 and 1 (e.g. 0.05 for 5%)")
        if not self.min_amount < self.max_amount:
            raise ConfigError(f"input.min_amount: {self.min_amount} must be below input.max_amount {self.max_amount}")
        if self.as_of:
            try:
                dt.date.fromisoformat(self.as_of.strip())
            except ValueError:
                raise ConfigError(f"input.as_of: {self.as_of!r} is not a date (YYYY-MM-DD)") from None
        if self.path.strip() and self.table.strip():
            raise ConfigError("input.path and input.table: give one, a file (--input) or a catalog table (--input-table)")
        if self.table.strip() and not _TABLE_NAME_RE.match(self.table.strip()):
            raise ConfigError(f"input.table: {self.table!r} is not a table name; use table, db.table or catalog.db.table")
        if self.source:
            from customer_behavior.ingest.mapping import load_input_mapping

            load_input_mapping(self)  # a bad mapping fails here, before Spark starts
        elif self.mapping or self.preset:
            raise ConfigError("input.path: a mapping or preset was given but no input; pass --input PATH or --input-table NAME")

    @property
    def source(self) -> str:
        """What the run reads: the path, or the catalog table's name; "" = generated data."""
        return self.path.strip() or self.table.strip()


@dataclass(frozen=True)
class FeaturesConfig:
    as_of: str = knob("", 'End of the observation window (YYYY-MM-DD, exclusive: events on that day are not counted). "" = the day after the last event.')

    def __post_init__(self) -> None:
        if self.as_of.strip():
            try:
                dt.date.fromisoformat(self.as_of.strip())
            except ValueError:
                raise ConfigError(f"features.as_of: {self.as_of!r} is not a date (YYYY-MM-DD) or \"\"") from None

    @property
    def as_of_date(self) -> dt.date | None:
        return dt.date.fromisoformat(self.as_of.strip()) if self.as_of.strip() else None


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
        from customer_behavior.segment_table import load_segment_table

        load_segment_table(self.table_file or None)


PURCHASE_MODELS = ("mbgnbd", "bgnbd", "paretonbd")
CLV_MODELS = ("auto", *PURCHASE_MODELS)


@dataclass(frozen=True)
class ClvConfig:
    model: str = knob("auto", 'Purchase/dropout model: "auto" (fit every model below on the calibration period, use the one with the lowest holdout MAE), "mbgnbd" (MBG/NBD, as lifetimes\' ModifiedBetaGeoFitter: one-time buyers can drop out too), "bgnbd" (BG/NBD, as BetaGeoFitter: P(alive) = 1 for every one-time buyer) or "paretonbd" (Pareto/NBD, as ParetoNBDFitter: dropout at any time).')
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
    calibration_end: str = knob("", "First day of the holdout period, YYYY-MM-DD (calibration = purchases before it); empty = as-of date minus holdout_days.")

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
        if self.calibration_end.strip():
            try:
                dt.date.fromisoformat(self.calibration_end.strip())
            except ValueError:
                raise ConfigError(f"clv.calibration_end: {self.calibration_end!r} is not a date (YYYY-MM-DD) or empty") from None

    @property
    def calibration_end_date(self) -> dt.date | None:
        return dt.date.fromisoformat(self.calibration_end.strip()) if self.calibration_end.strip() else None


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


@dataclass(frozen=True)
class Config:
    spark: SparkSettings = field(default_factory=SparkSettings)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    segments: SegmentsConfig = field(default_factory=SegmentsConfig)
    clv: ClvConfig = field(default_factory=ClvConfig)
    patterns: PatternsConfig = field(default_factory=PatternsConfig)
    insights: InsightsConfig = field(default_factory=InsightsConfig)
    personas: PersonasConfig = field(default_factory=PersonasConfig)
    input: InputConfig = field(default_factory=InputConfig)
    compare: CompareConfig = field(default_factory=CompareConfig)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _section_to_dict(getattr(self, f.name)) for f in dataclasses.fields(self)}


SECTION_HELP = {
    "spark": "Spark session. Under spark-submit or in a notebook the existing session is used as it is.",
    "generate": "Synthetic data generator (used when no --input is given).",
    "output": "Where a run writes its results. Runs are atomic: written to a staging directory, then moved into place.",
    "features": "Per-customer features (RFM, behaviour, BTYD summary); see docs/definitions.md.",
    "segments": "R/F/M scores from quantile bins and the 11 named RFM segments; see docs/definitions.md.",
    "clv": "Customer lifetime value and churn: BG/NBD and Gamma-Gamma fitted by maximum likelihood, scored per customer in Spark.",
    "patterns": "Behavioural patterns: time of day, categories, payment, cohorts, category affinities (FPGrowth).",
    "insights": "KPIs and the rules that turn them into recommendations.",
    "personas": "Personas: MLlib clustering over scaled customer features, k chosen by a sweep, clusters named from their centroids.",
    "compare": "`customer-behavior compare BASE NEW`: what changed between two runs (segment migration, slipping customers, drift).",
    "input": "Your own transaction log (run --input PATH): reading, mapping and validation. Rejected rows go to quarantine/ with a reason.",
}


# --------------------------------------------------------------------------- loading


def _section_to_dict(section: Any) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if dataclasses.is_dataclass(value):
            value = _section_to_dict(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def _coerce(key: str, value: Any, kind: Any) -> Any:
    origin = typing.get_origin(kind) or kind
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{key}: {value!r} is not true or false")
    if kind is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: {value!r} is not a whole number")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.replace("_", "").strip())
            except ValueError:
                pass
        raise ConfigError(f"{key}: {value!r} is not a whole number")
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: {value!r} is not a number")
    if kind is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: {value!r} is not a string")
    if kind is dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{key}: {value!r} is not a date (YYYY-MM-DD)")
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: {value!r} is not a list")
        args = typing.get_args(kind)
        item_kind = args[0] if args else Any
        items = [v if item_kind is Any else _coerce(f"{key}[{i}]", v, item_kind) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: {value!r} is not a table")
        return dict(value)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _build_section(key, kind, value)
    return value


def _build_section(name: str, cls: type, values: Any) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{name}: must be a table ([{name}])")
    hints = typing.get_type_hints(cls)
    allowed = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        if key not in allowed:
            raise ConfigError(f"unknown config key '{name}.{key}'; allowed keys in [{name}]: {', '.join(allowed)}")
        kwargs[key] = _coerce(f"{name}.{key}", value, hints[key])
    try:
        return cls(**kwargs)
    except TypeError as exc:  # pragma: no cover - a programming error, not user input
        raise ConfigError(f"{name}: {exc}") from exc


def config_from_dict(data: dict[str, Any]) -> Config:
    hints = typing.get_type_hints(Config)
    sections = [f.name for f in dataclasses.fields(Config)]
    kwargs = {}
    for name, values in data.items():
        if name not in sections:
            raise ConfigError(f"unknown config section '[{name}]'; allowed sections: {', '.join(sections)}")
        kwargs[name] = _build_section(name, hints[name], values)
    return Config(**kwargs)


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "conf":
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def overrides_to_dict(overrides: dict[str, Any]) -> dict[str, Any]:
    """{"generate.customers": 5} -> {"generate": {"customers": 5}}; None values are dropped."""
    nested: dict[str, Any] = {}
    for dotted, value in overrides.items():
        if value is None:
            continue
        section, _, key = dotted.partition(".")
        nested.setdefault(section, {})[key] = value
    return nested


def load_config(path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Defaults, then the TOML file, then CLI overrides ("section.key" -> value)."""
    data: dict[str, Any] = {}
    if path is not None:
        config_path = Path(path)
        if not config_path.is_file():
            raise ConfigError(f"config file {str(config_path)!r} does not exist; write one with 'customer-behavior init-config'")
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {str(config_path)!r} is not valid TOML: {exc}") from None
    data = _deep_merge(data, overrides_to_dict(overrides or {}))
    return config_from_dict(data)


def with_overrides(cfg: Config, overrides: dict[str, Any]) -> Config:
    """A new Config with "section.key" overrides applied and validated."""
    return config_from_dict(_deep_merge(cfg.to_dict(), overrides_to_dict(overrides)))


# --------------------------------------------------------------------------- init-config


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}" = {_toml_value(v)}' for k, v in value.items()) + "}"
    raise TypeError(value)


def _section_lines(name: str, section: Any, help_text: str | None) -> list[str]:
    lines = []
    if help_text:
        lines.append(f"# {help_text}")
    lines.append(f"[{name}]")
    nested = []
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if dataclasses.is_dataclass(value):
            nested.append((f"{name}.{f.name}", value, f.metadata.get("help")))
            continue
        help_line = f.metadata.get("help")
        if help_line:
            lines.append(f"# {help_line}")
        lines.append(f"{f.name} = {_toml_value(value)}")
    for nested_name, value, nested_help in nested:
        lines.append("")
        lines.extend(_section_lines(nested_name, value, nested_help))
    return lines


def default_config_toml() -> str:
    """The commented default configuration that `init-config` writes."""
    cfg = Config()
    lines = ["# customer-behavior configuration. Every key is optional; shown are the defaults.", ""]
    for f in dataclasses.fields(cfg):
        lines.extend(_section_lines(f.name, getattr(cfg, f.name), SECTION_HELP.get(f.name)))
        lines.append("")
    return "\n".join(lines)
