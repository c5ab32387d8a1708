"""Under load nothing is lost: every call answered, every chunk recorded, in order."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.provider import FakeProvider
from tests.reliability.conftest import config_for, scaled
from tests.support.worker import WorkerProcess


async def _one(client: httpx.AsyncClient, index: int) -> tuple[str, str]:
    prompt = f"request number {index}"
    body = {"model": "fake-1", "messages": [{"role": "user", "content": prompt}]}
    if index % 2:
        body["stream"] = True
        text = []
        async with client.stream("POST", "/chat/completions", json=body) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("data: {"):
                    chunk = json.loads(line[6:])
                    if chunk["choices"]:
                        text.append(chunk["choices"][0]["delta"].get("content") or "")
        return prompt, "".join(text)
    response = await client.post("/chat/completions", json=body)
    assert response.status_code == 200
    return prompt, response.json()["choices"][0]["message"]["content"]


async def _load(base_url: str, total: int, concurrency: int) -> list[tuple[str, str]]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:

        async def bounded(index: int) -> tuple[str, str]:
            async with semaphore:
                return await _one(client, index)

        return await asyncio.gather(*(bounded(i) for i in range(total)))


@pytest.mark.slow  # a minute of one core, no timing asserted: runs beside the rest
@pytest.mark.timeout(600)  # beside the rest of the suite a minute of CPU can take several
def test_mixed_load_every_call_answered_and_every_chunk_recorded(
    worker: WorkerProcess, fake: FakeProvider
) -> None:
    total = scaled(5000, 20000)
    started = time.monotonic()
    answers = asyncio.run(_load(worker.base_url, total, 64))
    elapsed = time.monotonic() - started
    for prompt, text in answers:
        assert text == fake.answer_for("fake-1", prompt)

    rows = worker.wait_for_calls(total, state="complete", timeout=60)
    assert len(rows) == total
    sent = {}  # answer text → the exact events the provider sent for it
    for index in range(fake.stream_count):
        events = fake.sent_events(index)
        text = "".join(
            (json.loads(e[6:])["choices"] or [{}])[0].get("delta", {}).get("content") or ""
            for e in events
            if e.startswith(b"data: {")
        )
        sent[text] = events
    store = worker.store()
    try:
        streamed = [r for r in rows if r["stream"]]
        assert len(streamed) == total // 2
        for row in streamed:
            recorded = [c["data"].encode() for c in store.chunks(row["id"])]
            assert recorded == sent[row["output_text"]], row["id"]
            assert row["chunk_count"] == len(recorded)
        for row in rows:
            prompt = json.loads(row["request_body"])["messages"][0]["content"]
            assert row["output_text"] == fake.answer_for("fake-1", prompt)
    finally:
        store.close()
    print(f"\n{total} calls at concurrency 64 in {elapsed:.1f} s; all recorded")


async def _long_stream(client: httpx.AsyncClient, index: int) -> list[int]:
    body = {
        "model": "fake-1",
        "stream": True,
        "messages": [{"role": "user", "content": f"stream {index}"}],
    }
    seen = []
    async with client.stream(
        "POST", "/chat/completions", json=body, headers={"x-fake-delay": "0.02"}
    ) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: {"):
                seen.append(len(seen))
    return seen


def test_many_long_streams_held_open_at_once(tmp_path: Path) -> None:
    count = scaled(200, 500)
    with (
        FakeProvider(name="fake", words=50) as fake,
        WorkerProcess(
            tmp_path,
            config_for(fake).replace('api_key = "sk-reliability-provider-key-98765"\n', ""),
            events=False,
            extra_args=("--quiet",),
        ) as worker,
    ):

        async def run() -> list[list[int]]:
            limits = httpx.Limits(max_connections=count)
            async with httpx.AsyncClient(
                base_url=worker.base_url, limits=limits, timeout=60
            ) as client:
                return await asyncio.gather(*(_long_stream(client, i) for i in range(count)))

        results = asyncio.run(run())
        rows = worker.wait_for_calls(count, state="complete", timeout=60)
        store = worker.store()
        try:
            for row in rows:
                chunks = store.chunks(row["id"])
                assert [c["seq"] for c in chunks] == list(range(len(chunks)))
                times = [c["t_ms"] for c in chunks]
                assert times == sorted(times)
                assert row["output_text"] == fake.answer_for("fake-1", "")
        finally:
            store.close()
    assert all(len(seen) == len(results[0]) > 50 for seen in results)
