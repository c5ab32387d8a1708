"""The demo provider's OpenAI-format answers: chat completions, completions and Responses
streams and bodies, and embeddings."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any

from relayscope.proxy.servers.demo.answer import DemoAnswer, count_tokens, dumps
from relayscope.proxy.servers.demo_messages import message_body, message_stream


def _sse(obj: object, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + dumps(obj) + b"\n\n"


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


def embeddings_body(request: dict[str, Any], model: str) -> dict[str, Any]:
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
    tokens = sum(count_tokens(str(i)) for i in items)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


STREAMS = {
    "chat.completions": _chat_stream,
    "responses": _responses_stream,
    "completions": _completions_stream,
    "messages": message_stream,
}
BODIES = {
    "chat.completions": lambda a, r: _chat_body(a),
    "responses": lambda a, r: _response_object(a, "completed", a.text, r),
    "completions": lambda a, r: _completions_body(a),
    "messages": message_body,
}
