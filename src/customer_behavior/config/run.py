"""The sections about where a run reads and writes: Spark, the generator, the output, your own input."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from customer_behavior.config.knobs import _DATABASE_NAME_RE, _MEMORY_RE, _TABLE_NAME_RE, date_knob, knob, optional_date
from customer_behavior.errors import ConfigError


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


_DUPLICATE_POLICIES = ("auto", "quarantine", "keep")
# The input formats a run reads (input.format, a mapping's source.format, run --format).
INPUT_FORMATS = ("auto", "csv", "parquet", "json")


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
    as_of: dt.date | None = date_knob('Events on or after this date (YYYY-MM-DD) are quarantined as event_after_as_of. "" = the day after the run date (UTC).')
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
        if self.format not in INPUT_FORMATS:
            raise ConfigError(f"input.format: {self.format!r} is not one of {', '.join(INPUT_FORMATS)}")
        if not 0.0 <= self.max_bad_fraction <= 1.0:
            raise ConfigError(f"input.max_bad_fraction: {self.max_bad_fraction} must be between 0 and 1 (e.g. 0.05 for 5%)")
        if not self.min_amount < self.max_amount:
            raise ConfigError(f"input.min_amount: {self.min_amount} must be below input.max_amount {self.max_amount}")
        object.__setattr__(self, "as_of", optional_date("input.as_of", self.as_of))
        if self.path.strip() and self.table.strip():
            raise ConfigError("input.path and input.table: give one, a file (--input) or a catalog table (--input-table)")
        if self.table.strip() and not _TABLE_NAME_RE.match(self.table.strip()):
            raise ConfigError(f"input.table: {self.table!r} is not a table name; use table, db.table or catalog.db.table")
        # The mapping itself (preset, file, flags) is checked by preflight.preflight, before Spark starts.
        if not self.source and (self.mapping or self.preset):
            raise ConfigError("input.path: a mapping or preset was given but no input; pass --input PATH or --input-table NAME")

    @property
    def source(self) -> str:
        """What the run reads: the path, or the catalog table's name; "" = generated data."""
        return self.path.strip() or self.table.strip()
