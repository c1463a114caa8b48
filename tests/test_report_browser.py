"""report.html in headless Chromium: no console errors, every chart drawn, a screenshot saved.

Uses Debian's `chromium` (no browser download): `--dump-dom` after a virtual time budget gives the
DOM once the page's scripts have run (every chart div is marked data-rendered="1" by the report's
own code when Plotly has drawn it), and `--enable-logging=stderr` prints every console message
as a CONSOLE line. The screenshot goes to test-artifacts/report.png.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from report_support import EVIL_CATEGORY, report_run

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--virtual-time-budget=30000",
]


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def save_screenshot(profile: Path, page: str, name: str, window_size: str) -> None:
    """A PNG of `page` in test-artifacts/<name>."""
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / name
    screenshot.unlink(missing_ok=True)
    shot = _chromium(profile, f"--screenshot={screenshot}", f"--window-size={window_size}", "--hide-scrollbars", page)
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")
def test_report_renders_in_chromium_without_console_errors(spark, synthetic_small, tmp_path_factory, tmp_path):
    run = report_run(spark, synthetic_small, tmp_path_factory)
    page = (run / "report" / "report.html").resolve().as_uri()

    dom_run = _chromium(tmp_path / "profile-dom", "--enable-logging=stderr", "--v=0", "--dump-dom", page)
    dom = dom_run.stdout
    assert dom_run.returncode == 0, dom_run.stderr[-2000:]
    console = [line for line in dom_run.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], "console messages:\n" + "\n".join(console[:20])
    assert re.search(r"<html[^>]*data-js-errors", dom) is None  # the page's own error catcher saw nothing

    charts = re.findall(r'<div class="chart[^"]*"[^>]*data-chart="([a-z_]+)"[^>]*>', dom)
    assert len(charts) == 13
    rendered = dict(re.findall(r'data-chart="([a-z_]+)"[^>]*data-rendered="([^"]*)"', dom))
    assert {key: rendered.get(key) for key in charts} == {key: "1" for key in charts}
    assert dom.count('class="main-svg"') >= len(charts)  # Plotly drew an SVG in each
    assert 'data-charts-ready="1"' in dom
    assert EVIL_CATEGORY not in dom  # stayed a text node: no script element was created from the data

    save_screenshot(tmp_path / "profile-shot", page, "report.png", "1400,4000")
