"""Limits on what a client (or provider) can make the proxy hold: header size, idle
connections, open files, and refusals answered before a request's body is read.

mitmproxy reads request heads without a size limit (`_http1.Http1Server.read_headers`
carries `# FIXME: protect against header size DoS`: a 200 MB header was held whole, 1.2 GB
RSS) and offers no way to answer a request from the `requestheaders` hook without reading
its body first. `install()` adds both, by wrapping the two layer methods involved;
`IdleClients` closes client connections that send nothing, and `raise_open_file_limit`
gives the listener the file descriptors the system allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import re
import time
from collections.abc import Generator
from typing import Any

from mitmproxy import connection, http
from mitmproxy.net.http import http1
from mitmproxy.proxy import commands, events
from mitmproxy.proxy.layers import http as http_layers
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.proxy.layers.http._base import ReceiveHttp
from mitmproxy.proxy.layers.http._events import (
    ErrorCode,
    RequestData,
    ResponseData,
    ResponseEndOfMessage,
    ResponseHeaders,
    ResponseProtocolError,
)

from relayscope.proxy.addons.errors import error_response

log = logging.getLogger("relayscope")

#: The most a request's (or a provider's response's) head may take: request line and every
#: header. Real clients send a few KB (Codex's biggest, with turn metadata, is under 8 KB);
#: Go allows 1 MB, nginx 32 KB.
MAX_HEADER_BYTES = 256 * 1024
#: A client connection that sends nothing for this long (no request started; between
#: requests on a kept-alive connection; while sending its headers) is closed. Clients keep
#: idle connections for less (httpx 5 s, reqwest/Codex 90 s).
CLIENT_IDLE_SECONDS = 120.0
#: `flow.metadata` key: a response the Router decided on in `requestheaders`, sent before
#: the body is read (the body is never read; the connection is closed after the answer).
REFUSE_BEFORE_BODY = "relayscope.refuse_before_body"

#: `flow.metadata` keys: past `STREAM_LIMIT` buffered request-body bytes, `STREAM_REQUEST`
#: (the Router's `route_streamed(flow, prefix) -> refusal or None`) routes the flow from the
#: body's first bytes and sets `flow.request.stream`; the rest streams to the provider.
STREAM_REQUEST = "relayscope.stream_request"
STREAM_LIMIT = "relayscope.stream_limit"

_HEAD_END = re.compile(rb"\r?\n\r?\n")


class RateLimitedLog:
    """One line per `every` seconds for a repeated condition, with how many were folded in."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self._last: dict[str, float] = {}
        self._folded: dict[str, int] = {}

    def warning(self, key: str, message: str) -> None:
        now = time.monotonic()
        if now - self._last.get(key, -self.every) < self.every:
            self._folded[key] = self._folded.get(key, 0) + 1
            return
        folded = self._folded.pop(key, 0)
        self._last[key] = now
        more = f" ({folded} more like this in the last {self.every:g} s)" if folded else ""
        log.warning("%s%s", message, more)


LIMIT_LOG = RateLimitedLog()


def install() -> None:
    """Wrap mitmproxy's HTTP/1 head readers (431 past MAX_HEADER_BYTES) and its request
    head state (answer a REFUSE_BEFORE_BODY response without reading the body)."""
    if getattr(_http1.Http1Server.read_headers, "_relayscope", False):
        return
    server_read, client_read = _http1.Http1Server.read_headers, _http1.Http1Client.read_headers
    wait_for_headers = http_layers.HttpStream.state_wait_for_request_headers
    consume_body = http_layers.HttpStream.state_consume_request_body

    def server_read_headers(self: Any, event: Any) -> Generator[Any, Any, None]:
        if _head_too_large(self, event):
            yield from _refuse_large_request_head(self)
            return
        yield from server_read(self, event)

    def client_read_headers(self: Any, event: Any) -> Generator[Any, Any, None]:
        if _head_too_large(self, event):
            yield from _refuse_large_response_head(self)
            return
        yield from client_read(self, event)

    def wait_for_request_headers(self: Any, event: Any) -> Generator[Any, Any, None]:
        yield from wait_for_headers(self, event)
        refusal = self.flow.metadata.get(REFUSE_BEFORE_BODY) if self.flow else None
        if isinstance(refusal, http.Response) and self.client_state != self.state_errored:
            yield from _answer_before_body(self, refusal)

    def consume_request_body(self: Any, event: Any) -> Generator[Any, Any, None]:
        route = self.flow.metadata.get(STREAM_REQUEST)
        if (
            route is not None
            and isinstance(event, RequestData)
            and len(self.request_body_buf) + len(event.data) > self.flow.metadata[STREAM_LIMIT]
        ):
            yield from _stream_the_rest(self, event, route)
            return
        yield from consume_body(self, event)

    for wrapper in (server_read_headers, client_read_headers, wait_for_request_headers):
        setattr(wrapper, "_relayscope", True)  # noqa: B010 (installed once, even if called twice)
    _http1.Http1Server.read_headers = server_read_headers  # type: ignore[method-assign]
    _http1.Http1Client.read_headers = client_read_headers  # type: ignore[method-assign]
    http_layers.HttpStream.state_wait_for_request_headers = wait_for_request_headers  # type: ignore[method-assign]
    http_layers.HttpStream.state_consume_request_body = consume_request_body  # type: ignore[method-assign]


def _head_too_large(conn: Any, event: events.Event) -> bool:
    if not isinstance(event, events.DataReceived) or len(conn.buf) <= MAX_HEADER_BYTES:
        return False
    # Only the first MAX_HEADER_BYTES (+ the blank line) may hold the head: a body after a
    # complete head is not the head.
    start = bytes(conn.buf)[: MAX_HEADER_BYTES + 4]
    return _HEAD_END.search(start) is None


def _refuse_large_request_head(conn: Any) -> Generator[Any, Any, None]:
    peer = conn.conn.peername
    LIMIT_LOG.warning(
        "head",
        f"Refused a request from {peer[0] if peer else '?'}: its headers are larger than "
        f"{MAX_HEADER_BYTES // 1024} KiB (431, not recorded).",
    )
    response = error_response(
        431,
        "request_headers_too_large",
        f"The request's headers are larger than Relayscope's limit of "
        f"{MAX_HEADER_BYTES // 1024} KiB; send smaller headers.",
    )
    response.headers["connection"] = "close"
    conn.buf = type(conn.buf)()  # let go of what was read
    conn.state = conn.done
    yield commands.SendData(conn.conn, bytes(http1.assemble_response(response)))
    yield commands.CloseConnection(conn.conn)


def _refuse_large_response_head(conn: Any) -> Generator[Any, Any, None]:
    message = f"the provider's response headers are larger than {MAX_HEADER_BYTES // 1024} KiB"
    conn.buf = type(conn.buf)()
    conn.state = conn.done
    yield commands.CloseConnection(conn.conn)
    if conn.stream_id is not None:
        yield ReceiveHttp(
            ResponseProtocolError(conn.stream_id, message, ErrorCode.GENERIC_SERVER_ERROR)
        )


def _stream_the_rest(stream: Any, event: Any, route: Any) -> Generator[Any, Any, None]:
    """A request body past the limit: routed from what was buffered, then streamed to the
    provider (mitmproxy's `stream_large_bodies` would also stream large responses, which
    the recording needs whole, and would dial the provider before any hook could route)."""
    flow = stream.flow
    del flow.metadata[STREAM_REQUEST]
    body = bytes(stream.request_body_buf) + bytes(event.data)
    stream.request_body_buf.clear()
    refusal = route(flow, body)
    if refusal is not None:
        yield from _answer_before_body(stream, refusal)
        return
    yield from stream.start_request_stream()
    yield from stream.handle_event(RequestData(stream.stream_id, body))


def _answer_before_body(stream: Any, response: http.Response) -> Generator[Any, Any, None]:
    """Send `response` now and close the connection: the body (maybe hundreds of MB from
    someone without the token) is never read, buffered or recorded."""
    flow = stream.flow
    response.headers["connection"] = "close"
    flow.response = response
    flow.live = False
    stream.client_state = stream.server_state = stream.state_errored
    client = stream.context.client
    body = response.raw_content or b""
    yield http_layers.SendHttp(ResponseHeaders(stream.stream_id, response, not body), client)
    if body:
        yield http_layers.SendHttp(ResponseData(stream.stream_id, body), client)
        yield http_layers.SendHttp(ResponseEndOfMessage(stream.stream_id), client)
    # Half-close: the client reads the answer and its end, then hangs up. A full close here
    # can leak the socket: it cancels the connection's reader task, which may be waiting
    # for mitmproxy's event lock, and then never closes its writer. A client that keeps
    # sending is read (and dropped) until IdleClients closes it.
    yield commands.CloseTcpConnection(client, half_close=True)


class IdleClients:
    """Closes client connections that have no request in progress for `idle_seconds`: idle
    keep-alive connections, and connections that send nothing or never finish their head.
    Each connection costs a file descriptor and a task, so a client that opens thousands
    and sends nothing must not keep them (1,100 made the proxy unreachable)."""

    def __init__(self, idle_seconds: float = CLIENT_IDLE_SECONDS) -> None:
        self.idle_seconds = idle_seconds
        self._clients: dict[str, list[Any]] = {}  # id → [client, busy flows, idle since]
        self._task: asyncio.Task[None] | None = None

    def running(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def done(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def client_connected(self, client: connection.Client) -> None:
        self._clients[client.id] = [client, 0, time.monotonic()]

    def client_disconnected(self, client: connection.Client) -> None:
        self._clients.pop(client.id, None)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        """Runs after the Router's: a request refused before its body is not in progress."""
        entry = self._clients.get(flow.client_conn.id)
        if entry is None:
            return
        if REFUSE_BEFORE_BODY in flow.metadata:
            entry[2] = time.monotonic()
        else:
            entry[1] += 1

    def response(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is None:  # a WebSocket stays busy until it ends
            self._idle(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._idle(flow)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self._idle(flow)

    def _idle(self, flow: http.HTTPFlow) -> None:
        entry = self._clients.get(flow.client_conn.id)
        if entry is not None:
            entry[1] = max(0, entry[1] - 1)
            entry[2] = time.monotonic()

    async def _watch(self) -> None:
        interval = max(0.05, min(1.0, self.idle_seconds / 4))
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for client, busy, since in list(self._clients.values()):
                if not busy and now - since > self.idle_seconds:
                    self._clients.pop(client.id, None)
                    _close_client(client)
                    LIMIT_LOG.warning(
                        "idle",
                        f"Closed a client connection that sent nothing for "
                        f"{self.idle_seconds:g} s.",
                    )


def _close_client(client: connection.Client) -> None:
    from mitmproxy import ctx as mitm_ctx

    proxyserver = mitm_ctx.master.addons.get("proxyserver")
    handler = proxyserver.connections.get(client.id) if proxyserver else None
    if handler is not None and client in handler.transports:
        handler.close_connection(client)


def raise_open_file_limit() -> tuple[int, int] | None:
    """Raise the soft limit on open files to the hard one: every client connection and its
    provider connection take a descriptor each, and the usual soft limit (1,024) is reached
    by a few hundred idle clients. Returns (old, new) soft limits, or None if unchanged."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # macOS reports an infinite hard limit but refuses more than OPEN_MAX (10,240).
    target = 10240 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft >= target:
        return None
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return None
    return soft, target


def quiet_resource_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Out of file descriptors, asyncio logs a traceback for every failed accept (93,777 of
    them in one test): log one line every 10 s instead, saying what to do."""
    default = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
            LIMIT_LOG.warning(
                "files",
                "Relayscope has run out of file descriptors, so new connections wait; "
                "close idle clients or raise the open-file limit (ulimit -n).",
            )
            return
        if default is not None:
            default(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
