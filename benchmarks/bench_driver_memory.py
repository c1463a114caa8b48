"""The driver's own memory at several sizes: `run` against a Spark standalone cluster.

    .venv/bin/python benchmarks/bench_driver_memory.py --sizes 1000000,5000000

In local mode the driver JVM is also the executor, so its resident memory grows with the
tasks' memory up to the heap limit (see docs/performance.md). Here the driver runs in its
own JVM beside a standalone master and one worker on 127.0.0.1 (2 cores, executor heap 8g,
the test suite's `StandaloneCluster`). `customer-behavior run --master spark://...
--customers N` runs with the default settings otherwise. The driver JVM's peak resident
memory (VmHWM of /proc/<pid>/status) is sampled every second. Result:
benchmarks/results/driver_memory.json.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent / "tests"))

from common import machine, save  # noqa: E402
from spark_procs import StandaloneCluster  # noqa: E402

TOOL = Path(sys.executable).parent / "customer-behavior"


def driver_peak_kib(marker: str) -> int | None:
    """VmHWM of the driver JVM whose command line holds `marker` (its run directory)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if "java" in line and "SparkSubmit" in line and marker in line:
                return int(re.search(r"VmHWM:\s+(\d+)", (cmdline.parent / "status").read_text()).group(1))
        except (OSError, AttributeError):
            continue
    return None


def run_and_watch(master: str, customers: int, output: Path, log: Path) -> dict:
    command = [str(TOOL), "run", "--master", master, "--customers", str(customers), "--conf", "spark.executor.memory=8g", "-o", str(output)]
    started = time.perf_counter()
    peak = 0
    with log.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            peak = max(peak, driver_peak_kib(output.name) or 0)
            time.sleep(1)
    return {"exit_code": proc.returncode, "seconds": round(time.perf_counter() - started, 1), "driver_peak_rss_mib": round(peak / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,5000000", help="customers, comma-separated")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="cb-bench-driver-memory-"))
    cluster = StandaloneCluster(workdir / "standalone", workers=1, worker_cores=2, worker_memory="10g").start()
    runs = {}
    try:
        for customers in sizes:
            runs[str(customers)] = run_and_watch(cluster.master_url, customers, workdir / f"run_{customers}", workdir / f"log_{customers}.txt")
            print(customers, runs[str(customers)], flush=True)
            shutil.rmtree(workdir / f"run_{customers}", ignore_errors=True)
            cluster.wait_idle()
    finally:
        cluster.stop()
    peaks = [run["driver_peak_rss_mib"] for run in runs.values()]
    save("driver_memory", {"benchmark": "driver_memory", "runs": runs, "largest_over_smallest": round(peaks[-1] / peaks[0], 3) if peaks[0] else None, "machine": machine()})
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
