"""Run directories under interruption: a commit killed between its two renames."""

from __future__ import annotations

import json

import pytest

from customer_behavior import TOOL_NAME
from customer_behavior.errors import OutputError
from customer_behavior.runio import RunDirectory, is_run_directory


def _fake_run(path, marker):
    path.mkdir(parents=True)
    (path / "manifest.json").write_text(json.dumps({"tool": TOOL_NAME, "status": "complete", "marker": marker}))


def test_commit_killed_between_renames_restores_the_previous_run(tmp_path):
    # commit() moved the old run aside and was killed before moving the new one in
    _fake_run(tmp_path / ".out.previous-0123456789ab", "old")
    with pytest.raises(OutputError, match="already exists"):  # restored, so no longer free to write
        RunDirectory(tmp_path / "out", overwrite=False)
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["marker"] == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_leftover_previous_beside_a_committed_run_is_removed(tmp_path):
    # killed after both renames, before the old run was deleted
    _fake_run(tmp_path / "out", "new")
    _fake_run(tmp_path / ".out.previous-0123456789ab", "old")
    RunDirectory(tmp_path / "out", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["marker"] == "new"


def test_commit_replaces_previous_run_and_stale_staging_is_cleaned(tmp_path):
    _fake_run(tmp_path / "out", "old")
    stale = tmp_path / ".out.staging-deadbeef0000"
    stale.mkdir()
    (stale / ".customer-behavior-staging").write_text("999999999")  # no such process
    run_dir = RunDirectory(tmp_path / "out", overwrite=True)
    staging = run_dir.create()
    assert not stale.exists()
    assert not is_run_directory(staging)  # a staging directory never looks like a finished run
    (staging / "manifest.json").write_text(json.dumps({"tool": TOOL_NAME, "marker": "new"}))
    run_dir.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["marker"] == "new"
