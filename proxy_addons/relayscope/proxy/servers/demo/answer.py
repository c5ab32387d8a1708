"""What the demo provider says: its models, its canned answers and their timing, usage and
tool calls (`demo-agent` acts like a coding agent's model)."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from relayscope.protocols.conversation import turns
from relayscope.protocols.prompts import read_prompt
from relayscope.proxy.servers.demo_agent import AGENT_MODEL, PromptCache, next_step

DEMO_MODELS = ("demo-1", "demo-fast", AGENT_MODEL)
ANSWERS = (
    # Said to streamed and whole requests alike: the same request gets the same answer.
    "Hello from the Relayscope demo provider! Asked for a stream, this answer arrives in "
    "small chunks: the Stream tab shows each one, with the gap before it.",
    "Relayscope recorded this call: the request you sent, every chunk with its arrival "
    "time, and the usage figures below. Point your own client at the same base URL to see "
    "real traffic.",
    "Try replaying this call, or editing the prompt and sending it again. Every call made "
    "through Relayscope is recorded the same way, whoever sends it.",
)


def dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def count_tokens(text: str) -> int:
    return max(1, round(len(text) / 4))


class DemoAnswer:
    """What the demo model says to one request: text, pieces and usage figures."""

    def __init__(self, endpoint: str, body: dict[str, Any], model: str) -> None:
        conversation = turns(endpoint, json.dumps(body))
        last_user = next((t.text for t in reversed(conversation) if t.role == "user"), "")
        digest = int(hashlib.sha256(last_user.encode()).hexdigest(), 16)
        text = ANSWERS[digest % len(ANSWERS)]
        if last_user:
            text += f' You said: "{last_user[:200]}"'
        self.text = text
        self.model = model
        self.pieces = split_words(text)
        prompt = "\n".join(t.text for t in conversation)
        self.prompt_tokens = count_tokens(prompt) + 4 * len(conversation)
        self.completion_tokens = len(self.pieces)
        self.fast = model.endswith("fast")
        self.created = int(time.time())
        self.response_id = f"resp_demo{digest % 10**12:012d}{self.created}"
        self.tool: str | None = None  # demo-agent: the tool it calls, with these arguments
        self.arguments = ""
        self.call_id = f"call_demo{self.created}{digest % 10**6:06d}"
        self.cached_tokens: int | None = None

    def act_as_agent(self, body: dict[str, Any], cache: PromptCache) -> None:
        """Answer as `demo-agent`: a tool call or text, and usage with cache reads."""
        prompt = read_prompt(json.dumps(body))
        if prompt is None:
            return
        step = next_step(prompt, body.get("tools"))
        self.tool, self.arguments = step.tool, step.arguments
        if step.tool is None:
            self.text, self.pieces = step.text, split_words(step.text)
        else:
            self.text = ""
            args = step.arguments
            self.pieces = [args[i : i + 8] for i in range(0, len(args), 8)]
        self.prompt_tokens, self.cached_tokens = cache.tokens(prompt)
        self.completion_tokens = max(1, len(self.pieces))

    def delays(self) -> list[float]:
        """Seconds before each piece: a think before the first, a visible stall mid-way."""
        if self.fast:
            return [0.0] * len(self.pieces)
        gaps = [0.03 + 0.02 * (i % 3) for i in range(len(self.pieces))]
        gaps[0] = 0.25
        if len(gaps) > 12:
            gaps[len(gaps) // 2] = 0.6
        return gaps

    def usage(self) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }
        if self.cached_tokens is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        return usage

    def tool_call(self) -> dict[str, Any]:
        """The chat `tool_calls` entry."""
        return {
            "id": self.call_id,
            "type": "function",
            "function": {"name": self.tool, "arguments": self.arguments},
        }


def split_words(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
