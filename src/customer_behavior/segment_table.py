"""The RFM segment table as data: (R, F, M) code -> one of the 11 named segments.

Pure Python (no Spark), so the config validates a table before Spark starts. The shipped
table is `segment_table.toml` beside this module; `segments.table_file` replaces it with
a file of the same layout. A table is valid when every code 111..555 is mapped exactly
once, every name is one of the 11 segments and every segment has at least one code.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from customer_behavior.errors import ConfigError

SEGMENT_NAMES = (
    "Champions",
    "Loyal Customers",
    "Potential Loyalists",
    "New Customers",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
)
# The segments whose members have lapsed or are lapsing (used to score the planted churn).
LAPSED_SEGMENTS = ("About to Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost")
TOP_SEGMENTS = ("Champions", "Loyal Customers")

LEVELS = 5
ALL_CODES = tuple(f"{r}{f}{m}" for r in range(1, LEVELS + 1) for f in range(1, LEVELS + 1) for m in range(1, LEVELS + 1))
KEY = "segments.table_file"


@dataclass(frozen=True)
class Segment:
    name: str
    rule: str
    description: str
    codes: tuple[str, ...]

    @property
    def slug(self) -> str:
        return segment_slug(self.name)


@dataclass(frozen=True)
class SegmentTable:
    segments: tuple[Segment, ...]
    source: str

    def code_map(self) -> dict[str, str]:
        return {code: seg.name for seg in self.segments for code in seg.codes}

    def names(self) -> tuple[str, ...]:
        return tuple(seg.name for seg in self.segments)


def segment_slug(name: str) -> str:
    """File-name form of a segment name: "Can't Lose Them" -> "cant_lose_them"."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower().replace("'", "")).strip("_")


def parse_segment_table(data: dict, source: str) -> SegmentTable:
    """Validate a parsed TOML table; ConfigError names the first problem found."""
    entries = data.get("segments")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{KEY}: {source} has no [[segments]] entries")
    seen: dict[str, str] = {}
    segments: list = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ConfigError(f"{KEY}: {source}: every [[segments]] entry needs a name")
        name = entry["name"]
        if name not in SEGMENT_NAMES:
            raise ConfigError(f"{KEY}: {source}: unknown segment name {name!r}; allowed: {', '.join(SEGMENT_NAMES)}")
        if any(seg.name == name for seg in segments):
            raise ConfigError(f"{KEY}: {source}: segment {name!r} appears twice; list all its codes in one entry")
        codes = entry.get("codes", [])
        if not isinstance(codes, list):
            raise ConfigError(f"{KEY}: {source}: codes of {name!r} must be a list of strings like \"555\"")
        for code in codes:
            code = str(code)
            if code not in ALL_CODES:
                raise ConfigError(f"{KEY}: {source}: {code!r} in {name!r} is not a code; codes are three digits 1-5 (R, F, M), 111 to 555")
            if code in seen:
                raise ConfigError(f"{KEY}: {source}: code {code} is mapped twice ({seen[code]!r} and {name!r})")
            seen[code] = name
        segments.append(Segment(name, str(entry.get("rule", "")), str(entry.get("description", "")), tuple(str(c) for c in codes)))
    unmapped = [code for code in ALL_CODES if code not in seen]
    if unmapped:
        shown = ", ".join(unmapped[:10]) + (" ..." if len(unmapped) > 10 else "")
        raise ConfigError(f"{KEY}: {source}: {len(unmapped)} code(s) not mapped to any segment: {shown}")
    unreachable = [name for name in SEGMENT_NAMES if name not in {seg.name for seg in segments if seg.codes}]
    if unreachable:
        raise ConfigError(f"{KEY}: {source}: segment(s) with no code, so unreachable: {', '.join(unreachable)}")
    order = {name: i for i, name in enumerate(SEGMENT_NAMES)}
    return SegmentTable(tuple(sorted(segments, key=lambda seg: order[seg.name])), source)


def load_segment_table(path: str | None = None) -> SegmentTable:
    """The shipped table, or the one at `path`."""
    if not path:
        text = resources.files("customer_behavior").joinpath("segment_table.toml").read_text(encoding="utf-8")
        source = "the built-in segment table"
    else:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"{KEY}: {path!r} does not exist")
        text = file.read_text(encoding="utf-8")
        source = repr(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{KEY}: {source} is not valid TOML: {exc}") from None
    return parse_segment_table(data, source)


def five_level(score: int, bins: int) -> int:
    """Map a score 1..bins onto the table's five levels: the quintile holding the bin's centre.

    bins=3 -> 1, 3, 5; bins=4 -> 1, 2, 4, 5; bins=10 -> 1, 1, 2, 2, ..., 5, 5. The same
    arithmetic as `segments.five_level_col` (Spark); never exactly on a quintile edge.
    """
    return -(-(2 * score - 1) * LEVELS // (2 * bins))
