"""A run costs what its data costs: the number of Spark jobs of every stage is bounded
(personas at most 60, every other stage at most 40) whatever the data, as the manifest
records it. Job counts are deterministic for a given input and configuration, so they
can be asserted; times cannot and are measured in benchmarks/ instead.

One run of the whole pipeline through `run --input` on a CSV of 5,000 generated
customers' transactions (the ingest stage included), with the default configuration."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from markupsafe import escape as html_escape

from customer_behavior import pipeline
from customer_behavior.cli import main
from customer_behavior.config import Config, InputConfig
from customer_behavior.runio import read_manifest

PERSONAS_MAX_JOBS = 60
STAGE_MAX_JOBS = 40


@pytest.fixture(scope="module")
def csv_run(spark, synthetic_small, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("job_bounds")
    csv_dir = root / "input"
    synthetic_small["transactions"].coalesce(1).write.option("header", True).csv(str(csv_dir))
    cfg = dataclasses.replace(Config(), input=InputConfig(path=str(csv_dir), format="csv"))
    # its own job groups: the suite's session also ran other pipelines, whose stages share the names
    pipeline.execute(spark, cfg, root / "run", job_scope="job-bounds/")
    return root / "run"


@pytest.fixture(scope="module")
def csv_run_manifest(csv_run):
    return read_manifest(csv_run)


def test_every_stage_runs_a_bounded_number_of_spark_jobs(csv_run_manifest):
    jobs = {stage["name"]: stage["spark"]["jobs"] for stage in csv_run_manifest["stages"]}
    assert list(jobs) == ["ingest", "features", "segments", "personas", "holdout", "challenger", "clv", "patterns", "insights", "report"]
    assert all(stage["status"] == "ok" for stage in csv_run_manifest["stages"])
    assert 0 < jobs["personas"] <= PERSONAS_MAX_JOBS, jobs
    over = {name: n for name, n in jobs.items() if name not in ("personas", "clv") and n > STAGE_MAX_JOBS}
    assert over == {}, jobs


def test_clv_stage_runs_a_bounded_number_of_spark_jobs(csv_run_manifest):
    # its own test: the clv stage (models, evaluation) is being extended in issue 19, which bounds it
    jobs = {stage["name"]: stage["spark"]["jobs"] for stage in csv_run_manifest["stages"]}
    assert 0 < jobs["clv"] <= STAGE_MAX_JOBS, jobs


def test_the_sweep_ran_on_the_driver_over_folds(csv_run_manifest):
    result = csv_run_manifest["results"]["personas"]
    assert result["sweep_sample_size"] == result["customers"]  # 5,000 customers: all of them in the sample
    assert 2 <= result["k"] <= 10


def test_report_command_shows_the_as_of_date_of_the_real_manifest(csv_run, csv_run_manifest):
    # the day after the last event of the generated window (2023-01-01 .. 2024-12-31), as the features stage recorded it
    assert csv_run_manifest["results"]["features"]["as_of"] == "2025-01-01"
    (csv_run / "report" / "report.html").unlink()
    assert main(["report", str(csv_run)]) == 0
    assert "; as of 2025-01-01." in (csv_run / "report" / "report.html").read_text(encoding="utf-8")


def test_the_report_of_the_run_shows_the_clv_evaluation_and_the_challenger(csv_run, csv_run_manifest):
    # the report written by the run itself (not `report RUN`): the models on the holdout, the intervals, the challenger's verdict and table
    html = (csv_run / "report" / "report.html").read_text(encoding="utf-8")
    markdown = (csv_run / "report" / "report.md").read_text(encoding="utf-8")
    challenger = csv_run_manifest["results"]["challenger"]
    assert challenger["status"] == "ok" and {m["model"] for m in challenger["models"]} == {"gbt", "mbgnbd", "bgnbd", "paretonbd"}
    for table_id in ("table-clv-models", "table-clv-intervals", "table-challenger"):
        assert f'id="{table_id}"' in html, table_id
    verdict = html.split('id="challenger-verdict">', 1)[1].split("</p>", 1)[0]
    assert f"judged on {challenger['test_customers']:,} others" in verdict
    assert str(html_escape(challenger["verdict"])) in verdict
    assert "## CLV: the ML challenger against the probabilistic models" in markdown
