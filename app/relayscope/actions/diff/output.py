"""A diff put into words: JSON for scripts, a unified diff with tables for a terminal."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Sequence
from typing import Any

from relayscope.actions.diff.changes import (
    CallDiff,
    RequestDiff,
    ToolCallChange,
    WordSpan,
    canonical_json,
)
from relayscope.protocols.conversation import content_text

_LINE_LIMIT = 400  # characters of one unified-diff line shown in a terminal


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
