"""benchmarks/run.py helpers that need no Spark: the DuckDB RFM scoring and the docs table markers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

duckdb = pytest.importorskip("duckdb")
BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench_run():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_duckdb_scores_follow_the_value_based_rule(bench_run, tmp_path):
    # 10 customers; orders 1..10, so with 5 bins the exact quantiles (quantile_disc) are 2, 4, 6, 8
    # and F = 1 + cut points strictly below: orders 1,2 -> 1; 3,4 -> 2; ...; 9,10 -> 5.
    # recency 10..100 days (recent = high): cuts 20, 40, 60, 80, R = 1 + cut points strictly above,
    # so a recency equal to a cut point gets the lower score (10 -> 5, 20 and 30 -> 4, ..., 80+ -> 1).
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE codes AS SELECT r || f || m AS rfm_code, 'S' || r || f || m AS segment FROM range(1, 6) a(r), range(1, 6) b(f), range(1, 6) c(m)")
    features = tmp_path / "features.parquet"
    con.execute(
        f"COPY (SELECT 'c' || i AS customer_id, 10 * i AS recency_days, i AS orders, 100.0 * i AS monetary, 100.0 AS avg_order_value "
        f"FROM range(1, 11) t(i)) TO '{features}' (FORMAT PARQUET)"
    )
    con.execute(bench_run.duckdb_segments_sql(str(features), str(tmp_path), 5))
    rows = con.execute("SELECT customer_id, r_score, f_score, m_score, segment FROM rfm ORDER BY orders").fetchall()
    assert [r[2] for r in rows] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [r[1] for r in rows] == [5, 4, 4, 3, 3, 2, 2, 1, 1, 1]
    assert rows[0] == ("c1", 5, 1, 1, "S511")
    summary = con.execute(f"SELECT sum(customers), sum(customer_share) FROM '{tmp_path / 'segment_summary.parquet'}'").fetchone()
    assert summary[0] == 10 and summary[1] == pytest.approx(1.0)


def test_docs_table_is_replaced_between_the_markers_only(bench_run, tmp_path, monkeypatch):
    doc = tmp_path / "performance.md"
    doc.write_text(f"# Performance\n\nhand-written before\n\n{bench_run.BEGIN}\nold table\n{bench_run.END}\n\nhand-written after\n")
    monkeypatch.setattr(bench_run, "DOC", doc)
    monkeypatch.setattr(bench_run, "markdown_table", lambda results: f"NEW TABLE of {len(results)}")
    bench_run.write_doc([{}, {}])
    text = doc.read_text()
    assert "hand-written before" in text and "hand-written after" in text
    assert "old table" not in text and "NEW TABLE of 2" in text
    assert text.count(bench_run.BEGIN) == 1 and text.count(bench_run.END) == 1
