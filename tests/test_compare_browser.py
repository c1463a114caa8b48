"""compare.html in headless Chromium (as tests/test_report_browser.py does for report.html):
no console errors, the Sankey and the segment-size chart drawn, a screenshot saved."""

from __future__ import annotations

import re

import pytest
from compare_support import comparison
from test_report_browser import CHROMIUM, _chromium, save_screenshot

pytestmark = pytest.mark.browser


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")
def test_compare_renders_in_chromium_without_console_errors(spark, tmp_path_factory, tmp_path):
    page = (comparison(spark, tmp_path_factory) / "compare.html").resolve().as_uri()
    dom_run = _chromium(tmp_path / "profile-dom", "--enable-logging=stderr", "--v=0", "--dump-dom", page)
    dom = dom_run.stdout
    assert dom_run.returncode == 0, dom_run.stderr[-2000:]
    console = [line for line in dom_run.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], "console messages:\n" + "\n".join(console[:20])
    assert re.search(r"<html[^>]*data-js-errors", dom) is None
    rendered = dict(re.findall(r'data-chart="([a-z_]+)"[^>]*data-rendered="([^"]*)"', dom))
    assert rendered == {"migration": "1", "segment_sizes": "1"}
    assert 'class="sankey"' in dom  # plotly drew the Sankey's nodes and links
    assert 'data-charts-ready="1"' in dom

    save_screenshot(tmp_path / "profile-shot", page, "compare.png", "1400,3000")
