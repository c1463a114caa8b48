"""Two real runs of one generated log at two as-of dates (`run --as-of D1,D2` through
pipeline.run_dates) and their comparison, built once per test session and shared.

Small and quick: 2,000 customers, a short persona sweep, no CLV holdout evaluation.
"""

from __future__ import annotations

from pathlib import Path

from customer_behavior.config import Config, with_overrides

BASE_DATE = "2024-07-01"
NEW_DATE = "2024-10-01"
_CACHE: dict[str, Path] = {}


def small_config() -> Config:
    return with_overrides(
        Config(),
        {
            "generate.customers": 2_000,
            "generate.seed": 11,
            "personas.k_min": 3,
            "personas.k_max": 4,
            "personas.sweep_restarts": 1,
            "clv.evaluate": False,
            "spark.metrics": False,
        },
    )


def dated_runs(spark, tmp_path_factory) -> Path:
    """<root>/<BASE_DATE>/ and <root>/<NEW_DATE>/: the whole pipeline at each date, data generated once."""
    if "runs" not in _CACHE:
        from customer_behavior.pipeline import run_dates

        root = tmp_path_factory.mktemp("compare_runs") / "dates"
        _CACHE["runs"] = run_dates(spark, small_config(), [BASE_DATE, NEW_DATE], output=str(root)).path
    return _CACHE["runs"]


def comparison(spark, tmp_path_factory) -> Path:
    """compare <root>/<BASE_DATE> <root>/<NEW_DATE> --output <tmp>/compare."""
    if "compare" not in _CACHE:
        from customer_behavior.compare import compare_runs

        runs = dated_runs(spark, tmp_path_factory)
        target = tmp_path_factory.mktemp("compare_out") / "compare"
        _CACHE["compare"] = compare_runs(spark, runs / BASE_DATE, runs / NEW_DATE, target).path
    return _CACHE["compare"]
