"""A Claude Code-shaped session recorded through the real worker with the anthropic SDK: its
system prompt as context, a tool loop in one turn, a sub-agent run by a Task tool call with
its own system prompt and tools, a helper call, and a request resent after a 500 — read back
by `relayscope session --json` as two turns, and exported as OpenAI fine-tuning examples."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.fakes.provider import FakeProvider
from tests.support.worker import ROOT, WorkerProcess

SESSION = "5f0c1d2e-claude-code-session"
SYSTEM = [
    {"type": "text", "text": "You are Claude Code, Anthropic's CLI for coding. Be concise."},
    {"type": "text", "text": "Here is useful information about the project: " + "x " * 400},
]
SUB_SYSTEM = "You are a file search specialist for Claude Code."
TASK: dict[str, Any] = {  # the fake model fills the first required property with "test"
    "name": "Task",
    "description": "Launch a new agent to handle a task",
    "input_schema": {
        "type": "object",
        "properties": {"prompt": {"type": "string"}, "description": {"type": "string"}},
        "required": ["prompt"],
    },
}
BASH: dict[str, Any] = {
    "name": "Bash",
    "description": "Run a shell command",
    "input_schema": {
        "type": "object",
        "properties": {"command": {"type": "string"}},
        "required": ["command"],
    },
}


def _send(
    client: anthropic.Anthropic,
    messages: list[dict[str, Any]],
    *,
    system: Any = SYSTEM,
    tools: list[dict[str, Any]] | None = None,
    fail: bool = False,
) -> list[dict[str, Any]]:
    """One streamed call as Claude Code makes it; the answer's content blocks."""
    headers = {"X-Claude-Code-Session-Id": SESSION}
    tools = tools if tools is not None else [TASK, BASH]
    if fail:
        headers["x-fake-scenario"] = "fail-500"
    with client.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=1000,
        system=system,
        tools=tools,  # type: ignore[arg-type]
        messages=messages,  # type: ignore[arg-type]
        extra_headers=headers,
    ) as stream:
        final = stream.get_final_message()
    return [block.model_dump(exclude_none=True) for block in final.content]


def _user(text: str) -> dict[str, Any]:
    reminder = "<system-reminder>\nThe date is 2026-12-02.\n</system-reminder>"
    return {
        "role": "user",
        "content": [{"type": "text", "text": reminder}, {"type": "text", "text": text}],
    }


def _result(blocks: list[dict[str, Any]], output: str) -> dict[str, Any]:
    (use,) = [b for b in blocks if b["type"] == "tool_use"]
    return {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": use["id"], "content": output}],
    }


def _record(client: anthropic.Anthropic) -> None:
    # Turn 1: the model starts a sub-agent (Task); the sub-agent runs Bash in its own
    # conversation; its report goes back to the main conversation, which answers.
    history = [_user("Where is the config read?")]
    task = _send(client, history)
    history += [{"role": "assistant", "content": task}]
    (use,) = [b for b in task if b["type"] == "tool_use"]
    sub = [{"role": "user", "content": use["input"]["prompt"]}]
    ran = _send(client, sub, system=SUB_SYSTEM, tools=[BASH])
    sub += [{"role": "assistant", "content": ran}, _result(ran, "relayscope.config.__init__")]
    report = _send(client, sub, system=SUB_SYSTEM, tools=[BASH])
    history.append(_result(task, report[0]["text"]))
    answer = _send(client, history)
    # Turn 2: a new question; the first try fails (500) and is resent as it was; before the
    # tool runs, a helper call without tools names the command's prefix.
    history += [{"role": "assistant", "content": answer}, _user("Now run the tests.")]
    with pytest.raises(anthropic.InternalServerError):
        _send(client, history, fail=True)
    tool = _send(client, history)
    _send(client, [{"role": "user", "content": "Command: pytest -q"}], system="Prefixes", tools=[])
    _send(client, [*history, {"role": "assistant", "content": tool}, _result(tool, "3 passed")])


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    tmp = tmp_path_factory.mktemp("claude_code_session")
    with FakeProvider(name="anthropic") as fake:
        config = (
            f'[[providers]]\nname = "anthropic"\nbase_url = "{fake.base_url}"\ndefault = true\n'
        )
        worker = WorkerProcess(tmp, config).start(timeout=60)  # a loaded machine starts slowly
        try:
            base_url = worker.base_url.removesuffix("/v1")
            with anthropic.Anthropic(base_url=base_url, api_key="x", max_retries=0) as client:
                _record(client)
            worker.wait_for_calls(8, timeout=30)
        finally:
            worker.stop()
    yield worker.db_path


def _session(db: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "relayscope", "session", SESSION, "--json", "--db", str(db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_a_claude_code_session_is_two_turns_with_its_sub_agent_inside_the_first(
    recorded: Path,
) -> None:
    report = _session(recorded)
    assert (report["turns"] and len(report["turns"]), report["calls"]) == (2, 8)
    first, second = report["turns"]
    assert [c["side"] for c in first["calls"]] == [None, "sub-agent: test", "sub-agent: test", None]
    assert first["new_input"] == "Where is the config read?"  # the reminder left out
    assert second["new_input"] == "Now run the tests."
    # The system prompt is counted as system/instructions, the sub-agent's report as tool output.
    assert first["context_chars"]["system"] > 800
    assert first["context_chars"]["tool_output"] > 0
    calls = second["calls"]
    assert [c["status"] for c in calls] == [500, 200, 200, 200]
    assert [c["retry"] for c in calls] == [False, True, False, False]
    assert calls[1]["retry_after"] == "HTTP 500"
    assert [c["side"] for c in calls] == [None, None, "side call: Command: pytest -q", None]
    assert report["cost"]["priced_calls"] == 7  # every answered call; the 500 reported no usage


def test_the_fine_tuning_export_converts_the_messages_calls(recorded: Path, tmp_path: Path) -> None:
    out = tmp_path / "train.jsonl"
    command = ["export", "--db", str(recorded), "--format", "finetune", "-o", str(out)]
    result = subprocess.run(
        [sys.executable, "-m", "relayscope", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "skipped 1 (1 failed or interrupted)" in result.stderr  # the 500
    examples = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(examples) == 7
    first = examples[0]
    assert first["messages"][0]["role"] == "system"
    assert first["messages"][0]["content"].startswith("You are Claude Code")
    assert [t["function"]["name"] for t in first["tools"]] == ["Task", "Bash"]
    (task,) = first["messages"][-1]["tool_calls"]
    assert task["function"]["name"] == "Task" and json.loads(task["function"]["arguments"])
    # The main conversation's answer after the sub-agent: its report came back as a tool message.
    tool_messages = [m for m in examples[3]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == [task["id"]]
