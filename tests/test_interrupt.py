"""Ctrl-C ends a run with one line: no Python or Java traces, nothing left behind (issue #21).

The CLI runs in its own process group and gets SIGINT there, as a terminal's Ctrl-C does:
once while the JVM starts (held back until it has started) and once in a Spark job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.spark_procs import kill_group

INTERRUPTED = "customer-behavior: interrupted; no output was left behind"
# what the JVM prints at every start, before our log settings apply
STARTUP_BANNER = (
    "WARNING: Using incubator modules: jdk.incubator.vector",
    'Setting default log level to "WARN".',
    "To adjust logging level use sc.setLogLevel(newLevel). For SparkR, use setLogLevel(newLevel).",
)


def _interrupt(tmp_path, *, when: str) -> tuple[int, list[str], list[str]]:
    out = tmp_path / "out"
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    command = [sys.executable, "-m", "customer_behavior", "generate", "--customers", "300000", "--output", str(out)]
    with open(stdout, "w") as out_file, open(stderr, "w") as err_file:
        process = subprocess.Popen(command, stdout=out_file, stderr=err_file, start_new_session=True)
        try:
            deadline = time.monotonic() + 300
            while when not in stdout.read_text() and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.2)
            assert process.poll() is None, stderr.read_text()
            time.sleep(1.0)
            os.killpg(process.pid, signal.SIGINT)
            code = process.wait(timeout=600)
        finally:
            kill_group(process)
    assert not out.exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")]
    return code, stdout.read_text().splitlines(), stderr.read_text().splitlines()


@pytest.mark.parametrize("when", ["starting Spark", "generate "])
def test_ctrl_c_prints_one_line(tmp_path, when):
    code, _, err = _interrupt(tmp_path, when=when)
    assert code == 130
    assert [line for line in err if line not in STARTUP_BANNER] == [INTERRUPTED]
