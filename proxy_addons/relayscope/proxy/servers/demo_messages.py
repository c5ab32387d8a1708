"""The demo provider's Anthropic Messages answers: a whole message, or its stream of events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relayscope.proxy.servers.demo import DemoAnswer


def _event(name: str, data: dict[str, Any]) -> bytes:
    payload = json.dumps({"type": name, **data}, separators=(",", ":"), ensure_ascii=False)
    return f"event: {name}\ndata: {payload}\n\n".encode()


def _usage(answer: DemoAnswer, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": answer.prompt_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
    }


def message_body(answer: DemoAnswer, request: dict[str, Any]) -> dict[str, Any]:
    """The whole answer as Anthropic's `message` object."""
    return {
        "id": f"msg_demo{answer.response_id.removeprefix('resp_demo')}",
        "type": "message",
        "role": "assistant",
        "model": answer.model,
        "content": [{"type": "text", "text": answer.text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": _usage(answer, answer.completion_tokens),
    }


async def message_stream(answer: DemoAnswer, request: dict[str, Any]) -> AsyncIterator[bytes]:
    """message_start, ping, one text block in pieces, message_delta, message_stop."""
    started = {**message_body(answer, request), "content": [], "stop_reason": None}
    started["usage"] = _usage(answer, 1)
    yield _event("message_start", {"message": started})
    yield _event("ping", {})
    block = {"type": "text", "text": ""}
    yield _event("content_block_start", {"index": 0, "content_block": block})
    for piece, delay in zip(answer.pieces, answer.delays(), strict=True):
        await asyncio.sleep(delay)
        delta = {"type": "text_delta", "text": piece}
        yield _event("content_block_delta", {"index": 0, "delta": delta})
    yield _event("content_block_stop", {"index": 0})
    stop = {"stop_reason": "end_turn", "stop_sequence": None}
    usage = {"output_tokens": answer.completion_tokens}
    yield _event("message_delta", {"delta": stop, "usage": usage})
    yield _event("message_stop", {})
