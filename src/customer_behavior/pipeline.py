"""Wires the stages together and owns every action (write, count, cache).

The stage modules hold pure DataFrame -> DataFrame functions; this module decides what
is computed, cached, written and recorded in the run manifest.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import platform
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyspark
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from customer_behavior import TOOL_NAME, __version__, catalog, compat, personas
from customer_behavior import columns as C
from customer_behavior import features, segments
from customer_behavior.clv import choice as clv_choice, evaluate as clv_evaluate, insights as clv_insights, intervals as clv_intervals, model as clv_model, purchase as clv_purchase
from customer_behavior.config import PURCHASE_MODELS, Config
from customer_behavior.errors import InputError, ModelError, OutputError
from customer_behavior.generate import engine as generate_engine
from customer_behavior.local_data import literal_dataframe
from customer_behavior.personas.inputs import require_columns
from customer_behavior.personas.model import SWEEP_SCHEMA, load_model, write_model
from customer_behavior.personas.profiles import PROFILE_SCHEMA
from customer_behavior.runio import MANIFEST, RunDirectory, write_json
from customer_behavior.segment_table import SegmentTable, load_segment_table, parse_segment_table
from customer_behavior.session import java_major_version
from customer_behavior.tracking import StageTracker, degradation_notes

if TYPE_CHECKING:  # the ingest package is imported when a run reads the user's data
    from customer_behavior.ingest.plan import IngestPlan, TablePlan

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
    # the holdout stage's evaluation of the CLV models (or why there is none), which the clv stage reads
    clv_evaluation: tuple[dict[str, Any] | None, str | None] | None = None

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


# Up to this many sets of copies (24 bytes each), the duplicate check's join broadcasts them
# from the driver; beyond, it is a shuffle join (correct, slower: for inputs mostly copies).
_BROADCAST_COPIES_MAX = 2_000_000
# Where `stage_ingest` writes the table holding both outputs before splitting it (in the run).
_SPLIT_DIR = ".ingest-split"


def _small_checkpoint(df: DataFrame, limit: int) -> tuple[DataFrame, int] | None:
    """`df` computed once and kept as a local checkpoint, with its rows; None when it has more
    rows than `limit` (then only `limit` + 1 rows were computed).

    A broadcast collects to the driver anyway; as a checkpoint the rows are no longer a plan
    over the input files, which `source_file()` (input_file_name) requires of a join's other
    side. Public DataFrame API only (works over Spark Connect): no Python objects, nothing for
    Python workers."""
    local_df = df.limit(limit + 1).localCheckpoint(eager=True)
    rows = local_df.count()  # of the checkpointed rows: no rescan of the input
    return (local_df, rows) if rows <= limit else None


@dataclass
class _FinalRows:
    """A table's rows with every reason, ready for the one write, and what that needed."""

    df: DataFrame
    file: Column  # a rejected row's file
    copy_sets: int = 0
    cached: list[DataFrame] = field(default_factory=list)  # to unpersist after the write


def _final_rows(table: TablePlan, plan: IngestPlan | None = None) -> _FinalRows:
    """Every rule applied, the duplicate check included.

    Transactions: one job reads the rows (the lines of a delimited file, unparsed) and finds the
    sets of exact copies by their hashes; they are joined to the checked rows in the write
    itself. Customers: every rule is in `validated_df`, its file kept before its window."""
    from customer_behavior.ingest import validation as V

    if table.checked_df is None:
        return _FinalRows(df=table.validated_df, file=F.col(V.SOURCE_FILE))
    copies_df = plan.copies_df()
    local = _small_checkpoint(copies_df, _BROADCAST_COPIES_MAX)
    if local is not None:
        local_df, copy_sets = local
        if copy_sets == 0:
            return _FinalRows(df=table.checked_df.drop(*V.DUPLICATE_KEYS).withColumn(V.IS_KEPT_COPY, F.lit(False)), file=table.raw.origin())
        return _FinalRows(df=V.with_duplicate_reason(table.checked_df, F.broadcast(local_df), plan.duplicates), file=table.raw.origin(), copy_sets=copy_sets)
    # more sets than a broadcast should hold: a shuffle join, so each row's file is taken before it
    copies_df = copies_df.persist(StorageLevel.MEMORY_AND_DISK)
    rows_df = V.with_duplicate_reason(table.checked_df.transform(V.with_source_file, table.raw.origin()), copies_df, plan.duplicates)
    return _FinalRows(df=rows_df, file=F.col(V.SOURCE_FILE), copy_sets=copies_df.count(), cached=[copies_df])


def _write_both_outputs(final: _FinalRows, split_dir: Path, *, canonical: list[Column], schema: StructType, source_columns: tuple[str, ...]) -> int:
    """The one write: accepted and rejected rows, partitioned by `QUARANTINED`, into `split_dir`.
    Returns the identical lines kept as repeated purchases (observed while writing)."""
    from customer_behavior.ingest import validation as V

    rows_df, observation = final.df, None
    if V.IS_KEPT_COPY in rows_df.columns:
        observation = Observation("kept copies")
        rows_df = rows_df.observe(observation, F.count_if(F.col(V.IS_KEPT_COPY)).alias("kept"))
    both_df = V.with_both_outputs(rows_df, canonical=canonical, schema=schema, source_columns=source_columns, file=final.file)
    both_df.write.mode("overwrite").partitionBy(V.QUARANTINED).parquet(str(split_dir))
    return int(observation.get["kept"] or 0) if observation is not None else 0


def _write_quarantine(
    spark: SparkSession, records_dir: Path, target: str, *, schema: StructType, source_columns: tuple[str, ...], reasons: tuple[str, ...]
) -> dict[str | None, int]:
    """The quarantine table from the rejected part of the one write; returns the rows per reason
    (observed while writing them: the rejected rows only, never the whole input)."""
    from customer_behavior.ingest import validation as V

    if not records_dir.exists():  # nothing rejected: an empty table with the quarantine's columns
        write_parquet(literal_dataframe(spark, [], V.quarantine_schema(source_columns)), target)
        return {None: 0}
    records_df = spark.read.schema(schema).parquet(str(records_dir))
    observation = Observation("quarantine")
    quarantine_df = V.quarantine_from_records(records_df, schema=schema, source_columns=source_columns).observe(observation, *V.reason_counters(reasons, C.REASON))
    write_parquet(quarantine_df, target)
    return V.counts_from_metrics(observation.get, reasons)


def _parquet_rows(spark: SparkSession, path: Path) -> int:
    """Rows of a Parquet directory (from the files' footers), 0 when it does not exist."""
    return spark.read.parquet(str(path)).count() if path.exists() else 0


def stage_ingest(ctx: RunContext) -> None:
    """The user's data (`input.path` or `input.table`): read, map, validate; accepted rows to data/, the rest to quarantine/.

    One parse of the input (see docs/performance.md, "Ingest"). For transactions, a first job
    reads the rows without parsing them (a delimited file's lines) and finds the sets of exact
    copies by two hashes per row. A second job parses and checks every row, marks the extra
    copies and writes accepted and rejected rows in one Parquet write, partitioned by whether
    a row is rejected: the accepted rows' files are moved into data/ as they are, and the small
    rejected part becomes the quarantine. The row accounting: the accepted rows from the
    Parquet footers, the rejected ones per reason counted while the quarantine is written.
    """
    from customer_behavior.ingest import plan as ingest
    from customer_behavior.ingest import validation as V
    from customer_behavior.ingest.readers import input_errors

    input_cfg = ctx.cfg.input
    with ctx.tracker.stage("ingest", f"Read and validate {input_cfg.source}") as record:
        plan = ingest.plan_ingest(ctx.spark, input_cfg)
        results: dict[str, Any] = {
            "path": input_cfg.path,
            "table": input_cfg.table or None,
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
            split_dir = Path(ctx.path(_SPLIT_DIR, name))
            source_columns = table.raw.source_columns
            with input_errors(table.raw.path, "input" if name == "transactions" else "customers input"):
                final = _final_rows(table, plan)
                try:
                    kept_copies = _write_both_outputs(final, split_dir, canonical=canonical, schema=schema, source_columns=source_columns)
                finally:
                    for cached_df in final.cached:
                        cached_df.unpersist()
                accepted_dir = split_dir / f"{V.QUARANTINED}=false"
                quarantine_target = ctx.path(ingest.QUARANTINE_DIR, name)
                counts = _write_quarantine(ctx.spark, split_dir / f"{V.QUARANTINED}=true", quarantine_target, schema=schema, source_columns=source_columns, reasons=reasons)
                counts[None] = _parquet_rows(ctx.spark, accepted_dir)
            if name == "transactions":
                results["copy_sets"] = final.copy_sets
                results["duplicates"] = {"policy": input_cfg.duplicates, "identical_lines": "kept" if plan.duplicates.keep_copies else "quarantined"}
                results["identical_lines_kept"] = kept_copies
                ctx.rows["transactions_identical_lines_kept"] = kept_copies
                if kept_copies:
                    record.notes.append(f"{kept_copies:,} identical lines kept as repeated purchases (no transaction ids to tell them from a double export; --duplicates quarantine drops them)")
            acc = ingest.accounting(counts, reasons)
            if acc["read"] == 0:
                raise InputError(f"input {table.raw.path!r} has no data rows (a header only?)")
            ctx.rows.update({f"{name}_read": acc["read"], f"{name}_accepted": acc["accepted"], f"{name}_quarantined": acc["quarantined"]})
            ctx.rows.update({f"{name}_quarantined_{reason}": n for reason, n in acc["by_reason"].items() if n})
            results[f"{name}_rows"] = acc
            if name == "transactions" and acc["quarantined"] > input_cfg.max_bad_fraction * acc["read"]:
                kept_at = ingest.move_quarantine_out(ctx.root)
                raise InputError(ingest.too_many_bad_rows_message(table.raw.path, acc, input_cfg.max_bad_fraction, kept_at))
            if acc["accepted"] == 0:
                raise InputError(f"input {table.raw.path!r}: none of the {acc['read']:,} rows passed validation")
            # the accepted rows' files hold exactly the canonical columns: they are the table
            Path(ctx.path(DATA_DIR)).mkdir(parents=True, exist_ok=True)
            accepted_dir.rename(ctx.path(DATA_DIR, name))
            shutil.rmtree(split_dir)
            ctx.tables[name] = ctx.spark.read.parquet(ctx.path(DATA_DIR, name))
            if name == "transactions" and _has_no_purchase(ctx.tables[name]):
                raise InputError(
                    f"input {table.raw.path!r}: none of the {acc['accepted']:,} accepted rows is a purchase (all are returns or cancellations); there is nothing to analyse"
                )
        shutil.rmtree(ctx.path(_SPLIT_DIR), ignore_errors=True)


def _has_no_purchase(transactions_df: DataFrame) -> bool:
    """Whether no row is a completed purchase: the one case that stops a run on valid rows
    (every later stage degrades instead). Stops reading at the first purchase."""
    from customer_behavior.definitions import is_purchase

    return not transactions_df.filter(is_purchase()).limit(1).collect()


def stage_source(ctx: RunContext) -> None:
    """Where the transactions come from: the user's input when given, else the generator."""
    (stage_ingest if ctx.cfg.input.source else stage_generate)(ctx)


# --------------------------------------------------------------------------- features and segments (issue 3)


def _feature_bounds(transactions_df: DataFrame, configured_as_of: dt.date | None) -> tuple[Any, dt.date, features.FeatureDomain]:
    """The one small query every features computation starts with: the event-day bounds and
    categorical values (one row), the as-of date they resolve to, and the feature domain."""
    bounds = features.event_day_bounds(transactions_df).first()
    as_of = features.resolve_as_of(configured_as_of, bounds["first_day"], bounds["last_day"])
    features.require_spend(bounds[features.MAX_ABS_AMOUNT])
    return bounds, as_of, features.FeatureDomain.from_bounds(bounds)


def stage_features(ctx: RunContext) -> None:
    with ctx.tracker.stage("features", "Per-customer RFM, behaviour and BTYD features (one aggregation)"):
        transactions_df = ctx.tables["transactions"]
        bounds, as_of, domain = _feature_bounds(transactions_df, ctx.cfg.features.as_of_date)
        # Cached so that counting the customers without an order and writing the others
        # share the one aggregation over the transactions.
        all_df = features.all_customer_features(transactions_df, as_of=as_of, domain=domain).cache()
        try:
            has_orders = (F.col(C.ORDERS) > 0).alias("has_orders")
            count_rows = all_df.groupBy(has_orders).agg(F.count(F.lit(1)).alias("n")).collect()
            counts = {bool(row["has_orders"]): row["n"] for row in count_rows}
            target = ctx.path(TABLES_DIR, "customer_features")
            write_parquet(all_df.transform(features.filter_customers_with_orders), target)
        finally:
            all_df.unpersist()
        ctx.tables["customer_features"] = ctx.spark.read.parquet(target)
        if as_of <= bounds["last_day"]:
            # The analysis window ends at as_of for every later stage (personas, CLV, patterns), not only for the features.
            ctx.tables["transactions"] = transactions_df.filter(F.to_date(F.col(C.EVENT_TS)) < F.lit(as_of))
            ctx.rows["transactions_after_as_of"] = transactions_df.filter(F.to_date(F.col(C.EVENT_TS)) >= F.lit(as_of)).count()
        ctx.rows["customers_with_features"] = counts.get(True, 0)
        ctx.rows["customers_without_orders"] = counts.get(False, 0)
        ctx.results["features"] = {
            "as_of": as_of.isoformat(),
            "first_event_day": bounds["first_day"].isoformat(),
            "last_event_day": bounds["last_day"].isoformat(),
            "customers": counts.get(True, 0),
            "customers_without_orders": counts.get(False, 0),
            "has_time_of_day": bool(bounds[features.HAS_TIME_OF_DAY]),
        }


def _move_segment_exports(staging: Path, target: Path, table: SegmentTable, header: list[str]) -> dict[str, str]:
    """<staging>/segment_slug=<slug>/part-*.csv -> <target>/<slug>.csv (a header-only file for empty segments)."""
    target.mkdir(parents=True, exist_ok=True)
    files = {}
    for seg in table.segments:
        parts = sorted((staging / f"{segments.SLUG}={seg.slug}").glob("part-*.csv"))
        destination = target / f"{seg.slug}.csv"
        if len(parts) > 1:  # pragma: no cover - repartition by slug puts a segment in one task
            raise OutputError(f"exports/segments: segment {seg.name!r} was written as {len(parts)} files")
        if parts:
            shutil.move(str(parts[0]), destination)
        else:
            destination.write_text(",".join(header) + "\n", encoding="utf-8")
        files[seg.name] = f"exports/segments/{destination.name}"
    shutil.rmtree(staging)
    return files


def _truth_df(ctx: RunContext) -> DataFrame | None:
    if "truth" in ctx.tables:
        return ctx.tables["truth"]
    truth_path = Path(ctx.path(DATA_DIR, "truth"))
    return ctx.spark.read.parquet(str(truth_path)) if truth_path.exists() else None


def stage_segments(ctx: RunContext) -> None:
    cfg = ctx.cfg.segments
    with ctx.tracker.stage("segments", f"R/F/M scores ({cfg.bins} bins) and the 11 named RFM segments") as record:
        table = load_segment_table(cfg.table_file or None)
        features_df = ctx.tables["customer_features"]
        cuts = segments.fit_cut_points(features_df, cfg, active_days=ctx.cfg.insights.active_days)
        for note in cuts.notes(cfg.bins):
            record.notes.append(note)
            ctx.summary_lines.append(note)
        segmented_df = segments.assign_segments(features_df, cuts=cuts, table=table, bins=cfg.bins)
        write_parquet(segmented_df.transform(segments.select_rfm_segments), ctx.path(TABLES_DIR, "rfm_segments"))
        rfm_df = ctx.spark.read.parquet(ctx.path(TABLES_DIR, "rfm_segments"))
        ctx.tables["rfm_segments"] = rfm_df

        summary_df = segments.segment_summary(rfm_df, table=table)
        write_parquet(summary_df.coalesce(1), ctx.path(TABLES_DIR, "segment_summary"))
        summary = [row.asDict() for row in ctx.spark.read.parquet(ctx.path(TABLES_DIR, "segment_summary")).collect()]

        export_df = segmented_df.transform(segments.export_rows)
        staging = Path(ctx.path("exports", "_segments_staging"))
        (
            export_df.repartition(F.col(segments.SLUG))
            .sortWithinPartitions(segments.SLUG, C.CUSTOMER_ID)
            .write.mode("overwrite")
            .partitionBy(segments.SLUG)
            .option("header", True)
            .option("escape", '"')  # standard CSV (RFC 4180): a quote inside a field is doubled, not \"
            .csv(str(staging))
        )
        files = _move_segment_exports(staging, Path(ctx.path("exports", "segments")), table, list(segments.EXPORT_COLUMNS))

        results: dict[str, Any] = {
            "bins": cfg.bins,
            "cut_points": cuts.to_dict(),
            "notes": cuts.notes(cfg.bins),
            "few_values": [list(pair) for pair in cuts.few_values],
            "flat_scores": [list(pair) for pair in cuts.flat_scores],
            "table": table.source,
            "summary": [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()} for row in summary],
            "exports": files,
        }
        truth_df = _truth_df(ctx)
        if truth_df is not None:
            count_rows = [r.asDict() for r in segments.persona_segment_counts(rfm_df, truth_df).collect()]
            results["planted_truth"] = segments.summarise_planted_truth(count_rows, table.names())
            for line in segments.format_confusion(results["planted_truth"]):
                ctx.tracker.progress(line)
        ctx.results["segments"] = results


def _as_of_date(ctx: RunContext) -> dt.date:
    """The run's as-of date: what the features stage used, else the day after the last event."""
    recorded = ctx.results.get("features", {}).get("as_of") if isinstance(ctx.results.get("features"), dict) else None
    if recorded:
        return dt.date.fromisoformat(str(recorded)[:10])
    last_day = ctx.tables["transactions"].agg(F.max(F.to_date(F.col(C.EVENT_TS)))).first()[0]
    return last_day + dt.timedelta(days=1)


def _rows(df: DataFrame) -> list[dict[str, Any]]:
    return [row.asDict() for row in df.collect()]


def _clv_evaluation(ctx: RunContext, cfg, keys: tuple[str, ...]) -> tuple[dict[str, Any] | None, str | None]:
    """Every model in `keys` fitted on the calibration period and judged on the holdout (or why not)."""
    if not cfg.evaluate:
        return None, "clv.evaluate = false"
    if "transactions" not in ctx.tables:
        return None, "no transactions table"
    try:
        return clv_evaluate.evaluate_models(ctx.tables["transactions"], cfg, as_of=_as_of_date(ctx), keys=keys), None
    except ModelError as exc:
        return None, str(exc)


def _clv_keys(cfg) -> tuple[str, ...]:
    return (cfg.model,) if cfg.model in clv_purchase.NAMES else PURCHASE_MODELS


def stage_holdout(ctx: RunContext) -> None:
    """The CLV models fitted on the calibration period and judged on the holdout (what the clv stage chooses by).

    A stage of its own: it reads the transactions again, and its jobs are counted apart from the final fit's."""
    with ctx.tracker.stage("holdout", "CLV models judged on a holdout") as record:
        if "customer_features" not in ctx.tables:
            record.status = "skipped"
            record.notes.append("no customer_features table (the features stage did not run)")
            return
        ctx.clv_evaluation = _clv_evaluation(ctx, ctx.cfg.clv, _clv_keys(ctx.cfg.clv))
        evaluation, reason = ctx.clv_evaluation
        if evaluation is None:
            record.status = "skipped"
            record.notes.append(str(reason))


def stage_clv(ctx: RunContext) -> None:
    """Purchase model + Gamma-Gamma: evaluate on a holdout, choose, fit on a bounded summary, score every customer."""
    cfg = ctx.cfg.clv
    explicit = cfg.model in clv_purchase.NAMES
    model_name = clv_purchase.NAMES[cfg.model] if explicit else "best of MBG/NBD, BG/NBD, Pareto/NBD on the holdout"
    with ctx.tracker.stage("clv", f"CLV and churn risk ({model_name} + Gamma-Gamma)") as record:
        features_df = ctx.tables.get("customer_features")
        if features_df is None:
            reason = "no customer_features table (the features stage did not run)"
            record.status = "skipped"
            record.notes.append(reason)
            ctx.results["clv"] = {"status": "skipped", "reason": reason}
            return
        segments_df = ctx.tables.get("rfm_segments")
        if segments_df is None:
            record.notes.append("no rfm_segments table: churn risk uses P(alive) alone (segment group 'unknown')")
        # the holdout stage's evaluation; computed here when the run's stages leave that stage out
        evaluation, evaluation_error = ctx.clv_evaluation or _clv_evaluation(ctx, cfg, _clv_keys(cfg))
        order, choice = clv_choice.model_order(cfg, evaluation, evaluation_error)
        try:
            models = clv_model.fit_models(features_df, cfg, keys=order)
        except ModelError as exc:  # a summary without the BTYD columns: record it, let the run go on
            record.status = "failed"
            record.notes.append(str(exc))
            ctx.results["clv"] = {"status": "failed", "reason": str(exc)}
            return
        results: dict[str, Any] = {"status": "ok" if not models.errors else "partial", **models.to_dict()}
        choice["chosen"] = clv_purchase.key_of(models.bgnbd.params) if models.bgnbd else None
        results["model_choice"] = choice
        if choice["rule"] == "fallback":
            record.notes.append(f"model choice: {choice['reason']}")
        record.notes.extend(models.errors.values())
        if models.errors:
            record.status = "partial"
        if models.bgnbd is None:
            results["table"] = None
            record.notes.append("tables/clv not written: it needs a purchase model (BG/NBD, MBG/NBD or Pareto/NBD)")
        else:
            write_parquet(clv_model.score_customers(features_df, models, cfg, segments_df), ctx.path(TABLES_DIR, "clv"))
            clv_df = ctx.spark.read.parquet(ctx.path(TABLES_DIR, "clv"))
            ctx.tables["clv"] = clv_df
            results["table"] = "tables/clv"
            results["totals"] = clv_insights.totals(clv_df).first().asDict()
            results["churn_risk"] = _rows(clv_insights.churn_risk_summary(clv_df))
            results["by_segment"] = _rows(clv_insights.segment_value_summary(clv_df))
            results["top_customers"] = _rows(clv_insights.top_customers(clv_df))
            results["horizon_months"] = cfg.horizon_months
            results["monthly_discount_rate"] = cfg.monthly_discount_rate
            truth_df = _truth_df(ctx)
            if truth_df is not None:
                results["planted_truth"] = clv_evaluate.planted_churn_auc(clv_df, truth_df)
            results["intervals"] = clv_intervals.interval_tables(
                clv_df, models, cfg, customers=int(results["totals"]["customers"]), personas_df=_table(ctx, "personas")
            )
        if evaluation is not None:
            results["evaluation"] = evaluation
            for entry in evaluation["models"]:
                if entry["status"] != "ok":
                    record.notes.append(f"holdout evaluation: {entry['reason']}")
            try:
                results["holdout"] = {"status": "ok", **clv_evaluate.holdout_summary(evaluation, choice["chosen"] or order[0])}
            except ModelError as exc:
                results["holdout"] = {"status": "failed", "reason": str(exc)}
        elif cfg.evaluate and evaluation_error != "no transactions table":
            results["holdout"] = {"status": "failed", "reason": evaluation_error}
            record.notes.append(f"holdout evaluation: {evaluation_error}")
        ctx.results["clv"] = results


Stage = Callable[[RunContext], None]
# --------------------------------------------------------------------------- patterns, insights, report (issue 5)


def _table(ctx: RunContext, name: str) -> DataFrame | None:
    """A table an earlier stage produced: from ctx.tables, else from tables/<name> when written."""
    if name in ctx.tables:
        return ctx.tables[name]
    path = Path(ctx.path(TABLES_DIR, name))
    if path.is_dir():
        return ctx.spark.read.parquet(str(path))
    return None


@contextlib.contextmanager
def _session_conf(spark: SparkSession, settings: dict[str, str]) -> Iterator[None]:
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


NO_CATEGORIES = "patterns: category affinities skipped: the input has no category column"


def _has_no_categories(ctx: RunContext) -> bool:
    ingest_results = ctx.results.get("ingest")
    return isinstance(ingest_results, dict) and C.CATEGORY in ingest_results.get("missing_optional", {})


def stage_patterns(ctx: RunContext) -> None:
    from customer_behavior import patterns

    cfg = ctx.cfg.patterns
    with ctx.tracker.stage("patterns", "Time, category, payment, cohort and category-affinity patterns") as record:
        groupings = patterns.Groupings(
            segments_df=_table(ctx, "rfm_segments"), personas_df=_table(ctx, "personas"), customers_df=ctx.tables.get("customers")
        )
        # Every pattern table reads the same labelled orders: one scan and one set of joins, cached.
        orders_df = patterns.labelled_orders(ctx.tables["transactions"], groupings, cfg).cache()
        baskets_df = None
        try:
            # Small tables from one cached input: adaptive execution would run each query stage
            # (every shuffle of every table) as a Spark job of its own, ~5 jobs per table.
            with _session_conf(ctx.spark, {"spark.sql.adaptive.enabled": "false"}):
                for name, df in patterns.pattern_tables(orders_df, groupings, cfg).items():
                    write_parquet(df.coalesce(1), ctx.path(TABLES_DIR, "patterns", name))
            baskets_df = patterns.baskets(orders_df, cfg.basket).cache()
            affinities_df = patterns.category_affinities(baskets_df, cfg)
            if _has_no_categories(ctx):
                affinities_df = affinities_df.limit(0)  # the table stays, with its columns, for the report
                record.notes.append(NO_CATEGORIES)
            counted = Observation("affinity_rules")  # the rules counted while written, not read back
            write_parquet(affinities_df.coalesce(1).observe(counted, F.count(F.lit(1)).alias("rules")), ctx.path(TABLES_DIR, "patterns", "affinities"))
            basket_count = baskets_df.count()
        finally:
            orders_df.unpersist()
            if baskets_df is not None:
                baskets_df.unpersist()
        rules = int(counted.get["rules"])
        ctx.results["patterns"] = {"tables": list(patterns.PATTERN_TABLES), "basket": cfg.basket, "baskets": basket_count, "affinity_rules": rules}


def stage_insights(ctx: RunContext) -> None:
    from customer_behavior import insights

    cfg = ctx.cfg.insights
    with ctx.tracker.stage("insights", "KPIs and per-segment and per-persona summaries"):
        features_df = _table(ctx, "customer_features")
        segments_df = _table(ctx, "rfm_segments")
        if features_df is None or segments_df is None:
            raise InputError("insights: tables customer_features and rfm_segments are needed; run the features and segments stages first")
        personas_df = _table(ctx, "personas")
        view_df = insights.customer_view(features_df, segments_df=segments_df, personas_df=personas_df, clv_df=_table(ctx, "clv"), cfg=cfg).cache()
        try:
            outputs = {
                "kpis": insights.kpi_table(view_df, cfg),
                "segments": insights.group_summary(view_df, C.SEGMENT),
                "rf_grid": insights.rf_grid(segments_df),
            }
            if personas_df is not None:
                outputs["personas"] = insights.group_summary(view_df, C.PERSONA_NAME)
            for name, df in outputs.items():
                write_parquet(df.coalesce(1), ctx.path(TABLES_DIR, "insights", name))
        finally:
            view_df.unpersist()
        kpis = ctx.spark.read.parquet(ctx.path(TABLES_DIR, "insights", "kpis")).first().asDict()
        ctx.results["kpis"] = kpis
        for name in ("segments", "personas"):
            if name in outputs:
                sizes = ctx.spark.read.parquet(ctx.path(TABLES_DIR, "insights", name)).select(C.GROUP, C.CUSTOMERS, C.REVENUE_SHARE).collect()
                ctx.results[f"{name}_summary"] = sorted(([r[0], r[1], r[2]] for r in sizes), key=lambda row: -row[1])


def stage_report(ctx: RunContext) -> None:
    from customer_behavior import report

    with ctx.tracker.stage("report", "Render report.html, report.md and insights.json"):
        as_of = ctx.results.get("features", {}).get("as_of") or ctx.results.get("as_of")
        clv_results = ctx.results.get("clv")
        meta = {
            "seed": ctx.cfg.generate.seed,
            "as_of": str(as_of) if as_of else None,
            "clv_holdout": clv_results.get("holdout") if isinstance(clv_results, dict) else None,
            "notes": degradation_notes(ctx.tracker.to_list()),
            **report.data_meta(ctx.results),
        }
        data = report.load_tables(ctx.root, meta=meta)
        paths = report.write_report(data, ctx.path(report.REPORT_DIR), ctx.cfg.insights)
        ctx.results["report"] = {key: str(Path(p).relative_to(ctx.root)) for key, p in paths.items()}
        ctx.results["report"]["sections_left_out"] = report.left_out_sections(meta)


# --------------------------------------------------------------------------- personas (issue 4)


def _customer_features(ctx: RunContext) -> DataFrame:
    """customer_features from the features stage, or computed here when it has not run."""
    if "customer_features" in ctx.tables:
        return ctx.tables["customer_features"]
    _, as_of, domain = _feature_bounds(ctx.tables["transactions"], None)
    return features.customer_features(ctx.tables["transactions"], as_of=as_of, domain=domain)


def stage_personas(ctx: RunContext) -> None:
    cfg = ctx.cfg.personas
    description = f"Personas: {cfg.algorithm} over k = {cfg.k_min}..{cfg.k_max}, named from their centroids"
    # Adaptive execution would run every query stage (each shuffle of the inputs, profiles and
    # accuracy queries) as a Spark job of its own; these are small, fixed-shape queries.
    with ctx.tracker.stage("personas", description) as record, _session_conf(ctx.spark, {"spark.sql.adaptive.enabled": "false"}):
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
        write_parquet(literal_dataframe(ctx.spark, fit.profile_rows, PROFILE_SCHEMA).coalesce(1), ctx.path(TABLES_DIR, "persona_profiles"))
        write_parquet(literal_dataframe(ctx.spark, fit.sweep_rows, SWEEP_SCHEMA).coalesce(1), ctx.path(TABLES_DIR, "persona_sweep"))
        # RFM cut points and the segment table, when the segments stage ran, travel with the model.
        write_model(fit.model, ctx.path(MODEL_DIR), fit.metadata(cfg) | {"rfm": _rfm_scoring(ctx)})
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
        truth_df = _truth_df(ctx)
        if truth_df is not None:
            ari = personas.adjusted_rand_index(personas.contingency(ctx.tables["personas"], truth_df)).first()
            result["adjusted_rand_index"] = round(float(ari["ari"]), 4)
        ctx.results["personas"] = result
        line = f"personas: {fit.chosen_k} ({', '.join(row[1] for row in fit.profile_rows)})"
        ctx.summary_lines.append(line)
        if "adjusted_rand_index" in result:
            ctx.summary_lines.append(f"personas vs planted truth: adjusted Rand index {result['adjusted_rand_index']:.3f}")


def _rfm_scoring(ctx: RunContext) -> dict[str, Any] | None:
    if "segments" not in ctx.results:
        return None
    table = load_segment_table(ctx.cfg.segments.table_file or None)
    return {
        "bins": ctx.results["segments"]["bins"],
        "cut_points": ctx.results["segments"]["cut_points"],
        "few_values": ctx.results["segments"].get("few_values", []),
        "flat_scores": ctx.results["segments"].get("flat_scores", []),
        "segment_table": {"segments": [{"name": s.name, "rule": s.rule, "description": s.description, "codes": list(s.codes)} for s in table.segments]},
    }


def score_segments(features_df: DataFrame, rfm: dict[str, Any]) -> DataFrame:
    """customer_id, r/f/m scores, rfm_code, segment with the cut points saved at training time."""
    cut_points = rfm["cut_points"]
    cuts = segments.CutPoints(
        recency=tuple(cut_points["recency_days"]),
        frequency=tuple(cut_points["orders"]),
        monetary=tuple(cut_points["monetary"]),
        few_values=tuple((str(name), int(n)) for name, n in rfm.get("few_values", [])),
        flat_scores=tuple((str(name), int(n)) for name, n in rfm.get("flat_scores", [])),
    )
    table = parse_segment_table(rfm["segment_table"], "the model's segment table")
    return segments.assign_segments(features_df, cuts=cuts, table=table, bins=int(rfm["bins"])).select(
        C.CUSTOMER_ID, C.R_SCORE, C.F_SCORE, C.M_SCORE, C.RFM_CODE, C.SEGMENT
    )


def make_score_stage(model_path: str, transactions_path: str, customers_path: str | None) -> Stage:
    """`customer-behavior score`: personas (and RFM segments when the model carries cut points) for new data."""

    def stage_score(ctx: RunContext) -> None:
        with ctx.tracker.stage("score", f"Assign personas with the model in {model_path}") as record:
            model, metadata = load_model(model_path)
            transactions_df = read_parquet_input(ctx.spark, transactions_path, "transactions")
            require_columns(transactions_df, personas.workflow.SCORE_TRANSACTION_COLUMNS, f"--input {transactions_path!r}")
            customers_df = read_parquet_input(ctx.spark, customers_path, "customers") if customers_path else None
            _, as_of, domain = _feature_bounds(transactions_df, None)
            features_df = features.customer_features(transactions_df, as_of=as_of, domain=domain)
            scored_df = personas.score_personas(model, metadata, features_df, transactions_df, customers_df)
            if metadata.get("rfm") is None:
                record.notes.append("score: the model carries no RFM cut points (no segments stage in its run); personas only")
            else:
                scored_df = scored_df.join(score_segments(features_df, metadata["rfm"]), on=C.CUSTOMER_ID, how="left")
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


RUN_STAGES: list[Stage] = [
    stage_source, stage_features, stage_segments, stage_personas, stage_holdout, stage_clv, stage_patterns, stage_insights, stage_report,
]


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
    return {
        "tool": TOOL_NAME,
        "version": __version__,
        "command": ctx.command,
        "status": status,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
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
    started = dt.datetime.now(dt.timezone.utc)
    tracker = StageTracker(spark, progress, scope=job_scope)
    ctx = RunContext(spark=spark, cfg=cfg, root=Path(staging), tracker=tracker, command=command)
    database = cfg.output.database.strip() if command == "run" else ""
    if database:
        catalog.check_output_database(spark, database)  # before any stage
    for stage in stages if stages is not None else RUN_STAGES:
        stage(ctx)
    if database:
        with ctx.tracker.stage("publish", f"Replace the result tables in {database}"):
            published = catalog.publish(spark, database, catalog.result_tables(ctx.root, TABLES_DIR))
            ctx.results["published"] = {"database": database, "tables": published}
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

    started = dt.datetime.now(dt.timezone.utc)
    runs: list[dict[str, Any]] = []
    first: tuple[Path, dict[str, Any]] | None = None
    for date in dates:
        root = Path(staging) / date
        root.mkdir()
        if progress:
            progress(f"-- as of {date} (into {date}/)")
        dated_cfg = with_overrides(cfg, {"features.as_of": date})
        stages = RUN_STAGES if first is None else [make_reuse_source_stage(*first), *RUN_STAGES[1:]]
        manifest = execute(spark, dated_cfg, root, stages=stages, progress=progress, job_scope=f"{date}/")
        first = first or (root, manifest)
        runs.append({"as_of": date, "path": date, "total_seconds": manifest["total_seconds"], "kpis": manifest["results"].get("kpis", {})})
    manifest = {
        "tool": TOOL_NAME,
        "version": __version__,
        "command": "run",
        "kind": "as_of_dates",
        "status": "complete",
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": cfg.generate.seed,
        "as_of_dates": list(dates),
        "runs": runs,
        "total_seconds": round(sum(run["total_seconds"] for run in runs), 3),
        "versions": versions(spark),
        "config": cfg.to_dict(),
    }
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
    staging = run_dir.create()
    try:
        manifest = execute_dates(spark, cfg, staging, dates, progress=progress)
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

__all__ = ["C", "RunContext", "RunResult", "execute", "execute_dates", "run_pipeline", "run_dates", "RUN_STAGES", "GENERATE_STAGES"]
