"""Provider quirks handled by the proxy (seed 000): forced streaming and usage capture."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.fakes.provider import FakeProvider
from tests.support.worker import WorkerProcess

MESSAGES = [{"role": "user", "content": "Write a haiku"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {
                "type": "object",
                "required": ["term"],
                "properties": {"term": {"type": "string"}},
            },
        },
    }
]


@pytest.fixture
def constreet() -> Iterator[FakeProvider]:
    with FakeProvider(name="constreet", stream_required=("gpt-*",), usage_on_finish=True) as f:
        yield f


def start(tmp_path: Path, fake: FakeProvider, extra: str = "") -> WorkerProcess:
    return WorkerProcess(
        tmp_path,
        f'[[providers]]\nname = "constreet"\nbase_url = "{fake.base_url}"\ndefault = true\n{extra}',
    ).start()


def test_without_the_quirk_the_providers_rejection_passes_through(
    tmp_path: Path, constreet: FakeProvider
) -> None:
    worker = start(tmp_path, constreet)
    try:
        with (
            openai.OpenAI(base_url=worker.base_url, api_key="x", max_retries=0) as client,
            pytest.raises(openai.BadRequestError) as caught,
        ):
            client.chat.completions.create(model="gpt-5.2", messages=MESSAGES)
        assert "stream" in str(caught.value)
    finally:
        worker.stop()


def test_stream_required_serves_a_non_stream_client_one_aggregated_answer(
    tmp_path: Path, constreet: FakeProvider
) -> None:
    worker = start(tmp_path, constreet, 'stream_required = ["gpt-*"]\n')
    try:
        with openai.OpenAI(base_url=worker.base_url, api_key="x", max_retries=0) as client:
            answer = client.chat.completions.create(model="gpt-5.2", messages=MESSAGES)
            tooled = client.chat.completions.create(model="gpt-5.2", messages=MESSAGES, tools=TOOLS)
        rows = worker.wait_for_calls(2)
    finally:
        worker.stop()
    expected = constreet.answer_for("gpt-5.2", "Write a haiku")
    assert answer.object == "chat.completion"
    assert answer.choices[0].message.content == expected
    assert answer.choices[0].finish_reason == "stop"
    usage = constreet.usage_for({"model": "gpt-5.2", "messages": MESSAGES})
    assert answer.usage is not None and answer.usage.total_tokens == usage["total_tokens"]
    (call,) = tooled.choices[0].message.tool_calls or []
    assert call.function.name == "lookup" and json.loads(call.function.arguments) == {
        "term": "test"
    }
    assert tooled.choices[0].finish_reason == "tool_calls"

    sent = constreet.requests[0].json()
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    row = rows[0]
    assert json.loads(row["request_body"]).get("stream") is None  # what the client sent
    assert json.loads(row["upstream_request_body"])["stream"] is True  # what the provider got
    assert row["stream"] == 0 and row["chunk_count"] == len(constreet.sent_events(0))
    assert json.loads(row["response_body"])["choices"][0]["message"]["content"] == expected
    assert row["output_text"] == expected and row["total_tokens"] == usage["total_tokens"]
    assert "stream_required" in row["quirks"]


def test_usage_is_captured_without_changing_the_clients_stream(tmp_path: Path) -> None:
    with FakeProvider(name="plain") as fake:
        body = {"model": "fake-1", "messages": MESSAGES, "stream": True}
        direct = [
            line
            for line in httpx.post(fake.base_url + "/chat/completions", json=body).text.split(
                "\n\n"
            )
            if line
        ]
        worker = WorkerProcess(
            tmp_path,
            f'[[providers]]\nname = "plain"\nbase_url = "{fake.base_url}"\ndefault = true\n',
        ).start()
        try:
            relayed = httpx.post(worker.base_url + "/chat/completions", json=body)
            (row,) = worker.wait_for_calls(1)
        finally:
            worker.stop()
    events = [e for e in relayed.text.split("\n\n") if e]
    assert len(events) == len(direct)
    assert not any('"usage"' in e for e in events)
    assert fake.requests[-1].json()["stream_options"] == {"include_usage": True}
    usage = fake.usage_for({"model": "fake-1", "messages": MESSAGES})
    assert row["total_tokens"] == usage["total_tokens"]
    assert row["chunk_count"] == len(events) + 1  # the provider's usage chunk is recorded
    assert "usage capture" in row["quirks"]


def test_usage_on_the_finish_chunk_is_removed_for_the_client(
    tmp_path: Path, constreet: FakeProvider
) -> None:
    worker = start(tmp_path, constreet)
    try:
        with openai.OpenAI(base_url=worker.base_url, api_key="x", max_retries=0) as client:
            chunks = list(
                client.chat.completions.create(
                    model="claude-sonnet-4-6", messages=MESSAGES, stream=True
                )
            )
        (row,) = worker.wait_for_calls(1)
    finally:
        worker.stop()
    assert all(chunk.usage is None for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert row["total_tokens"] is not None


def test_usage_capture_can_be_switched_off(tmp_path: Path) -> None:
    with FakeProvider(name="strict") as fake:
        worker = WorkerProcess(
            tmp_path,
            f'[[providers]]\nname = "strict"\n'
            f'base_url = "{fake.base_url}"\ndefault = true\n'
            "capture_usage = false\n",
        ).start()
        try:
            httpx.post(
                worker.base_url + "/chat/completions",
                json={"model": "fake-1", "messages": MESSAGES, "stream": True},
            )
            (row,) = worker.wait_for_calls(1)
        finally:
            worker.stop()
    assert "stream_options" not in fake.requests[-1].json()
    assert row["upstream_request_body"] is None and row["total_tokens"] is None
