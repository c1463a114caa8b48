"""The command line: one-line errors, nothing written on bad input, safe --overwrite."""

from __future__ import annotations

import json

import pytest

from customer_behavior.cli import main
from customer_behavior.runio import RunDirectory, is_run_directory


def _run(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--customers", "0"], "argument --customers: 0 must be at least 1"),
        (["--customers", "-5"], "argument --customers: -5 must be at least 1"),
        (["--customers", "1.5"], "argument --customers: '1.5' is not a whole number"),
        (["--customers", "ten"], "argument --customers: 'ten' is not a whole number"),
        (["--seed", "-1"], "argument --seed: -1 must not be negative"),
        (["--conf", "novalue"], "argument --conf: 'novalue' is not key=value"),
    ],
)
def test_bad_arguments_give_one_line_and_write_nothing(capsys, tmp_path, args, message):
    out_dir = tmp_path / "out"
    code, _, err = _run(capsys, "generate", "--output", str(out_dir), *args)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not out_dir.exists()


def test_unknown_config_key_is_one_line(capsys, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[generate]\nsize = 3\n")
    code, _, err = _run(capsys, "generate", "--config", str(cfg), "--output", str(tmp_path / "o"))
    assert code == 1
    assert err.strip() == "customer-behavior: error: unknown config key 'generate.size'; allowed keys in [generate]: customers, seed, start_date, end_date, rate_scale, target_transactions, lines_per_order"
    assert not (tmp_path / "o").exists()


def test_existing_non_empty_output_needs_overwrite(capsys, tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    code, _, err = _run(capsys, "generate", "--customers", "5", "--output", str(target))
    assert code == 1
    assert "already exists and is not empty; pass --overwrite" in err
    code, _, err = _run(capsys, "generate", "--customers", "5", "--output", str(target), "--overwrite")
    assert code == 1
    assert "is not a previous run of customer-behavior" in err
    assert (target / "keep.txt").read_text() == "mine"


def test_unwritable_output(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = _run(capsys, "generate", "--customers", "5", "--output", str(blocker / "sub"))
    assert code == 1
    assert "cannot be written" in err
    assert len(err.strip().splitlines()) == 1


def test_generate_writes_three_tables_and_overwrite_replaces_a_run(spark, capsys, tmp_path):
    target = tmp_path / "gen"
    code, out, _ = _run(capsys, "generate", "--customers", "300", "--seed", "4", "--output", str(target))
    assert code == 0, out
    assert {"customers", "transactions", "truth", "manifest.json"} <= {p.name for p in target.iterdir()}
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["rows"]["customers"] == 300
    assert spark.read.parquet(str(target / "transactions")).count() == manifest["rows"]["transactions"]
    code, _, _ = _run(capsys, "generate", "--customers", "200", "--seed", "4", "--output", str(target), "--overwrite")
    assert code == 0
    assert json.loads((target / "manifest.json").read_text())["rows"]["customers"] == 200
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".gen.")]


def test_init_config(capsys, tmp_path):
    path = tmp_path / "cb.toml"
    assert _run(capsys, "init-config", str(path))[0] == 0
    assert "[generate]" in path.read_text()
    code, _, err = _run(capsys, "init-config", str(path))
    assert code == 1 and "already exists; pass --force" in err


def test_staging_is_invisible_until_commit(tmp_path):
    target = tmp_path / "run"
    run_dir = RunDirectory(target)
    staging = run_dir.create()
    (staging / "manifest.json").write_text(json.dumps({"tool": "customer-behavior"}))
    assert not target.exists()
    run_dir.commit()
    assert is_run_directory(target)
    assert not staging.exists()
    again = RunDirectory(target, overwrite=True)
    again.create()
    again.abort()
    assert is_run_directory(target)
