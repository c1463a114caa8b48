"""compat.py without a Spark session: versions, a missing PySpark, Connect addresses."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest

from customer_behavior import compat
from customer_behavior.config import SparkSettings
from customer_behavior.errors import ConfigError, EnvironmentProblem
from spark_procs import PYTHON, cli_env, free_port

NO_PYSPARK = "import sys; sys.modules['pyspark'] = None; {body}"


@pytest.mark.parametrize(("text", "expected"), [("3.5.9", (3, 5)), ("4.3.0", (4, 3)), ("4.1.0.dev1", (4, 1)), ("4", (4, 0))])
def test_pyspark_version(text, expected):
    assert compat.pyspark_version(text) == expected


def test_installed_pyspark_is_supported():
    import pyspark

    assert compat.require_pyspark() == compat.pyspark_version(pyspark.__version__)


@pytest.mark.parametrize(
    "body",
    [
        "from customer_behavior.cli import main; sys.exit(main(['run', '-o', sys.argv[1]]))",
        "from customer_behavior import api",
    ],
    ids=["cli", "api"],
)
def test_missing_pyspark_is_one_line(tmp_path, body):
    result = subprocess.run([PYTHON, "-c", NO_PYSPARK.format(body=body), str(tmp_path / "run")], env=cli_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "PySpark is not installed; pip install 'customer-behavior-analysis[spark]'" in last
    if "cli" in body:
        assert result.stderr.strip().splitlines() == [f"customer-behavior: error: {last.split('error: ', 1)[1]}"]
    assert not (tmp_path / "run").exists()


def test_remote_address_is_checked():
    with pytest.raises(ConfigError, match="spark.remote: 'http://x:1' is not a Spark Connect address"):
        SparkSettings(remote="http://x:1")
    with pytest.raises(ConfigError, match="spark.remote and spark.master: give one"):
        SparkSettings(remote="sc://localhost:15002", master="local[2]")


def test_dead_connect_address_fails_fast_naming_it():
    url = f"sc://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(EnvironmentProblem, match=f"no Spark Connect server answers at {url}"):
        compat.check_remote(url)
    assert time.monotonic() - started < 15


def test_listening_address_passes_the_probe():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert compat.check_remote(f"sc://127.0.0.1:{port}") == ("127.0.0.1", port)
