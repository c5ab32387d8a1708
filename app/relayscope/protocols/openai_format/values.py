"""Small readers of decoded JSON values, shared by every API's reader; none of them raises."""

from __future__ import annotations

import json
from typing import Any


def load_json(body: bytes | None) -> Any:
    """A body's JSON value; None for an empty body or one that does not parse."""
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def error_of(value: object) -> dict[str, Any] | None:
    """The inner object of an ``{"error": ...}``; a bare string becomes ``{"message": ...}``."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        return {"message": value}
    return None


def first_int(*values: object) -> int | None:
    """The first value that is an int (bools are not)."""
    for value in values:
        if type(value) is int:
            return value
    return None


def as_str(value: object) -> str:
    """The value if it is a string, else ""."""
    return value if isinstance(value, str) else ""


def get_key(obj: object, key: str) -> object:
    """``obj[key]`` if obj is a dict, else None."""
    return obj.get(key) if isinstance(obj, dict) else None


def dicts(value: object) -> list[dict[str, Any]]:
    """The dicts of a list (nothing for anything else)."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]
