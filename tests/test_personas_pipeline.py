"""The personas stage on generated data: tables, model, manifest results, ARI vs the truth."""

from __future__ import annotations

from pathlib import Path

from customer_behavior import columns as C
from customer_behavior.config import Config, PersonasConfig
from customer_behavior.pipeline import DATA_DIR, RunContext, stage_features, stage_personas, stage_segments, write_parquet
from customer_behavior.personas.model import METADATA_FILE, read_metadata
from customer_behavior.tracking import StageTracker


def test_stage_personas_on_generated_customers(spark, synthetic_small, tmp_path):
    # a short sweep around the planted 7, on a 2,000-customer hash sample of the 5,000
    cfg = Config(personas=PersonasConfig(k_min=6, k_max=8, restarts=2, sweep_sample_size=2_000))
    ctx = RunContext(spark=spark, cfg=cfg, root=Path(tmp_path), tracker=StageTracker(spark))
    ctx.tables["transactions"] = synthetic_small["transactions"]
    ctx.tables["customers"] = synthetic_small["customers"]
    write_parquet(synthetic_small["truth"], ctx.path(DATA_DIR, "truth"))
    stage_features(ctx)
    stage_segments(ctx)
    stage_personas(ctx)

    result = ctx.results["personas"]
    assert 6 <= result["k"] <= 8
    assert result["sweep_sample_size"] < 5_000
    assert result["adjusted_rand_index"] >= 0.75
    personas_df = spark.read.parquet(ctx.path("tables", "personas"))
    assert personas_df.columns == [C.CUSTOMER_ID, C.CLUSTER, C.PERSONA_NAME]
    assert personas_df.count() == result["customers"]
    profiles = spark.read.parquet(ctx.path("tables", "persona_profiles")).collect()
    assert len(profiles) == result["k"] and len({r[C.PERSONA_NAME] for r in profiles}) == result["k"]
    assert sum(r["customer_share"] for r in profiles) == 1.0 or abs(sum(r["customer_share"] for r in profiles) - 1.0) < 1e-9
    assert all(r["dominant_segments"] for r in profiles)  # the segments stage ran before
    sweep = spark.read.parquet(ctx.path("tables", "persona_sweep")).collect()
    assert sorted(r["k"] for r in sweep) == [6, 7, 8] and [r["k"] for r in sweep if r["is_chosen"]] == [result["k"]]
    metadata = read_metadata(ctx.path("model"))
    assert (Path(ctx.path("model")) / METADATA_FILE).exists()
    assert metadata["rfm"]["cut_points"] == ctx.results["segments"]["cut_points"]
    assert "adjusted Rand index" in ctx.summary_lines[-1]
