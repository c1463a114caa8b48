"""`customer-behavior init-config`: the default configuration as commented TOML."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from customer_behavior.config.model import SECTION_HELP, Config

# --------------------------------------------------------------------------- init-config


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}" = {_toml_value(v)}' for k, v in value.items()) + "}"
    raise TypeError(value)


def _section_lines(name: str, section: Any, help_text: str | None) -> list[str]:
    lines = []
    if help_text:
        lines.append(f"# {help_text}")
    lines.append(f"[{name}]")
    nested = []
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if value is None and "unset" in f.metadata:
            value = f.metadata["unset"]
        if dataclasses.is_dataclass(value):
            nested.append((f"{name}.{f.name}", value, f.metadata.get("help")))
            continue
        help_line = f.metadata.get("help")
        if help_line:
            lines.append(f"# {help_line}")
        lines.append(f"{f.name} = {_toml_value(value)}")
    for nested_name, value, nested_help in nested:
        lines.append("")
        lines.extend(_section_lines(nested_name, value, nested_help))
    return lines


def default_config_toml() -> str:
    """The commented default configuration that `init-config` writes."""
    cfg = Config()
    lines = ["# customer-behavior configuration. Every key is optional; shown are the defaults.", ""]
    for f in dataclasses.fields(cfg):
        lines.extend(_section_lines(f.name, getattr(cfg, f.name), SECTION_HELP.get(f.name)))
        lines.append("")
    return "\n".join(lines)
