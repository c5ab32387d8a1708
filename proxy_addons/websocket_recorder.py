"""WebSocketRecorder addon: records WebSocket calls (Codex's Responses socket) per message."""

from __future__ import annotations

import json
import time

from mitmproxy import http

from app.core.recording import Recording
from app.core.routing import redact_headers
from proxy_addons.context import context_of
from proxy_addons.router import websocket_refusal

NORMAL_CLOSE = frozenset({1000, 1001, None})


class WebSocketRecorder:
    """Each message becomes a chunk (direction 'client' or 'server') with its arrival time.

    The first client message (`response.create`) is the call's request body; server messages
    are assembled like Responses SSE events. A provider that refuses the upgrade is answered
    426, so Codex falls back to HTTP at once instead of retrying for seconds.
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
        ctx.finished = True  # the HTTP part is over; websocket_end finishes the call
        headers = json.dumps(redact_headers(list(response.headers.items(True))))
        self.writer.update(
            ctx.id,
            {
                "status": response.status_code,
                "state": "streaming",
                "transport": "websocket",
                "response_headers": headers,
                "ttft_ms": ctx.ms_since_start(),
            },
        )

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        ctx = context_of(flow)
        if ctx is None or flow.websocket is None:
            return
        message = flow.websocket.messages[-1]
        now = time.monotonic()
        ctx.last_activity = now
        text = message.text if message.is_text else None
        if message.from_client and "request_seen" not in ctx.extra:
            ctx.extra["request_seen"] = True
            self._first_request(ctx.id, message.content, text)
        self.writer.chunk(
            ctx.id,
            ctx.seq,
            ctx.ms_since_start(now),
            message.content,
            None if message.from_client else text,
            None,
            "client" if message.from_client else "server",
        )
        ctx.seq += 1

    def _first_request(self, call_id: str, content: bytes, text: str | None) -> None:
        fields: dict[str, object] = {"request_body": text if text is not None else content}
        try:
            body = json.loads(content)
        except (ValueError, RecursionError):
            body = None
        if isinstance(body, dict):
            if isinstance(body.get("model"), str):
                fields["model"] = body["model"]
            fields["stream"] = 1
        self.writer.update(call_id, fields)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        ctx = context_of(flow)
        if ctx is None or flow.websocket is None:
            return
        ws = flow.websocket
        fields: dict[str, object] = {
            "duration_ms": ctx.ms_since_start(),
            "chunk_count": ctx.seq,
            "state": "complete",
        }
        if ws.close_code not in NORMAL_CLOSE:
            side = "the client" if ws.closed_by_client else "the provider"
            reason = f": {ws.close_reason}" if ws.close_reason else ""
            fields["state"] = "interrupted"
            fields["error"] = f"Interrupted: {side} closed the WebSocket ({ws.close_code}{reason})."
        if ctx.quirks:
            fields["quirks"] = json.dumps(ctx.quirks)
        self.writer.finish(ctx.id, fields)
