"""The live progress line: on a terminal it shows the stage, its Spark jobs done / running and
the elapsed time while the stage runs; not on a terminal, only the plain lines; without a
SparkContext (Spark Connect) only the elapsed time."""

from __future__ import annotations

import io
import re
import time

from customer_behavior.progress import CLEAR_LINE, TerminalProgress, job_counter
from customer_behavior.tracking import StageTracker


class Terminal(io.StringIO):
    """A real text stream that says it is a terminal, as sys.stdout does in a console."""

    def isatty(self) -> bool:
        return True


def _stage_with_jobs(spark, progress: TerminalProgress, name: str) -> str:
    tracker = StageTracker(spark, progress)
    with tracker.stage(name, "three jobs, then a pause"):
        for _ in range(3):
            spark.range(10).collect()  # one job each (no shuffle)
        time.sleep(0.6)
    return progress.stream.getvalue()


def test_live_line_on_a_terminal_shows_jobs_and_elapsed_time(spark):
    output = _stage_with_jobs(spark, TerminalProgress(Terminal(), refresh_seconds=0.1), "demo")
    lines = output.split("\n")
    assert lines[0] == "demo       three jobs, then a pause ..."
    live = re.findall(r"\r\x1b\[Kdemo +(\d+) s   Spark jobs (\d+) done, (\d+) running", output)
    assert live, output
    assert live[-1][1:] == ("3", "0")  # after the three jobs and before the stage ends
    # the live line is cleared before the stage's last line
    assert re.search(r"\r\x1b\[Kdemo       ok in [\d.]+ s \(3 Spark jobs\)$", lines[1]), lines[1]


def test_not_a_terminal_prints_only_the_lines(spark):
    output = _stage_with_jobs(spark, TerminalProgress(io.StringIO(), refresh_seconds=0.1), "quiet")
    assert "\r" not in output and "\x1b" not in output
    assert output.splitlines()[0] == "quiet      three jobs, then a pause ..."
    assert re.fullmatch(r"quiet      ok in [\d.]+ s \(3 Spark jobs\)", output.splitlines()[1])


class NoSparkContext:
    """What a Spark Connect session looks like to the status line: sparkContext raises."""

    @property
    def sparkContext(self):
        raise RuntimeError("[JVM_ATTRIBUTE_NOT_SUPPORTED] sparkContext is not supported in Spark Connect")


def test_without_a_spark_context_the_line_shows_elapsed_time_only():
    assert job_counter(NoSparkContext(), "g") is None
    progress = TerminalProgress(Terminal(), refresh_seconds=0.05)
    with progress.live(NoSparkContext(), "connect", "g"):
        time.sleep(0.3)
    shown = [part for part in progress.stream.getvalue().split(CLEAR_LINE) if part]
    assert shown and all(re.fullmatch(r"connect +\d+ s", part) for part in shown), shown
