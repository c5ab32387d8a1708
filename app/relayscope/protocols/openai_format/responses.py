"""The Responses API: its stream events and its response objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relayscope.protocols.openai_format.answer import Assembled, custom_call, tool_call
from relayscope.protocols.openai_format.events import EventStream
from relayscope.protocols.openai_format.usage import usage_from
from relayscope.protocols.openai_format.values import as_str, dicts, error_of, get_key

# Terminal Responses events and the status each implies when the response carries none.
_TERMINAL_EVENTS = {
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
}
_REASONING_DELTAS = frozenset(
    {"response.reasoning_summary_text.delta", "response.reasoning_text.delta"}
)
_ARGUMENT_DELTAS = frozenset(
    {"response.function_call_arguments.delta", "response.custom_tool_call_input.delta"}
)
_DELTA_EVENTS = (
    _REASONING_DELTAS | _ARGUMENT_DELTAS | {"response.output_text.delta", "response.refusal.delta"}
)
_CALL_ITEM_TYPES = frozenset({"function_call", "custom_tool_call"})


@dataclass(slots=True)
class _OutputItem:
    """One Responses output item (by output_index): its final form, or its deltas so far."""

    final: dict[str, Any] | None = None
    added: dict[str, Any] | None = None
    text: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)
    reasoning: dict[tuple[str, int], list[str]] = field(default_factory=dict)

    def add_reasoning(self, kind: str, obj: dict[str, Any], delta: str) -> None:
        part = obj.get("summary_index", obj.get("content_index", 0))
        key = (kind, part if type(part) is int else 0)
        self.reasoning.setdefault(key, []).append(delta)

    def contribute(self, parts: _Parts) -> None:
        if self.final is not None:
            parts.add_item(self.final)
            return
        parts.text.append("".join(self.text))
        parts.refusal.append("".join(self.refusal))
        parts.reasoning.extend("".join(pieces) for pieces in self.reasoning.values())
        kind = self.added.get("type") if self.added is not None else None
        if self.added is not None and kind in _CALL_ITEM_TYPES:
            key = "arguments" if kind == "function_call" else "input"
            parts.add_item({**self.added, key: "".join(self.arguments)})


class ResponsesStream(EventStream):
    """Responses API events; the final response object wins over the deltas before it."""

    def __init__(self) -> None:
        super().__init__()
        self.responses = True
        self.items: dict[int, _OutputItem] = {}
        self.item_indexes: dict[str, int] = {}
        self.last_index = 0
        self.started: dict[str, Any] | None = None
        self.final: dict[str, Any] | None = None
        self.final_kind: str | None = None

    def on_object(self, obj: dict[str, Any], event: str | None) -> None:
        kind = obj.get("type")
        if not isinstance(kind, str):
            kind = event or ""
        delta = obj.get("delta")
        if isinstance(delta, str) and kind in _DELTA_EVENTS:
            self._on_delta(obj, kind, delta)
        elif kind in ("response.output_item.added", "response.output_item.done"):
            self._on_item(obj, kind.endswith(".done"))
        elif kind in _TERMINAL_EVENTS:
            self._on_terminal(obj, kind)
        elif kind in ("response.created", "response.in_progress"):
            response = obj.get("response")
            self.started = response if isinstance(response, dict) else self.started
        elif kind == "error" and obj.get("error") is None:
            self.error = {k: v for k, v in obj.items() if k not in ("type", "sequence_number")}

    def _on_delta(self, obj: dict[str, Any], kind: str, delta: str) -> None:
        item = self._item(obj.get("output_index"), obj.get("item_id"))
        if kind == "response.output_text.delta":
            item.text.append(delta)
        elif kind in _REASONING_DELTAS:
            item.add_reasoning(kind, obj, delta)
        elif kind in _ARGUMENT_DELTAS:
            item.arguments.append(delta)
        else:
            item.refusal.append(delta)

    def _item(self, index: object, item_id: object) -> _OutputItem:
        """The item an event is about: by output_index, else by item id, else the last one."""
        if type(index) is not int:
            if isinstance(item_id, str):
                index = self.item_indexes.get(item_id)
                if index is None:  # an item we have not heard of goes after the others
                    index = max(self.items, default=-1) + 1
            else:
                index = self.last_index
        if isinstance(item_id, str):
            self.item_indexes[item_id] = index
        item = self.items.get(index)
        if item is None:
            item = self.items[index] = _OutputItem()
        self.last_index = index
        return item

    def _on_item(self, obj: dict[str, Any], done: bool) -> None:
        item = obj.get("item")
        if isinstance(item, dict):
            state = self._item(obj.get("output_index"), item.get("id"))
            if done:
                state.final = item
            else:
                state.added = item

    def _on_terminal(self, obj: dict[str, Any], kind: str) -> None:
        response = obj.get("response")
        self.final = response if isinstance(response, dict) else {}
        self.final_kind = kind
        self.done = True

    def result(self) -> Assembled:
        final = self.final
        if final is not None and _nonempty_list(final.get("output")):
            out = from_response(final, self.final_kind)
        else:  # cut short, or a gateway that leaves the final output empty: use the items
            parts = _Parts()
            for index in sorted(self.items):
                self.items[index].contribute(parts)
            out = from_response(final or {}, self.final_kind, parts)
        out.response_id = out.response_id or as_str(get_key(self.started, "id")) or None
        out.model = out.model or as_str(get_key(self.started, "model")) or None
        out.error = out.error or self.error
        out.done, out.invalid_events = self.done, self.invalid_events
        return out


@dataclass(slots=True)
class _Parts:
    """Pieces of an answer collected from output items, joined at the end."""

    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    def add_item(self, item: dict[str, Any]) -> None:
        """Take one Responses output item (message, reasoning, function or custom tool call)."""
        kind = item.get("type")
        if kind == "message":
            for part in dicts(item.get("content")):
                if part.get("type") == "refusal":
                    self.refusal.append(as_str(part.get("refusal")))
                else:
                    self.text.append(as_str(part.get("text")))
        elif kind == "reasoning":
            for key in ("summary", "content"):
                self.reasoning.extend(as_str(part.get("text")) for part in dicts(item.get(key)))
        elif kind in _CALL_ITEM_TYPES:
            call_id = as_str(item.get("call_id")) or as_str(item.get("id")) or None
            if kind == "function_call":
                arguments = as_str(item.get("arguments"))
                self.tool_calls.append(tool_call(call_id, as_str(item.get("name")), arguments))
            else:
                self.tool_calls.append(custom_call(call_id, item))

    def into(self, out: Assembled) -> None:
        out.output_text = "".join(self.text)
        out.reasoning_text = "\n\n".join(text for text in self.reasoning if text)
        out.refusal = "".join(self.refusal)
        out.tool_calls = self.tool_calls


def from_response(
    response: dict[str, Any], terminal: str | None, parts: _Parts | None = None
) -> Assembled:
    """Read a Responses API response object (from a body or a terminal stream event)."""
    out = Assembled()
    if parts is None:
        parts = _Parts()
        for item in dicts(response.get("output")):
            parts.add_item(item)
    parts.into(out)
    status = as_str(response.get("status")) or _TERMINAL_EVENTS.get(terminal or "")
    reason = as_str(get_key(response.get("incomplete_details"), "reason"))
    out.finish_reason = f"{status}:{reason}" if status == "incomplete" and reason else status
    out.finish_reason = out.finish_reason or None
    out.usage = usage_from(response.get("usage"))
    out.response_id = as_str(response.get("id")) or None
    out.model = as_str(response.get("model")) or None
    out.error = error_of(response.get("error"))
    return out


def _nonempty_list(value: object) -> bool:
    return isinstance(value, list) and len(value) > 0
