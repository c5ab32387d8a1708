"""Replay, edit and resend, diff and compare, end to end: the real worker and two fake providers.

`fast` and `slow` differ in speed (chunk_delay) and in what they answer (their name); `dead`
is a provider at a port nobody listens on. Everything goes through the proxy, so every
replay and every copy of a comparison is a recorded call.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import openai
import pytest

from relayscope.actions.compare import Target, compare, load_group
from relayscope.actions.diff import diff_calls, format_unified
from relayscope.actions.replay import (
    ReplayEvent,
    edit_body,
    new_request,
    replay_request,
    send,
    wait_until_recorded,
)
from relayscope.routing.routes import new_call_id
from tests.fakes.provider import FakeProvider
from tests.support.worker import ROOT, WorkerProcess, provider_config

PROMPT = "Which provider are you?"
MESSAGES = [{"role": "user", "content": PROMPT}]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def fast() -> Iterator[FakeProvider]:
    with FakeProvider(name="fast", chunk_delay=0.05) as provider:
        yield provider


@pytest.fixture(scope="module")
def slow() -> Iterator[FakeProvider]:
    with FakeProvider(name="slow", chunk_delay=0.1) as provider:
        yield provider


@pytest.fixture(scope="module")
def worker(
    tmp_path_factory: pytest.TempPathFactory, fast: FakeProvider, slow: FakeProvider
) -> Iterator[WorkerProcess]:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    config = provider_config(("fast", fast.base_url), ("slow", slow.base_url), ("dead", dead))
    with WorkerProcess(tmp_path_factory.mktemp("replay"), config) as process:
        yield process


def recorded(worker: WorkerProcess, call_id: str) -> dict[str, Any]:
    store = worker.store()
    try:
        row = wait_until_recorded(store, call_id)
    finally:
        store.close()
    assert row is not None, f"call {call_id} was not recorded"
    return row


def original_call(worker: WorkerProcess, *, stream: bool = True, **body: Any) -> dict[str, Any]:
    """A call as a real client makes it (the openai SDK), recorded under an id we know."""
    call_id = new_call_id()
    with openai.OpenAI(base_url=worker.base_url, api_key="sk-client-1234", max_retries=0) as c:
        answer = c.chat.completions.create(
            model=body.pop("model", "fake-1"),
            messages=MESSAGES,
            stream=stream,
            # Quick streams: a replay keeps the client's headers, so it is quick too. Only
            # the comparison below runs at the providers' own (different) speeds.
            extra_headers={"X-Relayscope-Call-Id": call_id, "X-Fake-Delay": "0.005"},
            **body,
        )
        if stream:
            list(answer)  # type: ignore[arg-type]
    return recorded(worker, call_id)


def cli(
    worker: WorkerProcess, *args: str, url: str | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "relayscope", args[0], "--db", str(worker.db_path)]
    command += ["--config", str(worker.config_path), *args[1:]]
    if args[0] != "diff":
        command += ["--url", url or worker.base_url]
    # A hang guard, not a timing: only a failure waits (a loaded machine took over 30 s to
    # start the CLI and replay one slow stream through it).
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


# --- replay -------------------------------------------------------------------------------------


def test_replay_to_the_same_and_to_another_provider(
    worker: WorkerProcess, fast: FakeProvider, slow: FakeProvider
) -> None:
    original = original_call(worker)
    assert original["provider"] == "fast"

    again = send(replay_request(original), worker.base_url)
    row = recorded(worker, again.call_id)
    assert (row["replay_of"], row["provider"], row["state"]) == (original["id"], "fast", "complete")
    assert row["output_text"] == original["output_text"] == again.output_text
    assert again.answer.finish_reason == row["finish_reason"] == "stop"
    assert row["request_body"] == original["request_body"]  # sent byte for byte as before

    chunks: list[str] = []
    other = send(
        replay_request(original, provider="slow"),
        worker.base_url,
        on_event=lambda e: chunks.append(e.text) if e.kind == "chunk" else None,
    )
    row = recorded(worker, other.call_id)
    assert (row["replay_of"], row["provider"]) == (original["id"], "slow")
    assert row["output_text"] == slow.answer_for("fake-1", PROMPT) != original["output_text"]
    assert "".join(chunks) == row["output_text"]  # streamed live, event by event
    # The proxy put the slow provider's key in; the replay carried no key of its own.
    assert slow.requests[-1].headers["authorization"] == "Bearer sk-slow-secret-key-0123456789"
    assert "x-relayscope-replay-of" not in slow.requests[-1].headers


def test_an_edited_request_reaches_the_provider_as_edited(
    worker: WorkerProcess, fast: FakeProvider
) -> None:
    original = original_call(worker)
    body = edit_body(json.loads(original["request_body"]), model="gpt-5.2", temperature=0.3)
    body = edit_body(body, stream=False)
    result = send(replay_request(original, body=json.dumps(body).encode()), worker.base_url)
    sent = fast.requests[-1].json()
    assert (sent["model"], sent["temperature"], sent["stream"]) == ("gpt-5.2", 0.3, False)
    row = recorded(worker, result.call_id)
    assert (row["model"], row["stream"], row["replay_of"]) == ("gpt-5.2", 0, original["id"])
    assert result.output_text == fast.answer_for("gpt-5.2", PROMPT) == row["output_text"]


def test_a_cancelled_replay_stops_at_once_and_is_recorded_as_interrupted(
    worker: WorkerProcess,
) -> None:
    cancel = threading.Event()

    def on_event(event: ReplayEvent) -> None:
        if event.kind == "chunk":
            cancel.set()  # as a person pressing Stop after the first words

    request = new_request(
        {"model": "fake-1", "stream": True, "messages": MESSAGES}, provider="slow"
    )
    result = send(request, worker.base_url, on_event=on_event, cancel=cancel)
    # Stopped at once: the replay took no event after the one that pressed Stop (the whole
    # stream is a dozen events 0.1 s apart). Counted, not timed: the 0.8 s this had counted
    # the first event's way through the worker too, which a loaded machine stretches.
    assert result.cancelled and len(result.events) <= 2
    row = recorded(worker, request.call_id)
    assert (row["provider"], row["state"]) == ("slow", "interrupted")


def rate_limited_call(worker: WorkerProcess) -> dict[str, Any]:
    call_id = new_call_id()
    response = httpx.post(
        f"{worker.base_url}/chat/completions",
        json={"model": "fail-429", "messages": MESSAGES},
        headers={"X-Relayscope-Call-Id": call_id},
    )
    assert response.status_code == 429
    return recorded(worker, call_id)


def test_a_rate_limited_replay_reports_retry_after_and_waits_only_when_asked(
    worker: WorkerProcess,
) -> None:
    original = rate_limited_call(worker)
    result = send(replay_request(original), worker.base_url)
    assert (result.status, result.retry_after, result.previous) == (429, 1.0, None)
    assert "rate limit" in (result.error or "")

    start = time.monotonic()
    waited = send(replay_request(original), worker.base_url, wait_for_retry_after=True)
    assert time.monotonic() - start >= 1.0
    assert waited.previous is not None and waited.previous.status == 429
    first, second = (recorded(worker, call_id) for call_id in waited.call_ids)
    assert first["replay_of"] == second["replay_of"] == original["id"]
    assert second["started_at"] >= first["started_at"]


# --- diff ---------------------------------------------------------------------------------------


def test_diff_of_a_call_and_its_replay_elsewhere(worker: WorkerProcess) -> None:
    original = original_call(worker, stream=False)
    other = send(replay_request(original, provider="slow", model="fake-2"), worker.base_url)
    replayed = recorded(worker, other.call_id)
    diff = diff_calls(original, replayed)
    assert [(p.path, p.old, p.new) for p in diff.request.params] == [("model", "fake-1", "fake-2")]
    assert diff.request.messages == ()
    changed = {f.name: (f.old, f.new) for f in diff.outcome if f.changed}
    assert changed == {"provider": ("fast", "slow"), "model": ("fake-1", "fake-2")}
    text = format_unified(diff)
    assert "Hello from [-fast (fake-1).-]{+slow (fake-2).+} You said" in text
    assert '-  "model": "fake-1",' in text and '+  "model": "fake-2",' in text


def test_diff_of_consecutive_codex_turns_shows_only_the_new_items(worker: WorkerProcess) -> None:
    def turn(items: list[dict[str, Any]], metadata: dict[str, str]) -> dict[str, Any]:
        call_id = new_call_id()
        body = {"model": "gpt-5.2", "input": items, "store": False, "client_metadata": metadata}
        response = httpx.post(
            f"{worker.base_url}/responses", json=body, headers={"X-Relayscope-Call-Id": call_id}
        )
        assert response.status_code == 200
        return recorded(worker, call_id)

    history = [
        {"type": "message", "role": "developer", "content": "You are Codex."},
        {"type": "message", "role": "user", "content": "list files"},
    ]
    added = [
        {"type": "function_call", "name": "exec_command", "arguments": "{}", "call_id": "c1"},
        {"type": "function_call_output", "call_id": "c1", "output": "README.md"},
        {"type": "message", "role": "user", "content": "thanks"},
    ]
    a = turn(history, {"a": "1", "b": "2"})
    b = turn(history + added, {"b": "2", "a": "1"})
    request = diff_calls(a, b).request
    assert request.params == ()
    assert [(m.op, m.index_b, m.role) for m in request.messages] == [
        ("added", 2, "function_call"),
        ("added", 3, "function_call_output"),
        ("added", 4, "user"),
    ]


# --- compare ------------------------------------------------------------------------------------


SUMMED = (
    "status",
    "state",
    "ttft_ms",
    "duration_ms",
    "prompt_tokens",
    "completion_tokens",
    "finish_reason",
    "error",
    "provider",
)


def test_a_three_way_compare_runs_at_once_and_sums_up_what_was_recorded(
    worker: WorkerProcess, fast: FakeProvider, slow: FakeProvider
) -> None:
    body = {"model": "fake-1", "stream": True, "messages": MESSAGES}
    targets = [Target("fast"), Target("slow"), Target("dead")]
    live: dict[int, list[str]] = {0: [], 1: [], 2: []}
    store = worker.store()
    try:
        result = compare(
            body,
            targets,
            worker.base_url,
            store=store,
            name="three",
            on_event=lambda i, e: live[i].append(e.kind),
        )
        rows = {r["id"]: r for r in store.list_calls(limit=100) if r["group_id"]}
        group = load_group(store, result.group.id)
    finally:
        store.close()

    fast_s, slow_s, dead_s = result.summaries
    in_group = {r["id"] for r in rows.values() if r["group_id"] == group.id}
    assert {s.call_id for s in result.summaries} == in_group and len(in_group) == 3
    for summary in result.summaries:
        row = rows[summary.call_id]
        assert summary.recorded
        assert {k: getattr(summary, k) for k in SUMMED} == {k: row[k] for k in SUMMED}
        assert summary.output_text == (row["output_text"] or "")
    assert fast_s.output_text == fast.answer_for("fake-1", PROMPT)
    assert slow_s.output_text == slow.answer_for("fake-1", PROMPT)
    assert (dead_s.status, dead_s.state, dead_s.ok) == (502, "error", False)
    assert fast_s.tokens_per_s and slow_s.tokens_per_s
    assert fast_s.tokens_per_s > slow_s.tokens_per_s
    assert result.fastest is fast_s

    # Together they take as long as the slowest, not the sum: by the proxy's own record, every
    # copy had started before the first stream ended (one after the other, the slow one would
    # start only once the fast one had ended, 0.8 s in). Not the sum of their durations
    # against the comparison's wall clock, which a loaded machine stretched past it (2.1 s
    # for 0.82 + 1.48 + 0.08 s recorded).
    durations = [s.duration_ms or 0.0 for s in result.summaries]
    assert result.elapsed_ms >= max(durations) - 50
    began = [datetime.fromisoformat(rows[s.call_id]["started_at"]) for s in result.summaries]
    ended = [b + timedelta(milliseconds=d) for b, d in zip(began, durations, strict=True)]
    assert max(began) < min(ended[:2]), (began, durations)

    assert all("chunk" in live[i] for i in (0, 1)) and live[2][-1] == "done"
    assert group == result.group and group.name == "three"
    assert group.targets == tuple(targets) and group.body() == body


# --- the command line ---------------------------------------------------------------------------


def test_cli_replay_streams_the_answer_and_names_the_new_call(
    worker: WorkerProcess, slow: FakeProvider
) -> None:
    original = original_call(worker)
    done = cli(worker, "replay", original["id"][:15], "--provider", "slow")
    assert done.returncode == 0, done.stderr
    first, *rest = done.stdout.splitlines()
    assert first.startswith(f"replay of {original['id']} → call ")
    new_id = first.rsplit(" ", 1)[1]
    assert slow.answer_for("fake-1", PROMPT) in rest
    assert any(
        line.startswith(f"call {new_id} · slow fake-1 · status 200 complete") for line in rest
    )
    assert recorded(worker, new_id)["replay_of"] == original["id"]

    as_json = cli(worker, "replay", original["id"], "--model", "fake-3", "--json")
    out = json.loads(as_json.stdout)
    assert (out["status"], out["replay_of"], out["call"]["model"]) == (
        200,
        original["id"],
        "fake-3",
    )


def test_cli_replay_of_a_429_tells_how_to_wait(worker: WorkerProcess) -> None:
    original = rate_limited_call(worker)
    done = cli(worker, "replay", original["id"])
    assert done.returncode == 1
    assert "retry after 1 s; --wait-retry-after waits and resends once" in done.stdout


def test_cli_diff_prints_the_unified_diff(worker: WorkerProcess) -> None:
    a = original_call(worker, stream=False)
    b = recorded(worker, send(replay_request(a, provider="slow"), worker.base_url).call_id)
    done = cli(worker, "diff", a["id"], b["id"])
    assert done.returncode == 0, done.stderr
    assert "provider  fast → slow" in done.stdout
    assert "(identical bodies)" in done.stdout
    assert "Hello from [-fast-]{+slow+} (fake-1)" in done.stdout
    as_json = json.loads(cli(worker, "diff", a["id"], b["id"], "--json").stdout)
    assert as_json["request"]["same"] is True


def test_cli_compare_shows_progress_then_the_summary_table(worker: WorkerProcess) -> None:
    original = original_call(worker, stream=False)
    done = cli(
        worker, "compare", "--from", original["id"], "--target", "fast", "--target", "slow:fake-2"
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "[1] fast: done, HTTP 200" in out and "[2] slow:fake-2: done, HTTP 200" in out
    header = next(line for line in out.splitlines() if line.startswith("#"))
    assert header.split() == [
        "#",
        "target",
        "call",
        "status",
        "TTFT",
        "total",
        "in/out",
        "tok/s",
        "cost",
        "finish",
    ]
    # The fake models have no price: their cost is unknown ("—"), never $0.
    rows = out.split(header, 1)[1].strip().splitlines()[:2]
    assert [row.split()[-2] for row in rows] == ["—", "—"]
    assert "Hello from slow (fake-2)" in out
    group_id = out.rsplit("--rerun ", 1)[1].strip()

    rerun = cli(worker, "compare", "--rerun", group_id, "--json")
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert [t["target"] for t in summary["targets"]] == ["fast", "slow:fake-2"]
    assert [t["status"] for t in summary["targets"]] == [200, 200]
    assert [t["cost"] for t in summary["targets"]] == [
        {"usd": None, "basis": "no price known for model 'fake-1'"},
        {"usd": None, "basis": "no price known for model 'fake-2'"},
    ]
    assert summary["group"]["source_call_id"] == original["id"]


def test_cli_says_when_the_proxy_is_not_running(worker: WorkerProcess) -> None:
    original = original_call(worker, stream=False)
    done = cli(worker, "replay", original["id"], url=f"http://127.0.0.1:{free_port()}/v1")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "the proxy is not running at" in done.stderr and "relayscope proxy" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
