"""The report stage: report.html, report.md and insights.json from the run's tables."""

from __future__ import annotations

from pathlib import Path

from customer_behavior.pipeline.context import RunContext


def stage_report(ctx: RunContext) -> None:
    from customer_behavior import report

    with ctx.tracker.stage("report", "Render report.html, report.md and insights.json"):
        # the features stage's window; a run without that stage (the test harness) may record "as_of" itself
        as_of = ctx.window.as_of.isoformat() if ctx.window is not None else ctx.results.get("as_of")
        # what `customer-behavior report RUN` reads from the manifest, from the run's results so far
        # (not the staging path: the run is moved into place after this stage)
        manifest_so_far = {"seed": ctx.cfg.generate.seed, "results": ctx.results, "stages": ctx.tracker.to_list()}
        meta = report.run_meta(manifest_so_far, ctx.root) | {"run": None, "as_of": str(as_of) if as_of else None}
        data = report.load_tables(ctx.root, meta=meta)
        paths = report.write_report(data, ctx.path(report.REPORT_DIR), ctx.cfg.insights)
        ctx.results["report"] = {key: str(Path(p).relative_to(ctx.root)) for key, p in paths.items()}
        ctx.results["report"]["sections_left_out"] = report.left_out_sections(meta)
