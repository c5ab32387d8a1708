"""The parts of a recorded call a snippet sends again: where, which headers, what body."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from relayscope.calls.record import CallRecord
from relayscope.exchange.code_export.sdk import SDK_METHODS, TRANSPORT_HEADERS


def as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def origin(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def request_url(call: CallRecord, base_url: str) -> str:
    """Where the call goes when sent again: Relayscope's address plus the path it was sent to."""
    path = as_text(call.get("path"))
    if path.startswith("/"):
        return origin(base_url) + path
    suffix = SDK_METHODS.get(as_text(call.get("endpoint")), ("", frozenset(), ""))[2]
    return base_url.rstrip("/") + suffix


def recorded_headers(call: CallRecord) -> list[tuple[str, str]]:
    """The recorded request headers worth sending again (no credentials, no transport)."""
    try:
        pairs = json.loads(as_text(call.get("request_headers")) or "[]")
    except ValueError:
        return []
    out: list[tuple[str, str]] = []
    for pair in pairs if isinstance(pairs, list) else []:
        if isinstance(pair, list | tuple) and len(pair) == 2:
            name, value = str(pair[0]), str(pair[1])
            if name.lower() not in TRANSPORT_HEADERS and not name.lower().startswith(
                "x-stainless-"
            ):
                out.append((name, value))
    return out


def body_json(call: CallRecord) -> Any:
    try:
        return json.loads(as_text(call.get("request_body")))
    except ValueError:
        return None


def is_stream(call: CallRecord, body: Any) -> bool:
    if isinstance(body, dict) and "stream" in body:
        return body.get("stream") is True
    return bool(call.get("stream"))
