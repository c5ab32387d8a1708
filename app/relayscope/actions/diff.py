"""Structural diff of two recorded calls: request messages and parameters, answer, usage, timing."""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from relayscope.analysis.stream_stats import gap_stats
from relayscope.calls import facts as call_facts
from relayscope.protocols.conversation import content_text

__all__ = [
    "CallDiff",
    "FieldChange",
    "MessageChange",
    "NumberChange",
    "RequestDiff",
    "ToolCallChange",
    "ValueChange",
    "WordSpan",
    "canonical_json",
    "diff_as_json",
    "diff_calls",
    "format_unified",
    "word_diff",
]

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
_WORD = re.compile(r"\s+|\S+")
_LINE_LIMIT = 400  # characters of one unified-diff line shown in a terminal


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


def diff_calls(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    chunks_a: Sequence[Mapping[str, Any]] | None = None,
    chunks_b: Sequence[Mapping[str, Any]] | None = None,
) -> CallDiff:
    """Compare two calls' rows (and, for gap statistics, their chunks)."""
    return CallDiff(
        a_id=str(a.get("id") or ""),
        b_id=str(b.get("id") or ""),
        request=diff_requests(a.get("request_body"), b.get("request_body")),
        outcome=tuple(FieldChange(name, a.get(name), b.get(name)) for name in OUTCOME_FIELDS),
        answer=tuple(word_diff(a.get("output_text") or "", b.get("output_text") or "")),
        tool_calls=tuple(_tool_call_changes(a.get("tool_calls"), b.get("tool_calls"))),
        usage=tuple(NumberChange(f, a.get(f), b.get(f)) for f in USAGE_FIELDS),
        timing=tuple(_timing(a, b, chunks_a, chunks_b)),
    )


# --- request --------------------------------------------------------------------------------


def diff_requests(body_a: object, body_b: object) -> RequestDiff:
    obj_a, obj_b = _json_object(body_a), _json_object(body_b)
    key_a, key_b = _messages_key(obj_a), _messages_key(obj_b)
    items_a, items_b = _items(obj_a, key_a), _items(obj_b, key_b)
    changes, prefix = _message_changes(items_a, items_b)
    skip = {key_a, key_b} - {None}
    params = _param_changes(
        {k: v for k, v in (obj_a or {}).items() if k not in skip},
        {k: v for k, v in (obj_b or {}).items() if k not in skip},
    )
    return RequestDiff(
        messages_key=key_b or key_a,
        count_a=len(items_a),
        count_b=len(items_b),
        unchanged_prefix=prefix,
        messages=tuple(changes),
        params=tuple(params),
        text_a=_pretty(body_a, obj_a),
        text_b=_pretty(body_b, obj_b),
    )


def _text(body: object) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body).decode("utf-8", "replace")
    return str(body)


def _json_object(body: object) -> dict[str, Any] | None:
    try:
        value = json.loads(_text(body)) if body else None
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _pretty(body: object, obj: dict[str, Any] | None) -> str:
    if obj is None:
        return _text(body)
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=2)


def _messages_key(obj: dict[str, Any] | None) -> str | None:
    if obj is None:
        return None
    if isinstance(obj.get("messages"), list):
        return "messages"
    if isinstance(obj.get("input"), list | str):
        return "input"
    return None


def _items(obj: dict[str, Any] | None, key: str | None) -> list[Any]:
    if obj is None or key is None:
        return []
    value = obj[key]
    return [{"role": "user", "content": value}] if isinstance(value, str) else list(value)


def _message_changes(a: list[Any], b: list[Any]) -> tuple[list[MessageChange], int]:
    keys_a, keys_b = [canonical_json(m) for m in a], [canonical_json(m) for m in b]
    matcher = difflib.SequenceMatcher(None, keys_a, keys_b, autojunk=False)
    changes: list[MessageChange] = []
    prefix = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            if i1 == 0 and j1 == 0:
                prefix = i2
            continue
        pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        removed = []
        added = []
        for k in range(pairs):
            old, new = a[i1 + k], b[j1 + k]
            if _role(old) == _role(new):
                changes.append(
                    MessageChange(
                        "changed",
                        i1 + k,
                        j1 + k,
                        _role(new),
                        old,
                        new,
                        _name(new),
                        tuple(value_changes(old, new)),
                    )
                )
            else:
                removed.append(i1 + k)
                added.append(j1 + k)
        removed += range(i1 + pairs, i2)
        added += range(j1 + pairs, j2)
        changes += [
            MessageChange("removed", i, None, _role(a[i]), a[i], None, _name(a[i])) for i in removed
        ]
        changes += [
            MessageChange("added", None, j, _role(b[j]), None, b[j], _name(b[j])) for j in added
        ]
    return changes, prefix


def _role(message: Any) -> str:
    if isinstance(message, dict):
        role = message.get("role")
        kind = message.get("type")
        if isinstance(role, str) and role:
            return role
        if isinstance(kind, str) and kind:
            return kind
    return "?"


def _name(message: Any) -> str:
    name = message.get("name") if isinstance(message, dict) else None
    return name if isinstance(name, str) else ""


def _param_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[ValueChange]:
    out: list[ValueChange] = []
    for key in sorted(set(a) | set(b)):
        if key not in b:
            out.append(ValueChange(key, "removed", old=a[key]))
        elif key not in a:
            out.append(ValueChange(key, "added", new=b[key]))
        elif canonical_json(a[key]) != canonical_json(b[key]):
            out.append(ValueChange(key, "changed", a[key], b[key]))
    return out


def value_changes(a: Any, b: Any, path: str = "") -> list[ValueChange]:
    """Where two JSON values differ, down to the leaves (key order never matters)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[ValueChange] = []
        for key in sorted(set(a) | set(b)):
            where = f"{path}.{key}" if path else str(key)
            if key not in b:
                out.append(ValueChange(where, "removed", old=a[key]))
            elif key not in a:
                out.append(ValueChange(where, "added", new=b[key]))
            else:
                out += value_changes(a[key], b[key], where)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            c
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for c in value_changes(x, y, f"{path}[{i}]")
        ]
    if canonical_json(a) != canonical_json(b):
        return [ValueChange(path, "changed", a, b)]
    return []


# --- answer -----------------------------------------------------------------------------------


def word_diff(a: str, b: str) -> list[WordSpan]:
    """Word-level diff of two texts: spans of equal, inserted (in b) and deleted (from a) text.

    Words and the whitespace between them are compared as they are, so the spans rebuild both
    texts exactly; changes separated only by whitespace read as one ("[-fast (fake-1).-]").
    """
    words_a, words_b = _WORD.findall(a), _WORD.findall(b)
    matcher = difflib.SequenceMatcher(None, words_a, words_b, autojunk=False)
    spans: list[WordSpan] = []
    for equal, (i1, i2, j1, j2) in _regions(matcher.get_opcodes(), words_a):
        if equal:
            _add(spans, "equal", "".join(words_b[j1:j2]))
        else:
            _add(spans, "delete", "".join(words_a[i1:i2]))
            _add(spans, "insert", "".join(words_b[j1:j2]))
    return spans


def _regions(
    opcodes: Sequence[tuple[str, int, int, int, int]], words_a: list[str]
) -> list[tuple[bool, tuple[int, int, int, int]]]:
    """Opcodes as (equal?, ranges), a whitespace-only match between two changes folded in."""
    out: list[tuple[bool, tuple[int, int, int, int]]] = []
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        between = 0 < index < len(opcodes) - 1
        blank = tag == "equal" and between and "".join(words_a[i1:i2]).isspace()
        if tag == "equal" and not blank:
            out.append((True, (i1, i2, j1, j2)))
        elif out and not out[-1][0]:
            a1, _, b1, _ = out[-1][1]
            out[-1] = (False, (a1, i2, b1, j2))
        else:
            out.append((False, (i1, i2, j1, j2)))
    return out


def _add(spans: list[WordSpan], op: Literal["equal", "insert", "delete"], text: str) -> None:
    if not text:
        return
    if spans and spans[-1].op == op:
        spans[-1] = WordSpan(op, spans[-1].text + text)
    else:
        spans.append(WordSpan(op, text))


def _tool_calls(value: object) -> list[dict[str, Any]]:
    """Tool calls with their ids dropped and JSON arguments parsed, so only meaning is compared."""
    try:
        calls = json.loads(value) if isinstance(value, str | bytes) else value
    except (ValueError, RecursionError):
        return []
    out: list[dict[str, Any]] = []
    for call in calls if isinstance(calls, list) else []:
        if not isinstance(call, dict):
            continue
        call = {k: v for k, v in call.items() if k != "id"}
        function = call.get("function")
        if isinstance(function, dict) and isinstance(function.get("arguments"), str):
            try:
                arguments = json.loads(function["arguments"])
            except (ValueError, RecursionError):
                arguments = function["arguments"]
            call["function"] = {**function, "arguments": arguments}
        out.append(call)
    return out


def _tool_call_changes(a: object, b: object) -> list[ToolCallChange]:
    calls_a, calls_b = _tool_calls(a), _tool_calls(b)
    matcher = difflib.SequenceMatcher(
        None, [canonical_json(c) for c in calls_a], [canonical_json(c) for c in calls_b]
    )
    out: list[ToolCallChange] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        pairs = min(i2 - i1, j2 - j1)
        for k in range(pairs):
            out.append(ToolCallChange("changed", i1 + k, j1 + k, calls_a[i1 + k], calls_b[j1 + k]))
        out += [ToolCallChange("removed", i, None, calls_a[i], None) for i in range(i1 + pairs, i2)]
        out += [ToolCallChange("added", None, j, None, calls_b[j]) for j in range(j1 + pairs, j2)]
    return out


# --- timing -----------------------------------------------------------------------------------


def _timing(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    chunks_a: Sequence[Mapping[str, Any]] | None,
    chunks_b: Sequence[Mapping[str, Any]] | None,
) -> list[NumberChange]:
    fields = ("ttft_ms", "first_byte_ms", "duration_ms", "chunk_count")
    out = [NumberChange(f, a.get(f), b.get(f)) for f in fields]
    stats_a = gap_stats([c["t_ms"] for c in chunks_a]) if chunks_a is not None else None
    stats_b = gap_stats([c["t_ms"] for c in chunks_b]) if chunks_b is not None else None
    for name in ("median", "p95", "max"):
        out.append(
            NumberChange(
                f"gap_{name}_ms",
                getattr(stats_a, name) if stats_a else None,
                getattr(stats_b, name) if stats_b else None,
            )
        )
    out.append(NumberChange("tokens_per_s", _speed(a), _speed(b)))
    return out


def _speed(row: Mapping[str, Any]) -> float | None:
    return call_facts.tokens_per_second(row)


# --- output -----------------------------------------------------------------------------------


def diff_as_json(diff: CallDiff) -> dict[str, Any]:
    """The diff as plain JSON values (the request texts left out: they are the bodies)."""
    out = dataclasses.asdict(diff)
    for key in ("text_a", "text_b"):
        out["request"].pop(key)
    out["request"]["same"] = diff.request.same
    out["same_answer"] = diff.same_answer
    out["outcome"] = [c for c, f in zip(out["outcome"], diff.outcome, strict=True) if f.changed]
    for section in ("usage", "timing"):
        for item, change in zip(out[section], getattr(diff, section), strict=True):
            item["delta"] = change.delta
    return out


def format_unified(diff: CallDiff, *, context: int = 3) -> str:
    """The diff for a terminal: summary, unified request diff, answer, usage and timing."""
    lines = [f"--- a {diff.a_id}", f"+++ b {diff.b_id}"]
    lines += _outcome_lines(diff)
    lines += ["", "Request", *_request_summary(diff.request)]
    unified = list(
        difflib.unified_diff(
            diff.request.text_a.splitlines(),
            diff.request.text_b.splitlines(),
            f"a/{diff.a_id}/request_body",
            f"b/{diff.b_id}/request_body",
            n=context,
            lineterm="",
        )
    )
    lines += [_cut(line) for line in unified]
    lines += ["", "Answer"]
    if not diff.answer:
        lines.append("  (both empty)")
    elif all(span.op == "equal" for span in diff.answer):
        lines.append("  (identical)")
    else:
        lines += ["  " + line for line in render_words(diff.answer).splitlines()]
    if diff.tool_calls:
        lines += ["", "Tool calls", *_tool_lines(diff.tool_calls)]
    lines += ["", *_table(diff)]
    return "\n".join(lines)


def render_words(spans: Sequence[WordSpan]) -> str:
    """``[-removed-]{+added+}`` markup, as `git diff --word-diff` writes it."""
    marks = {"equal": ("", ""), "delete": ("[-", "-]"), "insert": ("{+", "+}")}
    return "".join(marks[s.op][0] + s.text + marks[s.op][1] for s in spans)


def _outcome_lines(diff: CallDiff) -> list[str]:
    changed = [f for f in diff.outcome if f.changed]
    if not changed:
        return []
    width = max(len(f.name) for f in changed)
    return [""] + [f"{f.name:<{width}}  {_short(f.old)} → {_short(f.new)}" for f in changed]


def _request_summary(request: RequestDiff) -> list[str]:
    if request.same:
        return ["  (identical bodies)"]
    lines: list[str] = []
    if request.messages_key and not request.messages:
        lines.append(f"  {request.messages_key}: {request.count_b}, unchanged")
    elif request.messages_key:
        head = f"  {request.messages_key}: {request.count_a} → {request.count_b}"
        if request.unchanged_prefix:
            head += f"; the first {request.unchanged_prefix} unchanged"
        lines.append(head)
        signs = {"added": "+", "removed": "-", "changed": "~"}
        for change in request.messages:
            index = change.index_b if change.index_b is not None else change.index_a
            label = change.role + (f" {change.name}" if change.name else "")
            value = change.new if change.new is not None else change.old
            detail = ", ".join(c.path for c in change.fields) or _short(_gist(value), 70)
            lines.append(f"    {signs[change.op]} [{index}] {label}: {detail}")
    for param in request.params:
        if param.op == "added":
            lines.append(f"  + {param.path}: {_short(param.new)}")
        elif param.op == "removed":
            lines.append(f"  - {param.path}: {_short(param.old)}")
        else:
            lines.append(f"  ~ {param.path}: {_short(param.old)} → {_short(param.new)}")
    return lines


def _gist(message: Any) -> Any:
    """What a person reads in a message: its text, a call's arguments, a tool's output."""
    if not isinstance(message, dict):
        return message
    for key in ("content", "arguments", "input", "output", "summary"):
        value = message.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, list) and (text := content_text(value)):
            return text
    return message


def _tool_lines(changes: Sequence[ToolCallChange]) -> list[str]:
    lines = []
    for change in changes:
        if change.op == "added":
            lines.append(f"  + {_short(change.new, 100)}")
        elif change.op == "removed":
            lines.append(f"  - {_short(change.old, 100)}")
        else:
            lines.append(f"  ~ {_short(change.old, 60)} → {_short(change.new, 60)}")
    return lines


def _table(diff: CallDiff) -> list[str]:
    lines = [f"{'':18} {'a':>10} {'b':>10} {'delta':>10}"]
    for change in (*diff.usage, *diff.timing):
        if change.old is None and change.new is None:
            continue
        shown = _delta(change.delta)
        lines.append(
            f"{change.name:18} {_number(change.old):>10} {_number(change.new):>10} {shown:>10}"
        )
    return lines


def _delta(delta: float | None) -> str:
    if delta is None:
        return ""
    text = _number(abs(delta))
    if text.strip("0.,") == "":
        return "0"
    return ("+" if delta > 0 else "-") + text


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.1f}"


def _short(value: Any, limit: int = 40) -> str:
    text = value if isinstance(value, str) else canonical_json(value)
    text = text.replace("\n", "⏎")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cut(line: str) -> str:
    return line if len(line) <= _LINE_LIMIT else line[: _LINE_LIMIT - 1] + "…"
