"""Test harness: Spark processes we start, find and kill (standalone cluster, CLI runs).

Everything started here runs in its own process group, so stopping it also stops what it
started (a worker's executors, spark-class's JVM). Processes are found by scanning /proc,
the way `jps` would, and killed by pid, never by name.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from customer_behavior.history import spark_home

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PYTHON = sys.executable
EXECUTOR_CLASS = "org.apache.spark.executor.CoarseGrainedExecutorBackend"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str, timeout: float = 10) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - local test servers
        return json.load(response)


def wait_until(predicate, *, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError, KeyError):
            value = predicate()
            if value:
                return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def kill_group(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """Signal the process group `process` leads; SIGKILL it if it does not go."""
    for current in (sig, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, current)
        try:
            process.wait(timeout=timeout)
            break
        except subprocess.TimeoutExpired:
            continue
    # the leader may be gone while members live on (a JVM whose launcher died)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


# --------------------------------------------------------------------------- /proc


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def all_pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def parent_pid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid in all_pids():
        ppid = parent_pid(pid)
        if ppid is not None:
            children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def executor_pids(*, app_id: str | None = None, worker_port: int | None = None, executor_id: str | None = None) -> list[int]:
    """CoarseGrainedExecutorBackend JVMs, filtered by application, worker and executor id."""
    pids = []
    for pid in all_pids():
        args = cmdline(pid)
        if EXECUTOR_CLASS not in args:
            continue
        options = dict(zip(args, args[1:]))
        if app_id and options.get("--app-id") != app_id:
            continue
        if worker_port and options.get("--worker-url") != f"spark://Worker@127.0.0.1:{worker_port}":
            continue
        if executor_id and options.get("--executor-id") != executor_id:
            continue
        pids.append(pid)
    return pids


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    with contextlib.suppress(OSError):
        for fd in fd_dir.iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    return inodes


def _decode_address(hex_address: str) -> tuple[str, int]:
    ip_hex, port_hex = hex_address.split(":")
    raw = bytes.fromhex(ip_hex)
    if len(raw) == 4:
        ip = socket.inet_ntop(socket.AF_INET, raw[::-1])
    else:  # /proc/net/tcp6 stores four little-endian 32-bit words
        ip = socket.inet_ntop(socket.AF_INET6, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))
        ip = ip.removeprefix("::ffff:") if "." in ip else ip  # an IPv4-mapped address: the IPv4 one
    return ip, int(port_hex, 16)


def listening_addresses(pids: set[int]) -> set[tuple[str, int]]:
    """(ip, port) of every TCP socket in LISTEN state that one of `pids` holds."""
    inodes = set().union(*(_socket_inodes(pid) for pid in pids)) if pids else set()
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A = LISTEN
                    found.add(_decode_address(fields[1]))
    return found


def is_loopback(ip: str) -> bool:
    return ip.startswith("127.") or ip == "::1"


# --------------------------------------------------------------------------- processes


def _die_with_parent() -> None:
    """Linux: SIGKILL the child when pytest dies (a CI timeout), where finalizers do not run."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class Proc:
    """A subprocess in its own process group whose output is collected line by line."""

    process: subprocess.Popen
    lines: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, args: list[str], *, env: dict[str, str], log: Path | None = None, cwd: Path | None = None) -> Proc:
        process = subprocess.Popen(  # noqa: S603 - fixed test commands
            args,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl
        )
        proc = cls(process)
        threading.Thread(target=proc._pump, args=(log,), daemon=True).start()
        return proc

    def _pump(self, log: Path | None) -> None:
        sink = log.open("a", encoding="utf-8") if log else None
        try:
            for line in self.process.stdout:  # type: ignore[union-attr]
                self.lines.append(line.rstrip("\n"))
                if sink:
                    sink.write(line)
                    sink.flush()
        finally:
            if sink:
                sink.close()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match:
        regex = re.compile(pattern)

        def found():
            if self.process.poll() is not None and not any(regex.search(line) for line in self.lines):
                raise AssertionError(f"process exited ({self.process.returncode}) before printing {pattern!r}:\n{self.output[-3000:]}")
            return next((m for m in map(regex.search, list(self.lines)) if m), None)

        return wait_until(found, timeout=timeout, what=f"a line matching {pattern!r}")

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(self.process, signal.SIGKILL)
            raise AssertionError(f"process did not finish within {timeout:.0f} s:\n{self.output[-3000:]}") from None

    def stop(self) -> None:
        if self.process.poll() is None:
            kill_group(self.process)
        else:  # the leader is gone; members of its group may not be
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI run: this worktree's code first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def cli(*args: str) -> list[str]:
    return [PYTHON, "-m", "customer_behavior", *args]


# --------------------------------------------------------------------------- standalone cluster


def daemon_env() -> dict[str, str]:
    """Environment of master/workers (and so executors): no Python of ours reachable."""
    venv_bin = str(Path(PYTHON).parent)
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")}
    env["PATH"] = os.pathsep.join(part for part in env.get("PATH", "").split(os.pathsep) if part != venv_bin)
    env.update(
        {
            "SPARK_HOME": str(spark_home()),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_DAEMON_MEMORY": "256m",
            "SPARK_NO_DAEMONIZE": "1",
        }
    )
    return env


class StandaloneCluster:
    """A Spark standalone master and workers on 127.0.0.1, from the pip-installed PySpark."""

    def __init__(self, workdir: Path, *, workers: int = 2, worker_cores: int = 1, worker_memory: str = "1g") -> None:
        self.workdir = workdir
        self.n_workers = workers
        self.worker_cores = worker_cores
        self.worker_memory = worker_memory
        self.master_port = free_port()
        self.master_ui_port = free_port()
        self.worker_ports: list[int] = []
        self.procs: list[Proc] = []

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.master_port}"

    @property
    def master_ui(self) -> str:
        return f"http://127.0.0.1:{self.master_ui_port}"

    def _spark_class(self, *args: str) -> list[str]:
        return [str(spark_home() / "bin" / "spark-class"), *args]

    def start(self, timeout: float = 180) -> StandaloneCluster:
        env = daemon_env()
        self.procs.append(
            Proc.start(
                self._spark_class("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(self.master_port), "--webui-port", str(self.master_ui_port)),
                env=env,
                log=self.workdir / "master.log",
            )
        )
        for index in range(self.n_workers):
            port = free_port()
            self.worker_ports.append(port)
            work = self.workdir / f"worker{index}"
            work.mkdir(parents=True, exist_ok=True)
            args = ["--host", "127.0.0.1", "--port", str(port), "--webui-port", str(free_port())]
            args += ["--cores", str(self.worker_cores), "--memory", self.worker_memory, "--work-dir", str(work), self.master_url]
            self.procs.append(Proc.start(self._spark_class("org.apache.spark.deploy.worker.Worker", *args), env=env, log=self.workdir / f"worker{index}.log"))
        wait_until(lambda: self.alive_workers() == self.n_workers, timeout=timeout, interval=1, what=f"{self.n_workers} workers to register")
        return self

    def state(self) -> dict:
        return get_json(f"{self.master_ui}/json/")  # type: ignore[return-value]

    def alive_workers(self) -> int:
        return sum(1 for worker in self.state()["workers"] if worker["state"] == "ALIVE")

    def wait_idle(self, timeout: float = 120) -> None:
        """Until no application holds cores (a killed driver's app is released)."""
        wait_until(lambda: not self.state()["activeapps"] and self.alive_workers() == self.n_workers, timeout=timeout, interval=1, what="the cluster to be idle")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()


# --------------------------------------------------------------------------- Spark Connect server


CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


class ConnectServer:
    """A Spark Connect server on 127.0.0.1 (a free port), from the pip-installed PySpark:
    `spark-submit --class SparkConnectServer`, what sbin/start-connect-server.sh runs."""

    def __init__(self, workdir: Path, *, master: str = "local[2]", driver_memory: str = "2g") -> None:
        self.workdir = workdir
        self.master = master
        self.driver_memory = driver_memory
        self.port = free_port()
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"sc://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180) -> ConnectServer:
        settings = {
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": str(self.port),
            "spark.ui.enabled": "false",
            "spark.sql.session.timeZone": "UTC",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.host": "127.0.0.1",
            "spark.driver.extraJavaOptions": "-XX:-DontCompileHugeMethods",
            "spark.sql.warehouse.dir": str(self.workdir / "warehouse"),
        }
        args = [str(spark_home() / "bin" / "spark-submit"), "--class", CONNECT_SERVER_CLASS, "--name", "customer-behavior-tests-connect"]
        args += ["--master", self.master, "--driver-memory", self.driver_memory]
        args += [arg for key, value in settings.items() for arg in ("--conf", f"{key}={value}")]
        env = daemon_env()  # no Python of ours: the server needs none
        env.pop("SPARK_DAEMON_MEMORY")  # the server is a driver, not a small daemon
        env["SPARK_DRIVER_MEMORY"] = self.driver_memory
        self.proc = Proc.start(args, env=env, log=self.workdir / "connect-server.log", cwd=self.workdir)
        wait_until(self._answers, timeout=timeout, interval=1, what=f"the Spark Connect server on port {self.port}")
        return self

    def _answers(self) -> bool:
        if self.proc is not None and self.proc.process.poll() is not None:
            raise RuntimeError(f"the Spark Connect server exited: {self.proc.output[-2000:]}")
        with socket.create_connection(("127.0.0.1", self.port), timeout=2):
            return True

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


# --------------------------------------------------------------------------- driver REST API


def driver_app_id(ui_url: str) -> str:
    apps = get_json(f"{ui_url}/api/v1/applications")
    return apps[0]["id"]  # type: ignore[index]


def busy_executor(ui_url: str, app_id: str) -> str | None:
    """The id of an executor (not the driver) running a task right now, if any."""
    for executor in get_json(f"{ui_url}/api/v1/applications/{app_id}/executors"):  # type: ignore[union-attr]
        if executor["id"] != "driver" and executor.get("activeTasks", 0) > 0:
            return executor["id"]
    return None


# --------------------------------------------------------------------------- run comparison


def table_dirs(root: Path) -> dict[str, str]:
    """Every directory under `root` that holds Parquet part files, relative to it, keyed by
    the same path with MLlib's random stage uids (``Imputer_1a2b3c4d5e6f``) normalised."""
    found = {}
    for part in root.rglob("*.parquet"):
        relative = part.parent.relative_to(root)
        if not any(piece.startswith((".", "_")) for piece in relative.parts):
            found[re.sub(r"_[0-9a-f]{12}(?=/|$)", "_<uid>", str(relative))] = str(relative)
    return dict(sorted(found.items()))


def tree_fingerprint(root: Path) -> dict[str, tuple[int, int]]:
    """Path -> (size, mtime_ns) of every file: unchanged fingerprint = untouched run."""
    return {str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns) for path in sorted(root.rglob("*")) if path.is_file()}


def event_log_text(run: Path) -> str:
    """The run's (uncompressed) event log, all rolled files concatenated."""
    parts = sorted(p for p in (run / "spark-events").rglob("*") if p.is_file() and not p.name.startswith((".", "appstatus")))
    return "".join(part.read_text(encoding="utf-8", errors="replace") for part in parts)


# A light pipeline for the harness tests: every stage runs, on small settings, so the
# cluster and fault tests stay within the suite's time budget.
LIGHT_PIPELINE_TOML = """\
[personas]
k_min = 2
k_max = 4
restarts = 1

[clv]
evaluate = false
"""


def light_config_file() -> Path:
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"cb-light-pipeline-{os.getpid()}.toml"
    path.write_text(LIGHT_PIPELINE_TOML, encoding="utf-8")
    return path
