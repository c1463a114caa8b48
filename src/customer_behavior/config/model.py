"""The whole configuration: one frozen section per stage, and each section's help text."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from customer_behavior.config.analysis import ClvConfig, CompareConfig, FeaturesConfig, InsightsConfig, PatternsConfig, PersonasConfig, SegmentsConfig
from customer_behavior.config.run import GenerateConfig, InputConfig, OutputConfig, SparkSettings


@dataclass(frozen=True)
class Config:
    spark: SparkSettings = field(default_factory=SparkSettings)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    segments: SegmentsConfig = field(default_factory=SegmentsConfig)
    clv: ClvConfig = field(default_factory=ClvConfig)
    patterns: PatternsConfig = field(default_factory=PatternsConfig)
    insights: InsightsConfig = field(default_factory=InsightsConfig)
    personas: PersonasConfig = field(default_factory=PersonasConfig)
    input: InputConfig = field(default_factory=InputConfig)
    compare: CompareConfig = field(default_factory=CompareConfig)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _section_to_dict(getattr(self, f.name)) for f in dataclasses.fields(self)}


SECTION_HELP = {
    "spark": "Spark session. Under spark-submit or in a notebook the existing session is used as it is.",
    "generate": "Synthetic data generator (used when no --input is given).",
    "output": "Where a run writes its results. Runs are atomic: written to a staging directory, then moved into place.",
    "features": "Per-customer features (RFM, behaviour, BTYD summary); see docs/definitions.md.",
    "segments": "R/F/M scores from quantile bins and the 11 named RFM segments; see docs/definitions.md.",
    "clv": "Customer lifetime value and churn: BG/NBD and Gamma-Gamma fitted by maximum likelihood, scored per customer in Spark.",
    "patterns": "Behavioural patterns: time of day, categories, payment, cohorts, category affinities (FPGrowth).",
    "insights": "KPIs and the rules that turn them into recommendations.",
    "personas": "Personas: MLlib clustering over scaled customer features, k chosen by a sweep, clusters named from their centroids.",
    "compare": "`customer-behavior compare BASE NEW`: what changed between two runs (segment migration, slipping customers, drift).",
    "input": "Your own transaction log (run --input PATH): reading, mapping and validation. Rejected rows go to quarantine/ with a reason.",
}


def _section_to_dict(section: Any) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if value is None and "unset" in f.metadata:
            value = f.metadata["unset"]  # an unset date is "" in TOML and the manifest, as before dates were typed
        elif dataclasses.is_dataclass(value):
            value = _section_to_dict(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out
