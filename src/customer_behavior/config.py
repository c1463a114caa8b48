"""Configuration: frozen dataclasses per stage, composed into one `Config`.

Every knob has a default and a one-line help text (the field's metadata), which is also
what `customer-behavior init-config` writes as a comment. A TOML file (read with the
standard library) and CLI flags override the defaults; everything is validated here,
before Spark starts, with an error that names the key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from customer_behavior.errors import ConfigError


def knob(default: Any, help: str, **kwargs: Any) -> Any:
    """A config field with its help text (shown by init-config)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: typing.cast(Any, type(default))(default), metadata={"help": help}, **kwargs)
    return field(default=default, metadata={"help": help}, **kwargs)


_MEMORY_RE = re.compile(r"^\d+[kmgt]?$", re.IGNORECASE)


@dataclass(frozen=True)
class SparkSettings:
    master: str = knob("", 'Spark master. "" = local mode on every core with task retries (local[N,4]); or spark://host:port, yarn, k8s://...')
    driver_memory: str = knob("auto", 'Driver JVM heap, e.g. "4g". "auto" = half the machine\'s memory, between 1g and 8g. Ignored when a session already exists.')
    shuffle_partitions: int = knob(0, "spark.sql.shuffle.partitions. 0 = auto: 4 x the cores (adaptive execution coalesces small ones).")
    ui: bool = knob(False, "Start the Spark UI (bound to 127.0.0.1 in local mode) and print its address.")
    event_log: bool = knob(True, "Write the Spark event log into <output>/spark-events for the History Server.")
    conf: dict = knob({}, "Extra Spark settings passed through as they are, e.g. {\"spark.executor.memory\" = \"2g\"}.")

    def __post_init__(self) -> None:
        if self.driver_memory != "auto" and not _MEMORY_RE.match(self.driver_memory):
            raise ConfigError(f"spark.driver_memory: {self.driver_memory!r} is not a memory size; use e.g. \"4g\", \"512m\" or \"auto\"")
        if self.shuffle_partitions < 0:
            raise ConfigError(f"spark.shuffle_partitions: {self.shuffle_partitions} must be 0 (auto) or a positive number")
        for key, value in self.conf.items():
            if not isinstance(value, (str, int, float, bool)):
                raise ConfigError(f"spark.conf.{key}: must be a string, number or boolean")


@dataclass(frozen=True)
class GenerateConfig:
    customers: int = knob(100_000, "Number of synthetic customers (transactions follow from the personas, about 15 per customer).")
    seed: int = knob(42, "Seed of every random stream: the same seed and size give identical tables on any number of cores.")
    start_date: dt.date = knob(dt.date(2023, 1, 1), "First day of the fixed observation window.")
    end_date: dt.date = knob(dt.date(2024, 12, 31), "Last day of the observation window (the as-of date defaults to the day after).")
    rate_scale: float = knob(1.0, "Multiplies every persona's purchase rate (more or fewer transactions per customer).")
    target_transactions: int = knob(0, "If > 0: choose rate_scale so the expected number of transactions is about this (overrides rate_scale).")

    def __post_init__(self) -> None:
        if self.customers < 1:
            raise ConfigError(f"generate.customers: {self.customers} must be a whole number of at least 1")
        if self.customers > 10_000_000_000:
            raise ConfigError(f"generate.customers: {self.customers} is more than 10 billion; use a smaller size")
        if not 0 <= self.seed < 2**31:
            raise ConfigError(f"generate.seed: {self.seed} must be between 0 and 2147483647")
        if self.end_date <= self.start_date:
            raise ConfigError(f"generate.end_date: {self.end_date} must be after generate.start_date {self.start_date}")
        if (self.end_date - self.start_date).days < 28:
            raise ConfigError("generate.end_date: the observation window must be at least 28 days long")
        if not 0 < self.rate_scale <= 100:
            raise ConfigError(f"generate.rate_scale: {self.rate_scale} must be > 0 and <= 100")
        if self.target_transactions < 0:
            raise ConfigError(f"generate.target_transactions: {self.target_transactions} must be 0 (off) or positive")


@dataclass(frozen=True)
class OutputConfig:
    path: str = knob("out/run", "Run directory: manifest.json, data/, tables/, exports/, model/, report/, spark-events/.")
    overwrite: bool = knob(False, "Replace an existing run at that path (never a directory that is not a run of this tool).")

    def __post_init__(self) -> None:
        if not self.path.strip():
            raise ConfigError("output.path: must not be empty")


_INPUT_FORMATS = ("auto", "csv", "parquet", "json")


@dataclass(frozen=True)
class InputConfig:
    path: str = knob("", 'Your transaction log: a file or a directory of CSV (also .gz), Parquet or JSON-lines files. "" = generate synthetic data.')
    format: str = knob("auto", "auto (by file extension), csv, parquet or json. Overrides the mapping's source.format.")
    mapping: str = knob("", "Mapping file (TOML) from your columns to the canonical ones; write a template with 'customer-behavior init-mapping'.")
    preset: str = knob("", 'Built-in mapping applied before the mapping file: "uci" (UCI Online Retail layout). "" = none.')
    delimiter: str = knob("", 'CSV delimiter, overriding the mapping: ",", ";", "\\t", "|", "whitespace" (runs of spaces/tabs) or "auto". "" = from the mapping.')
    timestamp_format: str = knob("", 'Spark datetime pattern of the event time, e.g. "yyyyMMdd" or "dd/MM/yyyy HH:mm" (several: separate with ||). "" = from the mapping (default ISO 8601).')
    timezone: str = knob("", 'Zone of event times written without an offset, e.g. "Europe/Berlin". "" = from the mapping (default UTC).')
    as_of: str = knob("", 'Events on or after this date (YYYY-MM-DD) are quarantined as event_after_as_of. "" = the day after the run date (UTC).')
    min_amount: float = knob(-1_000_000.0, "Amounts below this are quarantined as amount_out_of_bounds (returns are negative).")
    max_amount: float = knob(1_000_000.0, "Amounts above this are quarantined as amount_out_of_bounds.")
    max_bad_fraction: float = knob(0.05, "Stop the run (after writing the quarantine) when more than this share of the rows is rejected; 1.0 = never stop.")

    def __post_init__(self) -> None:
        if self.format not in _INPUT_FORMATS:
            raise ConfigError(f"input.format: {self.format!r} is not one of {', '.join(_INPUT_FORMATS)}")
        if not 0.0 <= self.max_bad_fraction <= 1.0:
            raise ConfigError(f"input.max_bad_fraction: {self.max_bad_fraction} must be between 0 and 1 (e.g. 0.05 for 5%)")
        if not self.min_amount < self.max_amount:
            raise ConfigError(f"input.min_amount: {self.min_amount} must be below input.max_amount {self.max_amount}")
        if self.as_of:
            try:
                dt.date.fromisoformat(self.as_of.strip())
            except ValueError:
                raise ConfigError(f"input.as_of: {self.as_of!r} is not a date (YYYY-MM-DD)") from None
        if self.path.strip():
            from customer_behavior.ingest.mapping import load_input_mapping

            load_input_mapping(self)  # a bad mapping fails here, before Spark starts
        elif self.mapping or self.preset:
            raise ConfigError("input.path: a mapping or preset was given but no input; pass --input PATH")


@dataclass(frozen=True)
class Config:
    spark: SparkSettings = field(default_factory=SparkSettings)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    input: InputConfig = field(default_factory=InputConfig)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _section_to_dict(getattr(self, f.name)) for f in dataclasses.fields(self)}


SECTION_HELP = {
    "spark": "Spark session. Under spark-submit or in a notebook the existing session is used as it is.",
    "generate": "Synthetic data generator (used when no --input is given).",
    "output": "Where a run writes its results. Runs are atomic: written to a staging directory, then moved into place.",
    "input": "Your own transaction log (run --input PATH): reading, mapping and validation. Rejected rows go to quarantine/ with a reason.",
}


# --------------------------------------------------------------------------- loading


def _section_to_dict(section: Any) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if dataclasses.is_dataclass(value):
            value = _section_to_dict(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


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
    if dataclasses.is_dataclass(kind):
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
    """Defaults, then the TOML file, then CLI overrides ("section.key" -> value)."""
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
    return config_from_dict(data)


def with_overrides(cfg: Config, overrides: dict[str, Any]) -> Config:
    """A new Config with "section.key" overrides applied and validated."""
    return config_from_dict(_deep_merge(cfg.to_dict(), overrides_to_dict(overrides)))


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
