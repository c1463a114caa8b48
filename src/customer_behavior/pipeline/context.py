"""What one run knows while it runs: the session, the config, the staging directory, the
observation window, and what the stages have made (tables, row counts, results).

Helpers shared by the stages (reading an earlier stage's table, writing Parquet, a block of
Spark SQL settings) live here too, so that no stage imports another.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior.config import Config
from customer_behavior.tracking import StageTracker

DATA_DIR = "data"
TABLES_DIR = "tables"
MODEL_DIR = "model"


@dataclass(frozen=True)
class ObservationWindow:
    """The analysis window: events on days first_day..last_day, analysed as of `as_of`
    (the window's exclusive end: the configured date, else the day after the last event)."""

    as_of: dt.date
    first_day: dt.date
    last_day: dt.date

    def to_dict(self) -> dict[str, str]:
        return {"as_of": self.as_of.isoformat(), "first_event_day": self.first_day.isoformat(), "last_event_day": self.last_day.isoformat()}


def window_from_source(transactions_df: DataFrame) -> ObservationWindow:
    """The window when no features stage set one: the source's event days, as of the day after the last."""
    bounds = transactions_df.agg(F.min(F.to_date(F.col(C.EVENT_TS))).alias("first_day"), F.max(F.to_date(F.col(C.EVENT_TS))).alias("last_day")).first()
    return ObservationWindow(as_of=bounds["last_day"] + dt.timedelta(days=1), first_day=bounds["first_day"], last_day=bounds["last_day"])


@dataclass
class RunContext:
    """What one run knows: the session, the config, where it writes, what it has made."""

    spark: SparkSession
    cfg: Config
    root: Path  # the staging directory while running
    tracker: StageTracker
    command: str = "run"
    rows: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, DataFrame] = field(default_factory=dict)
    summary_lines: list[str] = field(default_factory=list)  # shown under the run summary
    # the holdout stage's evaluation of the CLV models (or why there is none), which the clv stage reads
    clv_evaluation: tuple[dict[str, Any] | None, str | None] | None = None
    # the challenger stage's fitted trees (clv.challenger.Challenger), which clv.model = "gbt" scores with
    clv_challenger: Any = None
    # set once: by the features stage, or from the source by the first stage that needs it without one
    window: ObservationWindow | None = None

    def path(self, *parts: str) -> str:
        return str(self.root.joinpath(*parts))

    def observation_window(self) -> ObservationWindow:
        """The run's window: what the features stage used, else derived from the transactions (once)."""
        if self.window is None:
            self.window = window_from_source(self.tables["transactions"])
        return self.window


@dataclass
class RunResult:
    path: Path
    manifest: dict[str, Any]


def write_parquet(df: DataFrame, path: str) -> None:
    df.write.mode("overwrite").parquet(path)


def truth_df(ctx: RunContext) -> DataFrame | None:
    if "truth" in ctx.tables:
        return ctx.tables["truth"]
    truth_path = Path(ctx.path(DATA_DIR, "truth"))
    return ctx.spark.read.parquet(str(truth_path)) if truth_path.exists() else None


def collect_rows(df: DataFrame) -> list[dict[str, Any]]:
    return [row.asDict() for row in df.collect()]


Stage = Callable[[RunContext], None]


def read_table(ctx: RunContext, name: str) -> DataFrame | None:
    """A table an earlier stage produced: from ctx.tables, else from tables/<name> when written."""
    if name in ctx.tables:
        return ctx.tables[name]
    path = Path(ctx.path(TABLES_DIR, name))
    if path.is_dir():
        return ctx.spark.read.parquet(str(path))
    return None


@contextlib.contextmanager
def session_conf(spark: SparkSession, settings: dict[str, str]) -> Iterator[None]:
    """Spark SQL settings for the block, restored after it."""
    before = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)
