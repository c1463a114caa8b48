"""The report files, their escaping, optional sections, bad input and the `report` command."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest
from report_support import EVIL_CATEGORY, bare_copy, report_run

from customer_behavior import api
from customer_behavior import columns as C
from customer_behavior.cli import _results_summary, main
from customer_behavior.errors import InputError
from customer_behavior.report import load_run, rebuild, render, script_json, write_report
from customer_behavior.runio import read_manifest

ALL_CHARTS = {
    "segments", "rf_grid", "persona_profiles", "persona_sweep", "day_hour", "weekend", "category_segment",
    "category_persona", "payments", "monthly", "cohorts", "affinities", "clv",
}


@pytest.fixture(scope="module")
def run(spark, synthetic_small, tmp_path_factory):
    return report_run(spark, synthetic_small, tmp_path_factory)


@pytest.fixture(scope="module")
def html(run):
    return (run / "report" / "report.html").read_text(encoding="utf-8")


def _charts(html_text: str) -> set[str]:
    return set(re.findall(r'data-chart="([a-z_]+)"', html_text))


def test_report_has_every_chart_and_inlines_plotly_once(html):
    assert _charts(html) == ALL_CHARTS
    assert html.count("plotly.js v") == 1 or html.count("* plotly.js") == 1
    assert "<script src" not in html and "<link" not in html  # nothing is fetched
    charts = json.loads(re.search(r'<script type="application/json" id="report-charts">(.*?)</script>', html, re.S).group(1))
    assert set(charts) == ALL_CHARTS
    assert all(fig["data"] for fig in charts.values())


def test_kpis_and_recommendations_are_on_top(html, run):
    kpis = read_manifest(run)["results"]["kpis"]
    top = html[: html.index('id="section-segments"')]
    assert f"{kpis['customers']:,}" in top and f"{kpis['orders']:,}" in top
    assert top.count('class="rec"') >= 3
    assert 'data-rule="win_back_segment"' in top


def test_a_script_tag_in_the_data_is_shown_as_text(html, run):
    assert EVIL_CATEGORY not in html  # neither in the tables nor in the embedded chart JSON
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # escaped table cell
    # inside the <script> JSON: entity-escaped for Plotly (which shows entities as characters), then JSON-escaped
    assert "\\u0026lt;script\\u0026gt;alert(1)" in html
    assert html.count("</script>") == 4  # error catcher, chart JSON, plotly.js, report code: nothing else closes a script
    markdown = (run / "report" / "report.md").read_text(encoding="utf-8")
    assert EVIL_CATEGORY not in markdown


def test_script_json_cannot_close_its_script():
    text = script_json({"name": "</script><script>alert(1)</script>", "x": "a\u2028b & <!--"})
    assert "<" not in text and ">" not in text and "\u2028" not in text
    assert json.loads(text) == {"name": "</script><script>alert(1)</script>", "x": "a\u2028b & <!--"}


def test_insights_json_fields(run):
    doc = json.loads((run / "report" / "insights.json").read_text(encoding="utf-8"))
    assert doc["schema_version"] == 1
    assert doc["sections"] == {"personas": True, "clv": True}
    assert {"revenue", "customers", "orders", "aov", "repeat_rate", "active_share", "top_revenue_share", "at_risk_revenue"} <= set(doc["kpis"])
    assert doc["kpis"] == read_manifest(run)["results"]["kpis"]
    for rec in doc["recommendations"]:
        assert {"rule", "title", "action", "target_type", "target", "customers", "value_at_stake", "value_basis", "triggers"} <= set(rec)
        assert rec["triggers"] and rec["customers"] >= 0
    assert sum(s["customers"] for s in doc["segments"]) == doc["kpis"]["customers"]
    assert doc["highlights"]["peak_month"]["month"][5:] in ("11", "12")  # the planted November/December peak


def test_without_personas_and_clv_the_sections_are_omitted_with_a_note(run, tmp_path):
    bare = bare_copy(run, tmp_path / "bare")
    rebuild(bare)
    html = (bare / "report" / "report.html").read_text(encoding="utf-8")
    assert _charts(html) == ALL_CHARTS - {"persona_profiles", "persona_sweep", "category_persona", "clv"}
    for key in ("persona_profiles", "persona_sweep", "category_persona", "clv"):
        assert f'data-missing-chart="{key}"' in html
    assert "CLV is not in this run" in html and "Personas are not in this run" in html
    doc = json.loads((bare / "report" / "insights.json").read_text(encoding="utf-8"))
    assert doc["sections"] == {"personas": False, "clv": False}
    assert doc["personas"] is None
    assert not [r for r in doc["recommendations"] if r["rule"] in ("churn_risk", "at_risk_persona")]


def test_empty_segments_and_a_category_in_no_segment_render_as_empty(run, tmp_path):
    data = load_run(run)
    data.segments = data.segments.iloc[0:0]
    data.rf_grid = data.rf_grid.iloc[0:0]
    categories = data.patterns["categories"]
    orphan = categories[categories[C.GROUP_TYPE] == "all"].head(1).assign(**{C.CATEGORY: "orphan"})
    data.patterns["categories"] = pd.concat([categories, orphan], ignore_index=True)
    paths = write_report(data, tmp_path / "report")
    html = open(paths["html"], encoding="utf-8").read()
    assert 'data-missing-chart="segments"' in html and "No customers were segmented." in html
    charts = json.loads(re.search(r'id="report-charts">(.*?)</script>', html, re.S).group(1))
    heatmap = charts["category_segment"]["data"][0]
    column = heatmap["x"].index("orphan")
    assert all(row[column] is None for row in heatmap["z"])  # an empty column, not a crash


def test_missing_tables_are_named_in_one_line(run, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    shutil.rmtree(broken / "tables" / "patterns" / "cohorts")
    shutil.rmtree(broken / "tables" / "insights" / "kpis")
    with pytest.raises(InputError, match="missing tables: tables/insights/kpis, tables/patterns/cohorts"):
        rebuild(broken)
    assert main(["report", str(broken)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "tables/patterns/cohorts" in err and "Traceback" not in err


def test_a_directory_that_is_not_a_run_is_refused(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 1
    assert "is not a run of customer-behavior" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nowhere")]) == 1
    assert "is not a directory" in capsys.readouterr().err


def test_report_command_and_api_rebuild_the_report(run, capsys):
    (run / "report" / "report.md").unlink()
    assert main(["report", str(run)]) == 0
    assert (run / "report" / "report.md").is_file()
    assert "report.html" in capsys.readouterr().out
    paths = api.report(run)
    assert set(paths) == {"html", "markdown", "insights"}


def test_run_summary_shows_kpis_segments_personas_and_the_report(run):
    manifest = read_manifest(run)
    lines = "\n".join(_results_summary(manifest, run))
    assert "repeat rate" in lines and "Champions" in lines and "personas" in lines
    assert f"Report: {run / 'report' / 'report.html'}" in lines
    assert manifest["results"]["patterns"]["affinity_rules"] > 0


def test_markdown_cells_are_escaped():
    assert render.md_escape("a|b <i>x</i>\nnext") == "a\\|b &lt;i&gt;x&lt;/i&gt; next"


def test_clv_holdout_metrics_from_the_manifest_are_shown(run, tmp_path):
    data = load_run(run)
    data.meta["clv_holdout"] = {"status": "ok", "mae": 0.8125, "customers": 1200, "nested": {"ignored": 1}}
    html = open(write_report(data, tmp_path / "report")["html"], encoding="utf-8").read()
    assert 'id="clv-holdout">Holdout check of the CLV model: status = ok; mae = 0.81; customers = 1,200</p>' in html


def test_a_log_without_categories_payments_or_times_leaves_their_sections_out(run, tmp_path):
    """Issue 15: sections whose columns the log lacks are left out with one line, date-only
    timestamps get a day-of-week chart, and the data-quality note names the kept identical lines."""
    from customer_behavior.report import data_meta, left_out_sections

    results = {
        "ingest": {"missing_optional": {"category": "...", "payment_method": "..."}, "transactions_rows": {"read": 120, "quarantined": 4}, "identical_lines_kept": 7},
        "features": {"has_time_of_day": False},
    }
    data = load_run(run)
    data.meta.update(data_meta(results))
    assert left_out_sections(data.meta) == {
        "category_segment": "Left out: the log has no category column.",
        "category_persona": "Left out: the log has no category column.",
        "affinities": "Left out: the log has no category column.",
        "payments": "Left out: the log has no payment_method column.",
    }
    paths = write_report(data, tmp_path / "report")
    html = open(paths["html"], encoding="utf-8").read()
    assert _charts(html) == ALL_CHARTS - {"category_segment", "category_persona", "affinities", "payments"}
    assert html.count("Left out: the log has no category column.") == 3
    assert 'data-missing-chart="payments">Left out: the log has no payment_method column.' in html
    assert "Orders by day of week (the timestamps carry no time of day)." in html
    assert "7 identical lines were kept as repeated purchases" in html and "4 of 120 input rows were quarantined" in html
    assert "7 identical lines were kept" in open(paths["markdown"], encoding="utf-8").read()
    charts = json.loads(re.search(r'<script type="application/json" id="report-charts">(.*?)</script>', html, re.S).group(1))
    day_chart = charts["day_hour"]["data"][0]  # a bar per weekday, no hours
    assert (day_chart["type"], len(day_chart["x"])) == ("bar", 7)
