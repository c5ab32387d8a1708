"""Sessions, turns, cost and the prompt cache, from sessions recorded through the real worker.

A Codex-style session (Responses API with Codex's `session-id` and `x-codex-turn-metadata`
headers, a tool round trip, a retry, then a changed system prompt) and a chat agent that
sends no ids, both driven with the openai SDK against the fake provider, whose prompt cache
reports the words of the prefix shared with the previous request as cached tokens.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest

from relayscope.analysis.cost import Pricer
from relayscope.analysis.sessions import analyse_session
from relayscope.store.call_store import CallStore
from tests.fakes.provider import RUN_PREFIX, FakeProvider
from tests.support.worker import ROOT, WorkerProcess

SESSION = "0199f1a2-codex-session"
# Long enough (1,200 words) that a provider caches it (OpenAI: prompts of 1,024 tokens+).
SYSTEM = "You are a careful coding agent. " + " ".join(f"rule{i}" for i in range(1200))
TOOLS = [
    {
        "type": "function",
        "name": "exec_command",
        "description": "Run a shell command",
        "parameters": {
            "type": "object",
            "properties": {"cmd": {"type": "string"}},
            "required": ["cmd"],
        },
    }
]


def _codex_call(
    client: openai.OpenAI, turn: str, items: list[dict[str, Any]], system: str = SYSTEM
) -> Any:
    stream = client.responses.create(
        model="gpt-5.2",
        input=[{"role": "developer", "content": system}, *items],  # type: ignore[list-item]
        tools=TOOLS,  # type: ignore[arg-type]
        stream=True,
        store=False,
        extra_headers={
            "session-id": SESSION,
            "x-codex-turn-metadata": json.dumps({"turn_id": turn}),
        },
    )
    final = None
    for event in stream:
        if event.type == "response.completed":
            final = event.response
    assert final is not None
    return final


def _output_items(response: Any) -> list[dict[str, Any]]:
    return [item.model_dump(exclude_none=True) for item in response.output]


def _record(client: openai.OpenAI) -> None:
    """Three turns of a Codex session, then a chat agent's two turns without ids."""
    # Turn 1: the model runs a command, then answers from its output.
    history: list[dict[str, Any]] = [{"role": "user", "content": f"{RUN_PREFIX} ls"}]
    first = _codex_call(client, "turn-1", history)
    history += _output_items(first)
    call_id = history[-1]["call_id"]
    history.append({"type": "function_call_output", "call_id": call_id, "output": "app tests"})
    done = _codex_call(client, "turn-1", history)
    # Turn 2: a new question; its request is sent twice (a retry after a dropped stream).
    history += _output_items(done)
    history.append({"role": "user", "content": f"{RUN_PREFIX} cat README.md"})
    _codex_call(client, "turn-2", history)
    again = _codex_call(client, "turn-2", history)
    history += _output_items(again)
    history.append({"type": "function_call_output", "call_id": call_id, "output": "# Readme"})
    second = _codex_call(client, "turn-2", history)
    # Turn 3: the agent rewrote its system prompt (a date line): the cache cannot be reused.
    history += _output_items(second)
    history.append({"role": "user", "content": "thanks, that is all"})
    _codex_call(client, "turn-3", history, system="Today is Tuesday. " + SYSTEM)

    # A chat agent without ids: two user turns, the second extending the first.
    chat = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "hello there"}]
    answer = client.chat.completions.create(model="gpt-5.2", messages=chat)  # type: ignore[arg-type]
    chat += [
        {"role": "assistant", "content": answer.choices[0].message.content},
        {"role": "user", "content": "and goodbye"},
    ]
    client.chat.completions.create(model="gpt-5.2", messages=chat)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    tmp = tmp_path_factory.mktemp("sessions")
    with FakeProvider(name="openai", prompt_cache=True) as fake:
        config = f'[[providers]]\nname = "openai"\nbase_url = "{fake.base_url}"\ndefault = true\n'
        worker = WorkerProcess(tmp, config).start(timeout=60)  # a loaded machine starts slowly
        try:
            with openai.OpenAI(base_url=worker.base_url, api_key="x", max_retries=0) as client:
                _record(client)
            worker.wait_for_calls(8, timeout=30)
        finally:
            worker.stop()
    yield worker.db_path


def relayscope(db: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "relayscope", *args, "--db", str(db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _rows(db: Path) -> list[dict[str, Any]]:
    store = CallStore(db, create=False)
    try:
        return store.list_calls(limit=100, descending=False)
    finally:
        store.close()


def _hand_cost(rows: list[dict[str, Any]]) -> Decimal:
    """gpt-5.2 list price: $1.75 per million uncached input, $0.175 cached, $14 output."""
    total = Decimal(0)
    for row in rows:
        cached = row["cached_tokens"] or 0
        total += (
            (row["prompt_tokens"] - cached) * Decimal("1.75")
            + cached * Decimal("0.175")
            + row["completion_tokens"] * Decimal(14)
        )
    return total / 1_000_000


def test_sessions_lists_the_codex_session_and_the_chat_chain(recorded: Path) -> None:
    rows = _rows(recorded)
    codex_rows = [r for r in rows if r["session_id"] == SESSION]
    chat_rows = [r for r in rows if r["session_id"] is None]
    assert len(codex_rows) == 6 and len(chat_rows) == 2
    listed = [json.loads(line) for line in relayscope(recorded, "sessions", "--json").splitlines()]
    by_id = {s["id"]: s for s in listed}
    codex = by_id[SESSION]
    assert (codex["turns"], codex["calls"]) == (3, 6)
    assert codex["tokens"]["input"] == sum(r["prompt_tokens"] for r in codex_rows)
    assert codex["tokens"]["cached"] == sum(r["cached_tokens"] for r in codex_rows)
    assert codex["cost"]["usd"] == pytest.approx(float(_hand_cost(codex_rows)), rel=1e-9)
    chain = by_id[f"chain-{chat_rows[0]['id']}"]
    assert (chain["turns"], chain["calls"]) == (2, 2)
    assert codex["client"].startswith("OpenAI/Python")

    text = relayscope(recorded, "sessions", "--sort", "turns")
    assert text.splitlines()[1].startswith(SESSION)  # most turns first
    assert "$0.0" in text


def test_session_turns_calls_retries_tokens_and_cumulative_cost(recorded: Path) -> None:
    report = json.loads(relayscope(recorded, "session", SESSION, "--json"))
    turns = report["turns"]
    assert [t["turn_id"] for t in turns] == ["turn-1", "turn-2", "turn-3"]
    assert [len(t["calls"]) for t in turns] == [2, 3, 1]
    assert [c["retry"] for c in turns[1]["calls"]] == [False, True, False]
    assert turns[0]["new_input"] == f"{RUN_PREFIX} ls"
    cumulative = 0.0
    for turn in turns:
        cumulative += turn["cost"]["usd"]
        assert turn["cumulative_cost"]["usd"] == pytest.approx(cumulative)
    assert report["cost"]["usd"] == pytest.approx(cumulative)
    # Context: the system prompt dominates, the tool round trips show as outputs; it grows.
    first, second = turns[0]["context_chars"], turns[1]["context_chars"]
    assert first["system"] > 8000 and first["tools"] > 100 and first["tool_output"] > 0
    assert second["new_input"] > 0 and turns[1]["growth_chars"] > 0
    assert report["context_unit"].endswith("characters / 4")


def test_the_cache_miss_names_where_the_prompt_diverged(recorded: Path) -> None:
    report = json.loads(relayscope(recorded, "session", SESSION, "--json"))
    turns = report["turns"]
    # Each call repeats the previous prompt: the provider's cache covers it.
    assert turns[1]["cache_hit_rate"] > 0.9
    assert all(c["cache_miss"] is None for t in turns[:2] for c in t["calls"])
    # Turn 3 changed its first message (the system prompt): nothing could be reused.
    (miss,) = turns[2]["calls"]
    assert turns[2]["cache_hit_rate"] < 0.05
    assert miss["cache_miss"].startswith("the prompt diverged from the previous call's: item 0")
    assert "content" in miss["cache_miss"]

    text = relayscope(recorded, "session", SESSION)
    assert "Turn 3" in text and "cache    missed: the prompt diverged" in text
    assert "context  ≈" in text and "tool outputs" in text


def test_a_pause_longer_than_the_cache_lifetime_explains_a_miss(recorded: Path) -> None:
    store = CallStore(recorded, create=False)
    try:
        calls = store.session_calls(SESSION)
    finally:
        store.close()
    # The same recording, read as if the person had paused 7 minutes before turn 3.
    last = dict(calls[-1])
    last["started_at"] = "2999-01-01T00:07:00.000+00:00"
    earlier = [dict(c, started_at=f"2999-01-01T00:00:0{i}.000+00:00") for i, c in enumerate(calls)]
    report = analyse_session(SESSION, [*earlier[:-1], last], Pricer())
    miss = report.turns[-1].calls[0].cache_miss
    # Measured from the end of the previous call (it started at 00:00:04 and took a moment).
    assert miss.startswith("a pause of 6.9 min since the previous call")
    assert miss.endswith("longer than the cache lifetime (5 min)")


def test_show_and_calls_give_each_calls_cost(recorded: Path) -> None:
    rows = _rows(recorded)
    shown = json.loads(relayscope(recorded, "show", rows[0]["id"], "--json"))
    assert shown["cost"]["usd"] == pytest.approx(float(_hand_cost(rows[:1])))
    assert shown["cost"]["basis"] == "openai/gpt-5.2 list price"
    listed = relayscope(recorded, "calls")
    assert listed.splitlines()[0].rstrip().endswith("cost")
    assert "$0.0" in listed.splitlines()[1]


def test_costs_per_provider_and_day_add_up_the_calls(recorded: Path) -> None:
    rows = _rows(recorded)
    (provider,) = [json.loads(x) for x in relayscope(recorded, "costs", "--json").splitlines()]
    assert provider["provider"] == "openai" and provider["calls"] == len(rows)
    assert provider["cost"]["usd"] == pytest.approx(float(_hand_cost(rows)), rel=1e-9)
    assert provider["tokens"]["cached"] == sum(r["cached_tokens"] for r in rows)
    days = [
        json.loads(x) for x in relayscope(recorded, "costs", "--by", "day", "--json").splitlines()
    ]
    assert sum(d["cost"]["usd"] for d in days) == pytest.approx(provider["cost"]["usd"])
    table = relayscope(recorded, "costs", "--by", "session")
    assert SESSION in table and "(none)" in table  # the chat agent's calls carry no session id
