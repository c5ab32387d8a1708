"""The answer of one call as every API's reader gives it, and the tool-call shapes in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relayscope.protocols.openai_format.usage import Usage
from relayscope.protocols.openai_format.values import as_str


@dataclass(slots=True)
class Assembled:
    """The whole answer of one call, read from a body or assembled from a stream.

    ``tool_calls`` use the chat shape ``{"id", "type": "function", "function": {"name",
    "arguments"}}`` (for Responses, "id" is the item's call_id); a free-form tool call, such as
    Codex's apply_patch, is ``{"id", "type": "custom", "custom": {"name", "input"}}``.
    ``error`` is the inner object of an ``{"error": {...}}`` (a bare string becomes
    ``{"message": ...}``). ``finish_reason`` is the Responses status for Responses calls, with
    the reason appended for incomplete ones ("incomplete:max_output_tokens").
    """

    output_text: str = ""
    reasoning_text: str = ""
    refusal: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    response_id: str | None = None
    model: str | None = None
    error: dict[str, Any] | None = None
    done: bool = False
    invalid_events: int = 0


def tool_call(
    call_id: str | None, name: str | None, arguments: str, kind: str | None = None
) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": kind or "function",
        "function": {"name": name or None, "arguments": arguments},
    }


def custom_call(call_id: str | None, item: dict[str, Any]) -> dict[str, Any]:
    # Free-form ("custom") tools, e.g. Codex's apply_patch: the chat API's shape for them.
    name = as_str(item.get("name")) or None
    return {
        "id": call_id,
        "type": "custom",
        "custom": {"name": name, "input": as_str(item.get("input"))},
    }
