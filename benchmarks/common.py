"""Shared helpers for the benchmark scripts (not part of the test suite)."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


class JvmPeakMemory:
    """Samples the resident memory of this process's children (the driver JVM) while running.

    `section(name)` additionally records the peak seen while that block ran (per pipeline
    stage), in `section_peaks_mib`; `track_heap(spark)` adds the JVM's heap: the sum of the
    heap memory pools' peak usage, reset at the start of each section (an upper bound: the
    pools need not peak at the same moment).
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peak_bytes = 0
        self.section_peaks_mib: dict[str, float] = {}
        self.heap_peaks_mib: dict[str, float] = {}
        self._section: str | None = None
        self._section_peak = 0
        self._jvm = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss_of_children(self) -> int:
        total = 0
        for pid, _ in _children_stat_fields():
            try:
                with open(f"/proc/{pid}/status") as fh:
                    for line in fh:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1]) * 1024
            except (OSError, IndexError, ValueError):
                continue
        return total

    def _sample(self) -> None:
        rss = self._rss_of_children()
        self.peak_bytes = max(self.peak_bytes, rss)
        self._section_peak = max(self._section_peak, rss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(self.interval)

    def track_heap(self, spark) -> None:
        """Read heap pool peaks from this session's driver JVM (through Py4J) per section."""
        self._jvm = spark.sparkContext._jvm

    def _heap_pools(self) -> list:
        if self._jvm is None:
            return []
        management = self._jvm.java.lang.management
        return [pool for pool in management.ManagementFactory.getMemoryPoolMXBeans() if str(pool.getType()) == "Heap memory"]

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        self._sample()
        self._section, self._section_peak = name, 0
        pools = self._heap_pools()
        for pool in pools:
            pool.resetPeakUsage()
        try:
            yield
        finally:
            self._sample()
            self.section_peaks_mib[name] = round(self._section_peak / 1024**2, 1)
            if pools:
                self.heap_peaks_mib[name] = round(sum(pool.getPeakUsage().getUsed() for pool in pools) / 1024**2, 1)
            self._section = None

    def heap_max_mib(self) -> float | None:
        if self._jvm is None:
            return None
        return round(self._jvm.java.lang.Runtime.getRuntime().maxMemory() / 1024**2, 1)

    def __enter__(self) -> "JvmPeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        python_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return round(max(self.peak_bytes, 0) / 1024**2, 1) if self.peak_bytes else round(python_peak / 1024**2, 1)


def _children_stat_fields() -> Iterator[tuple[str, list[str]]]:
    """(pid, the fields of /proc/<pid>/stat after the command name) of this process's direct children."""
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == me:
                yield pid, fields
        except (OSError, IndexError, ValueError):
            continue


def children_cpu_seconds() -> float:
    """User + system CPU seconds of this process's direct children (the driver JVM).

    On a shared machine wall time depends on the neighbours; CPU seconds much less, so
    rows per CPU-second x cores is a fair estimate of the rate on an idle machine."""
    ticks = os.sysconf("SC_CLK_TCK")
    return sum((int(fields[11]) + int(fields[12])) / ticks for _, fields in _children_stat_fields())


def save(name: str, result: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"saved {path}", file=sys.stderr)
    return path
