"""Bodies and headers as the inspector shows them: pretty JSON, size limits (no Qt)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: Bodies are shown up to this many characters until the person asks for all of it.
SHOW_LIMIT = 1024 * 1024


@dataclass(frozen=True, slots=True)
class BodyText:
    """A body ready to show: `text` (maybe cut at `limit`), and what it is."""

    text: str
    is_json: bool
    total_chars: int
    cut: bool


def as_text(body: object) -> str:
    """A recorded body (TEXT, or rarely a BLOB) as text."""
    if body is None:
        return ""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body).decode("utf-8", "replace")
    return str(body)


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def body_text(body: object, *, pretty: bool, limit: int | None = SHOW_LIMIT) -> BodyText:
    """The body pretty-printed when it is JSON (and `pretty`), else as recorded; cut at `limit`."""
    raw = as_text(body)
    text, is_json = raw, False
    try:
        value = json.loads(raw) if raw.strip() else None
    except (ValueError, RecursionError):
        value = None
    else:
        is_json = value is not None
    if is_json and pretty:
        text = pretty_json(value)
    cut = limit is not None and len(text) > limit
    return BodyText(text[:limit] if cut else text, is_json, len(text), cut)


def header_pairs(headers_json: object) -> list[tuple[str, str]]:
    """The recorded headers (a JSON list of [name, value] pairs); [] if there are none."""
    try:
        pairs = json.loads(as_text(headers_json) or "[]")
    except ValueError:
        return []
    return [
        (str(p[0]), str(p[1]))
        for p in (pairs if isinstance(pairs, list) else [])
        if isinstance(p, list | tuple) and len(p) == 2
    ]


def header(headers_json: object, name: str) -> str | None:
    wanted = name.lower()
    return next((v for n, v in header_pairs(headers_json) if n.lower() == wanted), None)


def json_list(value: object) -> list[Any]:
    """A JSON list column (tool_calls, quirks); [] when empty or unreadable."""
    try:
        out = json.loads(as_text(value) or "[]")
    except ValueError:
        return []
    return out if isinstance(out, list) else []


def changed_keys(client_body: object, upstream_body: object) -> list[str]:
    """Top-level keys that differ between what the client sent and what the provider got."""
    try:
        before = json.loads(as_text(client_body))
        after = json.loads(as_text(upstream_body))
    except (ValueError, RecursionError):
        return []
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    keys = list(before) + [k for k in after if k not in before]
    return [k for k in keys if before.get(k, _MISSING) != after.get(k, _MISSING)]


_MISSING = object()
