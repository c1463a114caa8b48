"""Wires the stages together and owns every action (write, count, cache).

The stage modules hold pure DataFrame -> DataFrame functions; this package decides what is
computed, cached, written and recorded in the run manifest:

- `context`: the typed `RunContext` (with its `ObservationWindow`) every stage reads and fills;
- `stages/`: one module per stage, each a `stage_*(ctx)` function;
- `runner`: the run lifecycle (staging directory, stages, manifest, commit);
- `manifest`: what the run manifest holds.

`RUN_STAGES` is the default stage list; `runner.execute` reads it from this module at call
time, so a caller (a test) may replace it (`monkeypatch.setattr(pipeline, "RUN_STAGES", [...])`)
or pass `stages=` explicitly.
"""

from __future__ import annotations

from customer_behavior import columns as C
from customer_behavior.pipeline.context import DATA_DIR, MODEL_DIR, TABLES_DIR, ObservationWindow, RunContext, RunResult, Stage, write_parquet
from customer_behavior.pipeline.stages.challenger import stage_challenger
from customer_behavior.pipeline.stages.clv import stage_clv
from customer_behavior.pipeline.stages.features import stage_features
from customer_behavior.pipeline.stages.holdout import stage_holdout
from customer_behavior.pipeline.stages.insights import stage_insights
from customer_behavior.pipeline.stages.patterns import stage_patterns
from customer_behavior.pipeline.stages.personas import make_score_stage, stage_personas
from customer_behavior.pipeline.stages.report import stage_report
from customer_behavior.pipeline.stages.segments import score_segments, stage_segments
from customer_behavior.pipeline.stages.source import stage_generate, stage_generate_only, stage_ingest, stage_source, write_synthetic

RUN_STAGES: list[Stage] = [
    stage_source, stage_features, stage_segments, stage_personas, stage_holdout, stage_challenger, stage_clv, stage_patterns, stage_insights,
    stage_report,
]
GENERATE_STAGES: list[Stage] = [stage_generate_only]

from customer_behavior.pipeline.manifest import versions  # noqa: E402
from customer_behavior.pipeline.runner import execute, execute_dates, make_reuse_source_stage, run_dates, run_pipeline  # noqa: E402

__all__ = [
    "C", "DATA_DIR", "GENERATE_STAGES", "MODEL_DIR", "RUN_STAGES", "TABLES_DIR", "ObservationWindow", "RunContext", "RunResult", "Stage",
    "execute", "execute_dates", "make_reuse_source_stage", "make_score_stage", "run_dates", "run_pipeline", "score_segments", "stage_challenger", "stage_clv",
    "stage_features", "stage_generate", "stage_generate_only", "stage_holdout", "stage_ingest", "stage_insights", "stage_patterns",
    "stage_personas", "stage_report", "stage_segments", "stage_source", "versions", "write_parquet", "write_synthetic",
]
