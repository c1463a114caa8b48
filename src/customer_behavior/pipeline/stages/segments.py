"""The segments stage: R/F/M scores, the named RFM segments, their summary and the per-segment
CSV exports for campaigns; `score_segments` assigns segments with a saved model's cut points."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from customer_behavior import columns as C
from customer_behavior import segments
from customer_behavior.errors import OutputError
from customer_behavior.pipeline.context import TABLES_DIR, RunContext, truth_df, write_parquet
from customer_behavior.segment_table import SegmentTable, load_segment_table, parse_segment_table


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
        planted_df = truth_df(ctx)
        if planted_df is not None:
            count_rows = [r.asDict() for r in segments.persona_segment_counts(rfm_df, planted_df).collect()]
            results["planted_truth"] = segments.summarise_planted_truth(count_rows, table.names())
            for line in segments.format_confusion(results["planted_truth"]):
                ctx.tracker.progress(line)
        ctx.results["segments"] = results


def rfm_scoring(ctx: RunContext) -> dict[str, Any] | None:
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
