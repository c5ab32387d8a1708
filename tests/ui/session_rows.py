"""A realistic Codex session as recorded rows: tool round trips, a retry, a pause longer than
the prompt cache's lifetime, changed instructions, and a compaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

SESSION = "0199f3c1-7a2e-codex"
INSTRUCTIONS = (
    "You are Codex, a coding agent running in the user's terminal. Keep changes minimal, run "
    "the tests after each change, and explain what you did. " * 40
)
TOOLS = [
    {
        "type": "function",
        "name": "exec_command",
        "description": "Run a shell command in the workspace and return its output",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
    },
    {
        "type": "function",
        "name": "apply_patch",
        "description": "Apply a unified diff to files in the workspace",
        "parameters": {"type": "object", "properties": {"patch": {"type": "string"}}},
    },
]
PYTEST_OUTPUT = (
    "============================= test session starts ==============================\n"
    "collected 48 items\n\ntests/test_parser.py ......F.........\n\n"
    "FAILED tests/test_parser.py::test_empty_header - KeyError: 'content-type'\n"
) * 12


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "input_text", "text": text}]}


def _call(name: str, args: str, call_id: str) -> dict[str, Any]:
    return {"type": "function_call", "name": name, "arguments": args, "call_id": call_id}


def _output(call_id: str, text: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": text}


def _assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "output_text", "text": text}]}


def codex_session(start: datetime | None = None) -> list[dict[str, Any]]:
    """Five turns, ten calls, as the worker records a Codex session through Relayscope."""
    start = start or datetime.now(UTC) - timedelta(minutes=30)
    steps: list[tuple[str, float, list[dict[str, Any]], str, dict[str, Any]]] = []
    history = [_user("Fix the failing test in tests/test_parser.py")]
    add = steps.append
    add(("turn-1", 0, list(history), INSTRUCTIONS, {}))
    history += [_call("exec_command", '{"cmd":"pytest tests/test_parser.py -x"}', "c1")]
    history += [_output("c1", PYTEST_OUTPUT)]
    add(("turn-1", 9, list(history), INSTRUCTIONS, {}))
    history += [_call("apply_patch", '{"patch":"--- a/parser.py\\n+++ b/parser.py"}', "c2")]
    history += [_output("c2", "Done: 1 file changed")]
    add(("turn-1", 21, list(history), INSTRUCTIONS, {}))
    history += [_assistant("The header parser assumed a content-type; it now defaults it.")]
    history += [_user("Also add a test for an empty body")]
    add(("turn-2", 60, list(history), INSTRUCTIONS, {"state": "interrupted", "status": 200}))
    add(("turn-2", 64, list(history), INSTRUCTIONS, {}))  # the retry
    history += [_call("exec_command", '{"cmd":"pytest -q"}', "c3"), _output("c3", "48 passed")]
    add(("turn-2", 80, list(history), INSTRUCTIONS, {}))
    # Turn 3 after a coffee break: 7 minutes, longer than the cache keeps a prefix.
    history += [_assistant("Added test_empty_body; all 48 tests pass."), _user("Run mypy too")]
    add(("turn-3", 80 + 7 * 60 + 20, list(history), INSTRUCTIONS, {}))
    history += [_call("exec_command", '{"cmd":"mypy"}', "c4"), _output("c4", "Success")]
    add(("turn-3", 80 + 7 * 60 + 31, list(history), INSTRUCTIONS, {}))
    # Turn 4: the agent put today's date in its instructions: nothing can be reused.
    history += [_assistant("mypy is clean."), _user("Commit it with a good message")]
    dated = "Current date: 2026-12-02. " + INSTRUCTIONS
    add(("turn-4", 80 + 9 * 60, list(history), dated, {}))
    # Turn 5: the history was compacted into a summary.
    summary = _user("Summary of the work so far: fixed the parser, added a test, committed.")
    add(("turn-5", 80 + 10 * 60, [summary, _user("Now open a pull request")], dated, {}))
    return _rows(start, steps)


def _rows(
    start: datetime, steps: list[tuple[str, float, list[dict[str, Any]], str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    previous: tuple[str, int, float] | None = None  # prefix text, tokens, end time
    for index, (turn, at, items, instructions, extra) in enumerate(steps):
        started = start + timedelta(seconds=at)
        body = {
            "model": "gpt-5.2",
            "instructions": instructions,
            "tools": TOOLS,
            "input": items,
            "stream": True,
        }
        text = json.dumps(body)
        prompt = len(text) // 4
        cached = 0
        if previous is not None and at - previous[2] < 300:
            # A provider caches the prefix shared with the previous request, in 128-token steps.
            cached = _shared_prefix(previous[0], text) // 4 // 128 * 128
        duration = 2400.0 + 700 * (index % 3)
        output = 120 + 37 * index
        row = {
            "id": f"{int(started.timestamp() * 1000):012x}-{index:08x}",
            "started_at": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "method": "POST",
            "path": "/v1/responses",
            "endpoint": "responses",
            "provider": "openai",
            "model": "gpt-5.2",
            "stream": 1,
            "status": 200,
            "state": "complete",
            "request_body": text,
            "output_text": "",
            "prompt_tokens": prompt,
            "cached_tokens": cached,
            "completion_tokens": output,
            "reasoning_tokens": output // 3,
            "total_tokens": prompt + output,
            "ttft_ms": 640.0 + 30 * index,
            "duration_ms": duration,
            "chunk_count": 0,
            "client": "codex_cli_rs/0.171.0",
            "session_id": SESSION,
            "turn_id": turn,
        }
        row.update(extra)
        rows.append(row)
        previous = (text, prompt, at + duration / 1000)
    return rows


def _shared_prefix(a: str, b: str) -> int:
    """Characters at the start of `a` and `b` that are the same."""
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))


def long_session(turns: int, start: datetime | None = None) -> list[dict[str, Any]]:
    """A session of `turns` turns of one call each, its history growing every turn."""
    start = start or datetime.now(UTC) - timedelta(hours=3)
    history: list[dict[str, Any]] = []
    steps = []
    for turn in range(turns):
        history += [_user(f"Step {turn}: rename the next helper and run the tests")]
        steps.append((f"long-{turn}", turn * 20.0, list(history), INSTRUCTIONS, {}))
        history += [_assistant(f"Renamed helper {turn}; 48 passed.")]
    rows = _rows(start, steps)
    for row in rows:
        row["session_id"] = "long-session"
        row["id"] = row["id"][:-8] + "1" + row["id"][-7:]
    return rows
