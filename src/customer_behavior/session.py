"""The one place a SparkSession is built.

Local mode by default, sized to the machine; `master` and extra `conf` pass through.
Under spark-submit or in a notebook the session that already exists is reused as it is.
With `remote` (or SPARK_REMOTE) it is a Spark Connect session to that server: only the
runtime SQL settings apply then, the server decided the rest when it started.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

from pyspark.sql import SparkSession

from customer_behavior import compat
from customer_behavior.config import SparkSettings
from customer_behavior.errors import EnvironmentProblem

log = logging.getLogger(__name__)

MIN_JAVA = 17
TASK_RETRIES = 4
JAVA_HINT = "install Java 17 with 'sudo apt-get install openjdk-17-jre-headless' (or set JAVA_HOME to a Java 17+ installation)"


def java_major_version() -> int | None:
    """The major version of the Java that Spark would start, or None when there is none."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    try:
        result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def check_java(settings: SparkSettings | None = None) -> None:
    """Java 17+ for the driver; a Spark Connect client starts no JVM and needs none."""
    if settings is not None and remote_address(settings):
        return
    major = java_major_version()
    if major is None:
        raise EnvironmentProblem(f"Java was not found; {JAVA_HINT}")
    if major < MIN_JAVA:
        raise EnvironmentProblem(f"Java {major} is too old (Spark 4 needs {MIN_JAVA} or newer); {JAVA_HINT}")


def _physical_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 * 1024**3


JIT_HUGE_METHODS = "-XX:-DontCompileHugeMethods"


def auto_driver_memory() -> str:
    """Half the machine's memory, between 1g and 8g: room for Spark without starving the OS."""
    gib = _physical_memory_bytes() // (2 * 1024**3)
    return f"{max(1, min(8, gib))}g"


def local_master(cores: int | None = None) -> str:
    # plain local[N] ignores spark.task.maxFailures; local[N,F] retries a failed task F times.
    return f"local[{cores or os.cpu_count() or 1},{TASK_RETRIES}]"


def is_running_under_spark_submit() -> bool:
    return "PYSPARK_GATEWAY_PORT" in os.environ or SparkSession.getActiveSession() is not None


def session_conf(settings: SparkSettings, *, event_log_dir: str | None = None) -> dict[str, str]:
    """The Spark settings we ask for (extra conf from the user wins)."""
    cores = os.cpu_count() or 1
    master = settings.master or local_master(cores)
    is_local = master.startswith("local")
    conf: dict[str, str] = {
        "spark.master": master,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions or 4 * cores),
        "spark.sql.adaptive.enabled": "true",
        # The metrics in the manifest come from the UI's REST API, so the UI runs for them too.
        "spark.ui.enabled": "true" if settings.ui or settings.metrics else "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.ansi.enabled": "true",
        # Task retries for cluster masters (local[N,F] carries its own).
        "spark.task.maxFailures": str(TASK_RETRIES),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    if settings.metrics and not settings.ui:
        conf["spark.ui.port"] = "0"  # any free port: nobody is told about it, the tracker reads it
    if settings.driver_memory:
        conf["spark.driver.memory"] = auto_driver_memory() if settings.driver_memory == "auto" else settings.driver_memory
    # Whole-stage code generation writes one method per stage; the generator's and the
    # features' stages exceed HotSpot's 8000-byte limit for JIT compilation, and an
    # interpreted method runs them about four times slower (docs/performance.md).
    java_options = [JIT_HUGE_METHODS]
    log4j = Path(__file__).with_name("log4j2.properties")
    if log4j.exists():
        java_options.append(f"-Dlog4j2.configurationFile={log4j.as_uri()}")
    conf["spark.driver.extraJavaOptions"] = " ".join(java_options)
    if not is_local:
        conf["spark.executor.extraJavaOptions"] = JIT_HUGE_METHODS
    else:
        # Keep the driver's RPC and block manager on loopback: a laptop run exposes nothing to
        # the network. The UI binds to SPARK_LOCAL_IP, which get_session sets (see there).
        conf["spark.driver.bindAddress"] = "127.0.0.1"
        conf["spark.driver.host"] = "127.0.0.1"
    if event_log_dir:
        Path(event_log_dir).mkdir(parents=True, exist_ok=True)
        conf["spark.eventLog.enabled"] = "true"
        conf["spark.eventLog.dir"] = Path(event_log_dir).resolve().as_uri()
    conf.update({key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in settings.conf.items()})
    return conf


def get_session(settings: SparkSettings, *, app_name: str = "customer-behavior", event_log_dir: str | None = None) -> SparkSession:
    """Reuse the active session (spark-submit, notebook) or build a local/cluster one."""
    active = SparkSession.getActiveSession()
    if active is not None:
        log.info("using the existing SparkSession (%s)", compat.session_facts(active)["master"])
        return active
    remote = remote_address(settings)
    if remote:
        return compat.connect_session(remote, connect_conf(settings))
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        check_java()
    if not settings.master or settings.master.startswith("local"):
        # The Spark UI binds to SPARK_LOCAL_IP (all interfaces when it is unset) and the JVM
        # we are about to start inherits our environment. Set it yourself to expose a local UI.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName(app_name)
    for key, value in session_conf(settings, event_log_dir=event_log_dir).items():
        if "PYSPARK_GATEWAY_PORT" in os.environ and key in ("spark.master", "spark.driver.memory", "spark.driver.bindAddress", "spark.driver.host"):
            continue  # spark-submit decided these already
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    compat.set_log_level(spark, "ERROR")
    return spark


def remote_address(settings: SparkSettings) -> str:
    """The Spark Connect server to use: spark.remote (--remote), else SPARK_REMOTE, else ""."""
    return settings.remote or compat.remote_address()


# Settings a Connect client may change on its session (the others are fixed at server start).
CONNECT_RUNTIME_CONF = ("spark.sql.session.timeZone", "spark.sql.shuffle.partitions", "spark.sql.adaptive.enabled", "spark.sql.ansi.enabled", "spark.sql.execution.arrow.pyspark.enabled")


def connect_conf(settings: SparkSettings) -> dict[str, str]:
    """The runtime settings of `session_conf` and the user's extra conf, for a Connect session."""
    conf = session_conf(settings)
    runtime = {key: conf[key] for key in CONNECT_RUNTIME_CONF}
    if not settings.shuffle_partitions:
        del runtime["spark.sql.shuffle.partitions"]  # the server's cores, not ours, decide the default
    return runtime | {key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in settings.conf.items()}


def ui_address(spark: SparkSession) -> str | None:
    return compat.ui_url(spark)
