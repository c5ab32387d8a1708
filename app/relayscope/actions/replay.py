"""Builds a request from a recorded (or edited) call and sends it back through the proxy."""

from __future__ import annotations

import asyncio
import copy
import email.utils
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from relayscope.analysis.stream_stats import event_label
from relayscope.protocols.openai_format import (
    Assembled,
    StreamAssembler,
    assemble_body,
    endpoint_of,
    read_request,
)
from relayscope.protocols.sse import SSEDecoder, SSEEvent
from relayscope.routing import routes as routing
from relayscope.store.call_store import LIVE_STATES, CallStore

__all__ = [
    "DEFAULT_BASE_URL",
    "JsonError",
    "OnEvent",
    "ReplayError",
    "ReplayEvent",
    "ReplayRequest",
    "ReplayResult",
    "async_client",
    "client_headers",
    "edit_body",
    "new_request",
    "parse_json_body",
    "parse_retry_after",
    "proxy_reachable",
    "replay_request",
    "send",
    "send_async",
    "wait_until_recorded",
]

DEFAULT_BASE_URL = "http://127.0.0.1:8787/v1"
#: Retry-After waits longer than this are reported, never waited out.
MAX_RETRY_WAIT = 120.0
_RETRYABLE = frozenset({429, 503})
# Hop-by-hop headers and those httpx computes for the new request itself. Accept-Encoding
# goes too: the client may have offered encodings this process cannot decode.
_DROPPED = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "accept-encoding",
        "proxy-connection",
    }
)
_TEXT_EVENTS = frozenset({"content", "response.output_text.delta", "response.refusal.delta"})


class ReplayError(Exception):
    """A call cannot be replayed as asked; the message says why and what to do."""


# --- requests ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    """One request to send through the proxy, with the id it will be recorded under.

    ``headers`` are the client's own (no secrets, none of Relayscope's); ``wire_headers()``
    adds the ``X-Relayscope-*`` headers that tag the call for the proxy.
    """

    method: str
    path: str  # as a client sends it to the proxy: "/v1/chat/completions"
    headers: tuple[tuple[str, str], ...]
    body: bytes
    stream: bool
    call_id: str = field(default_factory=routing.new_call_id)
    replay_of: str | None = None
    provider: str | None = None  # None: the proxy routes by model, as for any call
    group_id: str | None = None

    @property
    def endpoint(self) -> str:
        return endpoint_of(self.path)

    def json_body(self) -> dict[str, Any] | None:
        try:
            value = json.loads(self.body)
        except (ValueError, RecursionError):
            return None
        return value if isinstance(value, dict) else None

    def wire_headers(self) -> list[tuple[str, str]]:
        headers = list(self.headers)
        headers.append(("X-Relayscope-Call-Id", self.call_id))
        if self.replay_of:
            headers.append(("X-Relayscope-Replay-Of", self.replay_of))
        if self.provider:
            headers.append(("X-Relayscope-Provider", self.provider))
        if self.group_id:
            headers.append(("X-Relayscope-Group", self.group_id))
        return headers

    def renewed(self) -> ReplayRequest:
        """The same request under a new call id (a resend is a call of its own)."""
        return replace(self, call_id=routing.new_call_id())

    def url(self, base_url: str) -> str:
        """Where to send it: ``base_url`` is the proxy's ``…/v1`` URL."""
        parts = urlsplit(base_url)
        prefix = parts.path.rstrip("/").removesuffix("/v1")
        return f"{parts.scheme}://{parts.netloc}{prefix}{self.path}"


def new_request(
    body: bytes | Mapping[str, Any],
    *,
    path: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    replay_of: str | None = None,
    group_id: str | None = None,
) -> ReplayRequest:
    """A POST of ``body`` (bytes kept as they are, unless ``model`` replaces the model).

    ``path`` defaults to the endpoint the body is for: ``messages`` → chat completions (or
    Anthropic Messages, for a body with a top-level ``system``, ``thinking`` or Anthropic
    content blocks), ``input`` → responses, ``prompt`` → completions.
    """
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    if model is not None:
        raw = _with_model(raw, model)
    path = path or _path_for(raw)
    kept = _extra_headers(headers)
    if raw and not any(k.lower() == "content-type" for k, _ in kept):
        kept.append(("Content-Type", "application/json"))
    return ReplayRequest(
        method="POST",
        path=path,
        headers=tuple(kept),
        body=raw,
        stream=read_request(raw).stream,
        replay_of=replay_of,
        provider=provider,
        group_id=group_id,
    )


def replay_request(
    call: Mapping[str, Any],
    *,
    provider: str | None = None,
    model: str | None = None,
    body: bytes | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> ReplayRequest:
    """The request that replays a recorded call: same body, endpoint and streaming mode.

    ``provider`` routes it to a provider by name; ``model`` replaces the body's model;
    ``body`` replaces the whole body (an edited one). The client's headers are kept except
    secrets (the proxy injects the provider's key), hop-by-hop ones and Relayscope's own;
    without ``provider`` the original's ``X-Relayscope-Provider`` header routes it again.
    ``headers`` are added as given (the proxy's access token, or an API key for a provider
    that has none configured).
    """
    if body is None:
        if int(call.get("truncated") or 0) & 1:
            raise ReplayError(
                f"Call {call['id']}'s request was recorded truncated (above max_body_bytes), "
                "so it cannot be sent as it was; edit the body or raise max_body_bytes."
            )
        body = _bytes(call.get("request_body"))
    method, path = str(call.get("method") or "POST"), str(call.get("path") or "")
    if call.get("transport") == "websocket":
        # Codex's socket sends the request as a `response.create` message: replay it as the
        # equivalent HTTP stream, which every provider (and the demo) speaks.
        method, body = "POST", _from_websocket_message(body)
    if model is not None:
        body = _with_model(body, model)
    elif provider is not None:
        body = _without_route_prefix(body, call)
    recorded = _recorded_headers(call.get("request_headers"))
    original_provider = next(
        (v for k, v in recorded if k.lower() == routing.PROVIDER_HEADER and "****" not in v),
        None,
    )
    kept = client_headers(call) + _extra_headers(headers)
    if call.get("transport") == "websocket":
        kept = [(k, v) for k, v in kept if "websocket" not in v.lower()]  # openai-beta
    if body and not any(k.lower() == "content-type" for k, _ in kept):
        kept.append(("Content-Type", "application/json"))
    return ReplayRequest(
        method=method,
        path=path or _path_for(body),
        headers=tuple(kept),
        body=body,
        stream=read_request(body).stream,
        replay_of=str(call["id"]),
        provider=provider or original_provider,
    )


def client_headers(call: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The recorded call's headers worth sending again: none of the secrets (redacted in
    the database anyway), hop-by-hop ones, WebSocket handshake ones or Relayscope's own."""
    return [
        (name, value)
        for name, value in _recorded_headers(call.get("request_headers"))
        if not _dropped(name.lower())
        and name.lower() not in routing.SECRET_HEADERS
        and "****" not in value  # a value the recorder redacted is useless to send
    ]


def _dropped(lower: str) -> bool:
    return (
        lower in _DROPPED
        or lower.startswith("sec-websocket")
        or lower.startswith(routing.OUR_HEADER_PREFIX)
    )


def _extra_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    # The tagging headers come from the request's own fields (`wire_headers`); the access
    # token (also an X-Relayscope- header) and API keys pass as given.
    return [
        (name, value)
        for name, value in headers
        if name.lower() == routing.TOKEN_HEADER or not _dropped(name.lower())
    ]


def _recorded_headers(value: object) -> list[tuple[str, str]]:
    try:
        pairs = json.loads(value) if isinstance(value, str | bytes) else []
    except (ValueError, RecursionError):
        return []
    return [(str(p[0]), str(p[1])) for p in pairs if isinstance(p, list | tuple) and len(p) == 2]


def _bytes(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ReplayError(f"The request body is not JSON, so {what} ({exc}).") from exc
    if not isinstance(value, dict):
        raise ReplayError(f"The request body is not a JSON object, so {what}.")
    return value


def _with_model(body: bytes, model: str) -> bytes:
    obj = _json_object(body, "its model cannot be changed")
    obj["model"] = model
    return json.dumps(obj, ensure_ascii=False).encode()


def _without_route_prefix(body: bytes, call: Mapping[str, Any]) -> bytes:
    """A model written `OLD/model` would name the old provider; the new one gets `model`."""
    prefixed = f"{call.get('provider')}/{call.get('model')}"
    if read_request(body).model == prefixed and call.get("model"):
        return _with_model(body, str(call["model"]))
    return body


def _from_websocket_message(body: bytes) -> bytes:
    obj = _json_object(body, "it cannot be replayed")
    obj.pop("type", None)
    obj["stream"] = True
    return json.dumps(obj, ensure_ascii=False).encode()


# What only an Anthropic Messages body has: top-level fields and content block types.
_ANTHROPIC_FIELDS = frozenset({"system", "thinking", "stop_sequences", "top_k"})
_ANTHROPIC_BLOCKS = frozenset({"tool_use", "tool_result", "thinking", "redacted_thinking"})


def _is_anthropic(obj: dict[str, Any]) -> bool:
    """A body with messages that only the Messages API takes (a plain {model, messages,
    max_tokens} could be either, and stays chat completions)."""
    if not _ANTHROPIC_FIELDS.isdisjoint(obj):
        return True
    messages = obj.get("messages")
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") in _ANTHROPIC_BLOCKS:
                return True
    return False


def _path_for(body: bytes) -> str:
    try:
        obj = json.loads(body) if body else {}
    except (ValueError, RecursionError):
        obj = {}
    obj = obj if isinstance(obj, dict) else {}
    if "messages" in obj:
        return "/v1/messages" if _is_anthropic(obj) else "/v1/chat/completions"
    if "prompt" in obj:
        return "/v1/completions"
    return "/v1/responses"


# --- editing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JsonError:
    """Where an edited body stops being valid JSON: 1-based line and column, and why."""

    line: int
    column: int
    message: str
    offset: int = 0  # character offset into the text, for an editor's cursor


def parse_json_body(text: str) -> dict[str, Any] | JsonError:
    """The body an editor holds, or where and why it is not a JSON object."""
    if not text.strip():
        return JsonError(1, 1, "The body is empty; a request body is a JSON object.")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return JsonError(exc.lineno, exc.colno, exc.msg, exc.pos)
    except RecursionError:
        return JsonError(1, 1, "The body nests too deeply to be read.")
    if not isinstance(value, dict):
        start = len(text) - len(text.lstrip())
        line = text.count("\n", 0, start) + 1
        column = start - (text.rfind("\n", 0, start) + 1) + 1
        kind = _JSON_KINDS.get(type(value), "something else")
        return JsonError(line, column, f"A request body is a JSON object, not {kind}.", start)
    return value


_JSON_KINDS = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}


def edit_body(
    body: Mapping[str, Any],
    *,
    model: str | None = None,
    stream: bool | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    messages: list[Any] | None = None,
) -> dict[str, Any]:
    """A copy of ``body`` with the given fields changed (None leaves a field as it is).

    ``max_tokens`` and ``messages`` use the body's own API: Responses bodies get
    ``max_output_tokens`` and ``input``; a chat body that uses ``max_completion_tokens``
    keeps using it. Turning streaming off removes ``stream_options``, which providers reject
    without a stream.
    """
    out = copy.deepcopy(dict(body))
    responses = "input" in out and "messages" not in out
    if model is not None:
        out["model"] = model
    if stream is not None:
        out["stream"] = stream
        if not stream:
            out.pop("stream_options", None)
    if temperature is not None:
        out["temperature"] = temperature
    if max_tokens is not None:
        if responses:
            key = "max_output_tokens"
        else:
            key = "max_completion_tokens" if "max_completion_tokens" in out else "max_tokens"
        out[key] = max_tokens
    if messages is not None:
        out["input" if responses else "messages"] = copy.deepcopy(messages)
    return out


# --- sending ----------------------------------------------------------------------------------

EventKind = Literal["response", "chunk", "body", "retry_wait", "done"]


@dataclass(frozen=True, slots=True)
class ReplayEvent:
    """Something that happened while a request ran, in order, for a live view.

    ``response``: status and headers arrived. ``chunk``: one SSE event (``text`` is the
    answer text it adds). ``body``: a whole non-stream body (``text`` is its answer).
    ``retry_wait``: waiting ``retry_after`` seconds before resending. ``done``: ``result``
    is final. Callbacks run on the sending thread; a GUI hands them to its own thread.
    """

    kind: EventKind
    call_id: str
    t_ms: float
    seq: int = -1
    status: int | None = None
    event_type: str = ""
    data: str | None = None
    text: str = ""
    retry_after: float | None = None
    result: ReplayResult | None = None


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """How a sent request ended, as this client saw it (the database has the proxy's view)."""

    call_id: str
    status: int | None  # None when no response arrived
    headers: tuple[tuple[str, str], ...]
    body: bytes  # a non-stream response's body; empty for streams
    events: tuple[ReplayEvent, ...]  # a stream's chunk events
    error: str | None
    retry_after: float | None  # seconds, from Retry-After / retry-after-ms on an error
    elapsed_ms: float
    ttft_ms: float | None  # first output chunk for streams, the body otherwise (call_facts)
    first_byte_ms: float | None = None  # the response's headers
    answer: Assembled = field(default_factory=Assembled)
    cancelled: bool = False
    previous: ReplayResult | None = None  # the 429/503 attempt that was waited out

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 400 and self.error is None

    @property
    def output_text(self) -> str:
        return self.answer.output_text

    @property
    def call_ids(self) -> list[str]:
        """Every call this result sent, first attempt first."""
        return [*(self.previous.call_ids if self.previous else []), self.call_id]


OnEvent = Callable[[ReplayEvent], None]


def send(
    request: ReplayRequest,
    base_url: str = DEFAULT_BASE_URL,
    *,
    on_event: OnEvent | None = None,
    cancel: threading.Event | None = None,
    timeout: float = 600.0,
    wait_for_retry_after: bool = False,
    max_retry_wait: float = MAX_RETRY_WAIT,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ReplayResult:
    """Send ``request`` through the proxy at ``base_url`` and read the whole answer.

    Blocks; call it from a worker thread, never from a running event loop. ``on_event``
    gets each event as it happens, on this thread. Setting ``cancel`` stops the request at
    once (the proxy records the call as interrupted). A 429/503 is never retried unless
    ``wait_for_retry_after``: then its Retry-After (up to ``max_retry_wait`` seconds) is
    waited out once and the request resent under a new call id. Network failures do not
    raise: they come back as a result with ``status`` None and an ``error``.
    """

    async def run() -> ReplayResult:
        async with async_client(timeout, transport) as client:
            return await send_async(
                request,
                base_url,
                client=client,
                on_event=on_event,
                cancel=cancel,
                wait_for_retry_after=wait_for_retry_after,
                max_retry_wait=max_retry_wait,
            )

    return asyncio.run(run())


def async_client(
    timeout: float = 600.0, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The client `send_async` expects: no system proxy, no connection limit."""
    # trust_env=False: a system HTTP(S)_PROXY must never catch calls to our loopback proxy.
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=10.0),
        transport=transport,
        trust_env=False,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=20),
    )


async def send_async(
    request: ReplayRequest,
    base_url: str,
    *,
    client: httpx.AsyncClient,
    on_event: OnEvent | None = None,
    cancel: threading.Event | None = None,
    wait_for_retry_after: bool = False,
    max_retry_wait: float = MAX_RETRY_WAIT,
) -> ReplayResult:
    """`send` on a caller's event loop and client (`compare` runs several at once)."""
    result = await _attempt(request, base_url, client, on_event, cancel)
    wait = result.retry_after
    if (
        wait_for_retry_after
        and result.status in _RETRYABLE
        and wait is not None
        and wait <= max_retry_wait
    ):
        _emit(on_event, ReplayEvent("retry_wait", request.call_id, 0.0, retry_after=wait))
        if await _sleep(wait, cancel):
            again = await _attempt(request.renewed(), base_url, client, on_event, cancel)
            result = replace(again, previous=result)
        else:
            result = replace(result, cancelled=True)
    _emit(on_event, ReplayEvent("done", result.call_id, result.elapsed_ms, result=result))
    return result


@dataclass(slots=True)
class _Progress:
    """What one attempt has received so far (kept when it is cancelled halfway)."""

    request: ReplayRequest
    on_event: OnEvent | None
    t0: float = field(default_factory=time.monotonic)
    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    events: list[ReplayEvent] = field(default_factory=list)
    ttft_ms: float | None = None
    first_byte_ms: float | None = None
    assembler: StreamAssembler | None = None

    def ms(self) -> float:
        return round((time.monotonic() - self.t0) * 1000, 3)

    def chunk(self, event: SSEEvent) -> None:
        t_ms = self.ms()
        raw = event.raw.decode("utf-8", "replace")
        label = event_label(raw)
        text = label.delta_text if label.event_type in _TEXT_EVENTS else ""
        if label.event_type == "content_block_delta" and '"text_delta"' in raw:
            text = label.delta_text  # Anthropic's answer text (not thinking, not tool input)
        item = ReplayEvent(
            "chunk",
            self.request.call_id,
            t_ms,
            seq=len(self.events),
            status=self.status,
            event_type=label.event_type,
            data=event.data,
            text=text,
        )
        self.events.append(item)
        if self.assembler is not None:
            self.assembler.feed(event.data, event.event)
            if self.ttft_ms is None and self.assembler.has_output:
                self.ttft_ms = t_ms  # TTFT: the first output (relayscope.calls.facts)
        _emit(self.on_event, item)

    def result(self, error: str | None, *, cancelled: bool = False) -> ReplayResult:
        endpoint = self.request.endpoint
        if self.assembler is not None:
            answer = self.assembler.result()
        else:
            answer = assemble_body(endpoint, self.body) if self.body else Assembled()
        if error is None and self.status is not None and self.status >= 400:
            error = _error_message(answer) or f"HTTP {self.status}"
        elif error is None and answer.error:
            error = _error_message(answer)
        retry_after = None
        if self.status is not None and self.status >= 400:
            retry_after = parse_retry_after(dict((k.lower(), v) for k, v in self.headers))
        return ReplayResult(
            call_id=self.request.call_id,
            status=self.status,
            headers=self.headers,
            body=self.body,
            events=tuple(self.events),
            error=error,
            retry_after=retry_after,
            elapsed_ms=self.ms(),
            ttft_ms=self.ttft_ms,
            first_byte_ms=self.first_byte_ms,
            answer=answer,
            cancelled=cancelled,
        )


async def _attempt(
    request: ReplayRequest,
    base_url: str,
    client: httpx.AsyncClient,
    on_event: OnEvent | None,
    cancel: threading.Event | None,
) -> ReplayResult:
    progress = _Progress(request, on_event)
    task = asyncio.ensure_future(_exchange(progress, base_url, client))
    while not task.done():
        if cancel is not None and cancel.is_set():
            task.cancel()
            break
        await asyncio.wait({task}, timeout=0.05)
    try:
        error = await task
    except asyncio.CancelledError:
        return progress.result("Cancelled.", cancelled=True)
    return progress.result(error)


async def _exchange(progress: _Progress, base_url: str, client: httpx.AsyncClient) -> str | None:
    """Run one HTTP exchange into ``progress``; a network failure comes back in words."""
    request = progress.request
    url = request.url(base_url)
    try:
        async with client.stream(
            request.method, url, headers=request.wire_headers(), content=request.body or None
        ) as response:
            progress.status = response.status_code
            progress.headers = tuple(response.headers.multi_items())
            head_ms = progress.first_byte_ms = progress.ms()
            _emit(
                progress.on_event,
                ReplayEvent("response", request.call_id, head_ms, status=response.status_code),
            )
            if "text/event-stream" in response.headers.get("content-type", ""):
                progress.assembler = StreamAssembler(request.endpoint)
                decoder = SSEDecoder()
                async for data in response.aiter_bytes():
                    for event in decoder.feed(data):
                        progress.chunk(event)
                tail = decoder.flush()
                if tail is not None and (tail.data is not None or tail.event is not None):
                    progress.chunk(tail)
                return None
            progress.body = await response.aread()
            if response.status_code < 400:  # the whole output arrives with the body
                progress.ttft_ms = head_ms
            answer = assemble_body(request.endpoint, progress.body)
            _emit(
                progress.on_event,
                ReplayEvent(
                    "body",
                    request.call_id,
                    progress.ms(),
                    status=response.status_code,
                    data=progress.body.decode("utf-8", "replace"),
                    text=answer.output_text,
                ),
            )
            return None
    except httpx.ConnectError as exc:
        return f"Could not connect to Relayscope at {base_url} ({exc or 'refused'})."
    except httpx.TimeoutException:
        return f"Timed out after {progress.ms() / 1000:.1f} s waiting for {url}."
    except httpx.HTTPError as exc:
        return f"The connection to {url} failed: {exc or type(exc).__name__}."


def _emit(on_event: OnEvent | None, event: ReplayEvent) -> None:
    if on_event is not None:
        on_event(event)


def _error_message(answer: Assembled) -> str | None:
    error = answer.error
    if not error:
        return None
    message = error.get("message")
    return str(message) if message else json.dumps(error, ensure_ascii=False)


async def _sleep(seconds: float, cancel: threading.Event | None) -> bool:
    """Wait ``seconds``; False if ``cancel`` was set meanwhile."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if cancel is not None and cancel.is_set():
            return False
        await asyncio.sleep(min(left, 0.05))
    return not (cancel is not None and cancel.is_set())


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date).

    ``headers`` keys are lower case. None when neither is present or readable.
    """
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# --- the proxy and the database ----------------------------------------------------------------


def proxy_reachable(base_url: str, *, timeout: float = 1.0) -> bool:
    """True when something accepts connections at ``base_url`` (no request is sent, so
    nothing is recorded)."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until_recorded(
    store: CallStore, call_id: str, *, timeout: float = 10.0
) -> dict[str, Any] | None:
    """The call's row once the proxy has finished it (None if it never shows up in time)."""
    deadline = time.monotonic() + timeout
    row = store.get_call(call_id)
    while row is None or row.get("state") in LIVE_STATES:
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)
        row = store.get_call(call_id)
    return row
