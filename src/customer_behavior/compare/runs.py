"""The two runs of a comparison: found, checked and described before anything is computed.

A run is a directory that `customer-behavior run` wrote (its manifest says so) with the
tables the comparison reads. What makes two runs not comparable is said in words: a BASE
later than NEW or a directory that is not a run stops the comparison with one line; runs
whose segments are defined differently (other bins, another segment table) are compared on
what does not depend on the segments, with a note naming the difference.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from customer_behavior import TOOL_NAME
from customer_behavior import columns as C
from customer_behavior.errors import InputError
from customer_behavior.runio import read_manifest

REQUIRED_TABLES = ("tables/customer_features", "tables/rfm_segments")


@dataclass(frozen=True)
class RunInfo:
    """One side of the comparison: where it is, what its manifest says, what it holds."""

    role: str  # "BASE" or "NEW"
    path: Path
    manifest: dict[str, Any]
    as_of: dt.date

    @property
    def results(self) -> dict[str, Any]:
        return self.manifest.get("results", {})

    @property
    def bins(self) -> int | None:
        segments = self.results.get("segments")
        return segments.get("bins") if isinstance(segments, dict) else None

    @property
    def active_days(self) -> int:
        return int(self.manifest.get("config", {}).get("insights", {}).get("active_days", 90))

    @property
    def label(self) -> str:
        return f"{self.role} ({self.as_of.isoformat()})"

    def has(self, relative: str) -> bool:
        target = self.path / relative
        return target.is_dir() and any(target.iterdir())

    def table(self, spark: SparkSession, name: str) -> DataFrame | None:
        """tables/<name> as a DataFrame, None when the run did not write it."""
        return spark.read.parquet(str(self.path / "tables" / name)) if self.has(f"tables/{name}") else None

    def describe(self) -> dict[str, Any]:
        return {"path": str(self.path), "as_of": self.as_of.isoformat(), "started_at": self.manifest.get("started_at"), "seed": self.manifest.get("seed"),
                "source": self.results.get("ingest", {}).get("path") or "generated", "bins": self.bins}


def _not_a_run(role: str, path: Path, why: str) -> InputError:
    return InputError(f"{role} {str(path)!r} {why}; pass a directory that '{TOOL_NAME} run' wrote")


def load_run_info(path: str | os.PathLike[str], role: str) -> RunInfo:
    """The run at `path`, or an InputError saying in one line why it cannot be compared."""
    base = Path(path).expanduser().resolve()
    if not base.is_dir():
        raise _not_a_run(role, base, "is not a directory")
    manifest = read_manifest(base)
    if manifest is None:
        raise _not_a_run(role, base, f"is not a run of {TOOL_NAME} (no manifest.json of ours)")
    if manifest.get("kind") == "as_of_dates":
        dates = manifest.get("as_of_dates") or []
        example = f"{base / dates[0]} {base / dates[-1]}" if len(dates) >= 2 else str(base / "DATE")
        raise InputError(f"{role} {str(base)!r} holds runs at {len(dates)} as-of dates ({', '.join(dates)}); pass two of them, e.g. {example}")
    if manifest.get("command") != "run":
        raise _not_a_run(role, base, f"is the output of '{TOOL_NAME} {manifest.get('command')}', not of an analysis run")
    if manifest.get("status") != "complete":
        raise _not_a_run(role, base, f"is a run with status {manifest.get('status')!r}")
    missing = [name for name in REQUIRED_TABLES if not (base / name).is_dir()]
    if missing:
        raise _not_a_run(role, base, f"lacks {', '.join(missing)}")
    as_of = (manifest.get("results", {}).get("features") or {}).get("as_of")
    if not as_of:
        raise _not_a_run(role, base, "records no as-of date (results.features.as_of)")
    return RunInfo(role=role, path=base, manifest=manifest, as_of=dt.date.fromisoformat(str(as_of)[:10]))


def check_order(base: RunInfo, new: RunInfo) -> None:
    if base.path == new.path:
        raise InputError(f"BASE and NEW are the same run ({str(base.path)!r}); pass two different runs")
    if base.as_of > new.as_of:
        raise InputError(
            f"BASE {str(base.path)!r} is as of {base.as_of}, later than NEW {str(new.path)!r} (as of {new.as_of}); "
            f"pass the earlier run first: {TOOL_NAME} compare {new.path} {base.path}"
        )


def code_segments(rfm_df: DataFrame) -> DataFrame:
    """The (rfm_code, segment) pairs a run assigned: at most 125 rows."""
    return rfm_df.select(F.col(C.RFM_CODE), F.col(C.SEGMENT)).distinct()


def segment_differences(base: RunInfo, new: RunInfo, base_codes: list[tuple[str, str]], new_codes: list[tuple[str, str]]) -> list[str]:
    """Why the two runs' segments are not comparable (empty when they are)."""
    notes = []
    if base.bins != new.bins:
        notes.append(f"BASE scores R, F and M in {base.bins} bins and NEW in {new.bins}: its segments are not comparable, so segment migration and slipping customers are not computed")
    new_map = dict(new_codes)
    differing = sorted(code for code, segment in base_codes if code in new_map and new_map[code] != segment)
    if differing:
        code = differing[0]
        notes.append(
            f"BASE and NEW use different segment tables ({len(differing)} RFM code(s) map to other segments, e.g. {code}: "
            f"{dict(base_codes)[code]!r} in BASE, {new_map[code]!r} in NEW): segment migration and slipping customers are not computed"
        )
    return notes
