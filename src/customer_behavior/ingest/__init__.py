"""Bring your own data: read a user's transaction log, map it to the canonical schema,
validate every row, and route each failing row to the quarantine with a reason.

Modules: `mapping` (the mapping, pure data), `presets` (built-in mappings), `readers`
(files -> DataFrames of raw values), `validation` (raw -> canonical + reason), `plan` (the three
together, lazily, plus the row accounting),
`reasons` (the stable quarantine codes). The pipeline's `stage_ingest` owns the actions.
"""
