"""The playback provider's server: recorded answers served again over a real loopback socket,
as they were (status, headers, chunks, cuts), or a 404 that says why nothing matched."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from relayscope.actions.playback import PlaybackSet, Recording
from relayscope.proxy.servers.playback import PlaybackServer

pytestmark = pytest.mark.anyio

ASK = {"model": "gpt-5.2", "messages": [{"role": "user", "content": "weather in Lyon?"}]}
STREAMED = {**ASK, "stream": True}
EVENTS = [
    'data: {"choices":[{"index":0,"delta":{"content":"Sunny"}}]}\n\n',
    'data: {"choices":[{"index":0,"delta":{"content":", 21 C"}}]}\n\n',
    "data: [DONE]\n\n",
]


_IDS = itertools.count(1)


def recording(
    request: dict[str, Any],
    *,
    status: int = 200,
    body: str | None = None,
    chunks: tuple[str, ...] = (),
    state: str = "complete",
    gap_ms: float = 0.0,
) -> Recording:
    call = {
        "id": f"0196a1b2c3d4-{next(_IDS):08x}",
        "endpoint": "chat.completions",
        "model": request["model"],
        "request_body": json.dumps(request),
        "status": status,
        "state": state,
        "response_body": body,
        "duration_ms": 1.0,
        "response_headers": json.dumps(
            [
                ["content-type", "text/event-stream" if chunks else "application/json"],
                ["x-request-id", "req_recorded"],
                ["content-length", "999"],  # this transfer's, not the answer's: not replayed
            ]
        ),
    }
    rows = tuple({"seq": i, "t_ms": gap_ms * i, "data": c} for i, c in enumerate(chunks))
    return Recording(call, rows)


@pytest.fixture
def recordings() -> list[Recording]:
    return []


@pytest.fixture
async def playback(recordings: list[Recording]) -> AsyncIterator[httpx.AsyncClient]:
    server = PlaybackServer(PlaybackSet(recordings, speed=1.0))
    await server.start()
    try:
        base = f"http://127.0.0.1:{server.port}/v1"
        async with httpx.AsyncClient(base_url=base, timeout=5.0) as client:
            yield client
    finally:
        await server.stop()


async def test_a_recorded_answer_is_served_with_its_status_and_headers(
    recordings: list[Recording], playback: httpx.AsyncClient
) -> None:
    answer = '{"choices":[{"message":{"content":"Sunny, 21 C"}}]}'
    recordings.append(recording(ASK, body=answer))
    response = await playback.post("/chat/completions", json=ASK)
    assert (response.status_code, response.text) == (200, answer)
    assert response.headers["x-request-id"] == "req_recorded"
    assert response.headers["content-length"] == str(len(answer))


async def test_a_recorded_failure_is_served_again(
    recordings: list[Recording], playback: httpx.AsyncClient
) -> None:
    recordings.append(recording(ASK, status=429, body='{"error":{"message":"slow down"}}'))
    response = await playback.post("/chat/completions", json=ASK)
    assert response.status_code == 429 and response.json()["error"]["message"] == "slow down"


async def test_a_recorded_stream_is_served_chunk_by_chunk_with_its_gaps(
    recordings: list[Recording], playback: httpx.AsyncClient
) -> None:
    recordings.append(recording(STREAMED, chunks=tuple(EVENTS), gap_ms=60.0))
    arrived: list[tuple[float, bytes]] = []
    async with playback.stream("POST", "/chat/completions", json=STREAMED) as response:
        assert response.headers["content-type"] == "text/event-stream"
        async for chunk in response.aiter_raw():
            arrived.append((time.monotonic(), chunk))
    assert b"".join(c for _, c in arrived) == "".join(EVENTS).encode()
    assert arrived[-1][0] - arrived[0][0] >= 0.1  # two 60 ms gaps, kept


async def test_a_recorded_cut_stream_is_cut_again(
    recordings: list[Recording], playback: httpx.AsyncClient
) -> None:
    recordings.append(recording(STREAMED, chunks=tuple(EVENTS[:1]), state="interrupted"))
    received = b""
    with pytest.raises(httpx.RemoteProtocolError):
        async with playback.stream("POST", "/chat/completions", json=STREAMED) as response:
            async for chunk in response.aiter_raw():
                received += chunk
    assert received == EVENTS[0].encode()


async def test_a_request_nothing_matches_is_a_404_naming_the_closest_recording(
    recordings: list[Recording], playback: httpx.AsyncClient
) -> None:
    recordings.append(recording(ASK, body="{}"))
    response = await playback.post("/chat/completions", json={**ASK, "model": "gpt-4o"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "playback_no_match"
    assert recordings[0].id in error["message"] and "gpt-5.2" in error["message"]


async def test_models_lists_the_recorded_models(
    recordings: list[Recording], playback: httpx.AsyncClient
) -> None:
    recordings += [recording(ASK, body="{}"), recording({**ASK, "model": "o3"}, body="{}")]
    response = await playback.get("/models")
    assert [m["id"] for m in response.json()["data"]] == ["gpt-5.2", "o3"]
