"""Small readers of a call's row and of chunk text, and the wording of figures in findings."""

from __future__ import annotations

import json
from typing import Any


def headers_of(value: object) -> dict[str, str]:
    """Response headers (a JSON list of [name, value]) by lower-case name; the first wins."""
    out: dict[str, str] = {}
    for pair in json_list(value):
        if isinstance(pair, list) and len(pair) == 2:
            out.setdefault(str(pair[0]).lower(), str(pair[1]))
    return out


def json_list(value: object) -> list[Any]:
    if not isinstance(value, str | bytes) or not value:
        return []
    try:
        loaded = json.loads(value)
    except ValueError:
        return []
    return loaded if isinstance(loaded, list) else []


def as_bytes(value: object) -> bytes | None:
    if isinstance(value, str):
        return value.encode("utf-8")
    return value if isinstance(value, bytes) else None


def as_float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def get_key(obj: object, key: str) -> object:
    return obj.get(key) if isinstance(obj, dict) else None


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip() and not line.startswith(":"):
            return shorten(line.strip(), 60)
    return ""


def shorten(text: str, limit: int) -> str:
    flat = text.replace("\n", "⏎")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def error_text(error: object) -> str:
    if isinstance(error, dict):
        code = error.get("code") or error.get("type")
        message = error.get("message")
        if message:
            message = str(message).rstrip(".")
            return f"`{code}`: {message}" if code else message
        return f"`{shorten(json.dumps(error, ensure_ascii=False), 80)}`"
    return f"`{shorten(str(error), 80)}`"


def json_error(exc: Exception) -> str:
    return str(exc) if isinstance(exc, json.JSONDecodeError) else "nested too deeply"


def seconds(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"
