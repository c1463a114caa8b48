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


def _tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_overwrite_refuses_a_copied_manifest_beside_user_files_and_deletes_nothing(tmp_path):
    # issue #21: a manifest.json copied into a folder of the user's own files and a subfolder
    target = tmp_path / "out"
    _fake_run(target, "copied")
    (target / "notes.txt").write_text("mine")
    (target / "photos").mkdir()
    (target / "photos" / "a.jpg").write_bytes(b"\xff\xd8")
    (target / "data").mkdir()  # a name we write does not make the rest ours
    before = _tree(target)
    with pytest.raises(OutputError) as caught:
        RunDirectory(target, overwrite=True)
    message = str(caught.value)
    assert message == (
        f"output {str(target.resolve())!r} holds entries a run of {TOOL_NAME} never writes (notes.txt, photos/); "
        "refusing to overwrite it, nothing was deleted"
    )
    assert "\n" not in message
    assert _tree(target) == before


def test_overwrite_refuses_a_file_named_like_one_of_our_directories(tmp_path):
    target = tmp_path / "out"
    _fake_run(target, "old")
    (target / "report").write_text("a file, where a run writes a directory")
    (target / "manifest.json.bak").write_text("{}")
    with pytest.raises(OutputError, match=r"never writes \(manifest.json.bak, report\)"):
        RunDirectory(target, overwrite=True)
    assert (target / "report").read_text().startswith("a file")


def test_overwrite_accepts_exactly_a_run_of_ours(tmp_path):
    target = tmp_path / "out"
    _fake_run(target, "old")
    for name in ("data", "tables", "exports", "report", "quarantine", "model", "spark-events"):
        (target / name).mkdir()
        (target / name / "part-0").write_text("x")
    run_dir = RunDirectory(target, overwrite=True)
    staging = run_dir.create()
    (staging / "manifest.json").write_text(json.dumps({"tool": TOOL_NAME, "marker": "new"}))
    run_dir.commit()
    assert _tree(target) == ["manifest.json"]


def test_commit_refuses_when_user_files_appear_during_the_run(tmp_path):
    target = tmp_path / "out"
    _fake_run(target, "old")
    run_dir = RunDirectory(target, overwrite=True)
    staging = run_dir.create()
    (staging / "manifest.json").write_text(json.dumps({"tool": TOOL_NAME, "marker": "new"}))
    (target / "added-meanwhile.csv").write_text("a,b\n")
    with pytest.raises(OutputError, match=r"never writes \(added-meanwhile.csv\); it was changed during the run; the result is left in"):
        run_dir.commit()
    assert (target / "added-meanwhile.csv").exists() and staging.exists()
