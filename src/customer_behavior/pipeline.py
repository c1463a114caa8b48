"""Wires the stages together and owns every action (write, count, cache).

The stage modules hold pure DataFrame -> DataFrame functions; this module decides what
is computed, cached, written and recorded in the run manifest.
"""

from __future__ import annotations

import datetime as dt
import logging
import platform
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyspark
from pyspark.sql import DataFrame, SparkSession

from customer_behavior import TOOL_NAME, __version__
from customer_behavior import columns as C
from customer_behavior.config import Config
from customer_behavior.errors import InputError
from customer_behavior.generate import engine as generate_engine
from customer_behavior.runio import MANIFEST, RunDirectory, write_json
from customer_behavior.session import java_major_version
from customer_behavior.tracking import StageTracker

log = logging.getLogger(__name__)

DATA_DIR = "data"
TABLES_DIR = "tables"


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


def stage_ingest(ctx: RunContext) -> None:
    """The user's data (`input.path`): read, map, validate; accepted rows to data/, the rest to quarantine/.

    One pass over the input: every row is validated once and written once to a staged table
    (accepted and rejected rows together); the row accounting, the canonical table and the
    quarantine are then read off that Parquet table.
    """
    from customer_behavior.ingest import plan as ingest
    from customer_behavior.ingest import validation as V
    from customer_behavior.ingest.readers import input_errors

    input_cfg = ctx.cfg.input
    with ctx.tracker.stage("ingest", f"Read and validate {input_cfg.path}") as record:
        plan = ingest.plan_ingest(ctx.spark, input_cfg)
        results: dict[str, Any] = {
            "path": input_cfg.path,
            "format": plan.transactions.raw.format,
            "delimiter": plan.transactions.raw.delimiter,
            "source_columns": list(plan.transactions.raw.source_columns),
            "column_sources": plan.resolved.sources,
            "amount": "quantity x unit_price" if plan.resolved.amount_from_product else "amount column",
            "as_of": plan.rules.as_of.isoformat(),
            "missing_optional": plan.resolved.missing_optional,
        }
        ctx.results["ingest"] = results
        record.notes.extend(f"no {name}: {uses}" for name, uses in plan.resolved.missing_optional.items())
        tables = [("transactions", plan.transactions, V.canonical_transaction_columns(plan.resolved), C.TRANSACTIONS_SCHEMA, ingest.R.TRANSACTION_REASONS)]
        if plan.customers is not None:
            tables.append(("customers", plan.customers, V.canonical_customer_columns(), C.CUSTOMERS_SCHEMA, ingest.R.CUSTOMER_REASONS))
        for name, table, canonical, schema, reasons in tables:
            staged_path = ctx.path(f"_staged_{name}")
            with input_errors(table.raw.path, "input" if name == "transactions" else "customers input"):
                staged_df = V.staged_rows(table.validated_df, source_columns=table.raw.source_columns, canonical=canonical)
                # not partitioned: a partitioned write sorts every task's rows first
                staged_df.write.mode("overwrite").parquet(staged_path)
            staged_df = ctx.spark.read.parquet(staged_path)
            # exact and cheap: Parquet reads just the (mostly null) reason column
            counts = {row[C.REASON]: row["rows"] for row in V.reason_counts(staged_df).collect()}
            acc = ingest.accounting(counts, reasons)
            if acc["read"] == 0:
                raise InputError(f"input {table.raw.path!r} has no data rows (a header only?)")
            write_parquet(V.quarantine_from_staged(staged_df, source_columns=table.raw.source_columns), ctx.path(ingest.QUARANTINE_DIR, name))
            ctx.rows.update({f"{name}_read": acc["read"], f"{name}_accepted": acc["accepted"], f"{name}_quarantined": acc["quarantined"]})
            ctx.rows.update({f"{name}_quarantined_{reason}": n for reason, n in acc["by_reason"].items() if n})
            results[f"{name}_rows"] = acc
            if name == "transactions" and acc["quarantined"] > input_cfg.max_bad_fraction * acc["read"]:
                kept_at = ingest.move_quarantine_out(ctx.root)
                raise InputError(ingest.too_many_bad_rows_message(table.raw.path, acc, input_cfg.max_bad_fraction, kept_at))
            if acc["accepted"] == 0:
                raise InputError(f"input {table.raw.path!r}: none of the {acc['read']:,} rows passed validation")
            write_parquet(V.accepted_from_staged(staged_df, schema=schema), ctx.path(DATA_DIR, name))
            shutil.rmtree(staged_path, ignore_errors=True)
            ctx.tables[name] = ctx.spark.read.parquet(ctx.path(DATA_DIR, name))


def stage_source(ctx: RunContext) -> None:
    """Where the transactions come from: the user's input when given, else the generator."""
    (stage_ingest if ctx.cfg.input.path else stage_generate)(ctx)


Stage = Callable[[RunContext], None]
RUN_STAGES: list[Stage] = [stage_source]


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
