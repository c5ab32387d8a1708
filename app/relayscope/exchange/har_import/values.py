"""Small readers of HAR values; none of them raises."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any


def started_at(value: object) -> datetime:
    try:
        started = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.now(UTC)
    return started.replace(tzinfo=UTC) if started.tzinfo is None else started.astimezone(UTC)


def decoded(text: object, encoding: object) -> bytes | None:
    if not isinstance(text, str):
        return None
    if encoding == "base64":
        return base64.b64decode(text, validate=True)
    return text.encode("utf-8", "surrogatepass")


def header_pairs(headers: object) -> list[tuple[str, str]]:
    return [
        (str(h.get("name", "")), str(h.get("value", "")))
        for h in as_list(headers)
        if isinstance(h, dict)
    ]


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def as_int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


def size_or_none(value: int) -> int | None:
    return value if value >= 0 else None  # HAR writes -1 for "unknown"


def first_float(*values: object) -> float | None:
    for value in values:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None
