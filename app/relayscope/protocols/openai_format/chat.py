"""Chat completions and legacy completions: their streamed chunks and their bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relayscope.protocols.openai_format.answer import Assembled, custom_call, tool_call
from relayscope.protocols.openai_format.events import EventStream
from relayscope.protocols.openai_format.usage import Usage, usage_from
from relayscope.protocols.openai_format.values import as_str, dicts, get_key


class ChoicesStream(EventStream):
    """Chat completions and legacy completions chunks: everything hangs off choices[]."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.refusal: list[str] = []
        self.tools = _ToolCallFragments()
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.response_id: str | None = None
        self.model: str | None = None

    def on_done_marker(self) -> None:
        self.done = True

    def on_object(self, obj: dict[str, Any], event: str | None) -> None:
        if self.response_id is None:
            self.response_id = as_str(obj.get("id")) or None
        if self.model is None:
            self.model = as_str(obj.get("model")) or None
        usage = obj.get("usage")
        if usage is not None:
            self.usage = usage_from(usage) or self.usage
        choice = _first_choice(obj.get("choices"))
        if choice is None:
            return
        delta = choice.get("delta")
        if isinstance(delta, dict):
            self._on_delta(delta)
        text = choice.get("text")  # legacy completions
        if isinstance(text, str):
            self.text.append(text)
        finish_reason = choice.get("finish_reason")
        if isinstance(finish_reason, str):
            self.finish_reason = finish_reason

    def _on_delta(self, delta: dict[str, Any]) -> None:
        content = delta.get("content")
        if content is not None:
            self.text.append(_content_text(content))
        reasoning = as_str(delta.get("reasoning_content")) or as_str(delta.get("reasoning"))
        if reasoning:
            self.reasoning.append(reasoning)
        refusal = delta.get("refusal")
        if isinstance(refusal, str):
            self.refusal.append(refusal)
        tool_calls = delta.get("tool_calls")
        if isinstance(tool_calls, list):
            for fragment in tool_calls:
                if isinstance(fragment, dict):
                    self.tools.add(fragment)

    def result(self) -> Assembled:
        out = self._base()
        out.output_text = "".join(self.text)
        out.reasoning_text = "".join(self.reasoning)
        out.refusal = "".join(self.refusal)
        out.tool_calls = self.tools.calls()
        out.finish_reason = self.finish_reason
        out.usage = self.usage
        out.response_id = self.response_id
        out.model = self.model
        return out


@dataclass(slots=True)
class _ToolCall:
    """One tool call being put together from its streamed fragments."""

    id: str | None = None
    type: str | None = None
    name: str | None = None
    arguments: list[str] = field(default_factory=list)

    def merge(self, fragment: dict[str, Any]) -> None:
        # id, type and name come once, in the first fragment; some gateways repeat them in
        # every fragment, so only the first is kept. Arguments arrive in pieces.
        self.id = self.id or as_str(fragment.get("id")) or None
        self.type = self.type or as_str(fragment.get("type")) or None
        function = fragment.get("function")
        if isinstance(function, dict):
            self.name = self.name or as_str(function.get("name")) or None
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                self.arguments.append(arguments)

    def as_dict(self) -> dict[str, Any]:
        return tool_call(self.id, self.name, "".join(self.arguments), self.type)


class _ToolCallFragments:
    """Tool-call fragments of a chat stream, merged by their index."""

    __slots__ = ("_calls", "_last")

    def __init__(self) -> None:
        self._calls: dict[int, _ToolCall] = {}
        self._last = 0

    def add(self, fragment: dict[str, Any]) -> None:
        index = fragment.get("index")
        if type(index) is not int:
            index = self._guess_index(fragment)
        call = self._calls.get(index)
        if call is None:
            call = self._calls[index] = _ToolCall()
        call.merge(fragment)
        self._last = index

    def _guess_index(self, fragment: dict[str, Any]) -> int:
        # Some gateways leave out "index": a new id starts a new call, anything else continues
        # the call before it.
        new_id = as_str(fragment.get("id"))
        if new_id and all(call.id != new_id for call in self._calls.values()):
            return max(self._calls, default=-1) + 1
        return self._last

    def calls(self) -> list[dict[str, Any]]:
        return [self._calls[index].as_dict() for index in sorted(self._calls)]


def from_choices_body(obj: dict[str, Any]) -> Assembled:
    """Read a chat.completion or a legacy text_completion body."""
    out = Assembled(usage=usage_from(obj.get("usage")))
    out.response_id = as_str(obj.get("id")) or None
    out.model = as_str(obj.get("model")) or None
    choice = _first_choice(obj.get("choices"))
    if choice is None:
        return out
    out.finish_reason = as_str(choice.get("finish_reason")) or None
    message = choice.get("message")
    if not isinstance(message, dict):
        out.output_text = as_str(choice.get("text"))
        return out
    out.output_text = _content_text(message.get("content"))
    reasoning = as_str(message.get("reasoning_content")) or as_str(message.get("reasoning"))
    out.reasoning_text = reasoning
    out.refusal = as_str(message.get("refusal"))
    out.tool_calls = [_tool_call_of(call) for call in dicts(message.get("tool_calls"))]
    return out


def _tool_call_of(call: dict[str, Any]) -> dict[str, Any]:
    """A chat message's tool call in our own shape (a custom tool call keeps its own)."""
    function = call.get("function")
    if not isinstance(function, dict) and isinstance(call.get("custom"), dict):
        return custom_call(as_str(call.get("id")) or None, call["custom"])
    return tool_call(
        as_str(call.get("id")) or None,
        as_str(get_key(function, "name")) or None,
        as_str(get_key(function, "arguments")),
        as_str(call.get("type")) or None,
    )


def _first_choice(choices: object) -> dict[str, Any] | None:
    """The choice with index 0 (a missing index counts as 0): the one we record."""
    if isinstance(choices, list):
        for choice in choices:
            if isinstance(choice, dict) and choice.get("index") in (0, None):
                return choice
    return None


def _content_text(content: object) -> str:
    """Message content as text: a string, or the "text" of each part of an array."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part if isinstance(part, str) else as_str(get_key(part, "text")) for part in content
        )
    return ""
