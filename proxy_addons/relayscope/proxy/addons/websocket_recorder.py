"""WebSocketRecorder addon: a Responses WebSocket as a connection carrying one call per response."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from mitmproxy import http

from relayscope.proxy.addons.context import CallContext, context_of, utc_now_iso
from relayscope.proxy.addons.recorder import WEBSOCKET_ROW
from relayscope.proxy.addons.router import websocket_refusal
from relayscope.recording.writer import Recording
from relayscope.routing.routes import new_call_id, redact_headers

#: The events that end one response on the socket (the Responses API's terminal events).
TERMINAL = frozenset({"response.completed", "response.failed", "response.incomplete", "error"})
#: Server events reach the proxy by the hundred per response: their type is read from the
#: first bytes (the API writes `type` first); only a terminal one is parsed in full.
_TYPE = re.compile(rb'"type"\s*:\s*"([^"]{1,64})"')
_SOCKET = "websocket_socket"
PREWARM_NOTE = (
    "Codex prewarm (generate: false): the provider was given the prompt ahead of the turn "
    "and asked for no answer."
)


@dataclass(slots=True)
class _Response:
    """One `response.create` on the socket and what has come back for it so far."""

    id: str
    t0: float
    seq: int = 0
    first_byte_ms: float | None = None


@dataclass(slots=True)
class _Socket:
    """What the recorder keeps per open socket (in `ctx.extra`)."""

    row: dict[str, Any]  # the upgrade's call row, the template of each response's row
    current: _Response | None = None
    messages: int = 0
    calls: int = 0
    stray_seq: int = 0  # messages outside any response, kept under the connection's id
    prewarms: list[str] = field(default_factory=list)  # prewarm calls waiting for their turn


class WebSocketRecorder:
    """Records a Responses WebSocket (Codex's built-in provider) as it really is used: one
    socket carries a prewarm and then one `response.create` per model request.

    The socket is a `connections` row (opened, closed, by whom, close code) whose id is the
    upgrade's call id. Each `response.create` is a call of its own (`connection_id` points at
    the socket): its request is that message, its chunks are the message and the server's
    events up to the response's terminal event, each with its arrival time. A provider that
    refuses the upgrade is answered 426, so Codex falls back to HTTP at once instead of
    retrying for seconds.
    """

    def __init__(self, writer: Recording) -> None:
        self.writer = writer

    def response(self, flow: http.HTTPFlow) -> None:
        ctx = context_of(flow)
        response = flow.response
        if ctx is None or response is None or not ctx.extra.get("websocket"):
            return
        if flow.websocket is None:
            original = response.status_code
            flow.response = websocket_refusal(f"the provider answered {original}")
            ctx.quirks.append(
                f"provider answered {original} to the WebSocket upgrade; "
                "the client got 426 so it falls back to HTTP"
            )
            return
        ctx.finished = True  # the HTTP part is over; websocket_end closes the connection
        row = ctx.extra.pop(WEBSOCKET_ROW, None) or {}
        row["status"] = response.status_code
        row["response_headers"] = json.dumps(
            redact_headers(list(response.headers.items(True))), ensure_ascii=False
        )
        ctx.extra[_SOCKET] = _Socket(row=row)
        self.writer.connection(
            ctx.id,
            {
                "started_at": ctx.started_at,
                "transport": "websocket",
                "path": row.get("path"),
                "provider": ctx.provider,
                "upstream_url": row.get("upstream_url"),
                "client": row.get("client"),
                "session_id": row.get("session_id"),
                "status": response.status_code,
                "state": "open",
                "message_count": 0,
                "call_count": 0,
                "request_headers": row.get("request_headers"),
                "response_headers": row["response_headers"],
            },
        )

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        ctx = context_of(flow)
        socket = ctx.extra.get(_SOCKET) if ctx is not None else None
        if ctx is None or flow.websocket is None or not isinstance(socket, _Socket):
            return
        message = flow.websocket.messages[-1]
        now = time.monotonic()
        ctx.last_activity = now
        socket.messages += 1
        text = message.text if message.is_text else None
        if message.from_client:
            body = _create_body(message.content)
            if body is not None:
                request = text if text is not None else message.content
                self._begin(ctx, socket, body, request, len(message.content), now)
        current = socket.current
        direction = "client" if message.from_client else "server"
        if current is None:  # belongs to no response: kept on the connection
            at = ctx.ms_since_start(now)
            self.writer.chunk(ctx.id, socket.stray_seq, at, message.content, None, None, direction)
            socket.stray_seq += 1
            return
        t_ms = round((now - current.t0) * 1000, 3)
        data = None if message.from_client else text
        self.writer.chunk(current.id, current.seq, t_ms, message.content, data, None, direction)
        current.seq += 1
        if message.from_client:
            return
        if current.first_byte_ms is None:
            current.first_byte_ms = t_ms
            # TTFT (the first output event) is the writer's to tell: relayscope.calls.facts
            self.writer.update(current.id, {"first_byte_ms": t_ms})
        kind = _event_type(message.content)
        if kind in TERMINAL:
            self._end(socket, current, kind, t_ms)

    def _begin(
        self,
        ctx: CallContext,
        socket: _Socket,
        body: dict[str, Any],
        request: str | bytes,
        size: int,
        now: float,
    ) -> None:
        """A `response.create`: a new call, its request the message itself."""
        if socket.current is not None:  # the client did not wait for the last one's end
            self._cut(socket, "client", "superseded", "a new response.create was sent first")
        call_id = new_call_id()
        socket.current = _Response(call_id, now)
        socket.calls += 1
        turn = _turn_of(body) or socket.row.get("turn_id") or None
        row = {
            **socket.row,
            "id": call_id,
            "started_at": utc_now_iso(),
            "endpoint": "responses",
            "model": body["model"] if isinstance(body.get("model"), str) else None,
            "stream": 1,
            "state": "streaming",
            "request_body": request,
            "request_size": size,
            "upstream_request_body": None,
            "truncated": 0,
            "transport": "websocket",
            "connection_id": ctx.id,
            "turn_id": turn,
            "session_id": _metadata(body).get("session_id") or socket.row.get("session_id"),
        }
        if body.get("generate") is False:
            row["note"] = PREWARM_NOTE
            socket.prewarms.append(call_id)
        elif turn and socket.prewarms:
            # A prewarm belongs to the turn it warmed up: the next request on its socket.
            for prewarm in socket.prewarms:
                self.writer.update(prewarm, {"turn_id": turn})
            socket.prewarms.clear()
        self.writer.start(row)

    def _end(self, socket: _Socket, current: _Response, kind: str, t_ms: float) -> None:
        """The response's terminal event arrived: complete, or the provider's error."""
        socket.current = None
        fields: dict[str, Any] = {"duration_ms": t_ms, "chunk_count": current.seq}
        if kind in ("response.failed", "error"):
            fields.update(state="error", error_code=kind)
        else:
            fields["state"] = "complete"
        self.writer.finish(current.id, fields)

    def _cut(self, socket: _Socket, side: str, code: str, what: str) -> None:
        current = socket.current
        if current is None:
            return
        socket.current = None
        self.writer.finish(
            current.id,
            {
                "duration_ms": round((time.monotonic() - current.t0) * 1000, 3),
                "chunk_count": current.seq,
                "state": "interrupted",
                "cut_by": side,
                "error_code": code,
                "error": f"Interrupted: {what} before the response's end.",
            },
        )

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        ctx = context_of(flow)
        socket = ctx.extra.get(_SOCKET) if ctx is not None else None
        if ctx is None or flow.websocket is None or not isinstance(socket, _Socket):
            return
        ws = flow.websocket
        side = "client" if ws.closed_by_client else "provider"
        code = ws.close_code
        reason = f" ({code}{': ' + ws.close_reason if ws.close_reason else ''})"
        self._cut(
            socket,
            side,
            "client_disconnected" if side == "client" else "upstream_cut",
            f"the {side} closed the WebSocket{reason}",
        )
        fields: dict[str, Any] = {
            "ended_at": utc_now_iso(),
            "state": "closed",
            "closed_by": side,
            "close_code": code,
            "close_reason": ws.close_reason or None,
            "duration_ms": ctx.ms_since_start(),
            "message_count": socket.messages,
            "call_count": socket.calls,
        }
        self.writer.connection(ctx.id, fields)


def _create_body(content: bytes) -> dict[str, Any] | None:
    """The JSON of a client's `response.create` message, else None."""
    match = _TYPE.search(content, 0, 256)
    if match is None or match.group(1) != b"response.create":
        return None
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) and body.get("type") == "response.create" else None


def _event_type(content: bytes) -> str | None:
    """A server event's type; a terminal one is confirmed by parsing the whole message."""
    match = _TYPE.search(content, 0, 256)
    if match is None:
        return None
    kind = match.group(1).decode("ascii", "replace")
    if kind not in TERMINAL:
        return kind
    try:
        obj = json.loads(content)
    except (ValueError, RecursionError):
        return None
    return obj.get("type") if isinstance(obj, dict) else None


def _metadata(body: dict[str, Any]) -> dict[str, Any]:
    metadata = body.get("client_metadata")
    return metadata if isinstance(metadata, dict) else {}


def _turn_of(body: dict[str, Any]) -> str | None:
    """Codex's turn id in a `response.create`: `client_metadata.turn_id`, or the turn id in
    the `x-codex-turn-metadata` JSON it also carries there (the upgrade request's header has
    an empty one: the socket opens at the prewarm, before any turn)."""
    metadata = _metadata(body)
    turn = metadata.get("turn_id")
    if isinstance(turn, str) and turn:
        return turn
    raw = metadata.get("x-codex-turn-metadata")
    if isinstance(raw, str):
        try:
            turn = json.loads(raw).get("turn_id")
        except (ValueError, AttributeError, RecursionError):
            return None
        if isinstance(turn, str) and turn:
            return turn
    return None
