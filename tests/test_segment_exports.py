"""Segment CSV exports are standard CSV: quotes doubled, line breaks quoted, formula-safe,
and they read back through Python's csv module and pandas to the values exported (issue #21)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pandas as pd

from customer_behavior import columns as C
from customer_behavior.config import Config
from customer_behavior.pipeline import RunContext, stage_features, stage_segments
from customer_behavior.segments import EXPORT_COLUMNS
from customer_behavior.tracking import StageTracker

# (customer id, category): each a value that broke the old exports or a spreadsheet
AWKWARD = [
    ('say "hi"', 'books "special"'),
    ("comma, inside", "garden"),
    ("line\nbreak", "toys\r\nand games"),
    ("=HYPERLINK(1)", "+cmd"),
    ("Zoë 東京", "@sum"),
    ('"', '""'),
]


def _export_rows(folder: Path) -> dict[str, dict[str, str]]:
    rows = {}
    for path in sorted(folder.glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            assert next(reader) == list(EXPORT_COLUMNS)
            for row in reader:
                assert len(row) == len(EXPORT_COLUMNS), (path.name, row)
                rows[row[0]] = dict(zip(EXPORT_COLUMNS, row))
    return rows


def test_exports_round_trip_through_csv_and_pandas(spark, tmp_path):
    rows = [
        (f"t{i}", cid, dt.datetime(2024, 1, 1 + i, 12), category, 1, 10.0 + i, 0.0, 10.0 + i, "card", "web", "completed")
        for i, (cid, category) in enumerate(AWKWARD)
    ]
    ctx = RunContext(spark=spark, cfg=Config(), root=tmp_path, tracker=StageTracker(spark))
    ctx.tables["transactions"] = spark.createDataFrame(rows, schema=C.TRANSACTIONS_SCHEMA)
    stage_features(ctx)
    stage_segments(ctx)
    folder = tmp_path / "exports" / "segments"
    text = "".join(p.read_text(encoding="utf-8") for p in folder.glob("*.csv"))
    assert '\\"' not in text  # no backslash escapes
    assert '"say ""hi"""' in text  # the quote doubled inside a quoted field

    exported = _export_rows(folder)
    expected_ids = {("'" + cid if cid[0] in "=+-@" else cid) for cid, _ in AWKWARD}
    assert set(exported) == expected_ids
    for cid, category in AWKWARD:
        row = exported["'" + cid if cid[0] in "=+-@" else cid]
        assert row[C.FAVOURITE_CATEGORY] == ("'" + category if category[0] in "=+-@" else category)
        assert row[C.ORDERS] == "1"
    assert exported["'=HYPERLINK(1)"][C.FAVOURITE_CATEGORY] == "'+cmd"
    assert exported["Zoë 東京"][C.FAVOURITE_CATEGORY] == "'@sum"

    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(folder.glob("*.csv"))]
    read_back = pd.concat(frames, ignore_index=True)
    assert list(read_back.columns) == list(EXPORT_COLUMNS)
    assert sorted(read_back[C.CUSTOMER_ID]) == sorted(exported)
    assert dict(zip(read_back[C.CUSTOMER_ID], read_back[C.FAVOURITE_CATEGORY])) == {k: v[C.FAVOURITE_CATEGORY] for k, v in exported.items()}
