"""The answer side of a diff: the text word by word, and the tool calls."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from relayscope.actions.diff.changes import ToolCallChange, WordSpan, canonical_json

_WORD = re.compile(r"\s+|\S+")


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


def tool_call_changes(a: object, b: object) -> list[ToolCallChange]:
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
