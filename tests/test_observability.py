"""What a run shows about itself: job descriptions, per-stage Spark metrics, the History
Server over its event log, that a local run listens on loopback only, and that no task
needs Python (PYSPARK_PYTHON is a tripwire, as the executors of the cluster test get)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from customer_behavior.runio import read_manifest
from customer_behavior.tracking import aggregate_metrics

from spark_procs import Proc, cli, cli_env, descendants, free_port, get_json, is_alive, is_loopback, light_config_file, listening_addresses, wait_until

CUSTOMERS = 1_500


def python_tripwire(root: Path) -> Path:
    """A stand-in for the tasks' Python (PYSPARK_PYTHON): records any start, then fails."""
    script = root / "python"
    script.write_text(f'#!/bin/sh\necho "$$ $*" >> "{root / "python-was-started"}"\nexit 97\n')
    script.chmod(0o755)
    return script


@pytest.fixture(scope="module")
def local_cli_run(tmp_path_factory) -> dict:
    """`customer-behavior run --ui` as a user starts it (no SPARK_LOCAL_IP in its environment),
    with the listening sockets of its process tree sampled while the generate stage runs."""
    root = tmp_path_factory.mktemp("observed")
    output = root / "run"
    env = cli_env(PYSPARK_PYTHON=str(python_tripwire(root)))  # as on a cluster: no Python for tasks
    env.pop("SPARK_LOCAL_IP", None)
    run = Proc.start(cli("run", "--config", str(light_config_file()), "--ui", "--customers", str(CUSTOMERS), "--seed", "3", "-o", str(output), "--driver-memory", "1g"), env=env, log=root / "run.log")
    try:
        ui_url = run.wait_for_line(r"Spark UI: (\S+)", timeout=180).group(1)
        run.wait_for_line(r"^generate .*\.\.\.$", timeout=60)
        listening = listening_addresses({run.pid} | descendants(run.pid))
        code = run.wait(900)  # a whole run on a loaded 2-core machine (the suite runs files in parallel)
        marker = root / "python-was-started"
        assert not marker.exists(), (
            "Spark started Python workers for a task (a UDF, or createDataFrame from a Python list, or an RDD"
            f" lambda): executors would need Python and our code; see the failing stage in\n{run.output[-2000:]}"
        )
        assert code == 0, run.output[-3000:]
    finally:
        run.stop()
    return {"path": output, "ui_url": ui_url, "listening": listening, "manifest": read_manifest(output)}


def test_local_run_listens_on_loopback_only(local_cli_run):
    listening = local_cli_run["listening"]
    ui_port = int(local_cli_run["ui_url"].rsplit(":", 1)[1])
    assert ui_port in {port for _ip, port in listening}  # the UI was among the sockets seen
    assert local_cli_run["ui_url"].startswith("http://127.0.0.1:")
    exposed = sorted((ip, port) for ip, port in listening if not is_loopback(ip))
    assert exposed == []


def test_manifest_records_spark_metrics_per_stage(local_cli_run):
    stages = {stage["name"]: stage for stage in local_cli_run["manifest"]["stages"]}
    generate = stages["generate"]
    metrics = generate["spark"]
    assert metrics["source"] == "rest"
    # the generate stage writes three Parquet tables: Spark's output metrics must match the files
    data = local_cli_run["path"] / "data"
    written_bytes = sum(part.stat().st_size for part in data.rglob("*.parquet"))
    rows = local_cli_run["manifest"]["rows"]
    assert metrics["output_bytes"] == written_bytes
    assert metrics["output_records"] == rows["customers_generated"] + rows["transactions_generated"] + rows["truth_generated"]
    assert metrics["tasks"] >= metrics["stages"] >= metrics["jobs"] > 0
    assert metrics["failed_tasks"] == 0
    for key in ("input_bytes", "shuffle_read_bytes", "shuffle_write_bytes", "memory_spilled_bytes", "disk_spilled_bytes", "gc_ms", "executor_run_ms"):
        assert isinstance(metrics[key], int) and metrics[key] >= 0, key
    assert generate["seconds"] > 0
    # the light configuration turns the holdout evaluation off: that stage and the challenger judged on it are skipped, saying why
    for name in ("holdout", "challenger"):
        assert (stages[name]["status"], stages[name]["notes"], stages[name]["spark"]["jobs"]) == ("skipped", ["clv.evaluate = false"], 0)
    for stage in stages.values():  # every stage that ran Spark jobs has their metrics
        assert stage["spark"]["source"] == "rest" and stage["status"] == ("skipped" if stage["name"] in ("holdout", "challenger") else "ok"), stage["name"]
        assert stage["spark"]["tasks"] >= stage["spark"]["stages"] >= (1 if stage["spark"]["jobs"] else 0), stage["name"]


def test_history_server_replays_the_run_with_stage_named_jobs(local_cli_run, tmp_path):
    manifest = local_cli_run["manifest"]
    port = free_port()
    env = cli_env()
    env.pop("SPARK_LOCAL_IP", None)
    server = Proc.start(cli("history", str(local_cli_run["path"]), "--port", str(port)), env=env, log=tmp_path / "history.log")
    try:
        address = server.wait_for_line(r"Spark History Server: (http://\S+)", timeout=180).group(1)
        assert address == f"http://127.0.0.1:{port}"
        api = f"{address}/api/v1/applications"
        assert [app["id"] for app in get_json(api)] == [manifest["spark"]["app_id"]]
        jobs = get_json(f"{api}/{manifest['spark']['app_id']}/jobs")
        # every job of the run, Parquet writes included, is labelled with its pipeline stage
        stage_names = [stage["name"] for stage in manifest["stages"]]
        assert len(jobs) == sum(stage["spark"]["jobs"] for stage in manifest["stages"])
        assert {job["jobGroup"] for job in jobs} == {f"customer-behavior:{stage['name']}" for stage in manifest["stages"] if stage["spark"]["jobs"]}
        assert all(job["description"].split(":")[0] in stage_names for job in jobs)
        server_jvms = descendants(server.pid)
        listening = listening_addresses(server_jvms)
        assert ("127.0.0.1", port) in listening
        assert all(is_loopback(ip) for ip, _port in listening)
        server.process.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0
        assert "Spark History Server stopped" in server.output
        wait_until(lambda: not any(map(is_alive, server_jvms)), timeout=60, what="the History Server JVM to exit")
    finally:
        server.stop()


def test_history_of_a_directory_without_event_log_is_one_line_error(tmp_path):
    server = Proc.start(cli("history", str(tmp_path)), env=cli_env())
    assert server.wait(60) == 1
    assert server.lines == [f"customer-behavior: error: {str(tmp_path)!r} has no Spark event log in spark-events/; it is written when spark.event_log is true (the default)"]


def _job(job_id, group, stage_ids, status="SUCCEEDED"):
    return {"jobId": job_id, "jobGroup": group, "stageIds": stage_ids, "status": status}


def _stage(stage_id, attempt=0, status="COMPLETE", **metrics):
    return {"stageId": stage_id, "attemptId": attempt, "status": status, "numCompleteTasks": metrics.pop("tasks", 1), "numFailedTasks": metrics.pop("failed", 0), **metrics}


def test_aggregate_metrics_counts_each_stage_once_and_every_attempt():
    jobs = [
        _job(0, "customer-behavior:a", [0]),
        _job(1, "customer-behavior:a", [1, 2]),
        _job(2, "customer-behavior:b", [2, 3]),  # reuses stage 2's shuffle output from job 1
        _job(3, None, [4]),
    ]
    stages = [
        _stage(0, tasks=2, inputBytes=100, outputBytes=10, jvmGcTime=5, executorCpuTime=3_000_000),
        _stage(1, tasks=4, shuffleWriteBytes=40, memoryBytesSpilled=7),
        _stage(2, attempt=0, status="FAILED", tasks=1, failed=1, shuffleReadBytes=8),  # lost an executor
        _stage(2, attempt=1, tasks=2, shuffleReadBytes=40, diskBytesSpilled=3),
        _stage(3, tasks=1, outputBytes=99),
        _stage(4, tasks=9, inputBytes=1_000),
    ]
    a = aggregate_metrics(jobs, stages, "customer-behavior:a")
    assert (a["jobs"], a["stages"], a["stage_attempts"], a["tasks"], a["failed_tasks"]) == (2, 3, 4, 9, 1)
    assert (a["input_bytes"], a["output_bytes"], a["shuffle_write_bytes"], a["shuffle_read_bytes"]) == (100, 10, 40, 48)
    assert (a["memory_spilled_bytes"], a["disk_spilled_bytes"], a["gc_ms"], a["executor_cpu_ms"]) == (7, 3, 5, 3)
    b = aggregate_metrics(jobs, stages, "customer-behavior:b")
    assert (b["jobs"], b["stages"], b["tasks"], b["output_bytes"], b["shuffle_read_bytes"]) == (1, 1, 1, 99, 0)
    skipped = aggregate_metrics([_job(0, "g", [0]), _job(1, "h", [1])], [_stage(0), _stage(1, status="SKIPPED")], "h")
    assert (skipped["stages"], skipped["skipped_stages"], skipped["tasks"]) == (0, 1, 0)


def test_ui_runs_for_metrics_on_a_random_port_and_only_when_wanted():
    from customer_behavior.config import SparkSettings
    from customer_behavior.session import session_conf

    default = session_conf(SparkSettings())
    assert (default["spark.ui.enabled"], default["spark.ui.port"]) == ("true", "0")
    assert default["spark.driver.bindAddress"] == "127.0.0.1"
    asked = session_conf(SparkSettings(ui=True))
    assert asked["spark.ui.enabled"] == "true" and "spark.ui.port" not in asked  # Spark's 4040 and up
    quiet = session_conf(SparkSettings(metrics=False))
    assert quiet["spark.ui.enabled"] == "false"
    user_off = session_conf(SparkSettings(conf={"spark.ui.enabled": False}))
    assert user_off["spark.ui.enabled"] == "false"  # the user's --conf wins


def test_two_runs_in_one_session_count_their_own_jobs(spark):
    """A second run in the same session (api.run twice, a benchmark's repeat) must not count the first run's jobs too."""
    from customer_behavior.tracking import StageTracker

    counts = []
    for _ in range(2):
        tracker = StageTracker(spark)
        with tracker.stage("count", "one count"):
            spark.range(10).count()
        counts.append(tracker.records[0].spark["jobs"])
    assert counts[0] >= 1 and counts[1] == counts[0]
