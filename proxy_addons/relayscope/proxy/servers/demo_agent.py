"""The demo provider's `demo-agent` model: a coding agent's answers and a prompt cache.

Asked to do something it has a tool for (list files, run tests, show status), it calls the
request's first function tool (`exec_command`) with JSON arguments; given the tool's output,
it answers with text. `PromptCache` reports cached input tokens the way OpenAI's prompt
cache does: the longest prefix of the prompt (model, instructions, tools, then each item)
already seen in a recent request, in 128-token blocks from 1,024 tokens on. So a newcomer's
demo session shows turns, tool calls and cache reads without a key.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from relayscope.protocols.conversation import content_text
from relayscope.protocols.prompts import Prompt, item_role, tool_results

AGENT_MODEL = "demo-agent"
#: (words in the request → the command the agent runs), first match wins.
_COMMANDS = (
    (("test", "tests", "pytest"), "pytest -q"),
    (("list", "files", "ls"), "ls"),
    (("status", "changed", "diff"), "git status --short"),
)
_CACHE_BLOCK = 128  # tokens: OpenAI caches prompts in 128-token steps
_CACHE_MINIMUM = 1024  # tokens: shorter prompts are never cached
_CHARS_PER_TOKEN = 4


@dataclass(frozen=True, slots=True)
class AgentStep:
    """What the agent does next: call a tool (name, JSON arguments) or answer with text."""

    tool: str | None
    arguments: str
    text: str


def next_step(prompt: Prompt, tools: object) -> AgentStep:
    last = prompt.items[-1] if prompt.items else {}
    if item_role(last) == "tool_output":
        return AgentStep(None, "", _answer_from(_tool_output(last)))
    asked = content_text(last.get("content")) if isinstance(last, dict) else str(last)
    words = {w.strip(".,!?:;").lower() for w in asked.split()}
    tool = _first_function_tool(tools)
    command = next((cmd for keys, cmd in _COMMANDS if words & set(keys)), None)
    if tool is not None and command is not None:
        return AgentStep(tool, json.dumps({"cmd": command}), "")
    return AgentStep(
        None,
        "",
        "Done for now: I listed the project's files and ran its tests, which passed. "
        "Ask me to run another command whenever you like.",
    )


def _first_function_tool(tools: object) -> str | None:
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict) and tool.get("type") == "function":
            # Responses tools carry `name`; chat tools carry `function.name`.
            function = tool.get("function")
            name = tool.get("name") or (function.get("name") if isinstance(function, dict) else "")
            if name:
                return str(name)
    return None


def _tool_output(item: Any) -> str:
    if not isinstance(item, dict):
        return ""
    results = tool_results(item)  # a Messages user message of tool_result blocks
    if results:
        return "\n".join(_tool_output(result) for result in results)
    output = item.get("output", item.get("content"))
    return output if isinstance(output, str) else content_text(output)


def _answer_from(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    if not lines:
        return "The command printed nothing, so there is nothing to report."
    shown = "; ".join(lines[:4]) + ("; …" if len(lines) > 4 else "")
    return f"The command printed {len(lines)} line{'s' if len(lines) != 1 else ''}: {shown}"


class PromptCache:
    """Recent prompts' prefixes (by hash), to say how much of a new prompt was cached."""

    def __init__(self, size: int = 4096) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def tokens(self, prompt: Prompt) -> tuple[int, int]:
        """(input tokens, cached input tokens) of `prompt`, which is then remembered."""
        digest = hashlib.sha256()
        chars = cached_chars = 0
        keys = []
        for _, text in prompt.segments():
            digest.update(text.encode("utf-8", "replace") + b"\0")
            chars += len(text)
            key = digest.hexdigest()
            if key in self._seen:
                cached_chars = chars
            keys.append(key)
        for key in keys:
            self._seen[key] = None
            self._seen.move_to_end(key)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)
        total = max(1, chars // _CHARS_PER_TOKEN)
        cached = cached_chars // _CHARS_PER_TOKEN // _CACHE_BLOCK * _CACHE_BLOCK
        return total, min(cached, total) if cached >= _CACHE_MINIMUM else 0
