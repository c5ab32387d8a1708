"""A request body read as a prompt: its items in order, what kind each is, how much of the
context each kind fills, and where a prompt stops repeating an earlier one (what breaks a
prompt cache).

Chat messages, Responses input items and Anthropic Messages all read the same way: a
Messages body's top-level `system` is its instructions (a string, or text blocks kept as
their JSON), a user message holding `tool_result` blocks is tool output, and the
`cache_control` marks are left out (Claude Code moves them to the newest message at every
call: they say where a cache entry ends, not what the prompt holds). Anthropic caches tools,
then system, then messages; OpenAI instructions, then tools: divergence follows that order.
"""

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
    items: tuple[Any, ...]  # chat messages, Responses input items or Messages messages
    messages_api: bool = False  # an Anthropic Messages body (its cache reads tools first)

    def segments(self) -> list[tuple[str, str]]:
        """(where, canonical text) in the order a prompt cache reads them."""
        head = [("model", self.model), ("instructions", self.instructions), ("tools", self.tools)]
        if self.messages_api:
            head[1], head[2] = head[2], head[1]
        return head + [(f"item {i}", canonical_json(item)) for i, item in enumerate(self.items)]


def read_prompt(body: object) -> Prompt | None:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    marked = isinstance(body, str) and "cache_control" in body
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
    messages_api = "system" in obj or (
        isinstance(body, str) and "tool_" in body and _has_anthropic_blocks(items)
    )
    instructions = obj.get("system") if "system" in obj else obj.get("instructions")
    unmarked = _unmarked if marked else _as_is
    if isinstance(instructions, list):
        instructions = canonical_json(unmarked(instructions))
    return Prompt(
        model=str(obj.get("model") or ""),
        instructions=instructions if isinstance(instructions, str) else "",
        tools=canonical_json(unmarked(obj.get("tools") or [])),
        items=tuple(unmarked(items)),
        messages_api=messages_api,
    )


def _as_is(value: Any) -> Any:
    return value


_ANTHROPIC_BLOCKS = frozenset({"tool_use", "tool_result", "thinking", "redacted_thinking"})


def _has_anthropic_blocks(items: list[Any]) -> bool:
    return any(
        isinstance(block, dict) and block.get("type") in _ANTHROPIC_BLOCKS
        for item in items
        if isinstance(item, dict) and isinstance(item.get("content"), list)
        for block in item["content"]
    )


def _unmarked(value: Any) -> Any:
    """Messages, blocks and tools without their `cache_control` marks."""
    if isinstance(value, list):
        return [_unmarked(v) for v in value]
    if isinstance(value, dict) and ("cache_control" in value or "content" in value):
        value = {k: v for k, v in value.items() if k != "cache_control"}
        if isinstance(value.get("content"), list):
            value["content"] = _unmarked(value["content"])
    return value


def tool_results(item: Any) -> list[dict[str, Any]]:
    """The `tool_result` blocks of a Messages user message."""
    content = item.get("content") if isinstance(item, dict) else None
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


def item_role(item: Any) -> str:
    """user, assistant, system, tool_output (chat roles and Responses item types)."""
    if not isinstance(item, dict):
        return "user"
    kind, role = item.get("type"), item.get("role")
    if kind in _TOOL_OUTPUT_ITEMS or role == "tool" or (role == "user" and tool_results(item)):
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


#: (item, its role, its characters, its images' characters) at each index of a prompt.
ItemSizes = list[tuple[Any, str, int, int]]


def context_parts(prompt: Prompt, new: range, memo: ItemSizes | None = None) -> dict[str, int]:
    """Characters of each kind of context in `prompt`; the items at indexes in `new` are the
    turn's new input. `memo` holds the sizes of an earlier prompt's items: those this one
    repeats at the same index are not measured again (an agent's history grows by a few items
    a turn), and it is updated with this prompt's."""
    parts = dict.fromkeys(PARTS, 0)
    parts["system"] = len(prompt.instructions)
    parts["tools"] = len(prompt.tools) if prompt.tools != "[]" else 0
    memo = [] if memo is None else memo
    for index, item in enumerate(prompt.items):
        if index < len(memo) and memo[index][0] == item:
            _, role, chars, images = memo[index]
        else:
            role, chars, images = item_role(item), len(canonical_json(item)), _image_chars(item)
            del memo[index:]
            memo.append((item, role, chars, images))
        parts["images"] += images
        parts["new_input" if index in new else role] += chars - images
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
            if where == "tools":
                return f"the {PART_TITLES['tools']} changed"
            return f"the {PART_TITLES['system']} changed{_which_block(a, b)}"
        index = int(where.split()[1])
        item_a, item_b = before.items[index], after.items[index]
        fields = value_changes(item_a, item_b)
        detail = f" ({', '.join(c.path or '(whole item)' for c in fields[:3])})" if fields else ""
        return f"item {index} ({item_role(item_b)}) differs from the previous request's{detail}"
    if len(new) < len(old):
        return f"the history was shortened from {len(before.items)} to {len(after.items)} items"
    return None


def _which_block(before: str, after: str) -> str:
    """' (block 2)' when both are JSON arrays (Messages system blocks) that differ there."""
    try:
        old, new = json.loads(before), json.loads(after)
    except ValueError:
        return ""
    if not isinstance(old, list) or not isinstance(new, list):
        return ""
    for index, (a, b) in enumerate(zip(old, new, strict=False)):
        if a != b:
            return f" (block {index})"
    return f" ({len(old)} → {len(new)} blocks)" if len(old) != len(new) else ""
