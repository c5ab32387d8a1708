"""DemoServer: the h11 server that answers each request by its endpoint."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import h11

from relayscope.proxy.servers.demo.answer import DEMO_MODELS, DemoAnswer, dumps
from relayscope.proxy.servers.demo.openai_answers import BODIES, STREAMS, embeddings_body
from relayscope.proxy.servers.demo_agent import AGENT_MODEL, PromptCache
from relayscope.proxy.servers.local_server import LocalServer


class DemoServer(LocalServer):
    """Answers chat, responses, completions, embeddings and Anthropic Messages like a real
    provider would."""

    def __init__(self) -> None:
        super().__init__()
        self.cache = PromptCache()  # demo-agent's prompt cache, across its requests

    async def answer(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, request: h11.Request, body: bytes
    ) -> bool:
        await self._answer(conn, writer, request, body)
        return conn.our_state is not h11.MUST_CLOSE

    async def _answer(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, request: h11.Request, body: bytes
    ) -> None:
        path = request.target.decode().split("?")[0]
        method = request.method.decode()
        if method == "GET" and path.endswith("/models"):
            payload = {
                "object": "list",
                "data": [
                    {
                        "id": m,
                        "object": "model",
                        "created": 1767225600,
                        "owned_by": "relayscope-demo",
                    }
                    for m in DEMO_MODELS
                ],
            }
            await _send_json(conn, writer, 200, payload)
            return
        try:
            data = json.loads(body or b"{}")
        except (ValueError, RecursionError):
            data = None
        if method != "POST" or not isinstance(data, dict):
            await _send_json(
                conn,
                writer,
                400 if method == "POST" else 404,
                _error(
                    "The demo provider answers POST requests with a JSON body.", "invalid_request"
                ),
            )
            return
        model = str(data.get("model") or "demo-1")
        endpoint = _endpoint(path)
        if endpoint is None:
            await _send_json(
                conn, writer, 404, _error(f"The demo provider has no {path}.", "not_found")
            )
            return
        answer = DemoAnswer(endpoint, data, model)
        if model == AGENT_MODEL and endpoint in ("chat.completions", "responses"):
            answer.act_as_agent(data, self.cache)
        if endpoint == "embeddings":
            await _send_json(conn, writer, 200, embeddings_body(data, model))
        elif data.get("stream"):
            events = STREAMS[endpoint](answer, data)
            await _send_stream(conn, writer, events)
        else:
            await _send_json(conn, writer, 200, BODIES[endpoint](answer, data))


def _endpoint(path: str) -> str | None:
    for suffix, name in (
        ("/chat/completions", "chat.completions"),
        ("/responses", "responses"),
        ("/completions", "completions"),
        ("/embeddings", "embeddings"),
        ("/v1/messages", "messages"),  # Anthropic's Messages API (Claude Code)
    ):
        if path.endswith(suffix):
            return name
    return None


def _error(message: str, code: str) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "invalid_request_error", "code": code, "param": None}
    }


async def _send_json(
    conn: h11.Connection, writer: asyncio.StreamWriter, status: int, payload: object
) -> None:
    data = dumps(payload)
    headers = [("content-type", "application/json"), ("content-length", str(len(data)))]
    writer.write(conn.send(h11.Response(status_code=status, headers=headers)) or b"")
    writer.write(conn.send(h11.Data(data=data)) or b"")
    writer.write(conn.send(h11.EndOfMessage()) or b"")
    await writer.drain()


async def _send_stream(
    conn: h11.Connection, writer: asyncio.StreamWriter, events: AsyncIterator[bytes]
) -> None:
    headers = [("content-type", "text/event-stream"), ("cache-control", "no-cache")]
    writer.write(conn.send(h11.Response(status_code=200, headers=headers)) or b"")
    await writer.drain()
    async for event in events:
        writer.write(conn.send(h11.Data(data=event)) or b"")
        await writer.drain()
    writer.write(conn.send(h11.EndOfMessage()) or b"")
    await writer.drain()
