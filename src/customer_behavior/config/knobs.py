"""A config field with its help text, and the name patterns the sections validate against."""

from __future__ import annotations

import datetime as dt
import re
import typing
from dataclasses import field
from typing import Any

from customer_behavior.errors import ConfigError


def knob(default: Any, help: str, **kwargs: Any) -> Any:
    """A config field with its help text (shown by init-config)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: typing.cast(Any, type(default))(default), metadata={"help": help}, **kwargs)
    return field(default=default, metadata={"help": help}, **kwargs)


def date_knob(help: str) -> Any:
    """An optional date field: None when unset, written as "" in TOML, the manifest and init-config."""
    return field(default=None, metadata={"help": help, "unset": ""})


def optional_date(key: str, value: Any, *, unset_hint: str = "") -> dt.date | None:
    """A date field's value as a date: "" and None = unset; text is parsed as YYYY-MM-DD (TOML, CLI, old callers)."""
    if value is None or isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{key}: {value!r} is not a date (YYYY-MM-DD){unset_hint}") from None


_MEMORY_RE = re.compile(r"^\d+[kmgt]?$", re.IGNORECASE)
# table, db.table or catalog.db.table; a part may be `back-quoted`
_NAME_PART = r"(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)"
_TABLE_NAME_RE = re.compile(rf"^{_NAME_PART}(?:\.{_NAME_PART}){{0,2}}$")
_DATABASE_NAME_RE = re.compile(rf"^{_NAME_PART}(?:\.{_NAME_PART})?$")
