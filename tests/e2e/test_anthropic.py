"""Anthropic Messages end to end: the official anthropic SDK, the real worker, the fake
provider on a socket (its Messages API: tests/fakes/messages.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import pytest

from relayscope.actions.compare import Target, compare
from relayscope.actions.diff import diff_calls
from relayscope.actions.replay import replay_request, send
from relayscope.analysis.stream_analysis import analyse
from relayscope.store.call_store import CallStore
from tests.e2e.conftest import FAKE_KEY
from tests.fakes.provider import FakeProvider
from tests.support.worker import ROOT, ScopedWorker, WorkerProcess, provider_config

CLIENT_KEY = "sk-ant-client-key-abcdefgh1234"
PROMPT = "What does Relayscope record?"
SYSTEM = [
    {
        "type": "text",
        "text": "You are a careful assistant for proxies.",
        "cache_control": {"type": "ephemeral"},
    }
]
MESSAGES = [{"role": "user", "content": PROMPT}]
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def fake(shared_fake: FakeProvider) -> FakeProvider:
    """The module's provider, its logs cleared: `fake.requests` are this test's own."""
    shared_fake.clear()
    return shared_fake


@pytest.fixture
def worker(shared_worker: WorkerProcess, fake: FakeProvider) -> ScopedWorker:
    """The module's worker (one start instead of one per test), seeing this test's calls."""
    return ScopedWorker(shared_worker)


@pytest.fixture
def own_worker(tmp_path: Path, fake: FakeProvider) -> Iterator[WorkerProcess]:
    """A worker of its own, for a test that reads back the whole database."""
    config = provider_config(("fake", fake.base_url)).replace(
        'api_key = "sk-fake-secret-key-0123456789"', f'api_key = "{FAKE_KEY}"'
    )
    (tmp_path / "own").mkdir()
    with WorkerProcess(tmp_path / "own", config) as process:
        yield process


def client(worker: WorkerProcess | ScopedWorker) -> anthropic.Anthropic:
    # The SDK appends /v1/messages to its base URL, as Claude Code does: no /v1 here.
    return anthropic.Anthropic(
        base_url=worker.base_url.removesuffix("/v1"),
        api_key=CLIENT_KEY,
        max_retries=0,
        default_headers=worker.headers,
    )


def received_key_headers(fake: FakeProvider) -> tuple[str | None, str | None, str | None]:
    headers = fake.requests[-1].headers
    return (
        headers.get("x-api-key"),
        headers.get("authorization"),
        headers.get("anthropic-version"),
    )


def test_create_is_forwarded_with_the_provider_key_as_x_api_key_and_recorded(
    worker: ScopedWorker, fake: FakeProvider
) -> None:
    with client(worker) as c:
        message = c.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=100,
            system=SYSTEM,  # type: ignore[arg-type]
            messages=MESSAGES,  # type: ignore[arg-type]
            extra_headers={"x-api-key": CLIENT_KEY},
        )
    assert message.content[0].type == "text"
    assert message.content[0].text == fake.answer_for("claude-sonnet-4-6", PROMPT)
    # The configured key goes in x-api-key; the client's key is gone.
    assert received_key_headers(fake)[:2] == (FAKE_KEY, None)
    assert fake.requests[-1].path == "/v1/messages"

    (row,) = worker.wait_for_calls(1)
    assert (row["provider"], row["endpoint"], row["path"]) == ("fake", "messages", "/v1/messages")
    assert (row["status"], row["state"], row["stream"]) == (200, "complete", 0)
    assert row["output_text"] == message.content[0].text
    assert row["finish_reason"] == "end_turn"
    usage = message.usage
    assert usage.cache_creation_input_tokens == 7  # the system block marked cache_control
    every_input = usage.input_tokens + usage.cache_creation_input_tokens
    assert row["prompt_tokens"] == every_input
    assert row["cache_write_tokens"] == usage.cache_creation_input_tokens
    assert row["cached_tokens"] == 0
    assert row["completion_tokens"] == usage.output_tokens
    headers = {k.lower(): v for k, v in json.loads(row["request_headers"])}
    # This SDK sends its key as a bearer token; Claude Code and older SDKs as x-api-key:
    # both are recorded redacted, and neither reaches the provider (checked above).
    for name in ("authorization", "x-api-key"):
        assert CLIENT_KEY not in headers[name] and headers[name].endswith("1234")
    # The client's anthropic-version goes on as it was sent.
    assert received_key_headers(fake)[2] == headers["anthropic-version"]
    assert FAKE_KEY.encode() not in worker.db_path.read_bytes()
    assert CLIENT_KEY.encode() not in worker.db_path.read_bytes()
    assert FAKE_KEY not in worker.log()


def test_stream_helper_is_passed_through_and_recorded_per_event(
    worker: ScopedWorker, fake: FakeProvider
) -> None:
    with (
        client(worker) as c,
        c.messages.stream(model="claude-sonnet-4-6", max_tokens=100, messages=MESSAGES) as stream,
    ):
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == fake.answer_for("claude-sonnet-4-6", PROMPT)

    (row,) = worker.wait_for_calls(1, state="complete")
    store = worker.store()
    chunks = store.chunks(row["id"])
    store.close()
    sent = fake.sent_events()
    assert [ch["data"].encode() for ch in chunks] == sent
    assert sent[0].startswith(b"event: message_start\n")
    assert sent[-1].startswith(b"event: message_stop\n")
    assert row["stream"] == 1 and row["chunk_count"] == len(sent)
    assert row["output_text"] == text
    assert row["finish_reason"] == "end_turn" == final.stop_reason
    assert row["completion_tokens"] == final.usage.output_tokens == len(text.split(" "))
    assert row["prompt_tokens"] == final.usage.input_tokens
    assert row["response_model"] == "claude-sonnet-4-6"
    # TTFT is the first text delta, not message_start or ping.
    first_delta = next(ch for ch in chunks if ch["data"].startswith("event: content_block_delta"))
    assert row["ttft_ms"] == first_delta["t_ms"]


def test_stream_with_tools_and_thinking_records_the_tool_call_and_the_thinking(
    worker: ScopedWorker, fake: FakeProvider
) -> None:
    with client(worker) as c:
        events = list(
            c.messages.create(
                model="claude-sonnet-4-6",
                max_tokens=2000,
                messages=[{"role": "user", "content": "Weather in Oslo?"}],
                tools=[WEATHER],  # type: ignore[list-item]
                thinking={"type": "enabled", "budget_tokens": 1024},
                stream=True,
            )
        )
    assert [e.type for e in events][-1] == "message_stop"

    (row,) = worker.wait_for_calls(1, state="complete")
    assert row["finish_reason"] == "tool_use"
    assert row["reasoning_text"] == "Thinking about: Weather in Oslo?"
    assert json.loads(row["tool_calls"]) == [
        {
            "id": "toolu_fake_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "test"}'},
        }
    ]
    assert row["output_text"] is None


def test_tool_result_turn_and_the_sdk_tool_shapes(worker: ScopedWorker, fake: FakeProvider) -> None:
    with client(worker) as c:
        first = c.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=100,
            messages=MESSAGES,
            tools=[WEATHER],  # type: ignore[list-item]
        )
        (call,) = [b for b in first.content if b.type == "tool_use"]
        assert call.input == {"city": "test"}
        second = c.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=100,
            tools=[WEATHER],  # type: ignore[list-item]
            messages=[
                *MESSAGES,
                {"role": "assistant", "content": [call.model_dump()]},
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": call.id, "content": "Sunny"}
                    ],
                },
            ],
        )
    assert second.content[0].type == "text" and second.content[0].text == "Done: Sunny"
    rows = worker.wait_for_calls(2, state="complete")
    assert json.loads(rows[0]["tool_calls"])[0]["function"]["arguments"] == '{"city": "test"}'
    assert rows[1]["output_text"] == "Done: Sunny"


def test_overloaded_error_in_a_stream_fails_the_call(
    worker: ScopedWorker, fake: FakeProvider
) -> None:
    with client(worker) as c, pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        list(
            c.messages.create(
                model="claude-sonnet-4-6",
                max_tokens=100,
                messages=MESSAGES,
                stream=True,
                extra_headers={"x-fake-scenario": "error-in-stream"},
            )
        )
    (row,) = worker.wait_for_calls(1)
    assert row["error"] == "Overloaded"


def test_auth_bearer_setting_sends_the_key_as_authorization(
    tmp_path: Path, fake: FakeProvider
) -> None:
    config = (
        f'[[providers]]\nname = "gateway"\nbase_url = "{fake.base_url}"\n'
        f'api_key = "{FAKE_KEY}"\ndefault = true\nauth = "bearer"\n'
    )
    with WorkerProcess(tmp_path, config) as worker, client(worker) as c:
        c.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=100,
            messages=MESSAGES,
            extra_headers={"anthropic-version": "2024-01-01"},
        )
        assert received_key_headers(fake) == (None, f"Bearer {FAKE_KEY}", "2024-01-01")


def test_count_tokens_is_routed_by_model(worker: ScopedWorker, fake: FakeProvider) -> None:
    with client(worker) as c:
        counted = c.messages.count_tokens(model="claude-sonnet-4-6", messages=MESSAGES)
    assert counted.input_tokens == len(PROMPT.split()) + 3
    assert fake.requests[-1].path == "/v1/messages/count_tokens"
    assert received_key_headers(fake)[0] == FAKE_KEY
    (row,) = worker.wait_for_calls(1)
    assert (row["endpoint"], row["state"]) == ("messages.count_tokens", "complete")


def test_a_messages_call_is_replayed_to_the_same_path_and_diffed(
    worker: ScopedWorker, fake: FakeProvider
) -> None:
    with (
        client(worker) as c,
        c.messages.stream(model="claude-sonnet-4-6", max_tokens=100, messages=MESSAGES) as stream,
    ):
        stream.until_done()
    (original,) = worker.wait_for_calls(1, state="complete")

    texts: list[str] = []
    again = send(
        replay_request(original),
        worker.base_url,
        on_event=lambda e: texts.append(e.text) if e.kind == "chunk" else None,
    )
    assert again.answer.output_text == original["output_text"] == "".join(texts)
    assert fake.requests[-1].path == "/v1/messages"
    assert fake.requests[-1].body == fake.requests[-2].body  # the same body, byte for byte
    assert received_key_headers(fake)[:2] == (FAKE_KEY, None)
    first, replayed = worker.wait_for_calls(2, state="complete")
    assert (replayed["replay_of"], replayed["endpoint"]) == (original["id"], "messages")
    assert replayed["request_body"] == original["request_body"]

    store = worker.store()
    diff = diff_calls(first, replayed, store.chunks(first["id"]), store.chunks(replayed["id"]))
    store.close()
    assert diff.same_answer


def test_messages_calls_play_back_through_the_anthropic_sdk(tmp_path: Path) -> None:
    with (
        FakeProvider(name="live") as live,
        WorkerProcess(
            tmp_path,
            f'[[providers]]\nname = "live"\nbase_url = "{live.base_url}"\ndefault = true\n',
        ) as worker,
        client(worker) as c,
    ):
        with c.messages.stream(
            model="claude-sonnet-4-6", max_tokens=100, messages=MESSAGES
        ) as stream:
            streamed = "".join(stream.text_stream)
        tool = c.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=100,
            messages=[{"role": "user", "content": "Weather?"}],
            tools=[WEATHER],  # type: ignore[list-item]
        )
        ids = [row["id"] for row in worker.wait_for_calls(2, state="complete")]
    args = tuple(arg for call_id in ids for arg in ("--call", call_id))
    with (
        WorkerProcess(tmp_path, None, subcommand="playback", extra_args=args) as player,
        client(player) as c,
    ):
        with c.messages.stream(
            model="claude-sonnet-4-6", max_tokens=100, messages=MESSAGES
        ) as stream:
            assert "".join(stream.text_stream) == streamed
        again = c.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=100,
            messages=[{"role": "user", "content": "Weather?"}],
            tools=[WEATHER],  # type: ignore[list-item]
        )
        assert again.content == tool.content


def test_a_stream_read_to_message_stop_is_complete_when_the_client_hangs_up_first(
    worker: ScopedWorker, fake: FakeProvider
) -> None:
    """The provider (`linger`) ends its body a second after `message_stop`; the client has
    what it needs and leaves: complete, with a note, not interrupted."""
    body = {"model": "linger", "max_tokens": 10, "messages": MESSAGES, "stream": True}
    url = worker.base_url + "/messages"
    headers = {"x-api-key": CLIENT_KEY, **worker.headers}
    with httpx.stream("POST", url, json=body, headers=headers) as response:
        for line in response.iter_lines():
            if line == "event: message_stop":
                break
    (row,) = worker.wait_for_calls(1, timeout=15)
    assert row["state"] == "complete", row["error"]
    assert row["note"] == "The client closed the connection after the stream's end."
    assert row["output_text"] == fake.answer_for("linger", PROMPT)


def test_a_messages_stream_cut_by_the_provider_is_interrupted_and_found(
    worker: ScopedWorker, fake: FakeProvider
) -> None:
    # The SDK's own HTTP library (httpx2 here) reports the cut; its type is no concern here.
    with (
        client(worker) as c,
        pytest.raises(Exception, match="peer closed connection"),
        c.messages.stream(model="cut-stream", max_tokens=10, messages=MESSAGES) as stream,
    ):
        stream.until_done()
    (row,) = worker.wait_for_calls(1, timeout=15)
    assert (row["state"], row["cut_by"]) == ("interrupted", "provider")
    store = worker.store()
    chunks = store.chunks(row["id"])
    store.close()
    codes = {finding.code for finding in analyse(row, chunks).findings}
    assert "cut_by_provider" in codes
    # What arrived before the cut is kept: the first words of the answer.
    assert row["output_text"]
    assert fake.answer_for("cut-stream", PROMPT).startswith(row["output_text"])


def test_a_messages_body_is_compared_across_models(
    worker: ScopedWorker, fake: FakeProvider
) -> None:
    body = {
        "model": "x",
        "max_tokens": 50,
        "system": "Be brief.",
        "messages": MESSAGES,
        "stream": True,
    }
    targets = [Target(model="claude-a"), Target(model="claude-b")]
    store = worker.store()
    try:
        result = compare(body, targets, worker.base_url, store=store)
    finally:
        store.close()
    assert [s.output_text for s in result.summaries] == [
        fake.answer_for("claude-a", PROMPT),
        fake.answer_for("claude-b", PROMPT),
    ]
    assert all(s.ok and s.recorded and s.finish_reason == "end_turn" for s in result.summaries)
    assert {r.path for r in fake.requests} == {"/v1/messages"}  # told apart by its `system`
    assert all(r.headers["x-api-key"] == FAKE_KEY for r in fake.requests)


def test_the_merged_model_list_asks_an_x_api_key_provider_its_way(
    tmp_path: Path, fake: FakeProvider
) -> None:
    config = (
        f'[[providers]]\nname = "anthropic"\nbase_url = "{fake.base_url}"\n'
        f'api_key = "{FAKE_KEY}"\ndefault = true\nauth = "x-api-key"\n'
    )
    with WorkerProcess(tmp_path, config) as worker:
        listed = httpx.get(worker.base_url + "/models").json()
    assert "claude-sonnet-4-6" in [m["id"] for m in listed["data"]] and listed["errors"] == []
    assert received_key_headers(fake) == (FAKE_KEY, None, "2023-06-01")


def test_a_messages_stream_exports_to_har_and_jsonl_and_comes_back(
    own_worker: WorkerProcess, fake: FakeProvider, tmp_path: Path
) -> None:
    worker = own_worker  # the export reads every call in the database: this test's alone
    with (
        client(worker) as c,
        c.messages.stream(model="claude-sonnet-4-6", max_tokens=100, messages=MESSAGES) as stream,
    ):
        text = "".join(stream.text_stream)
    (row,) = worker.wait_for_calls(1, state="complete")
    har, jsonl = tmp_path / "calls.har", tmp_path / "calls.jsonl"
    export = [sys.executable, "-m", "relayscope", "export", "--db", str(worker.db_path)]
    for fmt, path in (("har", har), ("jsonl", jsonl)):
        subprocess.run(
            [*export, "--format", fmt, "--output", str(path)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=60,
        )
    (entry,) = json.loads(har.read_text())["log"]["entries"]
    assert entry["request"]["url"].endswith("/v1/messages")
    assert entry["response"]["content"]["text"] == "".join(ch.decode() for ch in fake.sent_events())
    (line,) = jsonl.read_text().splitlines()
    assert json.loads(line)["output_text"] == text == row["output_text"]
    assert FAKE_KEY not in har.read_text() + jsonl.read_text()
    imported = tmp_path / "imported.db"
    subprocess.run(
        [sys.executable, "-m", "relayscope", "import", str(har), "--db", str(imported)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )
    store = CallStore(imported)
    try:
        (back,) = store.db.query("SELECT endpoint, output_text, finish_reason FROM calls")
    finally:
        store.close()
    assert back == {"endpoint": "messages", "output_text": text, "finish_reason": "end_turn"}


def test_a_providers_anthropic_error_reaches_the_sdk_and_the_record(
    worker: ScopedWorker, fake: FakeProvider
) -> None:
    with client(worker) as c, pytest.raises(anthropic.RateLimitError) as caught:
        c.messages.create(model="fail-429", max_tokens=10, messages=MESSAGES)
    assert caught.value.body == {  # passed on as the provider sent it
        "type": "error",
        "error": {
            "type": "rate_limit_exceeded",
            "message": "[fake] 请求频率超限 (rate limit exceeded)",
        },
    }
    (row,) = worker.wait_for_calls(1)
    assert (row["status"], row["state"]) == (429, "error")
    assert row["error"] == "[fake] 请求频率超限 (rate limit exceeded)"
