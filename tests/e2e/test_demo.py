"""The demo provider through the real worker, read by the official SDK's every helper."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.support.worker import WorkerProcess

PROMPT = "hello demo"  # answered with the demo's first answer, the one about chunks
ASK: list[ChatCompletionMessageParam] = [{"role": "user", "content": PROMPT}]
MODEL = "demo-fast"  # the same answers as demo-1, without the pauses


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WorkerProcess, openai.OpenAI]]:
    with (
        WorkerProcess(tmp_path_factory.mktemp("demo")) as worker,  # no config: the demo only
        openai.OpenAI(base_url=worker.base_url, api_key="x", max_retries=0) as client,
    ):
        yield worker, client


def last_call(worker: WorkerProcess) -> dict[str, object]:
    return worker.wait_for_calls(1)[-1]


def test_chat_every_way(demo: tuple[WorkerProcess, openai.OpenAI]) -> None:
    worker, client = demo
    plain = client.chat.completions.create(model=MODEL, messages=ASK)
    text = plain.choices[0].message.content or ""
    assert "was streamed" not in text  # the same answer, streamed or not
    assert plain.usage is not None and plain.usage.total_tokens
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=ASK,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == text and "arrives in small chunks" in text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 1
    with client.chat.completions.stream(
        model=MODEL,
        messages=ASK,
        stream_options={"include_usage": True},
    ) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == final.choices[0].message.content == streamed
    assert final.choices[0].finish_reason == "stop" and final.usage is not None
    row = last_call(worker)
    assert (row["state"], row["output_text"]) == ("complete", streamed)
    assert row["total_tokens"] == final.usage.total_tokens


def test_responses_every_way(demo: tuple[WorkerProcess, openai.OpenAI]) -> None:
    worker, client = demo
    plain = client.responses.create(model=MODEL, input=PROMPT)
    assert plain.status == "completed" and plain.output_text
    assert "was streamed" not in plain.output_text and plain.usage is not None
    events = list(client.responses.create(model=MODEL, input=PROMPT, stream=True))
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    with client.responses.stream(model=MODEL, input=PROMPT) as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == plain.output_text
    assert final.usage is not None and final.usage.output_tokens == len(deltas)
    row = last_call(worker)
    assert (row["state"], row["output_text"]) == ("complete", final.output_text)
    assert row["completion_tokens"] == final.usage.output_tokens


def test_anthropic_messages_every_way(demo: tuple[WorkerProcess, openai.OpenAI]) -> None:
    worker, _ = demo
    before = len(worker.wait_for_calls(0))
    # Claude Code and the anthropic SDK add /v1/messages themselves: no /v1 in the base URL.
    base_url = worker.base_url.removesuffix("/v1")
    with anthropic.Anthropic(base_url=base_url, api_key="x", max_retries=0) as client:
        whole = client.messages.create(model=MODEL, max_tokens=100, messages=ASK)  # type: ignore[arg-type]
        with client.messages.stream(model=MODEL, max_tokens=100, messages=ASK) as stream:  # type: ignore[arg-type]
            streamed = "".join(stream.text_stream)
            final = stream.get_final_message()
    assert whole.content[0].type == "text" and whole.content[0].text == streamed
    assert "arrives in small chunks" in streamed and final.stop_reason == "end_turn"
    # The module's worker is shared: an earlier test's call may be committed after `before`
    # was counted, so this test's two calls are found by their endpoint.
    deadline = time.monotonic() + 10
    while True:
        rows = [r for r in worker.wait_for_calls(before) if r["endpoint"] == "messages"]
        if len(rows) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    row = rows[-1]  # the stream, sent last
    assert (row["endpoint"], row["state"], row["output_text"]) == ("messages", "complete", streamed)
    assert row["completion_tokens"] == final.usage.output_tokens > 1


def test_completions_and_embeddings(demo: tuple[WorkerProcess, openai.OpenAI]) -> None:
    _, client = demo
    plain = client.completions.create(model=MODEL, prompt="say something")
    assert plain.choices[0].text and plain.usage is not None
    pieces = list(client.completions.create(model=MODEL, prompt="say something", stream=True))
    assert "".join(p.choices[0].text for p in pieces if p.choices)
    vectors = client.embeddings.create(model=MODEL, input=["a", "b"])
    assert [d.index for d in vectors.data] == [0, 1] and len(vectors.data[0].embedding) == 16


def test_models_lists_the_demo_models_once(tmp_path: Path) -> None:
    with (
        WorkerProcess(tmp_path) as worker,
        openai.OpenAI(base_url=worker.base_url, api_key="x", max_retries=0) as client,
    ):
        ids = [m.id for m in client.models.list()]
    assert ids == ["demo-1", "demo-fast", "demo-agent"]
