"""Claude Code sessions (Anthropic Messages) from recorded rows: the top-level system, tool_result
turns, cache marks that move, sub-agents and helper calls beside the main conversation, and
retries after an error."""

from __future__ import annotations

import json
from typing import Any

from relayscope.analysis.cost import Pricer
from relayscope.analysis.sessions import analyse_session
from relayscope.protocols.prompts import Prompt, first_divergence, item_role, read_prompt

CLAUDE_CODE = "You are Claude Code. " * 300
SYSTEM: list[dict[str, Any]] = [
    {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1"},
    {"type": "text", "text": CLAUDE_CODE, "cache_control": {"type": "ephemeral"}},
]
SUB_SYSTEM = [{"type": "text", "text": "You are a file search specialist. " * 50}]
TOOLS = [
    {"name": "Task", "description": "Launch a sub-agent", "input_schema": {"type": "object"}},
    {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object"}},
]
SUB_TOOLS = TOOLS[1:]
REMINDER = {
    "type": "text",
    "text": "<system-reminder>\nContext: CLAUDE.md says…\n</system-reminder>",
}


def user(text: str, *, marked: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": text}
    if marked:
        block["cache_control"] = {"type": "ephemeral"}
    return {"role": "user", "content": [REMINDER, block]}


def tool_use(id_: str, name: str, given: dict[str, Any]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": id_, "name": name, "input": given}],
    }


def tool_result(id_: str, text: str) -> dict[str, Any]:
    return {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": id_, "content": text}],
    }


def said(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


_clock = iter(range(100))


def _call(messages: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    n = next(_clock)
    body = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 32000,
        "system": fields.pop("system", SYSTEM),
        "tools": fields.pop("tools", TOOLS),
        "messages": messages,
        "stream": True,
    }
    return {
        "id": f"m{n:02d}",
        "started_at": f"2026-12-01T10:{n // 60:02d}:{n % 60:02d}.000+00:00",
        "duration_ms": 500.0,
        "client": "claude-cli/2.1.332 (external, sdk-cli)",
        "model": "claude-sonnet-4-6",
        "status": fields.pop("status", 200),
        "request_body": json.dumps(body),
        "prompt_tokens": 3000,
        "completion_tokens": 20,
        "cached_tokens": fields.pop("cached", 2900),
        "cache_write_tokens": 50,
    } | fields


def _prompt(body: dict[str, Any]) -> Prompt:
    prompt = read_prompt(json.dumps(body))
    assert prompt is not None
    return prompt


def test_the_top_level_system_is_the_instructions_and_tool_results_are_tool_output() -> None:
    prompt = read_prompt(
        _call([user("hi"), tool_use("t1", "Bash", {}), tool_result("t1", "ok")])["request_body"]
    )
    assert prompt is not None and prompt.messages_api
    assert "You are Claude Code." in prompt.instructions
    assert "cache_control" not in prompt.instructions
    assert [item_role(i) for i in prompt.items] == ["user", "assistant", "tool_output"]
    plain = read_prompt(
        json.dumps(json.loads(_call([user("hi")])["request_body"]) | {"system": "x"})
    )
    assert plain is not None and plain.instructions == "x"
    assert first_divergence(prompt, plain) == "the system/instructions changed"
    # Anthropic reads tools before system: a changed block is named, the tools are the same.
    changed = json.loads(_call([user("hi")])["request_body"])
    changed["system"] = [SYSTEM[0], {"type": "text", "text": "You are Claude Code, today."}]
    assert first_divergence(prompt, _prompt(changed)) == (
        "the system/instructions changed (block 1)"
    )
    changed["tools"] = SUB_TOOLS
    assert first_divergence(prompt, _prompt(changed)) == ("the tool definitions changed")


def test_a_claude_code_session_turns_sub_agent_helper_and_retry() -> None:
    task = {"description": "Find the config loader", "prompt": "Find where config is loaded"}
    # Turn 1: a question, a Task tool call, the sub-agent's own loop, then the answer.
    q1 = [user("Where is the config read?", marked=True)]
    t1 = [*q1, tool_use("t1", "Task", task)]
    sub1 = [{"role": "user", "content": "Find where config is loaded"}]
    sub2 = [*sub1, tool_use("s1", "Bash", {"command": "grep -r config"}), tool_result("s1", "x")]
    back = [*t1, tool_result("t1", "relayscope.config.__init__")]
    # Turn 2: a new question; the first try fails with 529 and is resent as it was.
    q2 = [*back, said("In relayscope.config.__init__."), user("Thanks. Now run the tests.")]
    helper = [{"role": "user", "content": "Extract the command prefix: pytest -q"}]
    q2_tool = [*q2, tool_use("t2", "Bash", {"command": "pytest -q"}), tool_result("t2", "ok")]
    calls = [
        _call(q1),
        _call(sub1, system=SUB_SYSTEM, tools=SUB_TOOLS, cached=0),
        _call(sub2, system=SUB_SYSTEM, tools=SUB_TOOLS),
        _call(back),
        _call(q2, status=529, prompt_tokens=None, completion_tokens=None, cached=None),
        _call(q2),
        _call(helper, tools=[], system="Extract prefixes", cached=0),
        _call(q2_tool),
    ]
    report = analyse_session("cc", calls, Pricer())
    assert [[c.call["id"] for c in t.calls] for t in report.turns] == [
        [c["id"] for c in calls[:4]],
        [c["id"] for c in calls[4:]],
    ]
    sides = [c.side for t in report.turns for c in t.calls]
    assert sides == [
        "",
        "sub-agent: Find the config loader",
        "sub-agent: Find the config loader",
        "",
        "",
        "",
        "side call: Extract the command prefix: pytest -q",
        "",
    ]
    entries = report.calls
    assert [c.retry for c in entries] == [False] * 5 + [True, False, False]
    assert entries[5].retry_after == "HTTP 529"
    assert [t.new_input for t in report.turns] == [
        "Where is the config read?",
        "Thanks. Now run the tests.",
    ]
    # The system prompt counts as system/instructions; the sub-agent's calls fill no context.
    first = report.turns[0].context
    assert first["system"] > 6000 and first["tools"] > 0 and first["tool_output"] > 0
    # Moving cache marks and interleaved sub-agent calls are no cache miss.
    assert not any(c.cache_miss for c in entries)


def test_a_changed_system_prompt_is_the_cache_miss_of_a_messages_call() -> None:
    q1 = [user("hello", marked=True)]
    q2 = [user("hello"), said("hi"), user("and now?", marked=True)]
    changed = [SYSTEM[0], {"type": "text", "text": "Today is Tuesday. " + CLAUDE_CODE}]
    report = analyse_session("cc", [_call(q1), _call(q2, system=changed, cached=0)], Pricer())
    assert [len(t.calls) for t in report.turns] == [1, 1]
    assert report.turns[1].calls[0].cache_miss == (
        "the prompt diverged from the previous call's: the system/instructions changed (block 1)"
    )


def test_a_helper_call_before_the_first_turn_or_after_the_last_is_no_turn_of_its_own() -> None:
    quota = [{"role": "user", "content": "quota"}]
    q1 = [user("Fix the bug")]
    done = [*q1, said("Fixed."), user("Thanks")]
    title = [{"role": "user", "content": "Write a 5-word title for: Fix the bug"}]
    calls = [
        _call(quota, tools=[], system="", cached=0),
        _call(q1),
        _call(done),
        _call(title, tools=[], system="Titles", cached=0),
    ]
    report = analyse_session("cc", calls, Pricer())
    assert [[c.call["id"] for c in t.calls] for t in report.turns] == [
        [calls[0]["id"], calls[1]["id"]],
        [calls[2]["id"], calls[3]["id"]],
    ]
    assert [c.side for c in report.calls] == [
        "side call: quota",
        "",
        "",
        "side call: Write a 5-word title for: Fix the bug",
    ]
    assert report.turns[0].new_input == "Fix the bug"


def test_one_shot_calls_with_the_same_tools_are_turns_each() -> None:
    calls = [_call([user(f"question {n}")]) for n in range(3)]
    report = analyse_session("sdk", calls, Pricer())
    assert [len(t.calls) for t in report.turns] == [1, 1, 1]
    assert not any(c.side for c in report.calls)
