"""The report stage: report.html, report.md and insights.json from the run's tables."""

from __future__ import annotations

from pathlib import Path

from customer_behavior.pipeline.context import RunContext
from customer_behavior.tracking import degradation_notes


def stage_report(ctx: RunContext) -> None:
    from customer_behavior import report

    with ctx.tracker.stage("report", "Render report.html, report.md and insights.json"):
        # the features stage's window; a run without that stage (the test harness) may record "as_of" itself
        as_of = ctx.window.as_of.isoformat() if ctx.window is not None else ctx.results.get("as_of")
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
