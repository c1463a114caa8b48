"""What the terminal shows while a run goes: its lines, and one live line per running stage.

`TerminalProgress` is the progress callback the CLI hands to the pipeline: called with a
message, it prints the message on its own line; while a stage runs (`StageTracker` enters
its `live` context) it keeps one status line up to date:

    personas     41 s   Spark jobs 37 done, 1 running   tasks 3/8

read from Spark's status tracker (the stage's job group). Where there is no terminal (a
pipe, a file, CI) the live line stays off and the output is the plain lines; where the
session has no SparkContext (Spark Connect) there is no status tracker, and the live line
shows the elapsed time alone.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

REFRESH_SECONDS = 1.0
CLEAR_LINE = "\r\x1b[K"


def job_counter(spark: Any, group: str) -> Callable[[], str] | None:
    """A function giving "Spark jobs N done, M running   tasks a/b" for `group`, or None
    without a status tracker (Spark Connect sessions have no sparkContext)."""
    try:
        tracker = spark.sparkContext.statusTracker()
    except Exception:  # noqa: BLE001 - no SparkContext here: no job counts, not an error
        return None

    def counts() -> str:
        job_ids = set(tracker.getJobIdsForGroup(group))
        running = job_ids & set(tracker.getActiveJobsIds())
        text = f"Spark jobs {len(job_ids) - len(running)} done, {len(running)} running"
        done = total = 0
        for stage_id in tracker.getActiveStageIds():
            info = tracker.getStageInfo(stage_id)
            if info is not None:
                done, total = done + info.numCompletedTasks, total + info.numTasks
        return f"{text}   tasks {done}/{total}" if total else text

    return counts


class TerminalProgress:
    """Prints the pipeline's messages; on a terminal, also a live status line per stage."""

    def __init__(self, stream: TextIO | None = None, *, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.refresh_seconds = refresh_seconds
        self.is_terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self._lock = threading.Lock()
        self._showing = False  # a live line is on the screen

    def __call__(self, message: str) -> None:
        with self._lock:
            self._clear()
            self.stream.write(message + "\n")
            self.stream.flush()

    def _clear(self) -> None:
        if self._showing:
            self.stream.write(CLEAR_LINE)
            self._showing = False

    def _show(self, text: str) -> None:
        with self._lock:
            self.stream.write(CLEAR_LINE + text)
            self.stream.flush()
            self._showing = True

    @contextlib.contextmanager
    def live(self, spark: Any, stage: str, group: str) -> Iterator[None]:
        """While the block runs, refresh the stage's status line (nothing when not a terminal)."""
        if not self.is_terminal:
            yield
            return
        counts = job_counter(spark, group)
        started = time.perf_counter()
        stop = threading.Event()

        def refresh() -> None:
            while not stop.wait(self.refresh_seconds):
                try:
                    detail = counts() if counts is not None else ""
                except Exception:  # noqa: BLE001 - a status line is never a reason to fail
                    detail = ""
                self._show(f"{stage:<10} {time.perf_counter() - started:6.0f} s   {detail}".rstrip())

        thread = threading.Thread(target=refresh, name=f"progress-{stage}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            with self._lock:
                self._clear()
                self.stream.flush()
