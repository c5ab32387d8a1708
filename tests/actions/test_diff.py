"""Tests for relayscope.actions.diff: structural request diff, word diff of answers, usage and timing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from relayscope.actions.diff import (
    MessageChange,
    ValueChange,
    WordSpan,
    diff_as_json,
    diff_calls,
    format_unified,
    render_words,
    word_diff,
)

DEVELOPER = "You are Codex, a coding agent. " * 200  # Codex's system prompt is ~40 KB
TOOLS = [
    {
        "type": "function",
        "name": "exec_command",
        "description": "Runs a command in a PTY.",
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {"cmd": {"type": "string"}, "workdir": {"type": "string"}},
            "required": ["cmd"],
        },
    },
    {"type": "web_search"},
]


def message(role: str, text: str) -> dict[str, Any]:
    kind = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}


def codex_body(items: list[dict[str, Any]], metadata: dict[str, str]) -> dict[str, Any]:
    return {
        "model": "gpt-5.2",
        "input": items,
        "tools": TOOLS,
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "019a3f2c-5b1e-7c1d-9e3f-0123456789ab",
        "client_metadata": metadata,
    }


FIRST_ITEMS = [
    message("developer", DEVELOPER),
    message("user", "<environment_context><cwd>/work/app</cwd></environment_context>"),
    message("user", "RUN: ls"),
]
FUNCTION_CALL = {
    "type": "function_call",
    "name": "exec_command",
    "arguments": '{"cmd":"ls"}',
    "call_id": "call_1",
}
FUNCTION_OUTPUT = {"type": "function_call_output", "call_id": "call_1", "output": "README.md\napp"}
NEW_USER = message("user", "now count them")
METADATA = {
    "x-codex-installation-id": "5f0c",
    "x-codex-window-id": "w-1",
    "x-codex-turn-metadata": '{"turn":1}',
    "originator": "codex_exec",
}


def row(call_id: str, body: dict[str, Any] | str, **fields: Any) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return {"id": call_id, "request_body": text, "endpoint": "responses", **fields}


def codex_turns() -> tuple[dict[str, Any], dict[str, Any]]:
    first = codex_body(FIRST_ITEMS, METADATA)
    reordered = dict(reversed(list(METADATA.items())))  # Codex serialises these in any order
    second = codex_body([*FIRST_ITEMS, FUNCTION_CALL, FUNCTION_OUTPUT, NEW_USER], reordered)
    assert json.dumps(first["client_metadata"]) != json.dumps(second["client_metadata"])
    return row("a1", first), row("b2", second)


# --- request ----------------------------------------------------------------------------------


def test_consecutive_codex_calls_show_just_what_was_added() -> None:
    a, b = codex_turns()
    request = diff_calls(a, b).request
    assert request.messages_key == "input"
    assert (request.count_a, request.count_b, request.unchanged_prefix) == (3, 6, 3)
    assert request.messages == (
        MessageChange("added", None, 3, "function_call", None, FUNCTION_CALL, "exec_command"),
        MessageChange("added", None, 4, "function_call_output", None, FUNCTION_OUTPUT),
        MessageChange("added", None, 5, "user", None, NEW_USER),
    )
    assert request.params == ()  # client_metadata's key order is noise, not a change


def test_the_terminal_diff_of_codex_calls_shows_the_new_items_and_not_the_history() -> None:
    a, b = codex_turns()
    text = format_unified(diff_calls(a, b))
    assert "input: 3 → 6; the first 3 unchanged" in text
    assert "+ [3] function_call exec_command" in text
    assert "+ [5] user" in text
    added = [line for line in text.splitlines() if line.startswith("+") and "+++" not in line]
    assert any('"now count them"' in line for line in added)
    assert not any("x-codex" in line for line in added)  # no key-order noise
    assert DEVELOPER not in text  # the history is context at most, and cut short


def test_key_order_alone_is_no_difference() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2}
    shuffled = '{"temperature": 0.2, "messages": [{"content": "hi", "role": "user"}], "model": "m"}'
    diff = diff_calls(row("a", body), row("b", shuffled))
    assert diff.request.same
    assert "(identical bodies)" in format_unified(diff)


def test_parameters_are_added_removed_and_changed_with_old_and_new_values() -> None:
    messages = [{"role": "user", "content": "hi"}]
    a = {"model": "gpt-5.2", "messages": messages, "temperature": 0.2, "top_p": 1}
    b = {"model": "gpt-5.2-mini", "messages": messages, "temperature": 0.7, "max_tokens": 50}
    params = diff_calls(row("a", a), row("b", b)).request.params
    assert params == (
        ValueChange("max_tokens", "added", new=50),
        ValueChange("model", "changed", "gpt-5.2", "gpt-5.2-mini"),
        ValueChange("temperature", "changed", 0.2, 0.7),
        ValueChange("top_p", "removed", old=1),
    )


def test_a_changed_message_says_which_field_changed() -> None:
    a = {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    }
    b = {"messages": [{"role": "system", "content": "Be long."}, {"role": "user", "content": "hi"}]}
    (change,) = diff_calls(row("a", a), row("b", b)).request.messages
    assert (change.op, change.index_a, change.index_b, change.role) == ("changed", 0, 0, "system")
    assert change.fields == (ValueChange("content", "changed", "Be brief.", "Be long."),)


def test_removed_and_inserted_messages_keep_their_indexes() -> None:
    one, two, three = ({"role": "user", "content": t} for t in ("one", "two", "three"))
    reply = {"role": "assistant", "content": "ok"}
    diff = diff_calls(
        row("a", {"messages": [one, two, three]}), row("b", {"messages": [one, reply, three]})
    )
    assert [(c.op, c.index_a, c.index_b, c.role) for c in diff.request.messages] == [
        ("removed", 1, None, "user"),
        ("added", None, 1, "assistant"),
    ]


def test_bodies_that_are_not_json_are_compared_as_text() -> None:
    diff = diff_calls(row("a", "not json"), row("b", "not json either"))
    assert diff.request.messages == () and diff.request.params == ()
    assert not diff.request.same
    assert "+not json either" in format_unified(diff)


# --- answer -----------------------------------------------------------------------------------


def test_word_diff_marks_what_changed_word_by_word() -> None:
    spans = word_diff("Hello from fast (fake-1).", "Hello from slow (fake-1).")
    assert spans == [
        WordSpan("equal", "Hello from "),
        WordSpan("delete", "fast"),
        WordSpan("insert", "slow"),
        WordSpan("equal", " (fake-1)."),
    ]
    assert render_words(spans) == "Hello from [-fast-]{+slow+} (fake-1)."


def test_word_diff_spans_rebuild_both_texts() -> None:
    a, b = "one two three four\nfive", "one 2 three\nfive six"
    spans = word_diff(a, b)
    assert "".join(s.text for s in spans if s.op != "insert") == a
    assert "".join(s.text for s in spans if s.op != "delete") == b


def test_word_diff_of_an_appended_word_does_not_flag_the_last_word() -> None:
    assert word_diff("a b", "a b c") == [WordSpan("equal", "a b"), WordSpan("insert", " c")]


def test_word_diff_keeps_separate_changes_apart() -> None:
    spans = word_diff("one two three four", "one 2 three 4")
    assert render_words(spans) == "one [-two-]{+2+} three [-four-]{+4+}"


def test_word_diff_of_equal_texts_is_one_equal_span() -> None:
    assert word_diff("same text\nhere", "same text\nhere") == [WordSpan("equal", "same text\nhere")]
    assert word_diff("", "") == []


def test_tool_calls_are_compared_by_meaning_not_by_id_or_argument_key_order() -> None:
    def call(call_id: str, arguments: str) -> dict[str, Any]:
        return {
            "id": call_id,
            "type": "function",
            "function": {"name": "f", "arguments": arguments},
        }

    a = row("a", {}, tool_calls=json.dumps([call("call_1", '{"x": 1, "y": 2}')]))
    same = row("b", {}, tool_calls=json.dumps([call("call_9", '{"y": 2, "x": 1}')]))
    other = row("c", {}, tool_calls=json.dumps([call("call_9", '{"x": 3}')]))
    assert diff_calls(a, same).tool_calls == ()
    (change,) = diff_calls(a, other).tool_calls
    assert change.op == "changed"
    assert change.old and change.old["function"]["arguments"] == {"x": 1, "y": 2}
    assert change.new and change.new["function"]["arguments"] == {"x": 3}


# --- usage, timing, outcome -------------------------------------------------------------------


def test_usage_and_timing_give_old_new_and_delta() -> None:
    a = row("a", {}, prompt_tokens=10, completion_tokens=20, ttft_ms=100.0, duration_ms=1100.0)
    b = row("b", {}, prompt_tokens=12, completion_tokens=10, ttft_ms=50.0, duration_ms=550.0)
    a["stream"] = b["stream"] = 1  # tokens/s counts from the first token for streams
    chunks_a = [{"t_ms": t} for t in (100.0, 200.0, 300.0, 1100.0)]
    chunks_b = [{"t_ms": t} for t in (50.0, 60.0, 70.0)]
    diff = diff_calls(a, b, chunks_a, chunks_b)
    usage = {c.name: (c.old, c.new, c.delta) for c in diff.usage}
    assert usage["prompt_tokens"] == (10, 12, 2)
    assert usage["completion_tokens"] == (20, 10, -10)
    assert usage["cached_tokens"] == (None, None, None)
    timing = {c.name: (c.old, c.new, c.delta) for c in diff.timing}
    assert timing["ttft_ms"] == (100.0, 50.0, -50.0)
    assert timing["gap_median_ms"] == (100.0, 10.0, -90.0)
    assert timing["gap_max_ms"] == (800.0, 10.0, -790.0)
    assert timing["tokens_per_s"] == (pytest.approx(20.0), pytest.approx(20.0), pytest.approx(0.0))
    table = format_unified(diff)
    assert "prompt_tokens" in table and "+2" in table and "-790" in table


def test_outcome_lists_only_what_differs_in_the_terminal() -> None:
    a = row("a", {}, provider="fast", model="m", status=200, state="complete")
    b = row("b", {}, provider="slow", model="m", status=200, state="complete")
    diff = diff_calls(a, b)
    changed = [f.name for f in diff.outcome if f.changed]
    assert changed == ["provider"]
    assert "provider  fast → slow" in format_unified(diff)


def test_json_form_holds_the_changes_and_deltas() -> None:
    a, b = codex_turns()
    a.update(output_text="one two", prompt_tokens=5)
    b.update(output_text="one three", prompt_tokens=9)
    out = json.loads(json.dumps(diff_as_json(diff_calls(a, b))))
    assert [m["op"] for m in out["request"]["messages"]] == ["added"] * 3
    assert out["request"]["unchanged_prefix"] == 3
    assert out["answer"] == [
        {"op": "equal", "text": "one "},
        {"op": "delete", "text": "two"},
        {"op": "insert", "text": "three"},
    ]
    usage = {u["name"]: u for u in out["usage"]}
    assert usage["prompt_tokens"]["delta"] == 4
    assert "text_a" not in out["request"]
