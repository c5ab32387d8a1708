"""HAR 1.2 export: recorded calls as a log that browser dev tools, Charles and Proxyman open.

A stream's response `content.text` is the exact SSE body (the chunks concatenated). What HAR
has no field for goes in `_relayscope` (custom fields start with an underscore, as HAR 1.2
allows): call id, provider, model, usage, state and each chunk's arrival time, so
`har_import` can bring a call back as it was. WebSocket calls use Chrome's
`_webSocketMessages`, which Chrome's and HTTP Toolkit's HAR importers read.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from http import HTTPStatus
from importlib import metadata
from typing import Any, TextIO
from urllib.parse import parse_qsl, urlsplit

from relayscope.analysis.cost import Pricer, default_pricer
from relayscope.calls import facts as call_facts
from relayscope.calls.record import CallRecord
from relayscope.exchange.records import ExportResult, RecordedCall, as_bytes, as_text, joined_body
from relayscope.routing.routes import SECRET_HEADERS, redact_query, redact_secret

__all__ = ["HAR_VERSION", "creator", "har_entry", "headers_of", "redacted", "write_har"]

HAR_VERSION = "1.2"
_REDACTED = re.compile(r"(?:\S+ )?\*{4}\S{0,4}")  # what routing.redact_secret makes
#: Calls without a Host header (never the case for HTTP/1.1 clients) get this origin.
FALLBACK_ORIGIN = "http://relayscope.local"
_USAGE = ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "reasoning_tokens")
# Columns copied into `_relayscope` as they are (when not NULL).
_CARRIED = (
    "id",
    "provider",
    "model",
    "endpoint",
    "state",
    "error",
    "transport",
    "upstream_url",
    "upstream_request_body",
    "response_model",
    "finish_reason",
    "replay_of",
    "group_id",
    "session_id",
    "turn_id",
    "client",
    "truncated",
    "request_size",
    "ttft_ms",
    "first_byte_ms",
    "duration_ms",
    "chunk_count",
    "cut_by",
    "error_code",
    "note",
    "hold_ms",
)


def creator() -> dict[str, str]:
    try:
        version = metadata.version("relayscope")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        version = "0"
    return {"name": "Relayscope", "version": version}


def write_har(
    calls: Iterable[RecordedCall],
    out: TextIO,
    result: ExportResult,
    *,
    pricer: Pricer | None = None,
) -> None:
    """One HAR document, written entry by entry (never the whole log in memory)."""
    pricer = pricer or default_pricer()
    head = {"version": HAR_VERSION, "creator": creator(), "pages": []}
    out.write('{"log": ' + json.dumps(head, ensure_ascii=False)[:-1] + ', "entries": [\n')
    first = True
    for recorded in calls:
        entry = har_entry(recorded.call, recorded.chunks, pricer)
        out.write(("" if first else ",\n") + json.dumps(entry, ensure_ascii=False))
        first = False
        result.written += 1
    out.write("\n]}}\n")


def headers_of(value: str | bytes | None) -> list[tuple[str, str]]:
    """A `request_headers`/`response_headers` column (JSON `[[name, value], ...]`) as pairs."""
    if not value:
        return []
    try:
        pairs = json.loads(value)
    except (ValueError, RecursionError):
        return []
    if not isinstance(pairs, list):
        return []
    return [
        (str(pair[0]), str(pair[1]))
        for pair in pairs
        if isinstance(pair, list | tuple) and len(pair) == 2
    ]


def redacted(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Credential headers redacted as the recorder redacts them; redacted values are kept.

    Recorded headers are redacted already ("Bearer ****1234"); anything that is not (a row
    written by another tool, a HAR from elsewhere) is redacted here, so no key gets through.
    """
    return [
        (
            name,
            redact_secret(value)
            if name.lower() in SECRET_HEADERS and not _REDACTED.fullmatch(value)
            else value,
        )
        for name, value in headers
    ]


def _har_headers(headers: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in redacted(headers)]


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def har_entry(
    call: CallRecord, chunks: list[dict[str, Any]], pricer: Pricer | None = None
) -> dict[str, Any]:
    """One HAR 1.2 entry for a recorded call; `_relayscope.cost` is its price when read
    (`{"usd": null, "basis": why}` when unknown)."""
    request_headers = headers_of(call.get("request_headers"))
    response_headers = headers_of(call.get("response_headers"))
    websocket = any(chunk.get("direction") for chunk in chunks)
    body_in_content = call.get("response_body") is None and not websocket
    wait, receive = _timings(call)
    request = _request(call, request_headers)
    entry: dict[str, Any] = {
        "startedDateTime": call.get("started_at") or "1970-01-01T00:00:00.000Z",
        "time": round(wait + receive, 3),
        **_connection(request["url"]),
        "request": request,
        "response": _response(call, response_headers, chunks, body_in_content, websocket),
        "cache": {},
        "timings": {
            "blocked": -1,
            "dns": -1,
            "connect": -1,
            "ssl": -1,
            "send": 0,
            "wait": wait,
            "receive": receive,
        },
        "_relayscope": _custom_fields(
            call, chunks, with_data=not body_in_content and not websocket
        ),
    }
    entry["_relayscope"]["cost"] = (pricer or default_pricer()).price(call).as_json()
    if call.get("error"):
        entry["comment"] = str(call["error"])
    if websocket:
        entry["_resourceType"] = "websocket"
        entry["_webSocketMessages"] = _websocket_messages(call, chunks)
    return entry


def _connection(url: str) -> dict[str, str]:
    """`serverIPAddress` and `connection` as the client saw them: the client talked to the
    proxy (the URL's host, an IP address on loopback; "" for a name Relayscope did not
    resolve) on the URL's port (HAR allows the server port as the connection's id)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host == "localhost":
        host = "127.0.0.1"
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        address = ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a port that is not a number
        port = 80
    return {"serverIPAddress": address, "connection": str(port)}


def _timings(call: CallRecord) -> tuple[float, float]:
    """(wait, receive): wait is the time to the first byte (HAR's meaning), receive the rest."""
    duration = max(0.0, float(call.get("duration_ms") or 0.0))
    first_byte = call_facts.first_byte_ms(call)
    wait = duration if first_byte is None else min(max(0.0, first_byte), duration)
    return round(wait, 3), round(duration - wait, 3)


def _request(call: CallRecord, headers: list[tuple[str, str]]) -> dict[str, Any]:
    host = _header(headers, "host") or _header(headers, ":authority")
    origin = f"http://{host}" if host else FALLBACK_ORIGIN
    path = redact_query(str(call.get("path") or "/")) or "/"  # older rows were not redacted
    url = origin + (path if path.startswith("/") else "/" + path)
    body = call.get("request_body")
    request: dict[str, Any] = {
        "method": call.get("method") or "GET",
        "url": url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": _har_headers(headers),
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query, True)],
        "headersSize": -1,
        "bodySize": len(as_bytes(body)),
    }
    if body:  # a GET (no body) has no postData at all, not an empty one
        text, is_base64 = as_text(body)
        mime = _header(headers, "content-type") or "application/json"
        request["postData"] = {"mimeType": mime, "text": text}
        if is_base64:
            request["postData"]["_encoding"] = "base64"
    return request


def _response(
    call: CallRecord,
    headers: list[tuple[str, str]],
    chunks: list[dict[str, Any]],
    body_in_content: bool,
    websocket: bool,
) -> dict[str, Any]:
    status = int(call.get("status") or 0)
    body = joined_body(chunks) if body_in_content else as_bytes(call.get("response_body"))
    text, is_base64 = as_text(body) if body or not websocket else ("", False)
    default_mime = "text/event-stream" if chunks and body_in_content else "application/json"
    content: dict[str, Any] = {
        "size": len(body),
        "mimeType": _header(headers, "content-type") or ("x-unknown" if not body else default_mime),
    }
    if body:
        content["text"] = text
        if is_base64:
            content["encoding"] = "base64"
    size = call.get("response_size")
    return {
        "status": status,
        "statusText": _reason(status),
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": _har_headers(headers),
        "content": content,
        "redirectURL": _header(headers, "location") or "",
        "headersSize": -1,
        "bodySize": int(size) if size is not None else -1,
    }


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _custom_fields(
    call: CallRecord, chunks: list[dict[str, Any]], *, with_data: bool
) -> dict[str, Any]:
    row: Mapping[str, Any] = call  # the columns named in _CARRIED and _USAGE
    fields: dict[str, Any] = {key: row[key] for key in _CARRIED if row.get(key) is not None}
    fields["stream"] = bool(call.get("stream"))
    if fields.get("upstream_url"):
        fields["upstream_url"] = redact_query(str(fields["upstream_url"]))
    if isinstance(fields.get("upstream_request_body"), bytes):
        fields.pop("upstream_request_body")  # not UTF-8: HAR cannot carry it faithfully
    quirks = call.get("quirks")
    if quirks:
        try:
            fields["quirks"] = json.loads(quirks)
        except (ValueError, RecursionError):
            fields["quirks"] = [str(quirks)]
    usage = {key: row[key] for key in _USAGE if row.get(key) is not None}
    if usage:
        fields["usage"] = usage
    fields["chunks"] = [_chunk_fields(chunk, with_data) for chunk in chunks]
    return fields


def _chunk_fields(chunk: dict[str, Any], with_data: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"seq": chunk["seq"], "t_ms": chunk["t_ms"]}
    if chunk.get("direction"):
        out["direction"] = chunk["direction"]
    if with_data:
        # The content holds what the client got (an aggregated answer), not the stream.
        text, is_base64 = as_text(chunk["data"])
        out["data"] = text
        if is_base64:
            out["encoding"] = "base64"
    return out


def _websocket_messages(call: CallRecord, chunks: list[dict[str, Any]]) -> list[Any]:
    start = _epoch_seconds(call.get("started_at"))
    messages = []
    for chunk in chunks:
        text, is_base64 = as_text(chunk["data"])
        messages.append(
            {
                "type": "send" if chunk.get("direction") == "client" else "receive",
                "time": round(start + float(chunk["t_ms"]) / 1000, 6),
                "opcode": 2 if is_base64 else 1,
                "data": text,
            }
        )
    return messages


def _epoch_seconds(started_at: object) -> float:
    try:
        return datetime.fromisoformat(str(started_at)).timestamp()
    except ValueError:
        return 0.0
