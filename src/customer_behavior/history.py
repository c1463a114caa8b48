"""The Spark History Server over a run's event log (`customer-behavior history RUN`).

PySpark's pip package carries Spark's jars and `bin/spark-class` but no sbin scripts, so
the server is started as `spark-class org.apache.spark.deploy.history.HistoryServer`
with its settings in SPARK_HISTORY_OPTS. It binds to SPARK_LOCAL_IP, which we set to the
requested host: 127.0.0.1 unless the user asks for more.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from customer_behavior.errors import EnvironmentProblem, InputError

EVENTS_DIR = "spark-events"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 18080
HISTORY_SERVER_CLASS = "org.apache.spark.deploy.history.HistoryServer"
START_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 20
_PR_SET_PDEATHSIG = 1


def spark_home() -> Path:
    """SPARK_HOME if it has bin/spark-class, else the pip-installed PySpark package."""
    candidates = []
    if os.environ.get("SPARK_HOME"):
        candidates.append(Path(os.environ["SPARK_HOME"]))
    import pyspark

    candidates.append(Path(pyspark.__file__).parent)
    for home in candidates:
        if (home / "bin" / "spark-class").exists():
            return home
    raise EnvironmentProblem("bin/spark-class was found neither in SPARK_HOME nor in the pyspark package; set SPARK_HOME to a Spark installation")


def event_log_dir(run: str | os.PathLike[str]) -> Path:
    """The event log directory of a run (RUN/spark-events), or RUN itself if it holds logs."""
    path = Path(run).expanduser().resolve()
    if not path.is_dir():
        raise InputError(f"{str(path)!r} is not a directory; pass a run directory (it holds {EVENTS_DIR}/)")
    for candidate in (path / EVENTS_DIR, path):
        if candidate.is_dir() and any(child.name.startswith(("app-", "local-", "application_", "eventlog_v2_")) for child in candidate.iterdir()):
            return candidate
    raise InputError(f"{str(path)!r} has no Spark event log in {EVENTS_DIR}/; it is written when spark.event_log is true (the default)")


def free_port(host: str = DEFAULT_HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host if host != "0.0.0.0" else "", 0))
        return sock.getsockname()[1]


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host if host != "0.0.0.0" else "", port))
        except OSError:
            return False
    return True


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the server gets SIGTERM when the CLI that started it dies, even by SIGKILL."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class HistoryServer:
    process: subprocess.Popen
    host: str
    port: int
    log_dir: Path
    log_file: Path

    @property
    def url(self) -> str:
        shown = socket.gethostname() if self.host == "0.0.0.0" else self.host
        return f"http://{shown}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"http://{'127.0.0.1' if self.host == '0.0.0.0' else self.host}:{self.port}/api/v1"

    def applications(self) -> list[dict]:
        with urllib.request.urlopen(f"{self.api_url}/applications", timeout=10) as response:  # noqa: S310 - our own server
            return json.load(response)

    def wait_ready(self, timeout: float = START_TIMEOUT_SECONDS) -> list[dict]:
        """Wait until the server answers and lists the run's application(s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_file.read_text(encoding="utf-8", errors="replace")[-2000:] if self.log_file.exists() else ""
                raise EnvironmentProblem(f"the Spark History Server exited with code {self.process.returncode}: {_last_error_line(tail)}")
            with contextlib.suppress(OSError, ValueError):
                apps = self.applications()
                if apps:
                    return apps
            time.sleep(0.5)
        raise EnvironmentProblem(f"the Spark History Server did not list the run within {timeout:.0f} s; see {self.log_file}")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)


def _last_error_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if "Exception" in line or "ERROR" in line:
            return line.strip()[:300]
    return lines[-1].strip()[:300] if lines else "no output"


def start_history_server(run: str | os.PathLike[str], *, host: str = DEFAULT_HOST, port: int | None = None) -> HistoryServer:
    """Start the History Server over RUN's event log (not yet ready: call wait_ready)."""
    log_dir = event_log_dir(run)
    if port is None:
        port = DEFAULT_PORT if _port_is_free(host, DEFAULT_PORT) else free_port(host)
    elif not _port_is_free(host, port):
        raise EnvironmentProblem(f"port {port} on {host} is in use; choose another with --port")
    home = spark_home()
    log4j = Path(__file__).with_name("log4j2.properties")
    opts = [
        f"-Dspark.history.fs.logDirectory={log_dir.as_uri()}",
        f"-Dspark.history.ui.port={port}",
        "-Dspark.history.fs.update.interval=2s",
        "-Dspark.ui.showConsoleProgress=false",
    ]
    if log4j.exists():
        opts.append(f"-Dlog4j2.configurationFile={log4j.as_uri()}")
    env = dict(os.environ)
    env.update(
        {
            "SPARK_HOME": str(home),
            "SPARK_LOCAL_IP": host,  # the UI binds here
            "SPARK_HISTORY_OPTS": " ".join([env.get("SPARK_HISTORY_OPTS", ""), *opts]).strip(),
            "SPARK_DAEMON_MEMORY": env.get("SPARK_DAEMON_MEMORY", "512m"),
        }
    )
    log_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"customer-behavior-history-{port}.log"
    with log_file.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - fixed command
            [str(home / "bin" / "spark-class"), HISTORY_SERVER_CLASS],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group: stop() ends the launcher and the JVM
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no locks
        )
    return HistoryServer(process=process, host=host, port=port, log_dir=log_dir, log_file=log_file)
