"""The Python API for notebooks and jobs: run the pipeline or rebuild a report in a few calls.

    from customer_behavior import api
    result = api.run(spark, customers=20_000, output="out/nb-run", overwrite=True)
    result.report_html            # path of report.html
    result.kpis                   # dict of the headline figures
    api.report("out/nb-run")      # re-render the report from the run's tables (no Spark needed)

An existing SparkSession is used as it is (nothing about it is changed or stopped).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from customer_behavior.compat import require_pyspark

require_pyspark()  # one line naming the fix, not an ImportError, when PySpark is missing

from pyspark.sql import SparkSession  # noqa: E402

from customer_behavior.config import Config, load_config, with_overrides  # noqa: E402
from customer_behavior.pipeline import run_dates, run_pipeline  # noqa: E402
from customer_behavior.preflight import preflight  # noqa: E402


@dataclass
class Analysis:
    """A finished run: where it is, its manifest and the headline results."""

    path: Path
    manifest: dict[str, Any]

    @property
    def kpis(self) -> dict[str, Any]:
        return self.manifest.get("results", {}).get("kpis", {})

    @property
    def report_html(self) -> Path:
        return self.path / "report" / "report.html"

    @property
    def insights_json(self) -> Path:
        return self.path / "report" / "insights.json"

    def table(self, spark: SparkSession, name: str):
        """A table of the run as a DataFrame, e.g. "rfm_segments" or "patterns/categories"."""
        return spark.read.parquet(str(self.path / "tables" / name))


def config(path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """A validated Config: defaults, then the TOML file, then {"section.key": value} overrides."""
    return load_config(path, overrides or {})


def run(
    spark: SparkSession,
    cfg: Config | None = None,
    *,
    customers: int | None = None,
    seed: int | None = None,
    output: str | None = None,
    overwrite: bool | None = None,
    input_table: str | None = None,
    output_database: str | None = None,
    progress: bool = True,
    as_of: str | list[str] | None = None,
) -> Analysis:
    """Generate (or read) the data and run every stage on the given session; returns the Analysis.

    `input_table` reads a table of the session's catalog instead (db.table or
    catalog.db.table); `output_database` also publishes every result table as
    <database>.<table> when the run succeeds. Works on a classic or a Spark Connect session.

    `as_of` is the end of the analysis window (features.as_of). A list of dates runs the analysis
    at each into <output>/<date>/ (the data made once); the Analysis is then the directory holding
    them, and `Analysis(path / date, ...)` each run."""
    cfg = preflight(cfg) if cfg is not None else Config()  # a Config built by hand: its files checked before any stage
    dates = [as_of] if isinstance(as_of, str) else list(as_of or [])
    extra = {
        "generate.customers": customers, "generate.seed": seed, "features.as_of": dates[0] if len(dates) == 1 else None,
        "input.table": input_table, "output.database": output_database,
    }
    if any(v is not None for v in extra.values()):
        cfg = with_overrides(cfg, extra)
    say = print if progress else None
    if len(dates) > 1:
        result = run_dates(spark, cfg, sorted(dates), output=output, overwrite=overwrite, progress=say)
    else:
        result = run_pipeline(spark, cfg, output=output, overwrite=overwrite, progress=say)
    return Analysis(path=result.path, manifest=result.manifest)


def compare(
    spark: SparkSession,
    base: str | os.PathLike[str],
    new: str | os.PathLike[str],
    *,
    output: str | os.PathLike[str],
    overwrite: bool = False,
    cfg: Config | None = None,
    progress: bool = True,
):
    """What changed from run `base` to the later run `new` (see docs/compare.md); returns the
    CompareResult (its `path`, `manifest` and `html`)."""
    from customer_behavior.compare import compare_runs

    return compare_runs(spark, base, new, output, overwrite=overwrite, cfg=(cfg or Config()).compare, progress=print if progress else None)


def report(run_dir: str | os.PathLike[str]) -> dict[str, str]:
    """Rebuild <run_dir>/report from the run's tables; returns the paths of the three files."""
    from customer_behavior.report import rebuild

    return rebuild(run_dir)


__all__ = ["Analysis", "config", "run", "compare", "report"]
