"""The checks of a configuration that read files or stage definitions, run before Spark starts.

The config sections are pure data validated on their own values; the input mapping (preset,
mapping file, flags) and the segment-table file belong to the stages that read them, so
they are checked here, once a whole `Config` is known. `config.load_config` and
`config.with_overrides` run it, so a bad mapping or table file still fails with one
ConfigError line before a session starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from customer_behavior.config import Config


def preflight(cfg: Config) -> Config:
    """`cfg` unchanged, or a ConfigError naming the key whose file or values are wrong."""
    from customer_behavior.ingest.mapping import load_input_mapping
    from customer_behavior.segment_table import load_segment_table

    if cfg.input.source:
        load_input_mapping(cfg.input)
    load_segment_table(cfg.segments.table_file or None)
    return cfg
