"""A request body read as a prompt: its items in order, what kind each is, how much of the
context each kind fills, and where a prompt stops repeating an earlier one (what breaks a
prompt cache)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from relayscope.actions.diff import canonical_json, value_changes

CHARS_PER_TOKEN = 4
#: The categories of context, in the order they are drawn.
PARTS = ("system", "tools", "user", "assistant", "tool_output", "new_input", "images")
PART_TITLES = {
    "system": "system/instructions",
    "tools": "tool definitions",
    "user": "user (history)",
    "assistant": "assistant (history)",
    "tool_output": "tool outputs",
    "new_input": "new input",
    "images": "images",
}
_ASSISTANT_ITEMS = frozenset(
    {"function_call", "custom_tool_call", "reasoning", "web_search_call", "local_shell_call"}
)
_TOOL_OUTPUT_ITEMS = frozenset(
    {"function_call_output", "custom_tool_call_output", "local_shell_call_output"}
)
_IMAGE_PARTS = frozenset({"image_url", "input_image", "image"})


@dataclass(frozen=True, slots=True)
class Prompt:
    """A request body read as a prompt: what the provider can cache, in order."""

    model: str
    instructions: str
    tools: str  # canonical JSON of the tool definitions
    items: tuple[Any, ...]  # chat messages or Responses input items

    def segments(self) -> list[tuple[str, str]]:
        """(where, canonical text) in the order a prompt cache reads them."""
        head = [("model", self.model), ("instructions", self.instructions), ("tools", self.tools)]
        return head + [(f"item {i}", canonical_json(item)) for i, item in enumerate(self.items)]


def read_prompt(body: object) -> Prompt | None:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        obj = json.loads(body) if isinstance(body, str) else None
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    items: Any = obj.get("messages", obj.get("input", []))
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    if not isinstance(items, list):
        return None
    instructions = obj.get("instructions")
    return Prompt(
        model=str(obj.get("model") or ""),
        instructions=instructions if isinstance(instructions, str) else "",
        tools=canonical_json(obj.get("tools") or []),
        items=tuple(items),
    )


def item_role(item: Any) -> str:
    """user, assistant, system, tool_output (chat roles and Responses item types)."""
    if not isinstance(item, dict):
        return "user"
    kind, role = item.get("type"), item.get("role")
    if kind in _TOOL_OUTPUT_ITEMS or role == "tool":
        return "tool_output"
    if kind in _ASSISTANT_ITEMS or role == "assistant":
        return "assistant"
    if role in ("system", "developer"):
        return "system"
    return "user"


def _image_chars(item: Any) -> int:
    content = item.get("content") if isinstance(item, dict) else None
    if not isinstance(content, list):
        return 0
    return sum(
        len(canonical_json(part))
        for part in content
        if isinstance(part, dict) and part.get("type") in _IMAGE_PARTS
    )


def new_input_start(prompt: Prompt) -> int:
    """Index of the first item after the model's last one: what this request adds."""
    for index in range(len(prompt.items) - 1, -1, -1):
        if item_role(prompt.items[index]) == "assistant":
            return index + 1
    return next(
        (i for i, item in enumerate(prompt.items) if item_role(item) != "system"),
        len(prompt.items),
    )


def context_parts(prompt: Prompt, new: range) -> dict[str, int]:
    """Characters of each kind of context in `prompt`; the items at indexes in `new` are the
    turn's new input."""
    parts = dict.fromkeys(PARTS, 0)
    parts["system"] = len(prompt.instructions)
    parts["tools"] = len(prompt.tools) if prompt.tools != "[]" else 0
    for index, item in enumerate(prompt.items):
        images = _image_chars(item)
        parts["images"] += images
        kind = "new_input" if index in new else item_role(item)
        parts[kind] += len(canonical_json(item)) - images
    return parts


def first_divergence(before: Prompt, after: Prompt) -> str | None:
    """Where `after` stops repeating `before` (None when it extends it): the cause of a cache
    miss that no pause explains."""
    old, new = before.segments(), after.segments()
    for (where, a), (_, b) in zip(old, new, strict=False):
        if a == b:
            continue
        if where == "model":
            return f"the model changed ({a} → {b})"
        if where in ("instructions", "tools"):
            return f"the {PART_TITLES['system' if where == 'instructions' else 'tools']} changed"
        index = int(where.split()[1])
        item_a, item_b = before.items[index], after.items[index]
        fields = value_changes(item_a, item_b)
        detail = f" ({', '.join(c.path or '(whole item)' for c in fields[:3])})" if fields else ""
        return f"item {index} ({item_role(item_b)}) differs from the previous request's{detail}"
    if len(new) < len(old):
        return f"the history was shortened from {len(before.items)} to {len(after.items)} items"
    return None
