"""The run lifecycle: a staging directory, the stages run into it, the manifest, the commit.

One implementation for the CLI (`cli`), the Python API (`api.run`) and the benchmarks:
`execute` / `execute_dates` run stages into a staging directory; `in_staging` creates that
directory, and commits it when the body returns or removes it when it raises;
`run_pipeline` / `run_dates` are both together.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pyspark.sql import SparkSession

from customer_behavior import catalog
from customer_behavior.config import Config
from customer_behavior.pipeline.context import DATA_DIR, TABLES_DIR, RunContext, RunResult, Stage
from customer_behavior.pipeline.manifest import dates_manifest, run_manifest
from customer_behavior.runio import MANIFEST, RunDirectory, write_json
from customer_behavior.tracking import StageTracker

T = TypeVar("T")


def default_stages() -> list[Stage]:
    """`pipeline.RUN_STAGES` as it is now (read at call time, so that a caller may replace it)."""
    from customer_behavior import pipeline

    return pipeline.RUN_STAGES


def in_staging(run_dir: RunDirectory, body: Callable[[Path], T]) -> tuple[T, Path]:
    """`body(staging)` into a new staging directory of `run_dir`, then moved into place: the
    body's value and the run's path. When the body raises, the staging directory is removed."""
    staging = run_dir.create()
    try:
        value = body(staging)
    except BaseException:
        run_dir.abort()
        raise
    return value, run_dir.commit()


def run_stages(
    spark: SparkSession,
    cfg: Config,
    staging: Path,
    *,
    dates: list[str] | None = None,
    stages: list[Stage] | None = None,
    command: str = "run",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """One run into `staging` (`stages`, default `RUN_STAGES`), or one per as-of date when `dates` has more than one."""
    if dates and len(dates) > 1:
        return execute_dates(spark, cfg, staging, dates, progress=progress)
    return execute(spark, cfg, staging, stages=stages, command=command, progress=progress)


def execute(
    spark: SparkSession,
    cfg: Config,
    staging: Path,
    *,
    stages: list[Stage] | None = None,
    command: str = "run",
    progress: Callable[[str], None] | None = None,
    job_scope: str = "",
) -> dict[str, Any]:
    """Run the stages into `staging` and write its manifest; return the manifest."""
    started = dt.datetime.now(dt.UTC)
    tracker = StageTracker(spark, progress, scope=job_scope)
    ctx = RunContext(spark=spark, cfg=cfg, root=Path(staging), tracker=tracker, command=command)
    database = cfg.output.database.strip() if command == "run" else ""
    if database:
        catalog.check_output_database(spark, database)  # before any stage
    for stage in stages if stages is not None else default_stages():
        stage(ctx)
    if database:
        with ctx.tracker.stage("publish", f"Replace the result tables in {database}"):
            published = catalog.publish(spark, database, catalog.result_tables(ctx.root, TABLES_DIR))
            ctx.results["published"] = {"database": database, "tables": published}
    manifest = run_manifest(ctx, started, "complete")
    write_json(Path(staging) / MANIFEST, manifest)
    return manifest


def run_pipeline(
    spark: SparkSession,
    cfg: Config | None = None,
    *,
    output: str | None = None,
    overwrite: bool | None = None,
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """The whole pipeline from Python (a notebook, a job): staged, then moved into place."""
    cfg = cfg or Config()
    run_dir = RunDirectory(output or cfg.output.path, overwrite=cfg.output.overwrite if overwrite is None else overwrite)
    manifest, path = in_staging(run_dir, lambda staging: execute(spark, cfg, staging, progress=progress))
    return RunResult(path=path, manifest=manifest)


def _link_tree(source: Path, target: Path) -> None:
    """Hard links of every file under `source` at the same place under `target` (a copy where links fail)."""
    for path in source.rglob("*"):
        destination = target / path.relative_to(source)
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, destination)
        except OSError:
            shutil.copy2(path, destination)


def _is_source_row(key: str) -> bool:
    """A row count that the generate or ingest stage recorded (what a reusing date copies)."""
    return key.endswith(("_generated", "_read", "_accepted", "_quarantined")) or "_quarantined_" in key


def make_reuse_source_stage(first: Path, first_manifest: dict[str, Any]) -> Stage:
    """The source stage of a later as-of date: the first date's data/ and quarantine/, linked, not redone."""

    def stage_reuse_source(ctx: RunContext) -> None:
        with ctx.tracker.stage("source", f"Reuse the data of {first.name} (linked, not generated or read again)"):
            for name in (DATA_DIR, "quarantine"):
                if (first / name).is_dir():
                    _link_tree(first / name, Path(ctx.path(name)))
            ctx.rows.update({key: n for key, n in first_manifest.get("rows", {}).items() if _is_source_row(key)})
            for key in ("ingest", "rate_scale"):
                if key in first_manifest.get("results", {}):
                    ctx.results[key] = first_manifest["results"][key]
            for name in ("transactions", "customers"):
                if Path(ctx.path(DATA_DIR, name)).is_dir():
                    ctx.tables[name] = ctx.spark.read.parquet(ctx.path(DATA_DIR, name))

    return stage_reuse_source


def execute_dates(
    spark: SparkSession, cfg: Config, staging: Path, dates: list[str], *, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """`run --as-of D1,D2,...`: the whole pipeline as of each date into <staging>/<date>/, in one
    session; the data is generated or ingested once (for the first date) and linked into the others.
    Writes and returns the manifest of the directory holding the runs."""
    from customer_behavior.config import with_overrides

    started = dt.datetime.now(dt.UTC)
    runs: list[dict[str, Any]] = []
    first: tuple[Path, dict[str, Any]] | None = None
    for date in dates:
        root = Path(staging) / date
        root.mkdir()
        if progress:
            progress(f"-- as of {date} (into {date}/)")
        dated_cfg = with_overrides(cfg, {"features.as_of": date})
        every_stage = default_stages()
        stages = every_stage if first is None else [make_reuse_source_stage(*first), *every_stage[1:]]
        manifest = execute(spark, dated_cfg, root, stages=stages, progress=progress, job_scope=f"{date}/")
        first = first or (root, manifest)
        runs.append({"as_of": date, "path": date, "total_seconds": manifest["total_seconds"], "kpis": manifest["results"].get("kpis", {})})
    manifest = dates_manifest(spark, cfg, started, dates, runs)
    write_json(Path(staging) / MANIFEST, manifest)
    return manifest


def run_dates(
    spark: SparkSession,
    cfg: Config,
    dates: list[str],
    *,
    output: str | None = None,
    overwrite: bool | None = None,
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """`execute_dates` from Python: staged, then moved into place whole."""
    run_dir = RunDirectory(output or cfg.output.path, overwrite=cfg.output.overwrite if overwrite is None else overwrite)
    manifest, path = in_staging(run_dir, lambda staging: execute_dates(spark, cfg, staging, dates, progress=progress))
    return RunResult(path=path, manifest=manifest)
