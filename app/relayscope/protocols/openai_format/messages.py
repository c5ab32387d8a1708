"""Anthropic Messages: its stream events and its message bodies, read in chat terms."""

from __future__ import annotations

import json
from typing import Any

from relayscope.protocols.openai_format.answer import Assembled, tool_call
from relayscope.protocols.openai_format.events import EventStream
from relayscope.protocols.openai_format.usage import anthropic_usage
from relayscope.protocols.openai_format.values import as_str, dicts, error_of, get_key

_MESSAGE_TOOL_BLOCKS = frozenset({"tool_use", "server_tool_use"})


class MessagesStream(EventStream):
    """Anthropic Messages events: message_start, content_block_start/delta/stop,
    message_delta (stop_reason, usage), message_stop (the terminal event), ping, error."""

    def __init__(self) -> None:
        super().__init__()
        self.message: dict[str, Any] = {}
        self.blocks: dict[int, dict[str, Any]] = {}
        self.pieces: dict[int, list[str]] = {}
        self.usage: dict[str, Any] = {}
        self.stop_reason: str | None = None

    def on_object(self, obj: dict[str, Any], event: str | None) -> None:
        kind = obj.get("type")
        if not isinstance(kind, str):
            kind = event or ""
        if kind == "content_block_delta":
            self._on_delta(obj)
        elif kind == "content_block_start":
            block = obj.get("content_block")
            if isinstance(block, dict):
                index = self._index(obj)
                self.blocks[index] = dict(block)
                self.pieces.setdefault(index, [])
        elif kind == "message_start":
            message = obj.get("message")
            if isinstance(message, dict):
                self.message = message
                self._merge_usage(message.get("usage"))
        elif kind == "message_delta":
            delta = obj.get("delta")
            self.stop_reason = as_str(get_key(delta, "stop_reason")) or self.stop_reason
            self._merge_usage(obj.get("usage"))
        elif kind == "message_stop":
            self.done = True

    def _index(self, obj: dict[str, Any]) -> int:
        index = obj.get("index")
        return index if type(index) is int else max(self.blocks, default=0)

    def _on_delta(self, obj: dict[str, Any]) -> None:
        delta = obj.get("delta")
        if not isinstance(delta, dict):
            return
        index = self._index(obj)
        block = self.blocks.setdefault(index, {})
        pieces = self.pieces.setdefault(index, [])
        kind = delta.get("type")
        if kind == "text_delta":
            block.setdefault("type", "text")
            pieces.append(as_str(delta.get("text")))
        elif kind == "thinking_delta":
            block.setdefault("type", "thinking")
            pieces.append(as_str(delta.get("thinking")))
        elif kind == "input_json_delta":
            block.setdefault("type", "tool_use")
            pieces.append(as_str(delta.get("partial_json")))
        elif kind == "signature_delta":
            block["signature"] = as_str(block.get("signature")) + as_str(delta.get("signature"))

    def _merge_usage(self, usage: object) -> None:
        # message_delta's counts are cumulative: each one present replaces message_start's.
        if isinstance(usage, dict):
            self.usage.update({k: v for k, v in usage.items() if v is not None})

    def result(self) -> Assembled:
        content = []
        for index in sorted(self.blocks):
            block = dict(self.blocks[index])
            joined = "".join(self.pieces.get(index, []))
            kind = block.get("type")
            if kind == "text":
                block["text"] = as_str(block.get("text")) + joined
            elif kind == "thinking":
                block["thinking"] = as_str(block.get("thinking")) + joined
            elif kind in _MESSAGE_TOOL_BLOCKS and joined:
                block["input"] = joined  # the JSON text as streamed, kept as sent
            content.append(block)
        message = {**self.message, "content": content, "usage": self.usage}
        if self.stop_reason is not None:
            message["stop_reason"] = self.stop_reason
        out = from_message(message)
        out.error = self.error
        out.done, out.invalid_events = self.done, self.invalid_events
        return out


def from_message(message: dict[str, Any]) -> Assembled:
    """Read an Anthropic Messages message (a body, or one assembled from its stream); tool_use
    blocks become chat-shaped tool calls whose arguments are the input as JSON text."""
    out = Assembled(usage=anthropic_usage(message.get("usage")))
    out.response_id = as_str(message.get("id")) or None
    out.model = as_str(message.get("model")) or None
    out.finish_reason = as_str(message.get("stop_reason")) or None
    if message.get("type") == "error":
        out.error = error_of(message.get("error"))
    text: list[str] = []
    thinking: list[str] = []
    for block in dicts(message.get("content")):
        kind = block.get("type")
        if kind == "text":
            text.append(as_str(block.get("text")))
        elif kind == "thinking":
            thinking.append(as_str(block.get("thinking")))
        elif kind in _MESSAGE_TOOL_BLOCKS:
            arguments = block.get("input")
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments if arguments is not None else {})
            call_id, name = as_str(block.get("id")) or None, as_str(block.get("name")) or None
            out.tool_calls.append(tool_call(call_id, name, arguments))
    out.output_text = "".join(text)
    out.reasoning_text = "\n\n".join(part for part in thinking if part)
    return out
