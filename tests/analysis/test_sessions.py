"""Sessions from recorded rows: chains, turns without ids, context parts, cache-miss causes."""

from __future__ import annotations

import json
from typing import Any

from relayscope.analysis.cost import Pricer
from relayscope.analysis.sessions import analyse_session, chains
from relayscope.protocols.prompts import first_divergence, read_prompt

SYSTEM = {"role": "system", "content": "be brief"}


def _call(n: int, messages: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    body = {"model": "gpt-5.2", "messages": messages} | fields.pop("body", {})
    return {
        "id": f"c{n}",
        "started_at": f"2026-12-01T10:00:{n:02d}.000+00:00",
        "duration_ms": 100.0,
        "client": "aider",
        "model": "gpt-5.2",
        "request_body": json.dumps(body),
        "prompt_tokens": 2000,
        "completion_tokens": 10,
        "cached_tokens": fields.pop("cached", 1900),
    } | fields


def test_chat_calls_are_chained_when_one_conversation_extends_another() -> None:
    q1 = [SYSTEM, {"role": "user", "content": "q1"}]
    a1 = [*q1, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "q2"}]
    other = [SYSTEM, {"role": "user", "content": "unrelated"}]
    calls = [_call(1, q1), _call(2, other), _call(3, a1), _call(4, q1, client="cline")]
    found = chains(calls)
    assert {k: [c["id"] for c in v] for k, v in found.items()} == {
        "chain-c1": ["c1", "c3"],
        "chain-c2": ["c2"],
        "chain-c4": ["c4"],  # another client's identical question is its own session
    }


def test_turns_without_ids_start_at_a_new_user_message() -> None:
    q1 = [SYSTEM, {"role": "user", "content": "fix the bug"}]
    call = {"id": "t1", "type": "function", "function": {"name": "run", "arguments": "{}"}}
    tool_round = [
        *q1,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "t1", "content": "ok"},
    ]
    q2 = [*tool_round, {"role": "assistant", "content": "fixed"}, {"role": "user", "content": "x"}]
    calls = [_call(1, q1), _call(2, tool_round), _call(3, tool_round), _call(4, q2)]
    report = analyse_session("chain-c1", calls, Pricer())
    assert [[c.call["id"] for c in t.calls] for t in report.turns] == [["c1", "c2", "c3"], ["c4"]]
    assert [c.retry for c in report.turns[0].calls] == [False, False, True]
    assert report.turns[0].new_input == "fix the bug"
    context = report.turns[0].context
    assert context["tool_output"] > 0 and context["assistant"] > 0 and context["new_input"] > 0


def test_images_are_counted_apart_and_a_shrunk_context_is_compacted() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 4000}}
    big = [SYSTEM, {"role": "user", "content": [{"type": "text", "text": "look"}, image]}]
    summary = [SYSTEM, {"role": "user", "content": "summary of before; now continue"}]
    report = analyse_session("s", [_call(1, big), _call(2, summary)], Pricer())
    assert len(report.turns) == 2  # the rewritten history holds a new user message
    assert report.turns[0].context["images"] > 4000
    assert report.turns[1].compacted


def test_what_diverged_model_instructions_tools_or_which_message() -> None:
    base = {"model": "gpt-5.2", "instructions": "a", "tools": [], "input": ["hi"]}

    def prompt(**changes: Any) -> Any:
        return read_prompt(json.dumps(base | changes))

    assert first_divergence(prompt(), prompt(input=["hi", "more"])) is None
    assert (
        first_divergence(prompt(), prompt(model="gpt-5")) == "the model changed (gpt-5.2 → gpt-5)"
    )
    assert first_divergence(prompt(), prompt(instructions="b")) == (
        "the system/instructions changed"
    )
    assert first_divergence(prompt(), prompt(tools=[{"type": "function"}])) == (
        "the tool definitions changed"
    )
    assert first_divergence(prompt(), prompt(input=[])) == (
        "the history was shortened from 1 to 0 items"
    )


def test_a_short_prompt_or_an_unreported_cache_is_no_finding() -> None:
    q1 = [{"role": "user", "content": "q1"}]
    q2 = [{"role": "user", "content": "other"}]
    short_calls = [_call(1, q1, prompt_tokens=50), _call(2, q2, cached=0, prompt_tokens=50)]
    short = analyse_session("s", short_calls, Pricer())
    assert all(not c.cache_miss for c in short.calls)
    unreported = analyse_session("s", [_call(1, q1), _call(2, q2, cached=None)], Pricer())
    assert unreported.turns[-1].cache_hit_rate is None
    assert all(not c.cache_miss for c in unreported.calls)
