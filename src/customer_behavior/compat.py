"""Every API difference between PySpark 3.5 and 4.x, and between a classic and a Spark Connect session.

The rest of the code asks this module, never `sparkContext` or a private attribute:
a Connect session (`SparkSession.builder.remote(...)`, `SPARK_REMOTE`) has no
`sparkContext`, no job groups and no driver UI the client can reach.

- job labels: a classic session puts a stage's jobs in a job group (the Spark UI and its
  REST API group them); a Connect session tags them (`spark.addTag`), which is all it has.
- session facts for the manifest (master, application id, UI, parallelism): from the
  SparkContext in classic mode, from the session's configuration over Connect.
- metrics: the driver UI's REST API is only known to a classic session.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from customer_behavior.errors import ConfigError, EnvironmentProblem

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

PYSPARK_HINT = "pip install 'customer-behavior-analysis[spark]' (or use the Python of a Spark runtime that has PySpark 3.5 or 4.x)"
SUPPORTED = ((3, 5), (4, 4))  # PySpark >= 3.5 and < 4.4
CONNECT_METRICS_NOTE = "Spark metrics: not available over Spark Connect"
CONNECT_DEFAULT_PORT = 15002
CONNECT_PROBE_SECONDS = 10


def require_pyspark() -> tuple[int, int]:
    """(major, minor) of the importable PySpark; one line naming the fix when there is none."""
    if importlib.util.find_spec("pyspark") is None:
        raise EnvironmentProblem(f"PySpark is not installed; {PYSPARK_HINT}")
    import pyspark

    version = pyspark_version(pyspark.__version__)
    if not SUPPORTED[0] <= version < SUPPORTED[1]:
        raise EnvironmentProblem(f"PySpark {pyspark.__version__} is not supported (3.5 up to 4.3 are); {PYSPARK_HINT}")
    return version


def pyspark_version(text: str) -> tuple[int, int]:
    """(major, minor) of a version string such as "3.5.9" or "4.1.0.dev1"."""
    numbers = [int(part) for part in re.findall(r"\d+", text)[:2]]
    return numbers[0], numbers[1] if len(numbers) > 1 else 0


def is_connect(spark: SparkSession) -> bool:
    """True for a Spark Connect session (its class lives in pyspark.sql.connect, 3.5 and 4.x)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


# --------------------------------------------------------------------------- sessions


def remote_address() -> str:
    """The Connect address of SPARK_REMOTE, or "" when it is unset."""
    return os.environ.get("SPARK_REMOTE", "").strip()


def check_remote(url: str) -> tuple[str, int]:
    """(host, port) of an sc:// address, after checking that something listens there.

    The Connect client retries an unreachable server for minutes; a plain TCP probe answers
    in seconds and names the address."""
    parsed = urlparse(url)
    if parsed.scheme != "sc" or not parsed.hostname:
        raise ConfigError(f"spark.remote: {url!r} is not a Spark Connect address; use sc://HOST:PORT (e.g. sc://localhost:15002)")
    port = parsed.port or CONNECT_DEFAULT_PORT
    try:
        with socket.create_connection((parsed.hostname, port), timeout=CONNECT_PROBE_SECONDS):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise EnvironmentProblem(f"no Spark Connect server answers at {url} ({reason}); start one or check --remote / SPARK_REMOTE") from None
    return parsed.hostname, port


def connect_session(url: str, conf: dict[str, str]) -> SparkSession:
    """A Spark Connect session to `url` with the runtime settings in `conf`."""
    if importlib.util.find_spec("grpc") is None:
        raise EnvironmentProblem("Spark Connect needs the client libraries; pip install 'pyspark[connect]' (grpcio, grpcio-status, googleapis-common-protos, zstandard)")
    from pyspark.sql import SparkSession

    check_remote(url)
    spark = SparkSession.builder.remote(url).getOrCreate()
    for key, value in conf.items():
        spark.conf.set(key, value)
    return spark


def set_log_level(spark: SparkSession, level: str) -> None:
    """The driver's log level; a Connect server's log is the server's own business."""
    if not is_connect(spark):
        spark.sparkContext.setLogLevel(level)


def session_facts(spark: SparkSession) -> dict[str, Any]:
    """master, application id, UI address and default parallelism (None where unknown)."""
    if is_connect(spark):
        return {
            "master": _conf(spark, "spark.master"),
            "app_id": _conf(spark, "spark.app.id"),
            "ui": None,
            "default_parallelism": default_parallelism(spark),
            "connect": True,
        }
    sc = spark.sparkContext
    return {"master": sc.master, "app_id": sc.applicationId, "ui": sc.uiWebUrl, "default_parallelism": sc.defaultParallelism}


def ui_url(spark: SparkSession) -> str | None:
    """The driver UI's address as this process can reach it; None over Connect or with the UI off."""
    return None if is_connect(spark) else spark.sparkContext.uiWebUrl


def default_parallelism(spark: SparkSession) -> int:
    """The cores Spark spreads work over. Over Connect only the server knows them: its
    spark.default.parallelism when set, else its shuffle partitions."""
    if not is_connect(spark):
        return spark.sparkContext.defaultParallelism
    for key in ("spark.default.parallelism", "spark.sql.shuffle.partitions"):
        value = _conf(spark, key)
        if value and value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


def _conf(spark: SparkSession, key: str) -> str | None:
    try:
        return spark.conf.get(key, None)
    except Exception:  # noqa: BLE001 - a fact for the manifest, never a reason to fail
        return None


# --------------------------------------------------------------------------- job labels


@contextlib.contextmanager
def labelled_jobs(spark: SparkSession, label: str, description: str) -> Iterator[None]:
    """Every Spark job started inside carries `label`: a job group (classic), a tag (Connect)."""
    if is_connect(spark):
        spark.addTag(label)
        try:
            yield
        finally:
            spark.removeTag(label)
        return
    sc = spark.sparkContext
    # Every job started from this thread (actions, Parquet writes, broadcasts that SQL runs on
    # its own threads) carries the group; the description is what the Jobs tab shows.
    sc.setJobGroup(label, description)
    try:
        yield
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
        sc.setLocalProperty("spark.job.description", None)  # type: ignore[arg-type]


__all__ = [
    "CONNECT_METRICS_NOTE",
    "check_remote",
    "connect_session",
    "default_parallelism",
    "is_connect",
    "labelled_jobs",
    "remote_address",
    "require_pyspark",
    "session_facts",
    "set_log_level",
    "ui_url",
]
