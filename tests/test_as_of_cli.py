"""`run --as-of` is the end of the analysis window (features.as_of); `--quarantine-after` is the
ingest cutoff (input.as_of). No Spark: these stop before a session starts."""

from __future__ import annotations

import datetime as dt

from customer_behavior.cli import _overrides, build_parser, main
from customer_behavior.config import load_config


def _args(*argv: str):
    return build_parser().parse_args(["run", *argv])


def test_as_of_sets_the_analysis_window_and_quarantine_after_the_cutoff():
    overrides = _overrides(_args("--as-of", "2024-06-30", "--quarantine-after", "2024-07-02"))
    assert overrides["features.as_of"] == "2024-06-30" and overrides["input.as_of"] == "2024-07-02"
    cfg = load_config(None, overrides)
    assert cfg.features.as_of == dt.date(2024, 6, 30) and cfg.input.as_of == dt.date(2024, 7, 2)


def test_a_list_of_dates_is_sorted_and_leaves_features_as_of_to_each_run():
    args = _args("--as-of", "2024-12-31, 2024-06-30,2024-09-30")
    assert args.as_of == ["2024-06-30", "2024-09-30", "2024-12-31"]
    assert "features.as_of" not in _overrides(args)


def test_a_config_that_sets_input_as_of_keeps_working(tmp_path):
    path = tmp_path / "cb.toml"
    path.write_text('[input]\nas_of = "2024-07-02"\n', encoding="utf-8")
    cfg = load_config(path, _overrides(_args("--as-of", "2024-06-30")))
    assert cfg.input.as_of == dt.date(2024, 7, 2) and cfg.features.as_of == dt.date(2024, 6, 30)


def test_bad_as_of_dates_are_one_usage_line(capsys):
    for value, message in (("2024-13-01", "'2024-13-01' is not a date"), ("2024-06-30,2024-06-30", "names a date twice")):
        try:
            main(["run", "--as-of", value])
        except SystemExit as exc:
            assert exc.code == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1


def test_as_of_with_input_prints_what_it_now_means(tmp_path, capsys):
    # a missing mapping file stops the run before Spark starts; the note comes first
    code = main(["run", "--input", str(tmp_path / "orders.csv"), "--mapping", str(tmp_path / "missing.toml"), "--as-of", "2024-06-30", "--output", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert code == 1
    assert out.splitlines()[0] == (
        "note: --as-of now sets the end of the analysis window (features.as_of); the quarantine cutoff for late events is --quarantine-after"
    )
