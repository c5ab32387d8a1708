"""What a diff of two calls is made of: changed values, messages, words, numbers, tool calls."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Op = Literal["added", "removed", "changed"]
USAGE_FIELDS = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "reasoning_tokens",
)
OUTCOME_FIELDS = (
    "provider",
    "model",
    "endpoint",
    "stream",
    "status",
    "state",
    "finish_reason",
    "error",
)


def canonical_json(value: Any) -> str:
    """One text per JSON value, whatever the key order: keys sorted, no spaces."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class ValueChange:
    """A JSON value at ``path`` (``temperature``, ``content[0].text``) added, removed or changed."""

    path: str
    op: Op
    old: Any = None
    new: Any = None


@dataclass(frozen=True, slots=True)
class MessageChange:
    """A conversation message (chat ``messages`` or Responses ``input`` item) that differs.

    ``role`` is the message's role, or a Responses item's type (``function_call``…);
    ``fields`` says what changed inside a changed message.
    """

    op: Op
    index_a: int | None
    index_b: int | None
    role: str
    old: Any = None
    new: Any = None
    name: str = ""  # a tool call's function name
    fields: tuple[ValueChange, ...] = ()


@dataclass(frozen=True, slots=True)
class RequestDiff:
    """How two request bodies differ, message by message and parameter by parameter."""

    messages_key: str | None  # "messages", "input", or None when neither body has them
    count_a: int
    count_b: int
    unchanged_prefix: int  # messages equal from the start (a resent history)
    messages: tuple[MessageChange, ...]
    params: tuple[ValueChange, ...]
    text_a: str  # the body as pretty JSON with sorted keys (raw text if not JSON)
    text_b: str

    @property
    def same(self) -> bool:
        return not self.messages and not self.params and self.text_a == self.text_b


@dataclass(frozen=True, slots=True)
class WordSpan:
    op: Literal["equal", "insert", "delete"]
    text: str


@dataclass(frozen=True, slots=True)
class NumberChange:
    name: str
    old: float | None
    new: float | None

    @property
    def delta(self) -> float | None:
        return None if self.old is None or self.new is None else self.new - self.old


@dataclass(frozen=True, slots=True)
class FieldChange:
    name: str
    old: Any
    new: Any

    @property
    def changed(self) -> bool:
        return bool(self.old != self.new)


@dataclass(frozen=True, slots=True)
class ToolCallChange:
    """A tool call in one answer and not the other, or with other arguments (ids ignored)."""

    op: Op
    index_a: int | None
    index_b: int | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class CallDiff:
    a_id: str
    b_id: str
    request: RequestDiff
    outcome: tuple[FieldChange, ...]  # every outcome field; `changed` tells which differ
    answer: tuple[WordSpan, ...]
    tool_calls: tuple[ToolCallChange, ...]
    usage: tuple[NumberChange, ...]
    timing: tuple[NumberChange, ...]

    @property
    def same_answer(self) -> bool:
        return all(span.op == "equal" for span in self.answer) and not self.tool_calls
