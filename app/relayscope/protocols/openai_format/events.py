"""What every API's stream shares (JSON decoding, error objects, invalid and [DONE] events),
and which events carry output."""

from __future__ import annotations

import json
from typing import Any

from relayscope.protocols.openai_format.answer import Assembled
from relayscope.protocols.openai_format.values import error_of


def holds_output(obj: dict[str, Any], event: str | None, *, responses: bool) -> bool:
    """Whether one stream event carries output: text, reasoning, a tool-call fragment or a
    refusal (a chat delta, a legacy completion's text, a non-empty Responses `*.delta`).
    A role chunk, a finish reason or usage is not output. TTFT is the first such event.
    Anthropic Messages: a `content_block_delta` with text, thinking or tool input (whatever
    `responses` says: the event names it)."""
    if obj.get("type") == "content_block_delta":
        delta = obj.get("delta")
        return isinstance(delta, dict) and any(delta.get(key) for key in _MESSAGES_OUTPUT_KEYS)
    if responses:
        kind = obj.get("type")
        if not isinstance(kind, str):
            kind = event or ""
        return kind.endswith(".delta") and bool(obj.get("delta"))
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return False
    choice = choices[0]
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        return bool(choice.get("text"))
    return any(delta.get(key) for key in _OUTPUT_KEYS)


_OUTPUT_KEYS = ("content", "reasoning_content", "reasoning", "refusal", "tool_calls")
_MESSAGES_OUTPUT_KEYS = ("text", "thinking", "partial_json")


class EventStream:
    """What every stream shares: JSON decoding, error objects, invalid and [DONE] events."""

    def __init__(self) -> None:
        self.error: dict[str, Any] | None = None
        self.done = False
        self.invalid_events = 0
        self.output_seen = False
        self.responses = False

    def feed(self, data: str, event: str | None) -> None:
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError):
            # "[DONE]" is rare (once a stream), so it is looked for only where JSON failed.
            stripped = data.strip()
            if stripped == "[DONE]":
                self.on_done_marker()
            elif stripped:  # an empty data line carries nothing, so it is not invalid
                self.invalid_events += 1
            return
        if not isinstance(obj, dict):
            self.invalid_events += 1
            return
        error = obj.get("error")
        if error is not None:
            self.error = error_of(error) or self.error
        if not self.output_seen:
            self.output_seen = holds_output(obj, event, responses=self.responses)
        self.on_object(obj, event)

    def on_done_marker(self) -> None:
        pass

    def on_object(self, obj: dict[str, Any], event: str | None) -> None:
        raise NotImplementedError

    def result(self) -> Assembled:
        raise NotImplementedError

    def _base(self) -> Assembled:
        return Assembled(error=self.error, done=self.done, invalid_events=self.invalid_events)
