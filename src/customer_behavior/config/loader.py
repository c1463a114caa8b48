"""Loading: defaults, then a TOML file, then "section.key" overrides, each value coerced to its field's type."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tomllib
import typing
from pathlib import Path
from typing import Any

from customer_behavior.config.model import Config
from customer_behavior.errors import ConfigError


def _coerce(key: str, value: Any, kind: Any) -> Any:
    origin = typing.get_origin(kind) or kind
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{key}: {value!r} is not true or false")
    if kind is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: {value!r} is not a whole number")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.replace("_", "").strip())
            except ValueError:
                pass
        raise ConfigError(f"{key}: {value!r} is not a whole number")
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: {value!r} is not a number")
    if kind is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: {value!r} is not a string")
    if kind is dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{key}: {value!r} is not a date (YYYY-MM-DD)")
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: {value!r} is not a list")
        args = typing.get_args(kind)
        item_kind = args[0] if args else Any
        items = [v if item_kind is Any else _coerce(f"{key}[{i}]", v, item_kind) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: {value!r} is not a table")
        return dict(value)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _build_section(key, kind, value)
    return value


def _build_section(name: str, cls: type, values: Any) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{name}: must be a table ([{name}])")
    hints = typing.get_type_hints(cls)
    allowed = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        if key not in allowed:
            raise ConfigError(f"unknown config key '{name}.{key}'; allowed keys in [{name}]: {', '.join(allowed)}")
        kwargs[key] = _coerce(f"{name}.{key}", value, hints[key])
    try:
        return cls(**kwargs)
    except TypeError as exc:  # pragma: no cover - a programming error, not user input
        raise ConfigError(f"{name}: {exc}") from exc


def config_from_dict(data: dict[str, Any]) -> Config:
    hints = typing.get_type_hints(Config)
    sections = [f.name for f in dataclasses.fields(Config)]
    kwargs = {}
    for name, values in data.items():
        if name not in sections:
            raise ConfigError(f"unknown config section '[{name}]'; allowed sections: {', '.join(sections)}")
        kwargs[name] = _build_section(name, hints[name], values)
    return Config(**kwargs)


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "conf":
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def overrides_to_dict(overrides: dict[str, Any]) -> dict[str, Any]:
    """{"generate.customers": 5} -> {"generate": {"customers": 5}}; None values are dropped."""
    nested: dict[str, Any] = {}
    for dotted, value in overrides.items():
        if value is None:
            continue
        section, _, key = dotted.partition(".")
        nested.setdefault(section, {})[key] = value
    return nested


def load_config(path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Defaults, then the TOML file, then CLI overrides ("section.key" -> value); then the preflight checks."""
    data: dict[str, Any] = {}
    if path is not None:
        config_path = Path(path)
        if not config_path.is_file():
            raise ConfigError(f"config file {str(config_path)!r} does not exist; write one with 'customer-behavior init-config'")
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {str(config_path)!r} is not valid TOML: {exc}") from None
    data = _deep_merge(data, overrides_to_dict(overrides or {}))
    return _preflight(config_from_dict(data))


def with_overrides(cfg: Config, overrides: dict[str, Any]) -> Config:
    """A new Config with "section.key" overrides applied and validated."""
    return _preflight(config_from_dict(_deep_merge(cfg.to_dict(), overrides_to_dict(overrides))))


def _preflight(cfg: Config) -> Config:
    # The file checks live with the stages (customer_behavior.preflight); run here so that every
    # caller of load_config / with_overrides (the CLI, api) gets them before Spark starts.
    from customer_behavior.preflight import preflight

    return preflight(cfg)
