"""`customer-behavior compare BASE NEW --output DIR`: the actions (reads, writes, the few small
collects) of a comparison, staged and moved into place whole as a run is.

DIR/tables/compare/<table> (Parquet), DIR/exports/compare/slipping.csv, DIR/compare.html and
DIR/manifest.json. The per-customer work (the join of the two runs, the slipping list, the
persona scoring) happens in Spark; the driver receives the migration matrix (at most 13 x 13
rows), per-KPI figures, the persona contingency table and the first rows of the slipping list.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from customer_behavior import TOOL_NAME, __version__
from customer_behavior import columns as C
from customer_behavior.compare import drift, kpis, migration, recommend, render, slipping
from customer_behavior.compare.runs import RunInfo, check_order, code_segments, load_run_info, segment_differences
from customer_behavior.config import CompareConfig
from customer_behavior.errors import CustomerBehaviorError, OutputError
from customer_behavior.local_data import literal_dataframe
from customer_behavior.runio import MANIFEST, RunDirectory, write_json
from customer_behavior.segment_table import SEGMENT_NAMES
from customer_behavior.tracking import StageTracker

TABLES = "tables/compare"
SLIPPING_CSV = "exports/compare/slipping.csv"
HTML = "compare.html"
SEGMENT_SIZE_SCHEMA = (
    "segment string, base_customers long, new_customers long, change long, pct_change double, stayed long, moved_in long, moved_out long, new_revenue double"
)


@dataclass
class CompareResult:
    path: Path
    manifest: dict[str, Any]

    @property
    def html(self) -> Path:
        return self.path / HTML


@dataclass
class _Context:
    spark: SparkSession
    base: RunInfo
    new: RunInfo
    cfg: CompareConfig
    root: Path
    tracker: StageTracker

    def path(self, *parts: str) -> str:
        return str(self.root.joinpath(*parts))

    def write(self, df: DataFrame, name: str) -> DataFrame:
        """tables/compare/<name>, read back (later steps read the written table, not the plan)."""
        target = self.path(TABLES, name)
        df.write.mode("overwrite").parquet(target)
        return self.spark.read.parquet(target)


def _records(df: DataFrame) -> list[dict[str, Any]]:
    return [row.asDict() for row in df.collect()]


def _write_csv(df: DataFrame, staging: Path, target: Path) -> None:
    """One CSV file: standard quoting (a quote inside a field is doubled), a header, nulls empty."""
    df.write.mode("overwrite").option("header", True).option("quote", '"').option("escape", '"').csv(str(staging))
    parts = sorted(staging.glob("part-*.csv"))
    if len(parts) != 1:  # pragma: no cover - the rows are in one partition
        raise OutputError(f"{SLIPPING_CSV}: written as {len(parts)} files")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(parts[0]), target)
    shutil.rmtree(staging)


def _migration(ctx: _Context, comparison: render.Comparison, results: dict[str, Any]) -> DataFrame | None:
    """The per-customer transitions and the matrix; None when the segments are not comparable."""
    spark, base, new = ctx.spark, ctx.base, ctx.new
    with ctx.tracker.stage("migration", "Segment migration: the two runs joined by customer"):
        base_rfm_df, new_rfm_df = base.table(spark, "rfm_segments"), new.table(spark, "rfm_segments")
        base_codes = [(r[C.RFM_CODE], r[C.SEGMENT]) for r in code_segments(base_rfm_df).collect()]
        new_codes = [(r[C.RFM_CODE], r[C.SEGMENT]) for r in code_segments(new_rfm_df).collect()]
        comparison.not_comparable.extend(segment_differences(base, new, base_codes, new_codes))
        if comparison.not_comparable:
            results["migration"] = {"status": "not comparable"}
            comparison.slipping_note = "Not computed: the two runs' segments are not comparable (see above)."
            return None
        transitions_df = migration.customer_transitions(base_rfm_df, new_rfm_df, base.table(spark, "clv"), new.table(spark, "clv"))
        transitions_df = ctx.write(transitions_df, "customers")
        matrix_df = ctx.write(migration.migration_matrix(transitions_df).coalesce(1), "migration")
        comparison.matrix = _records(matrix_df.orderBy(migration.FROM_SEGMENT, migration.TO_SEGMENT))
        comparison.sizes = migration.segment_sizes(comparison.matrix, list(SEGMENT_NAMES))
        ctx.write(literal_dataframe(spark, [tuple(r.values()) for r in comparison.sizes], SEGMENT_SIZE_SCHEMA).coalesce(1), "segment_changes")
        cells = comparison.matrix
        common = sum(r[C.CUSTOMERS] for r in cells if r[migration.FROM_SEGMENT] != migration.NEW_CUSTOMERS and r[migration.TO_SEGMENT] != migration.GONE)
        counts = {
            "common_customers": common,
            "new_customers": sum(r[C.CUSTOMERS] for r in cells if r[migration.FROM_SEGMENT] == migration.NEW_CUSTOMERS),
            "gone_customers": sum(r[C.CUSTOMERS] for r in cells if r[migration.TO_SEGMENT] == migration.GONE),
            "changed_segment": sum(r[C.CUSTOMERS] for r in cells if r[migration.FROM_SEGMENT] in SEGMENT_NAMES and r[migration.TO_SEGMENT] in SEGMENT_NAMES and r[migration.FROM_SEGMENT] != r[migration.TO_SEGMENT]),
        }
        if common == 0:
            comparison.not_comparable.append(
                f"BASE and NEW have no customer in common (BASE {base.describe()['source']}, NEW {new.describe()['source']}): they look like runs of different logs, "
                "so every BASE customer shows as gone and every NEW one as new"
            )
        results["migration"] = {"status": "ok", **counts, "table": f"{TABLES}/migration", "segments": comparison.sizes}
        return transitions_df


def _slipping(ctx: _Context, transitions_df: DataFrame, comparison: render.Comparison, results: dict[str, Any]) -> None:
    cfg = ctx.cfg
    with ctx.tracker.stage("slipping", f"Customers slipping from {', '.join(cfg.valuable_segments)} to a lapsing segment"):
        has_base_clv = ctx.base.has("tables/clv")
        slipping_df = slipping.slipping_customers(transitions_df, valuable=list(cfg.valuable_segments), lapsing=list(cfg.lapsing_segments), has_base_clv=has_base_clv)
        ranked_df = ctx.write(slipping.ranked(slipping_df), "slipping")
        _write_csv(slipping.export_rows(slipping.ranked(ranked_df)), Path(ctx.path("exports", "_compare_staging")), Path(ctx.path(SLIPPING_CSV)))
        comparison.slipping_summary = _records(slipping.slipping_summary(ranked_df))
        comparison.slipping_top = _records(ranked_df.orderBy(F.col(slipping.VALUE_AT_STAKE).desc(), F.col(C.CUSTOMER_ID)).limit(render.SLIPPING_SHOWN))
        customers = sum(r[C.CUSTOMERS] for r in comparison.slipping_summary)
        basis = "BASE's CLV" if has_base_clv else "net spend up to NEW (BASE has no CLV table)"
        comparison.slipping_note = (
            f"{customers:,} customers were in {', '.join(cfg.valuable_segments)} as of {ctx.base.as_of} and are in a lapsing segment "
            f"({', '.join(cfg.lapsing_segments)}) as of {ctx.new.as_of}; value at stake = {basis}. The whole list: {SLIPPING_CSV}."
        )
        results["slipping"] = {
            "customers": customers, "value_at_stake": round(sum(r[slipping.VALUE_AT_STAKE] or 0.0 for r in comparison.slipping_summary), 2),
            "value_basis": basis, "by_move": comparison.slipping_summary, "export": SLIPPING_CSV, "table": f"{TABLES}/slipping",
        }


def _kpis(ctx: _Context, comparison: render.Comparison, results: dict[str, Any]) -> None:
    with ctx.tracker.stage("kpis", "KPI deltas (revenue, customers, repeat rate, active share, CLV total)"):
        figures = {}
        for run in (ctx.base, ctx.new):
            figures[run.role] = kpis.kpi_figures(run.table(ctx.spark, "rfm_segments"), run.table(ctx.spark, "clv"), active_days=run.active_days).first().asDict()
        rows = kpis.kpi_deltas(figures["BASE"], figures["NEW"])
        ctx.write(literal_dataframe(ctx.spark, rows, kpis.DELTA_SCHEMA).coalesce(1), "kpi_deltas")
        comparison.kpis = [dict(zip(("kpi", "base", "new", "delta", "pct_change", "direction"), row)) for row in rows]
        results["kpis"] = comparison.kpis


def _personas(ctx: _Context, comparison: render.Comparison, results: dict[str, Any]) -> None:
    from customer_behavior.personas import score_personas
    from customer_behavior.personas.model import load_model

    spark, base, new = ctx.spark, ctx.base, ctx.new
    with ctx.tracker.stage("personas", "Persona drift: NEW's customers scored with BASE's persona model") as record:
        new_personas_df = new.table(spark, "personas")
        missing = [what for what, present in (("BASE has no saved persona model (model/)", base.has("model")), ("NEW has no personas table", new_personas_df is not None),
                                              ("NEW has no data/transactions", new.has("data/transactions"))) if not present]
        if missing:
            comparison.persona_note = f"Persona drift is not computed: {'; '.join(missing)}."
            results["personas"] = {"status": "skipped", "reason": comparison.persona_note}
            record.notes.append(comparison.persona_note)
            return
        try:
            model, metadata = load_model(str(base.path / "model"))
            transactions_df = spark.read.parquet(str(new.path / "data" / "transactions")).filter(F.to_date(F.col(C.EVENT_TS)) < F.lit(new.as_of))
            customers_df = spark.read.parquet(str(new.path / "data" / "customers")) if new.has("data/customers") else None
            scored_df = score_personas(model, metadata, new.table(spark, "customer_features"), transactions_df, customers_df)
            scored_df = ctx.write(scored_df.select(C.CUSTOMER_ID, C.PERSONA_NAME), "persona_scores")
        except CustomerBehaviorError as exc:
            comparison.persona_note = f"Persona drift is not computed: BASE's persona model cannot score NEW's customers ({exc})."
            results["personas"] = {"status": "failed", "reason": comparison.persona_note}
            record.notes.append(comparison.persona_note)
            return
        agreement_df = ctx.write(drift.agreement(scored_df, new_personas_df).coalesce(1), "persona_agreement")
        comparison.agreement = _records(agreement_df.orderBy(drift.BASE_MODEL_PERSONA, drift.NEW_PERSONA))
        index = drift.agreement_index(agreement_df)
        comparison.ari, comparison.ari_customers = float(index["ari"]), int(index["customers"] or 0)
        base_personas_df = base.table(spark, "personas")
        if base_personas_df is not None:
            retention_df = ctx.write(drift.persona_retention(base_personas_df, scored_df).coalesce(1), "persona_retention")
            comparison.retention = _records(retention_df.orderBy(drift.BASE_PERSONA))
        results["personas"] = {"status": "ok", "adjusted_rand_index": round(comparison.ari, 4), "customers": comparison.ari_customers, "retention": comparison.retention}


def _clv(ctx: _Context, comparison: render.Comparison, results: dict[str, Any]) -> None:
    rows = drift.clv_parameters(ctx.base.results, ctx.new.results)
    ctx.write(literal_dataframe(ctx.spark, rows, drift.CLV_PARAMETER_SCHEMA).coalesce(1), "clv_parameters")
    comparison.clv_parameters = [dict(zip(("model", "parameter", "base", "base_se", "new", "new_se", "change", "z"), row)) for row in rows]
    results["clv_parameters"] = comparison.clv_parameters


def execute(spark: SparkSession, base: RunInfo, new: RunInfo, cfg: CompareConfig, staging: Path, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Compute and write the comparison into `staging`; return its manifest."""
    started = dt.datetime.now(dt.UTC)
    ctx = _Context(spark=spark, base=base, new=new, cfg=cfg, root=staging, tracker=StageTracker(spark, progress, scope="compare/"))
    comparison = render.Comparison(base=base.describe(), new=new.describe(), not_comparable=[], kpis=[])
    results: dict[str, Any] = {}
    transitions_df = _migration(ctx, comparison, results)
    if transitions_df is not None:
        _slipping(ctx, transitions_df, comparison, results)
    _kpis(ctx, comparison, results)
    _personas(ctx, comparison, results)
    with ctx.tracker.stage("report", f"Recommendations and {HTML}"):
        _clv(ctx, comparison, results)
        changes = recommend.Changes(
            slipping=comparison.slipping_summary, sizes=comparison.sizes, kpis=comparison.kpis, ari=comparison.ari, agreement_customers=comparison.ari_customers
        )
        comparison.recommendations = recommend.recommend_changes(changes, cfg)
        results["recommendations"] = [r.to_dict() for r in comparison.recommendations]
        (staging / HTML).write_text(render.html(comparison), encoding="utf-8")
    manifest = {
        "tool": TOOL_NAME,
        "version": __version__,
        "command": "compare",
        "status": "complete",
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "base": comparison.base,
        "new": comparison.new,
        "not_comparable": comparison.not_comparable,
        "results": results,
        "outputs": {"html": HTML, "tables": TABLES, "slipping_csv": SLIPPING_CSV if "slipping" in results else None},
        "stages": ctx.tracker.to_list(),
        "total_seconds": round(sum(r.seconds for r in ctx.tracker.records), 3),
        "config": {"compare": {key: list(value) if isinstance(value, (list, tuple)) else value for key, value in vars(cfg).items()}},
    }
    write_json(staging / MANIFEST, manifest)
    return manifest


def check_runs(base_path: str | os.PathLike[str], new_path: str | os.PathLike[str]) -> tuple[RunInfo, RunInfo]:
    """Both runs found and in order, before Spark starts: one InputError line otherwise."""
    base, new = load_run_info(base_path, "BASE"), load_run_info(new_path, "NEW")
    check_order(base, new)
    return base, new


def compare_runs(
    spark: SparkSession,
    base_path: str | os.PathLike[str],
    new_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    cfg: CompareConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> CompareResult:
    """The comparison of two runs from Python: staged, then moved into place."""
    base, new = check_runs(base_path, new_path)
    run_dir = RunDirectory(output, overwrite=overwrite)
    staging = run_dir.create()
    try:
        manifest = execute(spark, base, new, cfg or CompareConfig(), staging, progress)
    except BaseException:
        run_dir.abort()
        raise
    return CompareResult(path=run_dir.commit(), manifest=manifest)
