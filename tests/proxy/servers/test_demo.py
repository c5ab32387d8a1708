"""The demo provider: what it says, and how it answers on a real loopback socket."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from relayscope.proxy.servers.demo import DEMO_MODELS, DemoAnswer, DemoServer

pytestmark = pytest.mark.anyio


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "demo-fast", "messages": [{"role": "user", "content": text}], **extra}


def events(body: str) -> list[dict[str, Any] | str]:
    """The data of each SSE event ("[DONE]" as it is)."""
    out: list[dict[str, Any] | str] = []
    for block in body.split("\n\n"):
        data = [line[6:] for line in block.splitlines() if line.startswith("data: ")]
        if data:
            out.append(data[0] if data[0] == "[DONE]" else json.loads(data[0]))
    return out


@pytest.fixture
async def demo() -> AsyncIterator[httpx.AsyncClient]:
    server = DemoServer()
    await server.start()
    try:
        base = f"http://127.0.0.1:{server.port}/v1"
        async with httpx.AsyncClient(base_url=base, timeout=5.0) as client:
            yield client
    finally:
        await server.stop()


# -- what it says --------------------------------------------------------------------------


def test_the_answer_depends_on_the_last_user_message_and_quotes_it() -> None:
    one = DemoAnswer("chat.completions", chat("What is Relayscope?"), "demo-1")
    again = DemoAnswer("chat.completions", chat("What is Relayscope?"), "demo-1")
    assert one.text == again.text and 'You said: "What is Relayscope?"' in one.text
    assert "".join(one.pieces) == one.text
    usage = one.usage()
    assert usage["completion_tokens"] == len(one.pieces)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_demo_1_thinks_first_and_stalls_once_and_demo_fast_does_not() -> None:
    slow = DemoAnswer("chat.completions", chat("hello there, demo"), "demo-1").delays()
    steady = sorted(slow)[len(slow) // 2]
    assert slow[0] > 3 * steady  # a think before the first piece
    assert sum(d > 3 * steady for d in slow[1:]) == 1  # one visible stall in the stream
    assert set(DemoAnswer("chat.completions", chat("hi"), "demo-fast").delays()) == {0.0}


# -- how it answers ------------------------------------------------------------------------


async def test_a_chat_stream_is_sse_that_adds_up_to_the_answer(demo: httpx.AsyncClient) -> None:
    request = chat("Stream me", stream=True, stream_options={"include_usage": True})
    response = await demo.post("/chat/completions", json=request)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    got = events(response.text)
    assert got[-1] == "[DONE]"
    chunks = [e for e in got if isinstance(e, dict)]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    expected = DemoAnswer("chat.completions", request, "demo-fast")
    assert text == expected.text
    assert chunks[-1]["usage"] == expected.usage()  # asked for, so sent last


async def test_a_chat_answer_without_streaming_is_one_completion(demo: httpx.AsyncClient) -> None:
    response = await demo.post("/chat/completions", json=chat("Once, please"))
    body = response.json()
    assert response.status_code == 200 and body["object"] == "chat.completion"
    assert (
        body["choices"][0]["message"]["content"]
        == DemoAnswer("chat.completions", chat("Once, please"), "demo-fast").text
    )


async def test_a_responses_stream_ends_with_the_completed_response(demo: httpx.AsyncClient) -> None:
    request = {"model": "demo-fast", "input": "Codex says hi", "stream": True}
    response = await demo.post("/responses", json=request)
    got = [e for e in events(response.text) if isinstance(e, dict)]
    assert got[0]["type"] == "response.created" and got[-1]["type"] == "response.completed"
    deltas = "".join(e["delta"] for e in got if e["type"] == "response.output_text.delta")
    assert deltas == got[-1]["response"]["output"][0]["content"][0]["text"]
    assert "Codex says hi" in deltas


async def test_embeddings_are_one_vector_per_input(demo: httpx.AsyncClient) -> None:
    response = await demo.post("/embeddings", json={"model": "demo-1", "input": ["a", "b", "a"]})
    vectors = [d["embedding"] for d in response.json()["data"]]
    assert len(vectors) == 3 and vectors[0] == vectors[2] != vectors[1]


async def test_models_lists_the_demo_models(demo: httpx.AsyncClient) -> None:
    response = await demo.get("/models")
    assert [m["id"] for m in response.json()["data"]] == list(DEMO_MODELS)


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/chat/completions", b"not json", 400),
        ("GET", "/chat/completions", b"", 404),
        ("POST", "/audio/speech", b'{"model":"demo-1"}', 404),
    ],
)
async def test_what_it_cannot_answer_is_an_openai_format_error(
    demo: httpx.AsyncClient, method: str, path: str, body: bytes, status: int
) -> None:
    response = await demo.request(method, path, content=body)
    assert response.status_code == status
    assert response.json()["error"]["message"]
