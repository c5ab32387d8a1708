"""A small coding-agent session played against the demo provider's `demo-agent` model.

Three turns through the proxy, as an agent sends them over the Responses API: each request
carries the same instructions and tools and the whole conversation so far, so the demo's
prompt cache reports cached input from the second request on. Asked to list files and run
the tests, the model calls `exec_command`; this player answers with canned outputs (it never
runs a command) and sends the next request, like an agent loop. The calls share one
`session_id` header, so `relayscope sessions` and the app's session view show one session
of three turns with its tool calls and cache reads.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from relayscope.protocols.openai_format import Assembled, StreamAssembler
from relayscope.protocols.sse import SSEDecoder
from relayscope.routing import routes as routing
from relayscope.routing.routes import CALL_ID_HEADER

MODEL = "demo-agent"
USER_TURNS = (
    "List the files in this project.",
    "Run the tests and tell me whether they pass.",
    "Thanks! Sum up what you found in one sentence.",
)
#: What the "workspace" prints for each command the model may ask for (nothing is run).
TOOL_OUTPUTS = {
    "ls": "README.md\napp\ndocs\npyproject.toml\ntests",
    "pytest -q": "........................................ [100%]\n40 passed in 1.92s",
    "git status --short": " M relayscope.analysis.cost",
}
TOOLS = [
    {
        "type": "function",
        "name": "exec_command",
        "description": "Run a shell command in the workspace and return what it printed.",
        "parameters": {
            "type": "object",
            "properties": {"cmd": {"type": "string", "description": "the command line"}},
            "required": ["cmd"],
            "additionalProperties": False,
        },
        "strict": True,
    }
]
# An agent's instructions are long (Codex sends about 20 KB): long enough to be cached.
INSTRUCTIONS = "You are a careful coding agent working in the user's repository.\n" + "\n".join(
    f"{n}. {rule}"
    for n, rule in enumerate(
        [
            "Read the relevant files before you change anything, and keep changes small.",
            "Run the project's tests after every change and report what they printed.",
            "Use exec_command for shell commands; never guess what a command would print.",
            "Explain what you did in a few plain sentences, naming the files you touched.",
            "Ask before deleting files, rewriting history or installing packages.",
            "Prefer the project's own scripts and settings over your own conventions.",
            "When a command fails, read its output and fix the cause instead of retrying.",
            "Keep secrets out of logs, commits and answers.",
        ]
        * 12,
        start=1,
    )
)
#: Called after each call with (turn number, call number, the answer).
OnCall = Callable[[int, int, Assembled], None]


class DemoSessionError(Exception):
    """The proxy could not be reached or answered with an error; the message says which."""


@dataclass(slots=True)
class DemoSessionResult:
    session_id: str
    call_ids: list[str] = field(default_factory=list)
    tool_calls: int = 0
    turns: int = 0


def play(
    base_url: str,
    *,
    headers: list[tuple[str, str]] | None = None,
    on_call: OnCall | None = None,
    timeout: float = 60.0,
    transport: httpx.BaseTransport | None = None,
) -> DemoSessionResult:
    """Play the three turns through the proxy at `base_url` (blocking: a few seconds)."""
    result = DemoSessionResult(session_id=str(uuid.uuid4()))
    items: list[dict[str, Any]] = []
    sent = [
        ("authorization", "Bearer demo"),
        ("session_id", result.session_id),
        ("user-agent", "relayscope-demo-agent/1"),
        *(headers or []),
    ]
    with httpx.Client(timeout=timeout, transport=transport, headers=sent) as client:
        for turn, text in enumerate(USER_TURNS, start=1):
            items.append({"role": "user", "content": text})
            for _ in range(4):  # a model that keeps calling tools is stopped after four calls
                answer, call_id = _send(client, base_url, items)
                result.call_ids.append(call_id)
                if on_call is not None:
                    on_call(turn, len(result.call_ids), answer)
                if not answer.tool_calls:
                    items.append({"role": "assistant", "content": answer.output_text})
                    break
                result.tool_calls += len(answer.tool_calls)
                items.extend(_tool_round(answer))
            result.turns = turn
    return result


def _send(
    client: httpx.Client, base_url: str, items: list[dict[str, Any]]
) -> tuple[Assembled, str]:
    body = {
        "model": MODEL,
        "instructions": INSTRUCTIONS,
        "tools": TOOLS,
        "input": items,
        "stream": True,
        "store": False,
    }
    call_id = routing.new_call_id()  # chosen up front: the proxy records it under this id
    url = base_url.rstrip("/") + "/responses"
    assembler, decoder = StreamAssembler("responses"), SSEDecoder()
    try:
        with client.stream("POST", url, json=body, headers={CALL_ID_HEADER: call_id}) as reply:
            if reply.status_code != 200:
                reply.read()
                problem = reply.text[:300]
                raise DemoSessionError(f"the proxy answered {reply.status_code}: {problem}")
            for chunk in reply.iter_raw():
                for event in decoder.feed(chunk):
                    assembler.feed(event.data, event.event)
    except httpx.HTTPError as exc:
        raise DemoSessionError(f"could not reach the proxy at {base_url} ({exc})") from exc
    return assembler.result(), call_id


def _tool_round(answer: Assembled) -> list[dict[str, Any]]:
    """The model's function calls and their (canned) outputs, as the next request's items."""
    out: list[dict[str, Any]] = []
    for call in answer.tool_calls:
        function = call.get("function") or {}
        name, arguments = str(function.get("name") or ""), str(function.get("arguments") or "")
        try:
            command = str(json.loads(arguments).get("cmd", ""))
        except (ValueError, AttributeError):
            command = ""
        output = TOOL_OUTPUTS.get(command, f"{command}: command not found")
        call_id = str(call.get("id") or "")
        out.append(
            {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}
        )
        out.append({"type": "function_call_output", "call_id": call_id, "output": output})
    return out
