"""LocalServer: the small HTTP/1.1 server the demo and playback providers share."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import h11
import pytest

from relayscope.proxy.servers.local_server import LocalServer, read_request

pytestmark = pytest.mark.anyio


class Echo(LocalServer):
    """Answers each request with its method, target and body; `/close` ends the connection."""

    async def answer(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, request: h11.Request, body: bytes
    ) -> bool:
        data = b"%b %b %b" % (request.method, request.target, body)
        headers = [("content-length", str(len(data)))]
        writer.write(conn.send(h11.Response(status_code=200, headers=headers)) or b"")
        writer.write(conn.send(h11.Data(data=data)) or b"")
        writer.write(conn.send(h11.EndOfMessage()) or b"")
        await writer.drain()
        return request.target != b"/close"


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    server = Echo()
    await server.start()
    yield server
    await server.stop()


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> bytes | None:
    """Send one raw request; the answer's body, or None if the server hung up instead."""
    writer.write(raw)
    await writer.drain()
    client = h11.Connection(h11.CLIENT)  # parses the answer once it has "sent" a request
    client.send(h11.Request(method="GET", target="/", headers=[("host", "x")]))
    client.send(h11.EndOfMessage())
    body = b""
    while True:
        event = client.next_event()
        if event is h11.NEED_DATA:
            client.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return body
        elif isinstance(event, h11.ConnectionClosed):
            return None


def post(target: str, body: bytes) -> bytes:
    return b"POST %b HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%b" % (
        target.encode(),
        len(body),
        body,
    )


async def test_one_connection_serves_request_after_request(echo: Echo) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", echo.port)
    try:
        assert await exchange(reader, writer, post("/v1/a", b"one")) == b"POST /v1/a one"
        assert await exchange(reader, writer, post("/v1/b", b"two")) == b"POST /v1/b two"
        chunked = b"POST /v1/c HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
        chunked += b"3\r\nthr\r\n2\r\nee\r\n0\r\n\r\n"
        assert await exchange(reader, writer, chunked) == b"POST /v1/c three"
    finally:
        writer.close()


async def test_an_answer_that_returns_false_closes_the_connection(echo: Echo) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", echo.port)
    try:
        assert await exchange(reader, writer, post("/close", b"")) == b"POST /close "
        assert await reader.read() == b""  # the server hung up
    finally:
        writer.close()


async def test_garbage_is_dropped_without_hurting_the_server(echo: Echo) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", echo.port)
    writer.write(b"\x16\x03\x01 not http at all\r\n\r\n")
    assert await asyncio.wait_for(reader.read(), 2.0) == b""
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", echo.port)
    try:
        assert await exchange(reader, writer, post("/v1/ok", b"still")) == b"POST /v1/ok still"
    finally:
        writer.close()


async def test_read_request_gives_the_request_and_its_whole_body() -> None:
    reader = asyncio.StreamReader()
    raw = post("/v1/chat/completions", b'{"model":"m"}')
    for i in range(0, len(raw), 7):  # arriving in small pieces
        reader.feed_data(raw[i : i + 7])
    request, body = await read_request(h11.Connection(h11.SERVER), reader)
    assert request is not None and request.target == b"/v1/chat/completions"
    assert body == b'{"model":"m"}'


async def test_read_request_on_a_closed_connection_is_none() -> None:
    reader = asyncio.StreamReader()
    reader.feed_eof()
    assert await read_request(h11.Connection(h11.SERVER), reader) == (None, b"")
