"""Editing a request body as text: where it stops being a JSON object, and field changes."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class JsonError:
    """Where an edited body stops being valid JSON: 1-based line and column, and why."""

    line: int
    column: int
    message: str
    offset: int = 0  # character offset into the text, for an editor's cursor


def parse_json_body(text: str) -> dict[str, Any] | JsonError:
    """The body an editor holds, or where and why it is not a JSON object."""
    if not text.strip():
        return JsonError(1, 1, "The body is empty; a request body is a JSON object.")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return JsonError(exc.lineno, exc.colno, exc.msg, exc.pos)
    except RecursionError:
        return JsonError(1, 1, "The body nests too deeply to be read.")
    if not isinstance(value, dict):
        start = len(text) - len(text.lstrip())
        line = text.count("\n", 0, start) + 1
        column = start - (text.rfind("\n", 0, start) + 1) + 1
        kind = _JSON_KINDS.get(type(value), "something else")
        return JsonError(line, column, f"A request body is a JSON object, not {kind}.", start)
    return value


_JSON_KINDS = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}


def edit_body(
    body: Mapping[str, Any],
    *,
    model: str | None = None,
    stream: bool | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    messages: list[Any] | None = None,
) -> dict[str, Any]:
    """A copy of ``body`` with the given fields changed (None leaves a field as it is).

    ``max_tokens`` and ``messages`` use the body's own API: Responses bodies get
    ``max_output_tokens`` and ``input``; a chat body that uses ``max_completion_tokens``
    keeps using it. Turning streaming off removes ``stream_options``, which providers reject
    without a stream.
    """
    out = copy.deepcopy(dict(body))
    responses = "input" in out and "messages" not in out
    if model is not None:
        out["model"] = model
    if stream is not None:
        out["stream"] = stream
        if not stream:
            out.pop("stream_options", None)
    if temperature is not None:
        out["temperature"] = temperature
    if max_tokens is not None:
        if responses:
            key = "max_output_tokens"
        else:
            key = "max_completion_tokens" if "max_completion_tokens" in out else "max_tokens"
        out[key] = max_tokens
    if messages is not None:
        out["input" if responses else "messages"] = copy.deepcopy(messages)
    return out
