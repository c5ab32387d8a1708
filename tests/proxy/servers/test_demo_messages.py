"""The demo provider's Anthropic Messages answers as units: the stream says what the message says.

End to end (the SDK through the proxy) is tests/e2e/test_demo.py; here the events themselves.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from relayscope.protocols.openai_format import StreamAssembler
from relayscope.proxy.servers.demo import DemoAnswer
from relayscope.proxy.servers.demo_messages import message_body, message_stream

REQUEST = {
    "model": "demo-fast",
    "max_tokens": 256,
    "system": "Be brief.",
    "messages": [{"role": "user", "content": "What does a reverse proxy do?"}],
}


@pytest.fixture
def answer() -> DemoAnswer:
    return DemoAnswer("messages", REQUEST, "demo-fast")


def stream_events(answer: DemoAnswer) -> list[tuple[str, dict[str, Any]]]:
    async def collect() -> list[bytes]:
        return [chunk async for chunk in message_stream(answer, REQUEST)]

    out = []
    for chunk in asyncio.run(collect()):
        text = chunk.decode()
        assert text.endswith("\n\n") and text.count("\n\n") == 1  # one whole event per chunk
        name_line, data_line = text.strip().split("\n")
        name = name_line.removeprefix("event: ")
        data = json.loads(data_line.removeprefix("data: "))
        assert data["type"] == name  # Anthropic repeats the event name in the data
        out.append((name, data))
    return out


def test_a_whole_message_has_anthropics_shape(answer: DemoAnswer) -> None:
    body = message_body(answer, REQUEST)
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["id"].startswith("msg_demo") and body["model"] == "demo-fast"
    assert body["content"] == [{"type": "text", "text": answer.text}]
    assert body["stop_reason"] == "end_turn"
    assert set(body["usage"]) == {
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "output_tokens",
    }
    assert body["usage"]["output_tokens"] == answer.completion_tokens > 0


def test_the_stream_is_the_event_sequence_clients_expect(answer: DemoAnswer) -> None:
    names = [name for name, _ in stream_events(answer)]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    deltas = names[3:-3]
    assert deltas == ["content_block_delta"] * len(answer.pieces) and len(deltas) > 1


def test_the_stream_assembles_to_the_whole_message(answer: DemoAnswer) -> None:
    events = stream_events(answer)
    started = events[0][1]["message"]
    assert started["content"] == [] and started["stop_reason"] is None
    assert started["id"] == message_body(answer, REQUEST)["id"]
    assembler = StreamAssembler("messages")
    for name, data in events:
        assembler.feed(json.dumps(data), name)
    result = assembler.result()
    assert result.output_text == answer.text
    assert result.finish_reason == "end_turn" and result.done
    assert result.usage is not None
    assert result.usage.completion_tokens == answer.completion_tokens
