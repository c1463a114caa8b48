"""The pipeline on a real Spark standalone cluster (master + 2 workers on 127.0.0.1).

One cluster for the module; every table a cluster run writes must equal the local-mode
run with the same seed, also after an executor JVM is killed mid-stage, and a driver
killed mid-run must leave the previous run at its path untouched. The executors get a
"Python" that records any start and fails, so a run that completes proves that no
Python code (ours or PySpark's) ran on the executors.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
from pathlib import Path

import pytest

from customer_behavior.history import spark_home
from customer_behavior import api
from customer_behavior.runio import is_run_directory, read_manifest

from run_compare import assert_same_tables
from spark_procs import (
    PYTHON,
    Proc,
    StandaloneCluster,
    busy_executor,
    cli,
    cli_env,
    descendants,
    driver_app_id,
    event_log_text,
    executor_pids,
    is_alive,
    light_config_file,
    tree_fingerprint,
    wait_until,
)

pytestmark = pytest.mark.cluster

CUSTOMERS = 1_200
SEED = 7
RUN_TIMEOUT = 900  # seconds for one cluster run on a loaded 2-core machine (the suite runs files in parallel)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("standalone")
    standalone = StandaloneCluster(workdir, workers=2, worker_cores=1, worker_memory="1g")
    try:
        yield standalone.start()
    finally:
        standalone.stop()


@pytest.fixture(scope="module")
def local_analysis(spark, tmp_path_factory) -> api.Analysis:
    """The reference: the same pipeline in local mode on the suite's session, through the Python API."""
    cfg = api.config(light_config_file(), {"spark.master": "local[2]", "generate.seed": SEED})
    return api.run(spark, cfg, customers=CUSTOMERS, output=str(tmp_path_factory.mktemp("local") / "run"), progress=False)


@pytest.fixture(scope="module")
def local_run(local_analysis) -> Path:
    return local_analysis.path


def test_python_api_runs_on_the_existing_session(spark, local_analysis):
    manifest = read_manifest(local_analysis.path)
    assert manifest["spark"]["app_id"] == spark.sparkContext.applicationId  # the notebook's session, not a new one
    assert manifest["rows"]["customers_generated"] == CUSTOMERS
    assert local_analysis.kpis["customers"] == manifest["rows"]["customers_with_features"]
    assert local_analysis.report_html.is_file() and local_analysis.insights_json.is_file()
    segments = local_analysis.table(spark, "rfm_segments")
    assert segments.count() == local_analysis.kpis["customers"]
    assert not spark.sparkContext._jsc.sc().isStopped()  # the API leaves the session running


@pytest.fixture(scope="module")
def python_tripwire(tmp_path_factory) -> tuple[Path, Path]:
    """A stand-in for the executors' Python: records that it was started, then fails."""
    root = tmp_path_factory.mktemp("tripwire")
    marker = root / "python-was-started"
    script = root / "python"
    script.write_text(f'#!/bin/sh\necho "$$ $*" >> "{marker}"\nexit 97\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, marker


def cluster_conf(cluster: StandaloneCluster, tripwire: Path) -> list[str]:
    settings = {
        "spark.executor.memory": "512m",
        "spark.executor.cores": "1",
        "spark.pyspark.python": str(tripwire),  # under spark-submit: the executors' Python
        "spark.executorEnv.PYTHONPATH": "",
        "spark.eventLog.compress": "false",  # the test reads the event log as text
    }
    return [arg for key, value in settings.items() for arg in ("--conf", f"{key}={value}")]


def run_args(cluster, tripwire, output: Path) -> list[str]:
    return ["run", "--config", str(light_config_file()), "--master", cluster.master_url, "--customers", str(CUSTOMERS), "--seed", str(SEED), "-o", str(output), "--driver-memory", "1g", *cluster_conf(cluster, tripwire)]


def driver_env(tripwire: Path) -> dict[str, str]:
    # The driver must advertise an address the workers reach: the cluster is on loopback.
    # PySpark tells executors to start the driver's PYSPARK_PYTHON for any Python work
    # (spark-submit sets it from spark.pyspark.python); the driver itself is already running.
    # SPARK_HOME spares spark-submit's find-spark-home, which would run PYSPARK_PYTHON.
    return cli_env(SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=str(tripwire), SPARK_HOME=str(spark_home()))


def test_cluster_run_survives_losing_an_executor(spark, cluster, local_run, python_tripwire, tmp_path):
    tripwire, marker = python_tripwire
    output = tmp_path / "run"
    run = Proc.start(cli(*run_args(cluster, tripwire, output), "--ui"), env=driver_env(tripwire), log=tmp_path / "driver.log")
    try:
        ui_url = run.wait_for_line(r"Spark UI: (\S+)", timeout=300).group(1)
        app_id = wait_until(lambda: driver_app_id(ui_url), timeout=60, what="the application")
        victim_id = wait_until(lambda: busy_executor(ui_url, app_id), timeout=480, interval=0.05, what="an executor running a task")
        [victim_pid] = executor_pids(app_id=app_id, executor_id=victim_id)
        os.kill(victim_pid, signal.SIGKILL)
        assert run.wait(RUN_TIMEOUT) == 0, run.output[-3000:]
    finally:
        run.stop()

    assert "complete" == read_manifest(output)["status"]
    assert_same_tables(spark, local_run, output)
    events = event_log_text(output)
    assert f'"Executor ID":"{victim_id}"' in events and "SparkListenerExecutorRemoved" in events
    assert '"Reason":"ExecutorLostFailure"' in events  # a running task was lost and rerun
    manifest = read_manifest(output)
    assert sum(stage["spark"]["failed_tasks"] for stage in manifest["stages"]) >= 1
    assert manifest["spark"]["master"] == cluster.master_url
    assert not marker.exists(), f"an executor started Python: {marker.read_text()}"


def test_killed_driver_leaves_previous_run_intact_and_spark_submit_reruns(spark, cluster, local_run, python_tripwire, tmp_path):
    tripwire, marker = python_tripwire
    output = tmp_path / "run"
    shutil.copytree(local_run, output)  # a previous run at the path
    before = tree_fingerprint(output)
    cluster.wait_idle()

    run = Proc.start(cli(*run_args(cluster, tripwire, output), "--overwrite", "--ui"), env=driver_env(tripwire), log=tmp_path / "killed-driver.log")
    try:
        ui_url = run.wait_for_line(r"Spark UI: (\S+)", timeout=300).group(1)
        app_id = wait_until(lambda: driver_app_id(ui_url), timeout=60, what="the application")
        wait_until(lambda: busy_executor(ui_url, app_id), timeout=480, interval=0.05, what="a running task")
        driver_jvms = descendants(run.pid)
        os.kill(run.pid, signal.SIGKILL)
        assert run.wait(60) == -signal.SIGKILL
        # PySpark's JVM exits when its Python parent goes; the executors when their driver does
        wait_until(lambda: not any(map(is_alive, driver_jvms)) and not executor_pids(app_id=app_id), timeout=120, what="the driver JVM and executors to exit")
    finally:
        run.stop()

    assert tree_fingerprint(output) == before
    leftovers = [path for path in tmp_path.iterdir() if path.name.startswith(f".{output.name}.")]
    assert [path.name.split("-")[0] for path in leftovers] == [f".{output.name}.staging"]  # the killed run's
    assert not any(is_run_directory(path) for path in tmp_path.iterdir() if path != output)

    cluster.wait_idle()
    entry = Path(__file__).resolve().parents[1] / "src" / "customer_behavior" / "spark_submit_entry.py"
    submit = [str(Path(PYTHON).parent / "spark-submit"), "--master", cluster.master_url, "--driver-memory", "1g"]
    submit += cluster_conf(cluster, tripwire) + ["--conf", f"spark.pyspark.driver.python={PYTHON}"]
    submit += [str(entry), "run", "--config", str(light_config_file()), "--customers", str(CUSTOMERS), "--seed", str(SEED), "-o", str(output), "--overwrite"]
    rerun = Proc.start(submit, env=driver_env(tripwire), log=tmp_path / "spark-submit.log")
    try:
        assert rerun.wait(RUN_TIMEOUT) == 0, rerun.output[-3000:]
    finally:
        rerun.stop()

    manifest = read_manifest(output)
    assert manifest["status"] == "complete"
    assert manifest["spark"]["master"] == cluster.master_url
    assert manifest["spark"]["app_id"] != read_manifest(local_run)["spark"]["app_id"]
    assert_same_tables(spark, local_run, output)
    assert [path for path in tmp_path.iterdir() if path.name.startswith(f".{output.name}.")] == []  # stale staging cleaned
    assert not marker.exists(), f"an executor started Python: {marker.read_text()}"
