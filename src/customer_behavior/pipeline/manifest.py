"""The run manifest: what a run directory's manifest.json holds (config, versions, seed, row
accounting, per-stage time and Spark metrics, results, status)."""

from __future__ import annotations

import datetime as dt
import platform
from typing import Any

import pyspark
from pyspark.sql import SparkSession

from customer_behavior import TOOL_NAME, __version__, compat
from customer_behavior.config import Config
from customer_behavior.pipeline.context import RunContext
from customer_behavior.session import java_major_version


def versions(spark: SparkSession) -> dict[str, Any]:
    return {
        TOOL_NAME: __version__,
        "python": platform.python_version(),
        "pyspark": pyspark.__version__,
        "spark": spark.version,
        "java": java_major_version(),
    }


def run_manifest(ctx: RunContext, started: dt.datetime, status: str) -> dict[str, Any]:
    return {
        "tool": TOOL_NAME,
        "version": __version__,
        "command": ctx.command,
        "status": status,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seed": ctx.cfg.generate.seed,
        "spark": compat.session_facts(ctx.spark),
        "versions": versions(ctx.spark),
        "rows": ctx.rows,
        "results": ctx.results,
        "summary_lines": ctx.summary_lines,
        "stages": ctx.tracker.to_list(),
        "total_seconds": round(sum(r.seconds for r in ctx.tracker.records), 3),
        "config": ctx.cfg.to_dict(),
    }


def dates_manifest(spark: SparkSession, cfg: Config, started: dt.datetime, dates: list[str], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest of the directory holding one run per as-of date (`run --as-of D1,D2,...`)."""
    return {
        "tool": TOOL_NAME,
        "version": __version__,
        "command": "run",
        "kind": "as_of_dates",
        "status": "complete",
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seed": cfg.generate.seed,
        "as_of_dates": list(dates),
        "runs": runs,
        "total_seconds": round(sum(run["total_seconds"] for run in runs), 3),
        "versions": versions(spark),
        "config": cfg.to_dict(),
    }
