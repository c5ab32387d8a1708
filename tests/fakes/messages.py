"""The fake provider's Anthropic Messages API: the answer, its usage, and its SSE events.

Shapes follow Anthropic's documentation of ``POST /v1/messages``: a ``message`` object for a
whole answer; for a stream, named events ``message_start``, ``ping``, per content block
``content_block_start`` / ``content_block_delta`` (``text_delta``, ``thinking_delta``,
``signature_delta``, ``input_json_delta``) / ``content_block_stop``, then ``message_delta``
(``stop_reason`` and the cumulative ``output_tokens``) and ``message_stop``.

Rules (deterministic, so tests can assert them):
- the last user message holding a ``tool_result`` is answered ``"Done: <its text>"``;
- with ``tools`` (and ``tool_choice`` not ``none``, and no ``notools`` in the model's name)
  the model calls the first tool with ``{"<first required property>": "test"}``;
- otherwise the text is ``FakeProvider.answer_for(model, last user text)``;
- with ``thinking: {"type": "enabled"}`` a thinking block comes first:
  ``"Thinking about: <last user text>"``, signed ``"sig-fake"``.
- usage: every input token is a word of ``system`` and the messages' texts, plus 3; the words
  of blocks marked ``cache_control`` are reported as ``cache_creation_input_tokens`` (or, with
  ``prompt_cache``, the prefix shared with the previous request as ``cache_read_input_tokens``)
  and ``input_tokens`` is the rest, as Anthropic counts it; ``output_tokens`` is the number of
  stream pieces.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

THINKING_SIGNATURE = "sig-fake"
TOOL_USE_ID = "toolu_fake_1"


@dataclass(frozen=True, slots=True)
class Block:
    """One content block of the answer and the pieces it streams in."""

    kind: str  # "text", "thinking" or "tool_use"
    pieces: list[str]
    name: str = ""

    def whole(self) -> dict[str, Any]:
        joined = "".join(self.pieces)
        if self.kind == "text":
            return {"type": "text", "text": joined}
        if self.kind == "thinking":
            return {"type": "thinking", "thinking": joined, "signature": THINKING_SIGNATURE}
        return {
            "type": "tool_use",
            "id": TOOL_USE_ID,
            "name": self.name,
            "input": json.loads(joined),
        }

    def start(self) -> dict[str, Any]:
        if self.kind == "text":
            return {"type": "text", "text": ""}
        if self.kind == "thinking":
            return {"type": "thinking", "thinking": "", "signature": ""}
        return {"type": "tool_use", "id": TOOL_USE_ID, "name": self.name, "input": {}}

    def delta(self, piece: str) -> dict[str, Any]:
        if self.kind == "text":
            return {"type": "text_delta", "text": piece}
        if self.kind == "thinking":
            return {"type": "thinking_delta", "thinking": piece}
        return {"type": "input_json_delta", "partial_json": piece}


def block_text(content: Any) -> str:
    """The text of a message's content: a string, or its text (and tool_result) blocks."""
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for block in content if isinstance(content, list) else []:
        if isinstance(block, dict):
            if isinstance(block.get("text"), str):
                texts.append(block["text"])
            elif block.get("type") == "tool_result":
                texts.append(block_text(block.get("content")))
    return " ".join(texts)


def _words(text: str) -> int:
    return len(text.split())


def _cached_words(value: Any) -> int:
    """Words of the blocks marked cache_control (in system or in messages' content)."""
    if isinstance(value, list):
        return sum(_cached_words(item) for item in value)
    if not isinstance(value, dict):
        return 0
    if "cache_control" in value:
        return _words(block_text([value]))
    return _cached_words(value.get("content")) if "role" in value else 0


def answer_blocks(
    body: dict[str, Any], text_for: Callable[[str], str], split: Callable[[str], list[str]]
) -> list[Block]:
    """The content blocks the fake model answers `body` with."""
    messages = [m for m in body.get("messages", []) if isinstance(m, dict)]
    last = messages[-1] if messages else {}
    content = last.get("content")
    prompt = block_text(content)
    blocks: list[Block] = []
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        blocks.append(Block("thinking", split(f"Thinking about: {prompt}")))
    results = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
    if any(b.get("type") == "tool_result" for b in results):
        return [*blocks, Block("text", split(f"Done: {prompt}"))]
    tools = [t for t in body.get("tools", []) if isinstance(t, dict)]
    if _choice(body) == "none" or "notools" in str(body.get("model")):
        tools = []  # (a client that always sends tools gets text from a `notools` model)
    if tools and isinstance(tools[0].get("name"), str):
        arguments = _example_input(tools[0].get("input_schema"))
        pieces = [arguments[: len(arguments) // 2], arguments[len(arguments) // 2 :]]
        return [*blocks, Block("tool_use", pieces, tools[0]["name"])]
    return [*blocks, Block("text", split(text_for(prompt)))]


def _choice(body: dict[str, Any]) -> str | None:
    choice = body.get("tool_choice")
    return choice.get("type") if isinstance(choice, dict) else None


def _example_input(schema: Any) -> str:
    name = None
    if isinstance(schema, dict):
        required = schema.get("required")
        properties = schema.get("properties")
        if isinstance(required, list) and required:
            name = required[0]
        elif isinstance(properties, dict) and properties:
            name = next(iter(properties))
    return json.dumps({name: "test"} if name else {})


def usage(body: dict[str, Any], blocks: list[Block], cache_read: int) -> dict[str, int]:
    """Anthropic usage: input_tokens leave out cache reads and writes."""
    system = body.get("system")
    words = _words(block_text(system)) + sum(
        _words(block_text(m.get("content")))
        for m in body.get("messages", [])
        if isinstance(m, dict)
    )
    total = words + 3
    write = 0 if cache_read else _cached_words(system) + _cached_words(body.get("messages"))
    return {
        "input_tokens": total - cache_read - write,
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": cache_read,
        "output_tokens": sum(len(b.pieces) for b in blocks),
    }


def stop_reason(blocks: list[Block]) -> str:
    return "tool_use" if blocks and blocks[-1].kind == "tool_use" else "end_turn"


def message(
    message_id: str, model: str, blocks: list[Block], counts: dict[str, int]
) -> dict[str, Any]:
    """The whole answer, as a non-stream body."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [block.whole() for block in blocks],
        "stop_reason": stop_reason(blocks),
        "stop_sequence": None,
        "usage": counts,
    }


def event(name: str, data: dict[str, Any]) -> bytes:
    payload = json.dumps({"type": name, **data}, separators=(",", ":"), ensure_ascii=False)
    return f"event: {name}\ndata: {payload}\n\n".encode()


def stream_events(
    message_id: str, model: str, blocks: list[Block], counts: dict[str, int]
) -> tuple[list[bytes], tuple[int, int]]:
    """The SSE events of a stream and the [start, end) range of its deltas."""
    start_usage = {**counts, "output_tokens": 1}
    started = {**message(message_id, model, [], start_usage), "stop_reason": None}
    events = [event("message_start", {"message": started}), event("ping", {})]
    first = len(events) + 1
    for index, block in enumerate(blocks):
        events.append(
            event("content_block_start", {"index": index, "content_block": block.start()})
        )
        for piece in block.pieces:
            events.append(
                event("content_block_delta", {"index": index, "delta": block.delta(piece)})
            )
        if block.kind == "thinking":
            signature = {"type": "signature_delta", "signature": THINKING_SIGNATURE}
            events.append(event("content_block_delta", {"index": index, "delta": signature}))
        events.append(event("content_block_stop", {"index": index}))
    last = len(events) - 1
    delta = {"stop_reason": stop_reason(blocks), "stop_sequence": None}
    events.append(event("message_delta", {"delta": delta, "usage": counts}))
    events.append(event("message_stop", {}))
    return events, (first, last)


#: The event a provider sends when it is overloaded mid-stream (Anthropic's own error shape).
OVERLOADED = event("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})
