"""Per-stage wall time and Spark's own metrics, with job descriptions in the UI.

Each pipeline stage runs under a Spark job group `customer-behavior:<stage>` whose
description is "<stage>: <what it does>", so the Spark UI's Jobs tab (live, or replayed
by the History Server) reads like the pipeline. When a stage ends, its jobs' metrics
come from the driver UI's REST API (`/api/v1/applications/<id>/jobs` and `/stages`): the
same numbers the UI shows, with no extra jars. Without a UI (spark.ui.enabled=false)
only the job, stage and task counts of the status tracker are recorded. Over Spark Connect
the stage's jobs are tagged instead (`spark.addTag`) and the client cannot reach the
server's UI: the manifest says the metrics are not available (see compat.py).
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from pyspark.sql import SparkSession

from customer_behavior import compat
from customer_behavior.errors import StageSkipped

log = logging.getLogger(__name__)

JOB_GROUP_PREFIX = "customer-behavior:"
REST_TIMEOUT_SECONDS = 10
LISTENER_WAIT_SECONDS = 10.0
LISTENER_POLL_SECONDS = 0.1

# manifest key -> field of the REST API's StageData (summed over every attempt of every stage)
STAGE_DATA_FIELDS = {
    "input_bytes": "inputBytes",
    "input_records": "inputRecords",
    "output_bytes": "outputBytes",
    "output_records": "outputRecords",
    "shuffle_read_bytes": "shuffleReadBytes",
    "shuffle_read_records": "shuffleReadRecords",
    "shuffle_write_bytes": "shuffleWriteBytes",
    "shuffle_write_records": "shuffleWriteRecords",
    "memory_spilled_bytes": "memoryBytesSpilled",
    "disk_spilled_bytes": "diskBytesSpilled",
    "executor_run_ms": "executorRunTime",
    "gc_ms": "jvmGcTime",
}
NANOS_PER_MILLI = 1_000_000


@dataclass
class StageRecord:
    name: str
    description: str
    seconds: float = 0.0
    status: str = "running"
    spark: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


_SCOPES_USED: collections.Counter[str] = collections.Counter()


def job_group(stage_name: str) -> str:
    return f"{JOB_GROUP_PREFIX}{stage_name}"


class StageTracker:
    """Wraps each stage: labels its Spark jobs (group or tag), times it, records its metrics."""

    def __init__(self, spark: SparkSession, progress: Callable[[str], None] | None = None, *, scope: str = "") -> None:
        self.spark = spark
        self.progress = progress or (lambda _message: None)
        # prefixes the job groups, so that several runs in one session (run --as-of D1,D2, or api.run
        # twice) count their own jobs: a scope used before in this process gets the run's number
        used = _SCOPES_USED[scope]
        _SCOPES_USED[scope] += 1
        self.scope = scope if used == 0 else f"{scope}run{used + 1}/"
        self.records: list[StageRecord] = []

    @contextlib.contextmanager
    def stage(self, name: str, description: str) -> Iterator[StageRecord]:
        group = job_group(f"{self.scope}{name}")
        record = StageRecord(name=name, description=description)
        self.records.append(record)
        self.progress(f"{name:<10} {description} ...")
        # a progress callback with a `live` context (progress.TerminalProgress) shows the stage live
        live = getattr(self.progress, "live", None)
        display = live(self.spark, name, group) if live is not None else contextlib.nullcontext()
        started = time.perf_counter()
        with compat.labelled_jobs(self.spark, group, f"{name}: {description}"):
            try:
                with display:
                    yield record
                record.status = "ok" if record.status == "running" else record.status
            except StageSkipped as skipped:
                record.status = "skipped"
                record.notes.append(str(skipped))
                self.progress(f"{name:<10} skipped: {skipped}")
            except BaseException:
                record.status = "failed"
                raise
            finally:
                record.seconds = round(time.perf_counter() - started, 3)
                # a failed stage ends the run: its job counts, without waiting on the REST API's first answer (seconds)
                record.spark, note = stage_metrics(self.spark, group, rest=record.status != "failed")
                if note:
                    record.notes.append(note)
                self.progress(f"{name:<10} {record.status} in {record.seconds:.1f} s ({record.spark.get('jobs', 0)} Spark jobs)")

    def to_list(self) -> list[dict]:
        return [r.to_dict() for r in self.records]


def degradation_notes(stages: list[dict[str, Any]]) -> list[str]:
    """What the report says about stages that were skipped or ran degraded on this data:
    the reason of each skipped stage, and the notes of the segments, personas and patterns
    stages that say what they could not do (a clamped k, tied scores, no affinities)."""
    notes = []
    for stage in stages:
        if stage.get("status") == "skipped":
            notes += [f"{stage['name']} skipped: {note}" for note in stage.get("notes", [])[:1]]
        elif stage.get("name") in ("segments", "personas", "patterns"):
            notes += [note for note in stage.get("notes", []) if note.startswith(f"{stage['name']}:")]
    return notes


# --------------------------------------------------------------------------- metrics


def stage_metrics(spark: SparkSession, group: str, *, rest: bool = True) -> tuple[dict[str, Any], str | None]:
    """Metrics of the jobs in `group`: from the REST API when the UI runs (and `rest`), else counts only."""
    if compat.is_connect(spark):
        return {"source": "none"}, compat.CONNECT_METRICS_NOTE
    sc = spark.sparkContext
    url = sc.uiWebUrl
    if url and not rest:
        return _status_tracker_counts(spark, group), "Spark metrics: counts only (the stage failed)"
    if url:
        try:
            api = f"{url}/api/v1/applications/{sc.applicationId}"
            jobs = _settled_jobs(api, group)
            stages = _get_json(f"{api}/stages")
            return aggregate_metrics(jobs, stages, group), None
        except (OSError, ValueError) as exc:  # the metrics are a report, never a reason to fail a run
            log.warning("Spark REST API at %s not readable: %s", url, exc)
            return _status_tracker_counts(spark, group), f"Spark metrics: REST API not readable ({exc}); counts only"
    return _status_tracker_counts(spark, group), "Spark metrics: the Spark UI is off (spark.ui.enabled=false); counts only"


def aggregate_metrics(jobs: Iterable[dict], stages: Iterable[dict], group: str) -> dict[str, Any]:
    """Sum the REST API's stage data over the stages that ran for the jobs of `group`.

    A stage belongs to the first job that lists it: a later job that reuses its shuffle
    output lists it too (as skipped), and must not count it again. Every attempt of a
    stage counts (a retry after a lost executor does real work).
    """
    jobs = sorted(jobs, key=lambda job: job["jobId"])
    owner: dict[int, str | None] = {}
    for job in jobs:
        for stage_id in job.get("stageIds", []):
            owner.setdefault(stage_id, job.get("jobGroup"))
    group_jobs = [job for job in jobs if job.get("jobGroup") == group]
    totals: dict[str, Any] = {
        "source": "rest",
        "jobs": len(group_jobs),
        "failed_jobs": sum(1 for job in group_jobs if job.get("status") == "FAILED"),
        "stages": 0,
        "stage_attempts": 0,
        "skipped_stages": 0,
        "tasks": 0,
        "failed_tasks": 0,
        "killed_tasks": 0,
    }
    totals.update({key: 0 for key in STAGE_DATA_FIELDS})
    totals["executor_cpu_ms"] = 0
    stage_ids: set[int] = set()
    for stage in stages:
        if owner.get(stage["stageId"], object()) != group:
            continue
        if stage.get("status") == "SKIPPED":
            totals["skipped_stages"] += 1
            continue
        stage_ids.add(stage["stageId"])
        totals["stage_attempts"] += 1
        totals["tasks"] += stage.get("numCompleteTasks", 0)
        totals["failed_tasks"] += stage.get("numFailedTasks", 0)
        totals["killed_tasks"] += stage.get("numKilledTasks", 0)
        for key, rest_field in STAGE_DATA_FIELDS.items():
            totals[key] += int(stage.get(rest_field, 0))
        totals["executor_cpu_ms"] += int(stage.get("executorCpuTime", 0)) // NANOS_PER_MILLI
    totals["stages"] = len(stage_ids)
    return totals


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=REST_TIMEOUT_SECONDS) as response:  # noqa: S310 - the driver's own UI
        return json.load(response)


def _settled_jobs(api: str, group: str) -> list[dict]:
    """The application's jobs (REST API) once those of `group` have settled."""
    jobs: list[dict] = []

    def read() -> list[tuple[int, str]]:
        jobs[:] = _get_json(f"{api}/jobs")
        return [(job["jobId"], job.get("status", "")) for job in jobs if job.get("jobGroup") == group]

    _wait_until_settled(read, group)
    return jobs


def _wait_until_settled(read: Callable[[], list[tuple[int, str]]], group: str) -> None:
    """Wait until `read()` (a group's job ids and statuses) lists no running job twice in a row.

    Spark's listener bus updates the status store (what the UI, its REST API and the status
    tracker read) shortly after an action returns; a stage's metrics are final once none of
    its jobs is running and two reads in a row agree. Past LISTENER_WAIT_SECONDS the last
    read counts (logged: the metrics are a report, never a reason to fail)."""
    deadline = time.monotonic() + LISTENER_WAIT_SECONDS
    previous: list[tuple[int, str]] | None = None
    while True:
        current = sorted(read())
        is_settled = all(status not in ("RUNNING", "UNKNOWN") for _, status in current)
        if is_settled and current == previous:
            return
        if time.monotonic() > deadline:
            log.info("Spark's status store did not settle for %s within %.0f s", group, LISTENER_WAIT_SECONDS)
            return
        previous = current
        time.sleep(LISTENER_POLL_SECONDS)


def _status_tracker_counts(spark: SparkSession, group: str) -> dict[str, Any]:
    tracker = spark.sparkContext.statusTracker()

    def read() -> list[tuple[int, str]]:
        infos = [(job_id, tracker.getJobInfo(job_id)) for job_id in tracker.getJobIdsForGroup(group)]
        return [(job_id, str(info.status) if info is not None else "UNKNOWN") for job_id, info in infos]

    _wait_until_settled(read, group)
    jobs = tasks = failed = stages = 0
    for job_id in tracker.getJobIdsForGroup(group):
        info = tracker.getJobInfo(job_id)
        if info is None:
            continue
        jobs += 1
        for stage_id in info.stageIds:
            stage = tracker.getStageInfo(stage_id)
            if stage is None:
                continue
            stages += 1
            tasks += stage.numCompletedTasks
            failed += stage.numFailedTasks
    return {"source": "status_tracker", "jobs": jobs, "stages": stages, "tasks": tasks, "failed_tasks": failed}


__all__ = ["StageRecord", "StageTracker", "aggregate_metrics", "job_group", "stage_metrics"]
