"""A minimal HTTP/1.1 client for the load generator.

httpx costs a few hundred microseconds of client CPU per request, which on a 2-core machine
would be charged to whichever proxy shares the CPU with it. This client does almost nothing:
it writes a prepared request and parses the answer incrementally (Content-Length, chunked or
until EOF), timing every SSE event as it completes. The same parser drives a blocking socket
(sequential latency) and asyncio streams (concurrency).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import time
from dataclasses import dataclass, field

_EVENT_END = re.compile(rb"\r?\n\r?\n")
# Sent as the API key everywhere; LiteLLM is configured with it as its master key.
BENCH_KEY = "sk-relayscope-bench-5f0c2a9e7b1d4c3a8e6f0b2d4a6c8e1f"


def build_request(host: str, port: int, path: str, body: dict[str, object]) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "User-Agent: relayscope-bench/1\r\n"
        "Accept: */*\r\n"
        f"Authorization: Bearer {BENCH_KEY}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


@dataclass(slots=True)
class Response:
    """One parsed answer. With `sse`, `event_times` holds when each event's blank line arrived."""

    sse: bool = False
    keep_body: bool = True
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    event_times: list[float] = field(default_factory=list)
    events: list[bytes] = field(default_factory=list)
    done: bool = False
    close: bool = False
    rest: bytes = b""
    # parser state
    _buf: bytearray = field(default_factory=bytearray)
    _mode: str = "head"  # head, length, chunk-size, chunk-data, chunk-crlf, trailers, eof
    _remaining: int = 0
    _sse_buf: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes, t: float) -> None:
        """Parse `data` received at time `t`; sets `done` once the answer is complete."""
        self._buf += data
        while not self.done:
            if not self._step(t):
                return
        if self._buf:
            self.rest = bytes(self._buf)
            self._buf.clear()

    def eof(self, t: float) -> None:
        if self._mode == "eof":
            self.done = True
        if not self.done:
            raise ConnectionError(f"connection closed mid-answer ({self._mode})")

    def _step(self, t: float) -> bool:
        buf = self._buf
        mode = self._mode
        if mode == "head":
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return False
            self._parse_head(bytes(buf[:end]).decode("latin-1"))
            del buf[: end + 4]
            return True
        if mode == "length":
            take = min(self._remaining, len(buf))
            if take:
                self._body(bytes(buf[:take]), t)
                del buf[:take]
                self._remaining -= take
            if self._remaining == 0:
                self.done = True
                return True
            return False
        if mode == "chunk-size":
            end = buf.find(b"\r\n")
            if end < 0:
                return False
            size = int(bytes(buf[:end]).split(b";", 1)[0], 16)
            del buf[: end + 2]
            self._remaining = size
            self._mode = "chunk-data" if size else "trailers"
            return True
        if mode == "chunk-data":
            take = min(self._remaining, len(buf))
            if take:
                self._body(bytes(buf[:take]), t)
                del buf[:take]
                self._remaining -= take
            if self._remaining == 0:
                self._mode = "chunk-crlf"
                return True
            return False
        if mode == "chunk-crlf":
            if len(buf) < 2:
                return False
            del buf[:2]
            self._mode = "chunk-size"
            return True
        if mode == "trailers":
            end = buf.find(b"\r\n")
            if end < 0:
                return False
            del buf[: end + 2]
            if end == 0:
                self.done = True
            return True
        # eof: everything is body until the connection closes
        if buf:
            self._body(bytes(buf), t)
            buf.clear()
        return False

    def _parse_head(self, head: str) -> None:
        lines = head.split("\r\n")
        self.status = int(lines[0].split(" ", 2)[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        if self.status in (100, 103):
            self.headers.clear()
            return  # an interim answer: the real head follows
        if "close" in self.headers.get("connection", "").lower():
            self.close = True
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            self._mode = "chunk-size"
        elif "content-length" in self.headers:
            self._remaining = int(self.headers["content-length"])
            self._mode = "length"
            if self._remaining == 0:
                self.done = True
        else:
            self._mode = "eof"
            self.close = True

    def _body(self, data: bytes, t: float) -> None:
        if self.keep_body:
            self.body += data
        if not self.sse:
            return
        sse = self._sse_buf
        sse += data
        start = 0
        for match in _EVENT_END.finditer(sse):
            self.events.append(bytes(sse[start : match.start()]))
            self.event_times.append(t)
            start = match.end()
        if start:
            del sse[:start]


class SyncConnection:
    """A blocking keep-alive connection: the most precise way to time sequential requests."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        return sock

    def request(self, data: bytes, *, sse: bool = False, keep_body: bool = True) -> Response:
        sock = self.sock or self._connect()
        response = Response(sse=sse, keep_body=keep_body)
        sock.sendall(data)
        while not response.done:
            chunk = sock.recv(262144)
            now = time.perf_counter()
            if not chunk:
                self.close()
                response.eof(now)
                break
            response.feed(chunk, now)
        if response.close:
            self.close()
        return response

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class AsyncConnection:
    """An asyncio keep-alive connection (reconnects if the server closed it)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, data: bytes, *, sse: bool = False, keep_body: bool = True) -> Response:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port, limit=1 << 20
            )
            sock = self.writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert self.reader is not None
        response = Response(sse=sse, keep_body=keep_body)
        self.writer.write(data)
        while not response.done:
            chunk = await self.reader.read(262144)
            now = time.perf_counter()
            if not chunk:
                await self.close()
                response.eof(now)
                break
            response.feed(chunk, now)
        if response.close:
            await self.close()
        return response

    async def close(self) -> None:
        writer, self.writer, self.reader = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
