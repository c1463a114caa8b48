"""The features and segments stages end to end on the 5,000 generated customers:
tables, summary, per-segment CSV exports, manifest results and the planted truth."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from customer_behavior import columns as C
from customer_behavior.config import Config, with_overrides
from customer_behavior.errors import InputError
from customer_behavior.pipeline import RunContext, stage_features, stage_segments
from customer_behavior.segment_table import LAPSED_SEGMENTS, SEGMENT_NAMES, segment_slug
from customer_behavior.segments import EXPORT_COLUMNS
from customer_behavior.tracking import StageTracker


@pytest.fixture(scope="module")
def run(spark, synthetic_small, tmp_path_factory):
    root = tmp_path_factory.mktemp("rfm_run")
    ctx = RunContext(spark=spark, cfg=Config(), root=root, tracker=StageTracker(spark))
    ctx.tables["transactions"] = synthetic_small["transactions"]
    ctx.tables["truth"] = synthetic_small["truth"]
    stage_features(ctx)
    stage_segments(ctx)
    return ctx


def test_tables_and_row_accounting(run):
    features_df = run.spark.read.parquet(run.path("tables", "customer_features"))
    rfm = run.spark.read.parquet(run.path("tables", "rfm_segments")).toPandas()
    n = features_df.count()
    assert n == run.rows["customers_with_features"] == len(rfm) == rfm[C.CUSTOMER_ID].nunique()
    # every generated customer is either featured or counted as having no order
    assert n + run.rows["customers_without_orders"] == 5_000
    assert set(rfm[C.SEGMENT]) <= set(SEGMENT_NAMES)
    assert rfm[C.R_SCORE].between(1, 5).all() and rfm[C.F_SCORE].between(1, 5).all()
    assert run.results["features"]["as_of"] == (dt.date.fromisoformat(run.results["features"]["last_event_day"]) + dt.timedelta(days=1)).isoformat()


def test_summary_in_results_adds_up(run):
    summary = run.results["segments"]["summary"]
    assert [row[C.SEGMENT] for row in summary] == list(SEGMENT_NAMES)
    assert sum(row[C.CUSTOMERS] for row in summary) == run.rows["customers_with_features"]
    assert sum(row[C.CUSTOMER_SHARE] for row in summary) == pytest.approx(1.0, abs=1e-5)
    assert sum(row[C.REVENUE_SHARE] for row in summary) == pytest.approx(1.0, abs=1e-5)
    champions = summary[0]
    lost = summary[-1]
    assert champions[C.MEAN_RECENCY_DAYS] < lost[C.MEAN_RECENCY_DAYS]
    assert champions[C.MEAN_F_SCORE] > lost[C.MEAN_F_SCORE]


def test_one_csv_per_segment_with_every_customer_once(run):
    folder = Path(run.path("exports", "segments"))
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{segment_slug(name)}.csv" for name in SEGMENT_NAMES)
    seen = []
    for name in SEGMENT_NAMES:
        with open(folder / f"{segment_slug(name)}.csv", newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            assert next(reader) == list(EXPORT_COLUMNS)
            rows = list(reader)
        assert all(row[1] == name for row in rows)
        assert [row[0] for row in rows] == sorted(row[0] for row in rows)
        seen.extend(row[0] for row in rows)
    assert len(seen) == len(set(seen)) == run.rows["customers_with_features"]
    assert not Path(run.path("exports", "_segments_staging")).exists()


def test_planted_truth_lands_where_it_should(run):
    planted = run.results["segments"]["planted_truth"]
    assert planted["churned_in_lapsed_share"] >= 0.8
    assert planted["top_persona_in_top_share"] >= 0.8
    confusion = planted["confusion"]
    assert sum(sum(row.values()) for row in confusion.values()) == run.rows["customers_with_features"]
    # the one-time browsers (short planted lifetimes) are nearly all lapsed
    browsers = confusion["occasional_browser"]
    assert sum(browsers[name] for name in LAPSED_SEGMENTS) >= 0.85 * sum(browsers.values())


def test_as_of_before_first_transaction_stops_the_stage(spark, synthetic_small, tmp_path):
    cfg = with_overrides(Config(), {"features.as_of": "2000-01-01"})
    ctx = RunContext(spark=spark, cfg=cfg, root=tmp_path, tracker=StageTracker(spark))
    ctx.tables["transactions"] = synthetic_small["transactions"]
    with pytest.raises(InputError, match=r"^features.as_of: 2000-01-01 is not after the first transaction \(2023-01-01\)"):
        stage_features(ctx)
    assert not Path(ctx.path("tables", "customer_features")).exists()
