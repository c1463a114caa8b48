"""Per-stage wall time and Spark's own job/task counts, with job descriptions in the UI."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


@dataclass
class StageRecord:
    name: str
    description: str
    seconds: float = 0.0
    status: str = "running"
    spark: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


class StageTracker:
    """Wraps each stage: sets the Spark job group/description, times it, counts its jobs."""

    def __init__(self, spark: SparkSession, progress: Callable[[str], None] | None = None) -> None:
        self.spark = spark
        self.progress = progress or (lambda _message: None)
        self.records: list[StageRecord] = []

    @contextlib.contextmanager
    def stage(self, name: str, description: str) -> Iterator[StageRecord]:
        sc = self.spark.sparkContext
        group = f"customer-behavior:{name}"
        record = StageRecord(name=name, description=description)
        self.records.append(record)
        sc.setJobGroup(group, f"{name}: {description}")
        self.progress(f"{name:<10} {description} ...")
        started = time.perf_counter()
        try:
            yield record
            record.status = "ok" if record.status == "running" else record.status
        except BaseException:
            record.status = "failed"
            raise
        finally:
            record.seconds = round(time.perf_counter() - started, 3)
            record.spark = _job_metrics(self.spark, group)
            sc.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
            sc.setLocalProperty("spark.job.description", None)  # type: ignore[arg-type]
            self.progress(f"{name:<10} {record.status} in {record.seconds:.1f} s ({record.spark.get('jobs', 0)} Spark jobs)")

    def to_list(self) -> list[dict]:
        return [r.to_dict() for r in self.records]


def _job_metrics(spark: SparkSession, group: str) -> dict[str, int]:
    tracker = spark.sparkContext.statusTracker()
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
    return {"jobs": jobs, "stages": stages, "tasks": tasks, "failed_tasks": failed}
