"""A config field with its help text, and the name patterns the sections validate against."""

from __future__ import annotations

import re
import typing
from dataclasses import field
from typing import Any


def knob(default: Any, help: str, **kwargs: Any) -> Any:
    """A config field with its help text (shown by init-config)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: typing.cast(Any, type(default))(default), metadata={"help": help}, **kwargs)
    return field(default=default, metadata={"help": help}, **kwargs)


_MEMORY_RE = re.compile(r"^\d+[kmgt]?$", re.IGNORECASE)
# table, db.table or catalog.db.table; a part may be `back-quoted`
_NAME_PART = r"(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)"
_TABLE_NAME_RE = re.compile(rf"^{_NAME_PART}(?:\.{_NAME_PART}){{0,2}}$")
_DATABASE_NAME_RE = re.compile(rf"^{_NAME_PART}(?:\.{_NAME_PART})?$")
