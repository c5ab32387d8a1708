"""Which conversation each call of a session continues, and what a side conversation is
(a sub-agent or a helper call) and says."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from relayscope.protocols.prompts import Prompt, item_role


def is_helper(
    position: int,
    threads: Sequence[int],
    prompts: Sequence[Prompt | None],
    main: int | None,
    seen: Mapping[int, object],
) -> bool:
    """Whether the call at `position`, opening a conversation while no main one continues,
    is a helper (a quota check before the first turn, a title after the last) rather than the
    new main conversation: it is its conversation's only call and its tools differ from the
    main conversation's (or, before there is one, from the next conversation's)."""
    thread = threads[position]
    if thread in seen or thread in threads[position + 1 :]:
        return False
    if main is not None:
        reference = next(
            (
                p
                for t, p in zip(
                    reversed(threads[:position]), reversed(prompts[:position]), strict=True
                )
                if t == main
            ),
            None,
        )
    else:
        reference = next(
            (
                p
                for t, p in zip(threads[position + 1 :], prompts[position + 1 :], strict=True)
                if t != thread
            ),
            None,
        )
    prompt = prompts[position]
    if reference is None or prompt is None:
        return False
    return prompt.tools != reference.tools


def conversations(prompts: Sequence[Prompt | None]) -> list[int]:
    """The conversation of each call (numbered from 0 in order of appearance): the most
    recently continued one whose last request this call's messages extend (or repeat), else a
    new one. A body that is not a prompt stays in the conversation of the call before it."""
    found: list[int] = []
    lasts: list[tuple[Any, ...]] = []  # each conversation's last request's items
    recent: list[int] = []  # conversations, the most recently continued last
    for prompt in prompts:
        if prompt is None or not prompt.items:
            thread = found[-1] if found else len(lasts)
            if thread == len(lasts):
                lasts.append(())
        else:
            key = prompt.items  # (compared as values: dicts equal whatever their key order)
            thread = next(
                (t for t in reversed(recent) if lasts[t] and key[: len(lasts[t])] == lasts[t]),
                len(lasts),
            )
            if thread == len(lasts):
                lasts.append(key)
            lasts[thread] = key
        if thread in recent:
            recent.remove(thread)
        recent.append(thread)
        found.append(thread)
    return found


def side_label(prompt: Prompt | None, histories: Sequence[Prompt | None]) -> str:
    """ "sub-agent: <what its parent's Task call says it does>", else the kind of call and the
    start of the message that opened it."""
    asked = input_text(prompt) if prompt is not None else ""
    kind = "sub-agent" if prompt is not None and prompt.tools != "[]" else "side call"
    for other in histories:  # the parent's Task/Agent tool call that sent this prompt
        for item in other.items if other is not None else ():
            for block in item.get("content") or () if isinstance(item, dict) else ():
                given = block.get("input") if isinstance(block, dict) else None
                if (
                    isinstance(given, dict)
                    and block.get("type") == "tool_use"
                    and given.get("prompt") == asked
                    and asked
                ):
                    what = given.get("description") or given.get("subagent_type") or asked
                    return f"sub-agent: {_short(str(what))}"
    return f"{kind}: {_short(asked)}" if asked else kind


def _short(text: str, limit: int = 60) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def input_text(prompt: Prompt) -> str:
    """The person's last message: Claude Code's `<system-reminder>` blocks left out."""
    from relayscope.protocols.conversation import content_text

    for item in reversed(prompt.items):
        if item_role(item) == "user" and isinstance(item, dict):
            content = item.get("content")
            if isinstance(content, list):
                said = [b for b in content if not _reminder(b)]
                content = said or content
            text = content_text(content)
            if text:
                return text
    return ""


def _reminder(block: object) -> bool:
    text = block.get("text") if isinstance(block, dict) else None
    return isinstance(text, str) and text.lstrip().startswith("<system-reminder>")
