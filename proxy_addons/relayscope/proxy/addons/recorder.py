"""Recorder addon: taps requests, responses and streams into the recording writer.

Hooks stay cheap: a stream's network chunks are timed and handed over as they are (the
writer splits them into SSE events); JSON parsing, assembly and SQLite all happen in the
writer, which runs in its own process (relayscope.recording.process).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from mitmproxy import http

from relayscope.calls.safe_text import visible
from relayscope.protocols.encodings import Decompressor, decode
from relayscope.protocols.sse import SSEDecoder
from relayscope.proxy.addons.context import CallContext, context_of
from relayscope.proxy.addons.errors import TIMEOUT_MARK, announce_timeout
from relayscope.recording.writer import Recording
from relayscope.routing.quirks import UsageHider, aggregate_chat_completion
from relayscope.routing.routes import redact_headers, redact_query

log = logging.getLogger("relayscope.calls")
#: `ctx.extra` key of a WebSocket upgrade's call row, held back until the upgrade's outcome.
WEBSOCKET_ROW = "websocket_row"


def _headers_json(headers: list[tuple[str, str]]) -> str:
    return json.dumps(redact_headers(headers), ensure_ascii=False)


def _session_id(header: dict[str, str]) -> str | None:
    """The client's session: Codex's `session_id` header, Claude Code's own."""
    return (
        header.get("session-id")
        or header.get("session_id")
        or header.get("x-claude-code-session-id")
    )


def _capped(body: bytes, cap: int) -> tuple[bytes, bool]:
    return (body[:cap], True) if len(body) > cap else (body, False)


class Recorder:
    """Records every flow: a pending row at request time, chunks as they pass, the end."""

    def __init__(self, writer: Recording, *, max_body_bytes: int) -> None:
        self.writer = writer
        self.max_body_bytes = max_body_bytes

    def request(self, flow: http.HTTPFlow) -> None:
        ctx = context_of(flow)
        if ctx is None:
            return
        request = flow.request
        body, truncated = _capped(ctx.client_body, self.max_body_bytes)
        # A body streamed upstream (over max_body_bytes) was counted on its way.
        request_size = ctx.extra.get("request_size", len(ctx.client_body))
        # (A compressed body's wire size says nothing about it: it was recorded decoded.)
        truncated = truncated or (
            bool(ctx.extra.get("request_streamed")) and request_size > len(body)
        )
        ctx.extra["truncated"] = 1 if truncated else 0
        upstream_body: bytes | None = None
        if ctx.upstream_body_changed:
            upstream_body, _ = _capped(request.raw_content or b"", self.max_body_bytes)
        self._start(
            ctx,
            {
                "id": ctx.id,
                "started_at": ctx.started_at,
                "method": request.method,
                "path": _client_path(flow),
                "endpoint": ctx.endpoint,
                "provider": ctx.provider,
                "model": ctx.model,
                "stream": int(ctx.stream),
                "state": "pending",
                "request_headers": _headers_json(ctx.client_headers),
                "request_body": body,
                "upstream_request_body": upstream_body,
                "upstream_url": redact_query(ctx.extra.get("upstream_url")),
                "request_size": request_size,
                "truncated": 1 if truncated else 0,
                "replay_of": ctx.replay_of,
                "group_id": ctx.group_id,
                "client": ctx.header.get("user-agent"),
                "session_id": _session_id(ctx.header),
                "turn_id": _codex_turn(ctx.header),
                "transport": "http",
                "quirks": json.dumps(ctx.quirks) if ctx.quirks else None,
            },
        )
        ctx.last_activity = time.monotonic()

    def _start(self, ctx: CallContext, row: dict[str, Any]) -> None:
        if ctx.extra.get("websocket") and not ctx.answered_by_proxy:
            # An accepted upgrade becomes a connection, not a call (WebSocketRecorder); a
            # refused or failed one is started as a call when it ends.
            ctx.extra[WEBSOCKET_ROW] = row
        else:
            self.writer.start(row)

    def _start_held_back(self, ctx: CallContext) -> None:
        row = ctx.extra.pop(WEBSOCKET_ROW, None)
        if row is not None:
            self.writer.start(row)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        ctx = context_of(flow)
        response = flow.response
        if ctx is None or response is None:
            return
        now = time.monotonic()
        ctx.first_byte = ctx.first_byte or now
        ctx.last_activity = now
        content_type = response.headers.get("content-type", "")
        if "text/event-stream" in content_type.lower():
            ctx.streaming = True
            response.stream = self._stream_tap(ctx, response)
            # The app shows a live stream's status at once, not only when it ends.
            self.writer.update(ctx.id, {"status": response.status_code})

    def _stream_tap(
        self, ctx: CallContext, response: http.Response
    ) -> Callable[[bytes], bytes | list[bytes]]:
        """Take the time of each network chunk and hand its bytes over (decompressed, if the
        provider compressed the stream); the writer splits them into events
        (`RecordingWriter.raw`). When a quirk plan changes what the client gets, the client's
        copy is made from the same bytes: usage hidden, or one aggregated answer."""
        client: Callable[[bytes], bytes] | None = None
        if response.status_code == 200 and ctx.extra.get("aggregate"):
            client = _Aggregator(ctx, response)
        elif response.status_code == 200 and ctx.extra.get("hide_usage"):
            client = UsageHider()
        # Decoded only for the recording, the decoder stops at the cap; a client rewrite
        # needs every decoded byte (it keeps none of them but the aggregate).
        decoder = self._decompressor(ctx, response.headers.get("content-encoding", ""))
        if client is not None:
            # The client gets our framing of the events (decoded, some left out).
            response.headers.pop("content-encoding", None)
            response.headers.pop("content-length", None)
            response.headers["transfer-encoding"] = "chunked"
        record = self.writer.raw
        call_id, t0, clock = ctx.id, ctx.t0, time.monotonic
        cap = _StreamCap(ctx, self.max_body_bytes)

        def tap(data: bytes) -> bytes | list[bytes]:
            now = clock()
            ctx.last_activity = now
            plain = data
            if decoder is not None and data and (client is not None or not cap.full):
                try:
                    plain = decoder(data) if client is not None else decoder.up_to(data, cap.left)
                except Exception:  # a corrupt stream must still pass through untouched
                    plain = data
                if not plain:  # the decompressor is waiting for more (b"" would mean the end)
                    return [] if client is not None else data
            if not cap.full:
                record(call_id, (now - t0) * 1000.0, cap.take(plain))  # rounded by the writer
            if client is None:
                return data
            out = client(plain)
            # An empty chunk would end a chunked body early: send nothing instead.
            return [out] if out else []

        return tap

    @staticmethod
    def _decompressor(ctx: CallContext, encoding: str) -> Decompressor | None:
        encoding = encoding.strip().lower()
        if not encoding or encoding == "identity":
            return None
        try:
            decompress = Decompressor(encoding)
        except ValueError:
            ctx.quirks.append(f"stream encoded as {encoding!r}; recorded undecoded")
            return None
        ctx.quirks.append(f"stream compressed with {encoding}; recorded decoded")
        return decompress

    def response(self, flow: http.HTTPFlow) -> None:
        ctx = context_of(flow)
        response = flow.response
        if ctx is None or response is None or ctx.finished or flow.websocket is not None:
            return
        ctx.finished = True
        self._start_held_back(ctx)
        now = time.monotonic()
        fields: dict[str, Any] = {
            "status": response.status_code,
            "state": "error" if response.status_code >= 400 else "complete",
            "response_headers": _headers_json(list(response.headers.items(multi=True))),
            "duration_ms": ctx.ms_since_start(now),
            "first_byte_ms": _first_byte(ctx),
        }
        if ctx.answered_by_proxy:
            fields["provider"] = ctx.provider
            if code := response.headers.get("x-relayscope-error"):
                fields["error_code"] = code  # host_not_allowed, origin_not_allowed, …
            fields["first_byte_ms"] = fields["duration_ms"]
        if ctx.streaming:  # chunk_count and TTFT (the first output event) come from the writer
            if "client_body" in ctx.extra:
                body, _ = _capped(ctx.extra["client_body"], self.max_body_bytes)
                fields["response_body"] = body
                if b'"error"' in body[:20]:
                    fields["state"] = "error"
        else:
            raw = response.raw_content or b""
            fields["response_size"] = len(raw)
            body, truncated, note = _decoded_capped(
                raw, response.headers.get("content-encoding", ""), self.max_body_bytes
            )
            if truncated:
                ctx.extra["response_capped"] = note
            fields["response_body"] = body
        _flag_capped(ctx, fields)
        if ctx.quirks:
            fields["quirks"] = json.dumps(ctx.quirks)
        if "hold_ms" in ctx.extra:  # a breakpoint held it: part of every timing (call_facts)
            fields["hold_ms"] = ctx.extra["hold_ms"]
        self.writer.finish(ctx.id, fields)
        # Method, path, provider and model are the client's words: shown with escapes
        # (safe_text.visible) so none can drive the terminal reading this log.
        log.info(
            "%s %s %s %s %s %.0fms",
            response.status_code,
            visible(flow.request.method),
            visible(_client_path(flow)),
            visible(ctx.provider or "-"),
            visible(ctx.model or "-"),
            fields["duration_ms"],
        )

    def error(self, flow: http.HTTPFlow) -> None:
        ctx = context_of(flow)
        if ctx is None or ctx.finished:
            return
        ctx.finished = True
        self._start_held_back(ctx)
        message = flow.error.msg if flow.error else "unknown error"
        fields = self._error_fields(flow, ctx, message)
        _flag_capped(ctx, fields)
        if ctx.quirks:
            fields["quirks"] = json.dumps(ctx.quirks)
        self.writer.finish(ctx.id, fields)
        log.warning(
            "%s %s %s: %s",
            visible(flow.request.method),
            visible(_client_path(flow)),
            visible(ctx.provider or "-"),
            visible(fields["error"]),
        )

    def _error_fields(self, flow: http.HTTPFlow, ctx: CallContext, message: str) -> dict[str, Any]:
        now = time.monotonic()
        fields: dict[str, Any] = {"duration_ms": ctx.ms_since_start(now), "chunk_count": ctx.seq}
        if "hold_ms" in ctx.extra:
            fields["hold_ms"] = ctx.extra["hold_ms"]
        if ctx.first_byte:
            fields["first_byte_ms"] = _first_byte(ctx)
        timed_out = bool(flow.metadata.get(TIMEOUT_MARK))
        client_side = "client" in message.lower()
        if flow.response is not None and ctx.first_byte:
            # The answer had started: whoever cut it, the call is interrupted, not failed.
            fields["status"] = flow.response.status_code
            fields["state"] = "interrupted"
            fields["response_headers"] = _headers_json(list(flow.response.headers.items(True)))
            if timed_out:
                who = (
                    f"the provider sent nothing for {ctx.timeout:g} s, so Relayscope cut the stream"
                )
                fields["cut_by"], fields["error_code"] = "timeout", "upstream_timeout"
            elif client_side:
                who = "the client disconnected"
                fields["cut_by"], fields["error_code"] = "client", "client_disconnected"
            else:
                who = f"the provider's connection ended early ({message})"
                fields["cut_by"], fields["error_code"] = "provider", "upstream_cut"
            fields["error"] = f"Interrupted: {who}."
        elif client_side:
            fields["state"] = "interrupted"
            fields["cut_by"], fields["error_code"] = "client", "client_disconnected"
            fields["error"] = "Interrupted: the client disconnected before the answer arrived."
        elif timed_out:
            announce_timeout(ctx.timeout)
            fields["status"] = 504
            fields["state"] = "error"
            fields["error_code"] = "upstream_timeout"
            fields["error"] = (
                f"upstream_timeout: the provider did not answer within {ctx.timeout:g} s."
            )
        else:
            fields["status"] = 502
            fields["state"] = "error"
            fields["error_code"] = "upstream_unreachable"
            fields["error"] = f"upstream_unreachable: {message}"
        return fields


class _StreamCap:
    """How much of a stream is recorded: the first `limit` decoded bytes. Past them the
    recording stops (flagged, with a note) and the client still gets every byte."""

    def __init__(self, ctx: CallContext, limit: int) -> None:
        self.ctx = ctx
        self.left = limit
        self.limit = limit
        self.full = False

    def take(self, data: bytes) -> bytes:
        if len(data) < self.left:
            self.left -= len(data)
            return data
        kept, self.left = data[: self.left], 0
        self.full = True
        self.ctx.extra["response_capped"] = (
            f"Recorded the first {self.limit:,} bytes of the stream (max_body_bytes); "
            "the client received all of it."
        )
        return kept


def _decoded_capped(raw: bytes, encoding: str, cap: int) -> tuple[bytes, bool, str]:
    """A non-stream response body as recorded: decoded (gzip, br, zstd) and capped at `cap`
    bytes, decoding no further than the cap (a small "bomb" must not become gigabytes).
    Returns (body, truncated, note)."""
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    what = "the response body"
    if len(codings) == 1:
        with contextlib.suppress(Exception):  # unknown or corrupt: record it as it came
            raw = Decompressor(codings[0]).up_to(raw, cap + 1)
            what = f"the {codings[0]}-decoded response body"
    elif codings:  # several codings (rare): decoded whole only if that stays under the cap
        with contextlib.suppress(ValueError):  # also DecodeLimitExceeded: kept encoded
            raw = decode(raw, encoding, limit=cap)
    body, truncated = _capped(raw, cap)
    note = (
        f"Recorded the first {cap:,} bytes of {what} (max_body_bytes); the client received "
        "all of it."
    )
    return body, truncated, note


def _flag_capped(ctx: CallContext, fields: dict[str, Any]) -> None:
    """A response recorded only in part: `truncated` bit 2 and a note that says so."""
    note = ctx.extra.get("response_capped")
    if note:
        fields["truncated"] = ctx.extra.get("truncated", 0) | 2
        fields["note"] = note


class _Aggregator:
    """A `stream_required` client's copy: nothing while the stream runs, then one
    chat.completion built from its events (also kept as the recorded response body)."""

    def __init__(self, ctx: CallContext, response: http.Response) -> None:
        response.headers["content-type"] = "application/json"
        self._ctx = ctx
        self._decoder = SSEDecoder()
        self._payloads: list[str | None] = []

    def __call__(self, data: bytes) -> bytes:
        if data:
            self._payloads.extend(event.data for event in self._decoder.feed(data))
            return b""
        if (leftover := self._decoder.flush()) is not None:
            self._payloads.append(leftover.data)
        answer = aggregate_chat_completion(self._payloads)
        body = json.dumps(answer, ensure_ascii=False).encode()
        self._ctx.extra["client_body"] = body
        return body


def _first_byte(ctx: CallContext) -> float | None:
    """Time to the first byte of the answer (its headers); the writer derives TTFT, the first
    output token, from it and the stream (relayscope.calls.facts)."""
    return ctx.ms_since_start(ctx.first_byte) if ctx.first_byte else None


def _codex_turn(header: dict[str, str]) -> str | None:
    """Codex's turn id (one turn = the requests and retries of one user message)."""
    metadata = header.get("x-codex-turn-metadata")
    if metadata:
        try:
            turn = json.loads(metadata).get("turn_id")
        except (ValueError, AttributeError, RecursionError):
            turn = None
        if isinstance(turn, str):
            return turn
    return None


def _client_path(flow: http.HTTPFlow) -> str:
    """The path the client asked for, keys in its query string redacted (for the record and
    the log alike)."""
    ctx = context_of(flow)
    if ctx is not None and ctx.extra.get("client_path"):
        return redact_query(str(ctx.extra["client_path"])) or "/"
    return redact_query(flow.request.path) or "/"
