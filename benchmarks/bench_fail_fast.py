"""How soon a bad file fails (issue #21): seconds from Spark's start to the one-line error.

Each case is a CLI run (`customer-behavior run --input BAD`) in its own process; two clocks
stop when the process exits: one starts when the CLI prints "starting Spark" (the JVM's
start included), one when the first stage starts (the session is up). The file is
large enough (default 300,000 rows) that a check needing a full pass would show.

    .venv/bin/python benchmarks/bench_fail_fast.py [--rows 300000]

Timings are noisy on a shared machine: the script prints `uptime` with them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {
    "missing_column": ("customer,event_ts,amount", lambda i: f"C{i % 997},2024-03-01 10:00:00,{i % 50}.25"),
    "dollar_amounts": ("customer_id,event_ts,amount", lambda i: f'C{i % 997},2024-03-01 10:00:00,"${i % 50},{i % 1000:03d}.25"'),
    "repeated_header": ("customer_id,event_ts,amount,amount", lambda i: f"C{i % 997},2024-03-01 10:00:00,{i % 50}.25,1"),
    "binary": ("PK\x03\x04\x00\x00\x08\x00 spreadsheet", lambda i: "\x00\x01\x02" * 8),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=300_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name, (header, row) in CASES.items():
            path = Path(tmp) / f"{name}.csv"
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(header + "\n")
                handle.writelines(row(i) + "\n" for i in range(args.rows))
            command = [sys.executable, "-m", "customer_behavior", "run", "--input", str(path), "--output", str(Path(tmp) / f"out-{name}")]
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ | {"PYTHONUNBUFFERED": "1"})
            assert process.stdout is not None
            started = ready = None
            for line in process.stdout:
                if "starting Spark" in line:
                    started = time.perf_counter()
                elif ready is None and line.startswith("ingest "):  # the first stage starts: the session is up
                    ready = time.perf_counter()
            _, err = process.communicate()
            ended = time.perf_counter()
            seconds, after_ready = ended - (started or ended), ended - (ready or ended)
            message = [line for line in err.splitlines() if line.startswith("customer-behavior: error:")]
            print(f"{name:<18} exit {process.returncode}  {seconds:5.1f} s after 'starting Spark', {after_ready:4.1f} s after the session is up  {message[0][:90] if message else err[-200:]}")
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
