"""The built-in `demo` provider: a small OpenAI-format server on the proxy's own event loop.

It is reached through the same routing, streaming and recording path as a real provider,
so a first run with no keys and no network shows exactly what real traffic looks like,
gaps between chunks included. `demo-agent` behaves like a coding agent's model, with tool
calls and prompt-cache reads (`demo_agent.py`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import h11

from relayscope.protocols.conversation import turns
from relayscope.protocols.prompts import read_prompt
from relayscope.proxy.servers.demo_agent import AGENT_MODEL, PromptCache, next_step
from relayscope.proxy.servers.demo_messages import message_body, message_stream
from relayscope.proxy.servers.local_server import LocalServer

log = logging.getLogger(__name__)

DEMO_MODELS = ("demo-1", "demo-fast", AGENT_MODEL)
ANSWERS = (
    # Said to streamed and whole requests alike: the same request gets the same answer.
    "Hello from the Relayscope demo provider! Asked for a stream, this answer arrives in "
    "small chunks: the Stream tab shows each one, with the gap before it.",
    "Relayscope recorded this call: the request you sent, every chunk with its arrival "
    "time, and the usage figures below. Point your own client at the same base URL to see "
    "real traffic.",
    "Try replaying this call, or editing the prompt and sending it again. Every call made "
    "through Relayscope is recorded the same way, whoever sends it.",
)


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _count_tokens(text: str) -> int:
    return max(1, round(len(text) / 4))


class DemoAnswer:
    """What the demo model says to one request: text, pieces and usage figures."""

    def __init__(self, endpoint: str, body: dict[str, Any], model: str) -> None:
        conversation = turns(endpoint, json.dumps(body))
        last_user = next((t.text for t in reversed(conversation) if t.role == "user"), "")
        digest = int(hashlib.sha256(last_user.encode()).hexdigest(), 16)
        text = ANSWERS[digest % len(ANSWERS)]
        if last_user:
            text += f' You said: "{last_user[:200]}"'
        self.text = text
        self.model = model
        self.pieces = _split_words(text)
        prompt = "\n".join(t.text for t in conversation)
        self.prompt_tokens = _count_tokens(prompt) + 4 * len(conversation)
        self.completion_tokens = len(self.pieces)
        self.fast = model.endswith("fast")
        self.created = int(time.time())
        self.response_id = f"resp_demo{digest % 10**12:012d}{self.created}"
        self.tool: str | None = None  # demo-agent: the tool it calls, with these arguments
        self.arguments = ""
        self.call_id = f"call_demo{self.created}{digest % 10**6:06d}"
        self.cached_tokens: int | None = None

    def act_as_agent(self, body: dict[str, Any], cache: PromptCache) -> None:
        """Answer as `demo-agent`: a tool call or text, and usage with cache reads."""
        prompt = read_prompt(json.dumps(body))
        if prompt is None:
            return
        step = next_step(prompt, body.get("tools"))
        self.tool, self.arguments = step.tool, step.arguments
        if step.tool is None:
            self.text, self.pieces = step.text, _split_words(step.text)
        else:
            self.text = ""
            args = step.arguments
            self.pieces = [args[i : i + 8] for i in range(0, len(args), 8)]
        self.prompt_tokens, self.cached_tokens = cache.tokens(prompt)
        self.completion_tokens = max(1, len(self.pieces))

    def delays(self) -> list[float]:
        """Seconds before each piece: a think before the first, a visible stall mid-way."""
        if self.fast:
            return [0.0] * len(self.pieces)
        gaps = [0.03 + 0.02 * (i % 3) for i in range(len(self.pieces))]
        gaps[0] = 0.25
        if len(gaps) > 12:
            gaps[len(gaps) // 2] = 0.6
        return gaps

    def usage(self) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }
        if self.cached_tokens is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        return usage

    def tool_call(self) -> dict[str, Any]:
        """The chat `tool_calls` entry."""
        return {
            "id": self.call_id,
            "type": "function",
            "function": {"name": self.tool, "arguments": self.arguments},
        }


def _split_words(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


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
            await _send_json(conn, writer, 200, _embeddings(data, model))
        elif data.get("stream"):
            events = _STREAMS[endpoint](answer, data)
            await _send_stream(conn, writer, events)
        else:
            await _send_json(conn, writer, 200, _BODIES[endpoint](answer, data))


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
    data = _dumps(payload)
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


def _sse(obj: object, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + _dumps(obj) + b"\n\n"


async def _chat_stream(answer: DemoAnswer, request: dict[str, Any]) -> AsyncIterator[bytes]:
    base = {
        "id": f"chatcmpl-demo{int(time.time() * 1000)}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": answer.model,
        "system_fingerprint": "fp_demo",
    }
    first: dict[str, Any] = {"role": "assistant", "content": ""}
    if answer.tool is not None:
        first = {"role": "assistant", "content": None, "tool_calls": [_chat_tool_head(answer)]}
    yield _sse({**base, "choices": [{"index": 0, "delta": first, "finish_reason": None}]})
    for piece, delay in zip(answer.pieces, answer.delays(), strict=True):
        await asyncio.sleep(delay)
        delta: dict[str, Any] = {"content": piece}
        if answer.tool is not None:
            delta = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
        yield _sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    finish = "stop" if answer.tool is None else "tool_calls"
    yield _sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    options = request.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        yield _sse({**base, "choices": [], "usage": answer.usage()})
    yield b"data: [DONE]\n\n"


def _chat_tool_head(answer: DemoAnswer) -> dict[str, Any]:
    return {
        "index": 0,
        "id": answer.call_id,
        "type": "function",
        "function": {"name": answer.tool, "arguments": ""},
    }


async def _completions_stream(answer: DemoAnswer, request: dict[str, Any]) -> AsyncIterator[bytes]:
    base = {
        "id": "cmpl-demo",
        "object": "text_completion",
        "created": int(time.time()),
        "model": answer.model,
    }
    for piece, delay in zip(answer.pieces, answer.delays(), strict=True):
        await asyncio.sleep(delay)
        yield _sse({**base, "choices": [{"index": 0, "text": piece, "finish_reason": None}]})
    yield _sse({**base, "choices": [{"index": 0, "text": "", "finish_reason": "stop"}]})
    yield b"data: [DONE]\n\n"


def _response_object(
    answer: DemoAnswer, status: str, text: str | None, request: dict[str, Any]
) -> dict[str, Any]:
    """A Responses API `response` object with the fields the API always sends."""
    output = [] if text is None else [_output_item(answer, text)]
    usage = answer.usage()
    return {
        "id": answer.response_id,
        "object": "response",
        "created_at": answer.created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": answer.model,
        "output": output,
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": request.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "store": request.get("store", True),
        "temperature": request.get("temperature", 1.0),
        "text": {"format": {"type": "text"}},
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": [],
        "top_p": request.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": None
        if text is None
        else {
            "input_tokens": usage["prompt_tokens"],
            "input_tokens_details": {"cached_tokens": answer.cached_tokens or 0},
            "output_tokens": usage["completion_tokens"],
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": usage["total_tokens"],
        },
        "user": None,
        "metadata": request.get("metadata") or {},
    }


def _output_item(answer: DemoAnswer, text: str) -> dict[str, Any]:
    if answer.tool is None:
        return _message_item(text)
    return _function_call_item(answer, answer.arguments, "completed")


def _function_call_item(answer: DemoAnswer, arguments: str, status: str) -> dict[str, Any]:
    return {
        "id": "fc_demo",
        "type": "function_call",
        "status": status,
        "call_id": answer.call_id,
        "name": answer.tool,
        "arguments": arguments,
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message_item(text: str) -> dict[str, Any]:
    return {
        "id": "msg_demo",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [_text_part(text)],
    }


async def _responses_stream(answer: DemoAnswer, request: dict[str, Any]) -> AsyncIterator[bytes]:
    """The whole event sequence of the Responses API, as the SDK's `responses.stream()`
    helper needs it (a delta before its `content_part.added` is an IndexError there)."""
    seq = -1

    def event(kind: str, **fields: object) -> bytes:
        nonlocal seq
        seq += 1
        return _sse({"type": kind, **fields, "sequence_number": seq}, kind)

    started = _response_object(answer, "in_progress", None, request)
    yield event("response.created", response=started)
    yield event("response.in_progress", response=started)
    if answer.tool is not None:
        item = _function_call_item(answer, "", "in_progress")
        yield event("response.output_item.added", output_index=0, item=item)
        at = {"item_id": "fc_demo", "output_index": 0}
        for piece, delay in zip(answer.pieces, answer.delays(), strict=True):
            await asyncio.sleep(delay)
            yield event("response.function_call_arguments.delta", **at, delta=piece)
        yield event("response.function_call_arguments.done", **at, arguments=answer.arguments)
        done_item = _function_call_item(answer, answer.arguments, "completed")
        yield event("response.output_item.done", output_index=0, item=done_item)
        done = _response_object(answer, "completed", "", request)
        yield event("response.completed", response=done)
        return
    item = {**_message_item(""), "status": "in_progress", "content": []}
    yield event("response.output_item.added", output_index=0, item=item)
    at = {"item_id": "msg_demo", "output_index": 0, "content_index": 0}
    yield event("response.content_part.added", **at, part=_text_part(""))
    for piece, delay in zip(answer.pieces, answer.delays(), strict=True):
        await asyncio.sleep(delay)
        yield event("response.output_text.delta", **at, delta=piece, logprobs=[])
    yield event("response.output_text.done", **at, text=answer.text, logprobs=[])
    yield event("response.content_part.done", **at, part=_text_part(answer.text))
    yield event("response.output_item.done", output_index=0, item=_message_item(answer.text))
    done = _response_object(answer, "completed", answer.text, request)
    yield event("response.completed", response=done)


def _chat_body(answer: DemoAnswer) -> dict[str, Any]:
    return {
        "id": "chatcmpl-demo",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": answer.model,
        "system_fingerprint": "fp_demo",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text}
                if answer.tool is None
                else {"role": "assistant", "content": None, "tool_calls": [answer.tool_call()]},
                "finish_reason": "stop" if answer.tool is None else "tool_calls",
                "logprobs": None,
            }
        ],
        "usage": answer.usage(),
    }


def _completions_body(answer: DemoAnswer) -> dict[str, Any]:
    return {
        "id": "cmpl-demo",
        "object": "text_completion",
        "created": int(time.time()),
        "model": answer.model,
        "choices": [{"index": 0, "text": answer.text, "finish_reason": "stop"}],
        "usage": answer.usage(),
    }


def _embeddings(request: dict[str, Any], model: str) -> dict[str, Any]:
    inputs = request.get("input")
    items = inputs if isinstance(inputs, list) else [inputs]
    data = []
    for index, item in enumerate(items):
        digest = hashlib.sha256(str(item).encode()).digest()
        data.append(
            {
                "object": "embedding",
                "index": index,
                "embedding": [round(b / 255 - 0.5, 4) for b in digest[:16]],
            }
        )
    tokens = sum(_count_tokens(str(i)) for i in items)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


_STREAMS = {
    "chat.completions": _chat_stream,
    "responses": _responses_stream,
    "completions": _completions_stream,
    "messages": message_stream,
}
_BODIES = {
    "chat.completions": lambda a, r: _chat_body(a),
    "responses": lambda a, r: _response_object(a, "completed", a.text, r),
    "completions": lambda a, r: _completions_body(a),
    "messages": message_body,
}
