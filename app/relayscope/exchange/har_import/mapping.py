"""Mapping one HAR entry to a call: the writer's start row, its chunks with their times,
and its finish fields."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from relayscope.exchange.har_import.masking import headers_json, safe_url
from relayscope.exchange.har_import.results import TRANSPORT, ImportedCall, ImportedChunk
from relayscope.exchange.har_import.values import (
    as_dict,
    as_int,
    as_list,
    decoded,
    first_float,
    header,
    header_pairs,
    size_or_none,
    started_at,
)
from relayscope.protocols.openai_format import endpoint_of, read_request
from relayscope.protocols.sse import SSEDecoder, SSEEvent
from relayscope.routing.routes import valid_call_id

_FINAL_STATES = frozenset({"complete", "error", "interrupted"})
_KEPT = ("upstream_request_body", "replay_of", "group_id", "session_id", "turn_id", "truncated")
_FINISH_KEPT = ("first_byte_ms", "cut_by", "error_code", "note", "hold_ms")


def call_from_entry(entry: dict[str, Any], call_id: str | None = None) -> ImportedCall:
    """Turn a HAR entry into a call (`call_id`, else the one it carries, else a new one)."""
    ours = as_dict(entry.get("_relayscope"))
    response = as_dict(entry.get("response"))
    started = started_at(entry.get("startedDateTime"))
    messages = _websocket_messages(entry, started)
    if call_id is None:
        kept = str(ours.get("id") or "")
        call_id = kept if valid_call_id(kept) else new_id(started)
    start = _start_row(entry, ours, started, call_id, messages)
    status: int | None = as_int(response.get("status"))
    if status is not None and status <= 0:  # 0: the browser got no response
        status = None
    chunks, response_body = _chunks_and_body(entry, ours, response, messages)
    finish = _finish(entry, ours, response, status, chunks, response_body)
    return ImportedCall(start, chunks, finish)


def _start_row(
    entry: dict[str, Any],
    ours: dict[str, Any],
    started: datetime,
    call_id: str,
    messages: list[ImportedChunk],
) -> dict[str, Any]:
    request = as_dict(entry.get("request"))
    url = safe_url(str(request.get("url") or "/"))
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = header_pairs(request.get("headers"))
    body = _request_body(request, messages)
    info = read_request(body)
    start: dict[str, Any] = {
        "id": call_id,
        "started_at": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "method": str(request.get("method") or "GET"),
        "path": path,
        "endpoint": ours.get("endpoint") or endpoint_of(path),
        "provider": ours.get("provider") or parts.hostname,
        "model": ours.get("model") or info.model,
        "stream": int(bool(ours.get("stream", info.stream))),
        "state": "pending",
        "request_headers": headers_json(headers),
        "request_body": body,
        # A HAR of ours says what it knows; for others', the URL and headers are all there is.
        "upstream_url": ours.get("upstream_url") if ours else url,
        "request_size": ours.get("request_size")
        if ours
        else size_or_none(as_int(request.get("bodySize"))),
        "client": ours.get("client") if ours else header(headers, "user-agent"),
        "transport": TRANSPORT,
    }
    start.update({key: ours[key] for key in _KEPT if ours.get(key) is not None})
    return start


def new_id(started: datetime) -> str:
    """A call id in Relayscope's form, from the entry's start time (so ids sort by time)."""
    return f"{int(started.timestamp() * 1000):012x}-{os.urandom(4).hex()}"


def _finish(
    entry: dict[str, Any],
    ours: dict[str, Any],
    response: dict[str, Any],
    status: int | None,
    chunks: list[ImportedChunk],
    response_body: bytes | None,
) -> dict[str, Any]:
    headers = header_pairs(response.get("headers"))
    first_byte = _first_byte_ms(entry)
    error = ours.get("error") or entry.get("_error") or None
    state = ours.get("state")
    if state not in _FINAL_STATES:
        state = "interrupted" if status is None else "error" if status >= 400 else "complete"
    fields: dict[str, Any] = {
        "status": status,
        "state": state,
        "response_headers": headers_json(headers) if headers else None,
        "duration_ms": first_float(ours.get("duration_ms"), entry.get("time")),
        # The writer tells TTFT from the chunks (relayscope.calls.facts); a Relayscope HAR
        # made before first_byte_ms existed carried the first byte as its ttft_ms.
        "first_byte_ms": first_float(ours.get("first_byte_ms"))
        if "first_byte_ms" in ours
        else first_float(ours.get("ttft_ms"))
        if "ttft_ms" in ours or status is None
        else first_byte,
    }
    for column in ("cut_by", "error_code", "note"):
        if isinstance(ours.get(column), str):
            fields[column] = ours[column]
    if ours.get("hold_ms") is not None:
        fields["hold_ms"] = first_float(ours.get("hold_ms"))
    size = size_or_none(as_int(response.get("bodySize")))
    if size is not None:
        fields["response_size"] = size
    if error:
        fields["error"] = str(error)
    elif status is None:
        fields["error"] = "The HAR entry has no response."
    if response_body is not None:
        fields["response_body"] = response_body
    for key in _FINISH_KEPT:  # facts a Relayscope export carries (schema m007)
        if ours.get(key) is not None:
            fields[key] = ours[key]
    quirks = ours.get("quirks")
    if isinstance(quirks, list) and quirks:
        fields["quirks"] = json.dumps(quirks, ensure_ascii=False)
    return fields


def _chunks_and_body(
    entry: dict[str, Any],
    ours: dict[str, Any],
    response: dict[str, Any],
    messages: list[ImportedChunk],
) -> tuple[list[ImportedChunk], bytes | None]:
    """The call's chunks and its response_body (None when the chunks are the body)."""
    content = as_dict(response.get("content"))
    body = decoded(content.get("text"), content.get("encoding"))
    recorded = [c for c in as_list(ours.get("chunks")) if isinstance(c, dict)]
    if messages:
        return _recorded_times(messages, recorded), None
    if recorded and all("data" in c for c in recorded):
        # A stream the proxy aggregated for the client: the content is the client's answer.
        chunks = []
        for c in recorded:
            raw = decoded(c.get("data"), c.get("encoding")) or b""
            chunks.append(_sse_chunk(raw, first_float(c.get("t_ms")) or 0.0))
        return chunks, body
    mime = str(
        content.get("mimeType")
        or header(header_pairs(response.get("headers")), "content-type")
        or ""
    )
    if body is None or "event-stream" not in mime.lower():
        return [], body
    events = _split_sse(body)
    times = _spread(len(events), _first_byte_ms(entry) or 0.0, _receive_ms(entry))
    chunks = [
        ImportedChunk(t, event.raw, event.data, event.event)
        for event, t in zip(events, times, strict=True)
    ]
    return _recorded_times(chunks, recorded), None


def _recorded_times(
    chunks: list[ImportedChunk], recorded: list[dict[str, Any]]
) -> list[ImportedChunk]:
    """The chunks with the times Relayscope recorded, when the HAR carries one per chunk."""
    times = [first_float(c.get("t_ms")) for c in recorded]
    if len(times) != len(chunks) or any(t is None for t in times):
        return chunks
    return [replace(chunk, t_ms=t or 0.0) for chunk, t in zip(chunks, times, strict=True)]


def _split_sse(body: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = decoder.feed(body)
    leftover = decoder.flush()
    return [*events, leftover] if leftover is not None else events


def _sse_chunk(raw: bytes, t_ms: float) -> ImportedChunk:
    decoder = SSEDecoder()
    events = decoder.feed(raw)
    event = events[0] if events else decoder.flush()
    if event is None:
        return ImportedChunk(t_ms, raw, None)
    return ImportedChunk(t_ms, raw, event.data, event.event)


def _spread(count: int, first: float, receive: float) -> list[float]:
    """`count` times from the first byte to the end of the receive time, evenly apart."""
    if count <= 1:
        return [round(first, 3)] * count
    return [round(first + receive * i / (count - 1), 3) for i in range(count)]


def _websocket_messages(entry: dict[str, Any], started: datetime) -> list[ImportedChunk]:
    """Chrome's `_webSocketMessages` (send/receive, epoch seconds) as directed chunks."""
    start = started.timestamp()
    chunks = []
    for message in as_list(entry.get("_webSocketMessages")):
        if not isinstance(message, dict) or not isinstance(message.get("data"), str):
            continue
        binary = message.get("opcode") == 2
        raw = decoded(message["data"], "base64" if binary else None) or b""
        t_ms = round(max(0.0, (first_float(message.get("time")) or start) - start) * 1000, 3)
        client = message.get("type") == "send"
        text = None if client or binary else message["data"]
        chunks.append(ImportedChunk(t_ms, raw, text, None, "client" if client else "server"))
    return chunks


def _request_body(request: dict[str, Any], messages: list[ImportedChunk]) -> bytes | None:
    post = as_dict(request.get("postData"))
    if isinstance(post.get("text"), str):
        return decoded(post["text"], post.get("_encoding"))
    params = [p for p in as_list(post.get("params")) if isinstance(p, dict)]
    if params:
        return urlencode(
            [(str(p.get("name", "")), str(p.get("value", ""))) for p in params]
        ).encode()
    first = next((m for m in messages if m.direction == "client"), None)
    return first.raw if first is not None else None


def _first_byte_ms(entry: dict[str, Any]) -> float | None:
    timings = as_dict(entry.get("timings"))
    if not timings:
        return None
    keys = ("blocked", "dns", "connect", "send", "wait")  # ssl is inside connect
    return round(sum(max(0.0, first_float(timings.get(k)) or 0.0) for k in keys), 3)


def _receive_ms(entry: dict[str, Any]) -> float:
    return max(0.0, first_float(as_dict(entry.get("timings")).get("receive")) or 0.0)
