"""OpenTelemetry export: calls as OTLP/HTTP JSON spans, per the GenAI semantic conventions.

One span per call, named "{operation} {model}" ("chat gpt-5.2"), kind CLIENT, timed from
`started_at` and `duration_ms`, with `gen_ai.*` attributes (operation, provider, models,
response id, finish reasons, usage), the HTTP status, `error.type` on failures, and each
chunk's arrival as a `relayscope.chunk` event (at most MAX_CHUNK_EVENTS per span). Trace
and span ids are derived from the call id, so exporting a call twice gives the same span.

`OtlpExporter` sends batches from its own thread through a bounded queue: `submit` never
blocks unless asked to, so a proxy can hand it spans on its hot path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from importlib import metadata
from typing import Any, Self
from urllib.parse import unquote, urlsplit

import httpx

from app.core.export import ExportResult, ProgressCallback, Selection, recorded_calls
from app.core.openai_format import Assembled, StreamAssembler, assemble_body
from app.core.sse import SSEDecoder
from app.core.store import CallStore

__all__ = [
    "MAX_CHUNK_EVENTS",
    "OtlpError",
    "OtlpExporter",
    "call_span",
    "export_calls_otlp",
    "export_request",
    "parse_headers",
    "span_ids",
    "traces_url",
]

log = logging.getLogger(__name__)

MAX_CHUNK_EVENTS = 1000
SPAN_KIND_CLIENT = 3
STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2
#: Statuses the OTLP/HTTP specification says to retry (with backoff).
RETRYABLE = frozenset({429, 502, 503, 504})

_OPERATIONS = {
    "chat.completions": "chat",
    "responses": "chat",
    "completions": "text_completion",
    "embeddings": "embeddings",
}
# Request parameters and the gen_ai.request.* attribute each becomes.
_REQUEST_PARAMS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "max_output_tokens": "gen_ai.request.max_tokens",
    "seed": "gen_ai.request.seed",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
}
_USAGE_ATTRIBUTES = {
    "prompt_tokens": "gen_ai.usage.input_tokens",
    "completion_tokens": "gen_ai.usage.output_tokens",
    "cached_tokens": "gen_ai.usage.cache_read.input_tokens",
    "reasoning_tokens": "gen_ai.usage.reasoning.output_tokens",
}


class OtlpError(Exception):
    """The collector did not take the spans; the message says why."""


def _version() -> str:
    try:
        return metadata.version("relayscope")
    except metadata.PackageNotFoundError:
        return "0"


# --- spans ---------------------------------------------------------------------------------


def span_ids(call_id: str) -> tuple[str, str]:
    """(trace id, span id) in hex, derived from the call id (never all zeros in practice)."""
    digest = hashlib.sha256(f"relayscope:{call_id}".encode()).hexdigest()
    return digest[:32], digest[32:48]


def call_span(call: dict[str, Any], chunks: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """One OTLP JSON span for a recorded call (and its chunks, as events)."""
    trace_id, span_id = span_ids(str(call["id"]))
    start_ns = _unix_nanos(call.get("started_at"))
    end_ns = start_ns + int(float(call.get("duration_ms") or 0) * 1_000_000)
    operation = _OPERATIONS.get(str(call.get("endpoint")))
    assembled = _assembled(call, chunks)
    attributes = _attributes(call, operation, assembled)
    events = [_chunk_event(chunk, start_ns) for chunk in chunks[:MAX_CHUNK_EVENTS]]
    dropped = max(0, len(chunks) - MAX_CHUNK_EVENTS)
    if dropped:
        attributes["relayscope.chunk_events_dropped"] = dropped
    span: dict[str, Any] = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": _span_name(call, operation),
        "kind": SPAN_KIND_CLIENT,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(end_ns),
        "attributes": _key_values(attributes),
        "events": events,
        "droppedEventsCount": dropped,
        "status": _status(call, attributes),
    }
    if call.get("replay_of"):
        link_trace, link_span = span_ids(str(call["replay_of"]))
        span["links"] = [
            {
                "traceId": link_trace,
                "spanId": link_span,
                "attributes": _key_values({"relayscope.link": "replay_of"}),
            }
        ]
    return span


def export_request(spans: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """An OTLP `ExportTraceServiceRequest` (JSON encoding) holding `spans`."""
    resource = {"service.name": "relayscope", "service.version": _version()}
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _key_values(resource)},
                "scopeSpans": [
                    {
                        "scope": {"name": "relayscope", "version": _version()},
                        "spans": list(spans),
                    }
                ],
            }
        ]
    }


def _span_name(call: dict[str, Any], operation: str | None) -> str:
    if operation is None:  # not a model call (e.g. GET /v1/models): an HTTP span name
        return f"{call.get('method') or 'GET'} {str(call.get('path') or '/').partition('?')[0]}"
    model = call.get("model")
    return f"{operation} {model}" if model else operation


def _attributes(
    call: dict[str, Any], operation: str | None, assembled: Assembled
) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if operation is not None:
        provider = call.get("provider")
        attributes.update(
            {
                "gen_ai.operation.name": operation,
                "gen_ai.provider.name": provider,
                "gen_ai.system": provider,  # the name before semantic conventions 1.37
                "gen_ai.request.model": call.get("model"),
                "gen_ai.response.model": call.get("response_model") or assembled.model,
                "gen_ai.response.id": assembled.response_id,
                "gen_ai.conversation.id": call.get("session_id"),
            }
        )
        reason = _finish_reason(call, assembled)
        if reason:
            attributes["gen_ai.response.finish_reasons"] = [reason]
        attributes.update(_request_attributes(call))
        for column, key in _USAGE_ATTRIBUTES.items():
            attributes[key] = call.get(column)
    attributes.update(_http_attributes(call))
    error_type = _error_type(call, assembled)
    if error_type is not None:
        attributes["error.type"] = error_type
    attributes.update(
        {
            "relayscope.call_id": call.get("id"),
            "relayscope.endpoint": call.get("endpoint"),
            "relayscope.state": call.get("state"),
            "relayscope.stream": bool(call.get("stream")),
            "relayscope.ttft_ms": call.get("ttft_ms"),
            "relayscope.duration_ms": call.get("duration_ms"),
            "relayscope.chunk_count": call.get("chunk_count"),
            "relayscope.finish_reason": call.get("finish_reason"),
            "relayscope.total_tokens": call.get("total_tokens"),
            "relayscope.replay_of": call.get("replay_of"),
            "relayscope.group_id": call.get("group_id"),
            "relayscope.transport": call.get("transport"),
            "relayscope.error": call.get("error"),
        }
    )
    return {key: value for key, value in attributes.items() if value is not None}


def _http_attributes(call: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "http.request.method": call.get("method"),
        "http.response.status_code": call.get("status"),
        "user_agent.original": call.get("client"),
    }
    upstream = urlsplit(str(call.get("upstream_url") or ""))
    if upstream.hostname:
        out["server.address"] = upstream.hostname
        with contextlib.suppress(ValueError):  # a port that is not a number: left out
            out["server.port"] = upstream.port or (443 if upstream.scheme == "https" else 80)
    return out


def _request_attributes(call: dict[str, Any]) -> dict[str, Any]:
    try:
        body = json.loads(call.get("request_body") or "")
    except (ValueError, TypeError, RecursionError, UnicodeDecodeError):
        return {}
    if not isinstance(body, dict):
        return {}
    out: dict[str, Any] = {}
    for param, key in _REQUEST_PARAMS.items():
        value = body.get(param)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = value
    return out


def _finish_reason(call: dict[str, Any], assembled: Assembled) -> str | None:
    """The chat-style reason; a Responses status is mapped ("completed" → "stop")."""
    reason = call.get("finish_reason")
    if not reason or call.get("endpoint") != "responses":
        return str(reason) if reason else None
    if reason == "completed":
        return "tool_calls" if assembled.tool_calls else "stop"
    if reason == "incomplete:max_output_tokens":
        return "length"
    if reason == "incomplete:content_filter":
        return "content_filter"
    return "error" if reason == "failed" else str(reason)


def _error_type(call: dict[str, Any], assembled: Assembled) -> str | None:
    status = int(call.get("status") or 0)
    if status >= 400:
        return str(status)  # as HTTP semantic conventions have it
    if assembled.error:
        code = assembled.error.get("code") or assembled.error.get("type")
        if code:
            return str(code)
    if call.get("state") in ("error", "interrupted"):
        return str(call["state"])
    return None


def _status(call: dict[str, Any], attributes: dict[str, Any]) -> dict[str, Any]:
    if "error.type" in attributes:
        message = call.get("error") or f"{attributes['error.type']}"
        return {"code": STATUS_ERROR, "message": str(message)}
    if call.get("state") == "complete":
        return {"code": STATUS_OK}
    return {"code": STATUS_UNSET}  # still pending or streaming


def _chunk_event(chunk: dict[str, Any], start_ns: int) -> dict[str, Any]:
    t_ms = float(chunk["t_ms"])
    attributes: dict[str, Any] = {
        "relayscope.chunk.seq": chunk["seq"],
        "relayscope.chunk.t_ms": t_ms,
    }
    if chunk.get("direction"):
        attributes["relayscope.chunk.direction"] = chunk["direction"]
    return {
        "timeUnixNano": str(start_ns + int(t_ms * 1_000_000)),
        "name": "relayscope.chunk",
        "attributes": _key_values(attributes),
    }


def _assembled(call: dict[str, Any], chunks: Sequence[dict[str, Any]]) -> Assembled:
    """The answer again (for its response id and error), from the chunks or the body."""
    endpoint = str(call.get("endpoint") or "other")
    server = [c for c in chunks if c.get("direction") != "client"]
    if not server:
        body = call.get("response_body")
        raw = body.encode("utf-8", "replace") if isinstance(body, str) else body
        return assemble_body(endpoint, raw)
    assembler = StreamAssembler(endpoint)
    for chunk in server:
        data = chunk["data"]
        text = data if isinstance(data, str) else bytes(data).decode("utf-8", "replace")
        if chunk.get("direction") == "server":  # a WebSocket message is one event's data
            assembler.feed(text)
            continue
        decoder = SSEDecoder()
        events = decoder.feed(text.encode())
        event = events[0] if events else decoder.flush()
        if event is not None:
            assembler.feed(event.data, event.event)
    return assembler.result()


def _key_values(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _any_value(value)} for key, value in attributes.items()]


def _any_value(value: Any) -> dict[str, Any]:
    # OTLP JSON: 64-bit integers are strings; arrays are {"arrayValue": {"values": [...]}}.
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [_any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _unix_nanos(started_at: object) -> int:
    try:
        return int(datetime.fromisoformat(str(started_at)).timestamp() * 1000) * 1_000_000
    except ValueError:
        return time.time_ns()


# --- sending -------------------------------------------------------------------------------


def traces_url(endpoint: str) -> str:
    """`http://host:4318` → `http://host:4318/v1/traces` (a full traces URL is kept)."""
    endpoint = endpoint.strip().rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


def parse_headers(text: str) -> dict[str, str]:
    """`OTEL_EXPORTER_OTLP_HEADERS` form: `name=value,other=value` (values URL-encoded)."""
    headers: dict[str, str] = {}
    for item in text.split(","):
        name, eq, value = item.partition("=")
        if eq and name.strip():
            headers[unquote(name.strip())] = unquote(value.strip())
    return headers


class OtlpExporter:
    """Sends spans to an OTLP/HTTP collector in batches, from its own thread.

    `submit` puts a span on a bounded queue and returns at once (False if the queue is full
    and the span was dropped). Failed posts are retried with exponential backoff on network
    errors and on 429/502/503/504 (honouring Retry-After). Problems are reported through
    `on_error(message)`, called on the exporter's thread, and kept in `last_error`.
    """

    def __init__(
        self,
        endpoint: str,
        headers: Mapping[str, str] | None = None,
        *,
        queue_size: int = 2048,
        batch_size: int = 256,
        batch_seconds: float = 0.2,
        max_retries: int = 5,
        backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 30.0,
        timeout: float = 10.0,
        on_error: Callable[[str], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = traces_url(endpoint)
        self._headers = {**(headers or {}), "content-type": "application/json"}
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._batch_seconds = batch_seconds
        self._max_retries = max_retries
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._on_error = on_error
        self._client = httpx.Client(timeout=timeout, transport=transport)
        self._done = threading.Condition()
        self._pending = 0  # submitted and neither sent nor given up on
        self._stopping = threading.Event()
        self._abandon = threading.Event()  # stop retrying: close() ran out of time
        self._dropping = False
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="relayscope-otlp", daemon=True)
        self._thread.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(
        self, span: dict[str, Any], *, block: bool = False, timeout: float | None = None
    ) -> bool:
        """Queue one span; False if it was dropped (queue full, or the exporter closed)."""
        if self._stopping.is_set():
            return False
        with self._done:
            self._pending += 1
        try:
            self._queue.put(span, block=block, timeout=timeout)
        except queue.Full:
            with self._done:
                self._pending -= 1
                self.dropped += 1
                self._done.notify_all()
                first = not self._dropping
                self._dropping = True
            if first:
                self._report(
                    f"OTLP export to {self.url} is falling behind: its queue of "
                    f"{self._queue.maxsize} spans is full, so new spans are dropped."
                )
            return False
        return True

    def submit_call(self, call: dict[str, Any], chunks: Sequence[dict[str, Any]] = ()) -> bool:
        return self.submit(call_span(call, chunks))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every submitted span is sent or given up on; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._done:
            while self._pending:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._done.wait(remaining)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Send what is queued (for up to `timeout` seconds), then stop the thread."""
        self._stopping.set()
        if not self.flush(timeout):
            self._abandon.set()
        self._thread.join(max(1.0, self._batch_seconds * 2))

    # -- the exporter thread ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._send_batches()
        finally:
            self._client.close()  # here, not in close(): a post may still be under way

    def _send_batches(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            if self._abandon.is_set():
                ok, sent = False, 0
            else:
                ok, sent = self._post(batch)
            with self._done:
                self._pending -= len(batch)
                self.sent += sent
                self.failed += len(batch) - sent
                if ok:
                    self._dropping = False
                self._done.notify_all()

    def _next_batch(self) -> list[dict[str, Any]] | None:
        while True:
            try:
                first = self._queue.get(timeout=0.1)
                break
            except queue.Empty:
                if self._stopping.is_set():
                    return None
        batch = [first]
        deadline = time.monotonic() + self._batch_seconds
        while len(batch) < self._batch_size:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=max(0.0, remaining)))
            except queue.Empty:
                break
        return batch

    def _post(self, batch: list[dict[str, Any]]) -> tuple[bool, int]:
        """(delivered, spans the collector accepted); retries what the spec says to retry."""
        body = json.dumps(export_request(batch), ensure_ascii=False).encode()
        problem = ""
        for attempt in range(self._max_retries + 1):
            delay = min(self._backoff * 2**attempt, self._max_backoff)
            try:
                response = self._client.post(self.url, content=body, headers=self._headers)
            except httpx.HTTPError as exc:
                problem = (
                    f"cannot reach the OTLP collector at {self.url} ({exc or type(exc).__name__})"
                )
            else:
                if response.status_code < 300:
                    return True, len(batch) - self._rejected(response)
                problem = (
                    f"the OTLP collector at {self.url} answered {response.status_code}"
                    f" ({response.text[:200].strip() or response.reason_phrase})"
                )
                if response.status_code not in RETRYABLE:
                    break
                delay = _retry_after(response, delay, self._max_backoff)
            if attempt == self._max_retries or self._abandon.wait(delay):
                break
        self._report(f"{problem}; {len(batch)} spans not exported.")
        return False, 0

    def _rejected(self, response: httpx.Response) -> int:
        """Spans a 2xx answer's `partialSuccess` says were rejected (reported as errors)."""
        try:
            partial = response.json().get("partialSuccess") or {}
            rejected = int(partial.get("rejectedSpans") or 0)
        except (ValueError, AttributeError, TypeError):
            return 0
        if rejected:
            why = partial.get("errorMessage") or "no reason given"
            self._report(f"the OTLP collector at {self.url} rejected {rejected} spans ({why}).")
        return rejected

    def _report(self, message: str) -> None:
        self.last_error = message
        log.warning("%s", message)
        if self._on_error is not None:
            self._on_error(message)


def _retry_after(response: httpx.Response, default: float, limit: float) -> float:
    try:
        return min(max(0.0, float(response.headers.get("retry-after", ""))), limit)
    except ValueError:
        return default


# --- the CLI's export ----------------------------------------------------------------------


def export_calls_otlp(
    store: CallStore,
    endpoint: str,
    selection: Selection | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    on_error: Callable[[str], None] | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 60.0,
) -> ExportResult:
    """Send the selected calls to an OTLP/HTTP collector; OtlpError if it does not take them.

    Unlike a proxy's exporter this one waits for room in the queue (nothing is dropped) and
    stops at the first batch the collector refuses after its retries.
    """
    result = ExportResult(format="otlp")
    exporter = OtlpExporter(endpoint, headers, on_error=on_error, transport=transport)
    try:
        calls = recorded_calls(
            store, selection or Selection(), on_progress=on_progress, cancel=cancel, result=result
        )
        for recorded in calls:
            if exporter.failed:
                break
            exporter.submit(call_span(recorded.call, recorded.chunks), block=True)
        exporter.flush(timeout)
    finally:
        exporter.close(timeout=1.0)
    result.written = exporter.sent
    if exporter.failed or exporter.sent < result.total - result.skipped_count:
        problem = exporter.last_error or f"the collector at {exporter.url} did not answer in time"
        raise OtlpError(
            f"{problem.rstrip('.')}; {exporter.sent} of {result.total} calls were sent."
        )
    return result
