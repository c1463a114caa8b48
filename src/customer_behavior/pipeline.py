"""Wires the stages together and owns every action (write, count, cache).

The stage modules hold pure DataFrame -> DataFrame functions; this module decides what
is computed, cached, written and recorded in the run manifest.
"""

from __future__ import annotations

import datetime as dt
import logging
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyspark
from pyspark.sql import DataFrame, SparkSession

from customer_behavior import TOOL_NAME, __version__, features, personas
from customer_behavior import columns as C
from customer_behavior.config import Config
from customer_behavior.errors import InputError
from customer_behavior.generate import engine as generate_engine
from customer_behavior.personas.inputs import require_columns
from customer_behavior.personas.model import SWEEP_SCHEMA, load_model, write_model
from customer_behavior.personas.profiles import PROFILE_SCHEMA
from customer_behavior.runio import MANIFEST, RunDirectory, write_json
from customer_behavior.session import java_major_version
from customer_behavior.tracking import StageTracker

log = logging.getLogger(__name__)

DATA_DIR = "data"
TABLES_DIR = "tables"
MODEL_DIR = "model"


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

    def path(self, *parts: str) -> str:
        return str(self.root.joinpath(*parts))


@dataclass
class RunResult:
    path: Path
    manifest: dict[str, Any]


def write_parquet(df: DataFrame, path: str) -> None:
    df.write.mode("overwrite").parquet(path)


def write_synthetic(ctx: RunContext, base: str) -> dict[str, int]:
    """Generate and write customers, transactions and truth; return their row counts."""
    data = generate_engine.generate(ctx.spark, ctx.cfg.generate)
    counts = {}
    for name, df in (("customers", data.customers_df), ("transactions", data.transactions_df), ("truth", data.truth_df)):
        target = ctx.path(base, name) if base else ctx.path(name)
        write_parquet(df, target)
        counts[name] = ctx.spark.read.parquet(target).count()
    return counts


# --------------------------------------------------------------------------- stages


def stage_generate(ctx: RunContext) -> None:
    with ctx.tracker.stage("generate", f"Generate {ctx.cfg.generate.customers:,} synthetic customers (seed {ctx.cfg.generate.seed})"):
        counts = write_synthetic(ctx, DATA_DIR)
        ctx.rows.update({f"{name}_generated": n for name, n in counts.items()})
        ctx.rows["transactions_read"] = counts["transactions"]
        ctx.rows["transactions_accepted"] = counts["transactions"]
        ctx.rows["transactions_quarantined"] = 0
        ctx.results["rate_scale"] = generate_engine.effective_rate_scale(ctx.cfg.generate)
        ctx.tables["transactions"] = ctx.spark.read.parquet(ctx.path(DATA_DIR, "transactions"))
        ctx.tables["customers"] = ctx.spark.read.parquet(ctx.path(DATA_DIR, "customers"))


def _customer_features(ctx: RunContext) -> DataFrame:
    """customer_features from the features stage, or computed here when it has not run."""
    if "customer_features" in ctx.tables:
        return ctx.tables["customer_features"]
    bounds = features.event_day_bounds(ctx.tables["transactions"]).first()
    as_of = features.resolve_as_of(None, bounds["first_day"], bounds["last_day"])
    return features.customer_features(ctx.tables["transactions"], as_of=as_of)


def stage_personas(ctx: RunContext) -> None:
    cfg = ctx.cfg.personas
    description = f"Personas: {cfg.algorithm} over k = {cfg.k_min}..{cfg.k_max}, named from their centroids"
    with ctx.tracker.stage("personas", description) as record:
        fit = personas.fit_personas(
            _customer_features(ctx),
            ctx.tables["transactions"],
            ctx.tables.get("customers"),
            cfg,
            segments_df=ctx.tables.get("rfm_segments"),
        )
        record.notes.extend(fit.notes)
        write_parquet(fit.assignments_df, ctx.path(TABLES_DIR, "personas"))
        ctx.tables["personas"] = ctx.spark.read.parquet(ctx.path(TABLES_DIR, "personas"))
        write_parquet(ctx.spark.createDataFrame(fit.profile_rows, PROFILE_SCHEMA).coalesce(1), ctx.path(TABLES_DIR, "persona_profiles"))
        write_parquet(ctx.spark.createDataFrame(fit.sweep_rows, SWEEP_SCHEMA).coalesce(1), ctx.path(TABLES_DIR, "persona_sweep"))
        # RFM cut points and scoring config, when the segments stage recorded them, travel with the model.
        write_model(fit.model, ctx.path(MODEL_DIR), fit.metadata(cfg) | {"rfm": ctx.results.get("rfm_scoring")})
        for df in fit.cached:
            df.unpersist()
        result: dict[str, Any] = {
            "k": fit.chosen_k,
            "selection": fit.rule,
            "algorithm": cfg.algorithm,
            "customers": fit.customers,
            "sweep_sample_size": fit.sample_size,
            "features": fit.plan.to_dict() | {"vocabulary": {g: len(v) for g, v in fit.plan.vocabulary.items()}},
            "personas": {row[1]: row[2] for row in fit.profile_rows},
        }
        truth_path = Path(ctx.path(DATA_DIR, "truth"))
        if truth_path.exists():
            truth_df = ctx.spark.read.parquet(str(truth_path))
            ari = personas.adjusted_rand_index(personas.contingency(ctx.tables["personas"], truth_df)).first()
            result["adjusted_rand_index"] = round(float(ari["ari"]), 4)
        ctx.results["personas"] = result
        line = f"personas: {fit.chosen_k} ({', '.join(row[1] for row in fit.profile_rows)})"
        ctx.summary_lines.append(line)
        if "adjusted_rand_index" in result:
            ctx.summary_lines.append(f"personas vs planted truth: adjusted Rand index {result['adjusted_rand_index']:.3f}")


def make_score_stage(model_path: str, transactions_path: str, customers_path: str | None) -> Stage:
    """`customer-behavior score`: personas (and RFM segments when the model carries cut points) for new data."""

    def stage_score(ctx: RunContext) -> None:
        with ctx.tracker.stage("score", f"Assign personas with the model in {model_path}") as record:
            model, metadata = load_model(model_path)
            transactions_df = read_parquet_input(ctx.spark, transactions_path, "transactions")
            require_columns(transactions_df, personas.workflow.SCORE_TRANSACTION_COLUMNS, f"--input {transactions_path!r}")
            customers_df = read_parquet_input(ctx.spark, customers_path, "customers") if customers_path else None
            bounds = features.event_day_bounds(transactions_df).first()
            as_of = features.resolve_as_of(None, bounds["first_day"], bounds["last_day"])
            features_df = features.customer_features(transactions_df, as_of=as_of)
            scored_df = personas.score_personas(model, metadata, features_df, transactions_df, customers_df)
            if metadata.get("rfm") is None:
                record.notes.append("score: the model carries no RFM cut points (no segments stage in its run); personas only")
            write_parquet(scored_df, ctx.path("personas"))
            counts = {r[C.PERSONA_NAME]: r["count"] for r in ctx.spark.read.parquet(ctx.path("personas")).groupBy(C.PERSONA_NAME).count().collect()}
            ctx.rows["customers_scored"] = sum(counts.values())
            ctx.results["score"] = {"model": model_path, "input": transactions_path, "as_of": as_of.isoformat(), "personas": counts}

    return stage_score


def read_parquet_input(spark: SparkSession, path: str, what: str) -> DataFrame:
    try:
        return spark.read.parquet(path)
    except Exception as exc:  # noqa: BLE001 - Spark's AnalysisException becomes one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{what} {path!r} cannot be read as Parquet: {first[:200]}") from None


Stage = Callable[[RunContext], None]
RUN_STAGES: list[Stage] = [stage_generate, stage_personas]


# --------------------------------------------------------------------------- runs


def versions(spark: SparkSession) -> dict[str, Any]:
    return {
        TOOL_NAME: __version__,
        "python": platform.python_version(),
        "pyspark": pyspark.__version__,
        "spark": spark.version,
        "java": java_major_version(),
    }


def _manifest(ctx: RunContext, started: dt.datetime, status: str) -> dict[str, Any]:
    sc = ctx.spark.sparkContext
    return {
        "tool": TOOL_NAME,
        "version": __version__,
        "command": ctx.command,
        "status": status,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": ctx.cfg.generate.seed,
        "spark": {"master": sc.master, "app_id": sc.applicationId, "ui": sc.uiWebUrl, "default_parallelism": sc.defaultParallelism},
        "versions": versions(ctx.spark),
        "rows": ctx.rows,
        "results": ctx.results,
        "summary_lines": ctx.summary_lines,
        "stages": ctx.tracker.to_list(),
        "total_seconds": round(sum(r.seconds for r in ctx.tracker.records), 3),
        "config": ctx.cfg.to_dict(),
    }


def execute(
    spark: SparkSession,
    cfg: Config,
    staging: Path,
    *,
    stages: list[Stage] | None = None,
    command: str = "run",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the stages into `staging` and write its manifest; return the manifest."""
    started = dt.datetime.now(dt.timezone.utc)
    ctx = RunContext(spark=spark, cfg=cfg, root=Path(staging), tracker=StageTracker(spark, progress), command=command)
    for stage in stages if stages is not None else RUN_STAGES:
        stage(ctx)
    manifest = _manifest(ctx, started, "complete")
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
    staging = run_dir.create()
    try:
        manifest = execute(spark, cfg, staging, progress=progress)
    except BaseException:
        run_dir.abort()
        raise
    return RunResult(path=run_dir.commit(), manifest=manifest)


def stage_generate_only(ctx: RunContext) -> None:
    """`customer-behavior generate`: the three tables at the top of the output directory."""
    with ctx.tracker.stage("generate", f"Generate {ctx.cfg.generate.customers:,} synthetic customers (seed {ctx.cfg.generate.seed})"):
        counts = write_synthetic(ctx, "")
        ctx.rows.update(counts)
        ctx.results["rate_scale"] = generate_engine.effective_rate_scale(ctx.cfg.generate)


GENERATE_STAGES: list[Stage] = [stage_generate_only]

__all__ = ["C", "RunContext", "RunResult", "execute", "run_pipeline", "RUN_STAGES", "GENERATE_STAGES"]
