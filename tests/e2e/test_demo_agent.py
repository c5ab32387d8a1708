"""The demo's `demo-agent` plays a coding agent's model: the official SDK runs an agent loop
through the real worker (no fake provider, no key), and the session reads as three turns with
tool calls and prompt-cache reads."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from relayscope.actions.demo_session import INSTRUCTIONS, TOOL_OUTPUTS, TOOLS, USER_TURNS
from tests.support.worker import ROOT, WorkerProcess


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WorkerProcess, openai.OpenAI]]:
    # No config: the demo only. A loaded machine can take more than 20 s to start it.
    worker = WorkerProcess(tmp_path_factory.mktemp("agent")).start(timeout=60)
    try:
        with openai.OpenAI(base_url=worker.base_url, api_key="x", max_retries=0) as client:
            yield worker, client
    finally:
        worker.stop()


def relayscope(worker: WorkerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "relayscope", args[0], "--db", str(worker.db_path), *args[1:]]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)


def session_rows(worker: WorkerProcess, session_id: str, count: int) -> list[dict[str, Any]]:
    rows = worker.wait_for_calls(count, timeout=20)
    return [r for r in rows if r["session_id"] == session_id]


def test_an_sdk_agent_session_has_turns_tool_calls_and_cache_reads(
    demo: tuple[WorkerProcess, openai.OpenAI],
) -> None:
    worker, client = demo
    before = len(worker.wait_for_calls(0))
    session_id = str(uuid.uuid4())
    items: list[Any] = []
    answers: list[str] = []
    for text in USER_TURNS:
        items.append({"role": "user", "content": text})
        while True:
            with client.responses.stream(
                model="demo-agent",
                instructions=INSTRUCTIONS,
                tools=TOOLS,  # type: ignore[arg-type]
                input=items,
                extra_headers={"session_id": session_id},
            ) as stream:
                final = stream.get_final_response()
            calls = [item for item in final.output if item.type == "function_call"]
            if not calls:
                answers.append(final.output_text)
                items.append({"role": "assistant", "content": final.output_text})
                break
            for call in calls:
                command = json.loads(call.arguments)["cmd"]
                items.append(
                    {
                        "type": "function_call",
                        "call_id": call.call_id,
                        "name": call.name,
                        "arguments": call.arguments,
                    }
                )
                items.append(
                    {
                        "type": "function_call_output",
                        "call_id": call.call_id,
                        "output": TOOL_OUTPUTS[command],
                    }
                )
    # Listing files and running the tests each took a tool call; the last turn is talk.
    assert "40 passed" in answers[1] and "README.md" in answers[0]
    rows = session_rows(worker, session_id, before + 5)
    assert len(rows) == 5
    assert [bool(r["tool_calls"]) for r in rows] == [True, False, True, False, False]
    assert (
        "exec_command" in rows[0]["tool_calls"] and '\\"cmd\\": \\"ls\\"' in rows[0]["tool_calls"]
    )
    cached = [r["cached_tokens"] for r in rows]
    assert cached[0] == 0  # nothing seen before: a cache miss
    assert all(c > 0 for c in cached[1:])  # every later request repeats the one before
    assert all(r["cached_tokens"] <= r["prompt_tokens"] for r in rows)

    report = relayscope(worker, "session", session_id, "--json")
    assert report.returncode == 0, report.stderr
    session = json.loads(report.stdout)
    assert session["turns"] and len(session["turns"]) == 3
    assert session["calls"] == 5 and session["cache_hit_rate"] > 0
    turn_rates = [turn["cache_hit_rate"] for turn in session["turns"]]
    assert turn_rates[1] > 0 and turn_rates[2] > 0
    assert [turn["new_input"] for turn in session["turns"]] == list(USER_TURNS)


def test_chat_completions_tool_calls_stream_and_cache_too(
    demo: tuple[WorkerProcess, openai.OpenAI],
) -> None:
    _, client = demo
    tools: Any = [
        {
            "type": "function",
            "function": {
                "name": "exec_command",
                "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
            },
        }
    ]
    messages: list[Any] = [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": "Run the tests, please."},
    ]
    first = client.chat.completions.create(model="demo-agent", messages=messages, tools=tools)
    (call,) = first.choices[0].message.tool_calls or []
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "exec_command"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"cmd": "pytest -q"}  # type: ignore[union-attr]
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "3 passed"},
    ]
    chunks = list(
        client.chat.completions.create(
            model="demo-agent",
            messages=messages,
            tools=tools,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "3 passed" in text
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens
    assert 0 < usage.prompt_tokens_details.cached_tokens <= usage.prompt_tokens


def test_relayscope_demo_session_plays_the_session_for_a_newcomer(
    demo: tuple[WorkerProcess, openai.OpenAI],
) -> None:
    worker, _ = demo
    before = len(worker.wait_for_calls(0))
    done = relayscope(worker, "demo-session", "--url", worker.base_url)
    assert done.returncode == 0, done.stderr
    assert "turn 1 · call 1: demo-agent calls exec_command" in done.stdout
    session_id = done.stdout.rsplit("relayscope session ", 1)[1].strip()
    assert f"session {session_id}: 3 turns, 5 calls, 2 tool calls." in done.stdout
    assert len(session_rows(worker, session_id, before + 5)) == 5
    listed = relayscope(worker, "sessions", "--json")
    assert listed.returncode == 0, listed.stderr
    sessions = {s["id"]: s for s in map(json.loads, listed.stdout.splitlines())}
    assert sessions[session_id]["turns"] == 3
    assert sessions[session_id]["client"] == "relayscope-demo-agent/1"
    assert sessions[session_id]["cache_hit_rate"] > 0
    assert sessions[session_id]["tokens"]["cached"] > 0
    # A newcomer sees what the session cost, at the demo's own price, labelled as such.
    cost = sessions[session_id]["cost"]
    assert (cost["priced_calls"], cost["unknown_calls"]) == (5, 0) and cost["usd"] > 0
    rows = session_rows(worker, session_id, before + 5)
    shown = json.loads(relayscope(worker, "show", rows[0]["id"], "--json").stdout)
    assert shown["cost"]["basis"].startswith("demo pricing, not a real price")
