"""Faults on either side: the client gets a clear answer, the recording says what happened."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.fakes.provider import FakeProvider
from tests.reliability.conftest import KEY, config_for, scaled
from tests.support.worker import WorkerProcess, completion_id

MESSAGES = [{"role": "user", "content": "hello"}]


def post(worker: WorkerProcess, model: str, *, stream: bool = False) -> httpx.Response:
    return httpx.post(
        worker.base_url + "/chat/completions",
        timeout=20,
        json={"model": model, "messages": MESSAGES, "stream": stream},
    )


def test_provider_stalling_mid_stream_is_cut_after_the_timeout(
    tmp_path: Path, fake: FakeProvider
) -> None:
    with WorkerProcess(tmp_path, config_for(fake, "timeout = 0.5\n")) as worker:
        with pytest.raises(httpx.HTTPError):
            post(worker, "stall", stream=True)
        (row,) = worker.wait_for_calls(1)
        store = worker.store()
        try:
            last_chunk_ms = store.chunks(row["id"])[-1]["t_ms"]
        finally:
            store.close()
    assert row["state"] == "interrupted" and row["status"] == 200
    assert "sent nothing for 0.5 s" in row["error"]
    assert row["chunk_count"] == len(fake.sent_events()) >= 1
    # Cut after the configured 0.5 s of silence, not hung until the client's own 20 s: told by
    # the worker's own clock (the call's recorded end against its last chunk), which a loaded
    # machine stretches far less than this test's wall clock (which counts the worker's first
    # call and the client too: 6.1 and 7.4 s at load 13, where the worker recorded 0.52 and
    # 0.60 s of silence; the bound was 5 s).
    silence_ms = row["duration_ms"] - last_chunk_ms
    assert 500 <= silence_ms < 5000, silence_ms


@pytest.mark.parametrize("model", ["garbage"])
def test_provider_answering_garbage_gets_an_openai_error(
    worker: WorkerProcess, fake: FakeProvider, model: str
) -> None:
    response = post(worker, model)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unreachable"
    (row,) = worker.wait_for_calls(1)
    assert (row["status"], row["state"]) == (502, "error")


def test_stream_with_the_wrong_content_type_passes_through_and_is_recorded(
    worker: WorkerProcess, fake: FakeProvider
) -> None:
    response = post(worker, "wrong-content-type", stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    (row,) = worker.wait_for_calls(1)
    assert row["state"] == "complete"
    assert row["response_body"] == response.text  # kept whole, since it is not SSE
    headers = dict((k.lower(), v) for k, v in json.loads(row["response_headers"]))
    assert headers["content-type"].startswith("text/plain")


def test_error_object_inside_a_200_stream_is_recorded(
    worker: WorkerProcess, fake: FakeProvider
) -> None:
    response = post(worker, "error-in-stream", stream=True)
    assert response.status_code == 200 and "upstream overloaded" in response.text
    (row,) = worker.wait_for_calls(1)
    assert "upstream overloaded" in row["error"]


def test_sigkill_during_twenty_streams_loses_at_most_one_batch(tmp_path: Path) -> None:
    streams = scaled(20, 64)
    seen: dict[str, int] = {}  # completion id -> events its client got before the kill
    with FakeProvider(chunk_delay=0.02, words=400, api_key=KEY) as fake:
        worker = WorkerProcess(tmp_path, config_for(fake)).start()
        progress = threading.Semaphore(0)

        def stream() -> None:
            with openai.OpenAI(base_url=worker.base_url, api_key="x", max_retries=0) as c:
                try:
                    for index, chunk in enumerate(
                        c.chat.completions.create(model="fake-1", messages=MESSAGES, stream=True)
                    ):
                        seen[chunk.id] = index + 1
                        if index == 5:
                            progress.release()
                except (openai.APIError, httpx.HTTPError):
                    pass

        threads = [threading.Thread(target=stream) for _ in range(streams)]
        for thread in threads:
            thread.start()
        for _ in range(streams):
            assert progress.acquire(timeout=20)
        time.sleep(0.3)
        worker.stop(signal.SIGKILL)
        for thread in threads:
            thread.join(10)
        restarted = WorkerProcess(tmp_path, config_for(fake)).start()
        restarted.stop()
        sent = {
            json.loads(events[0].removeprefix(b"data: "))["id"]: len(events)
            for events in (fake.sent_events(i) for i in range(fake.stream_count))
        }
    store = restarted.store()
    try:
        assert store.integrity_ok()
        rows = store.list_calls(limit=1000)
        chunks = [store.chunks(r["id"]) for r in rows]
    finally:
        store.close()
    assert len(rows) == streams
    assert {r["state"] for r in rows} == {"interrupted"}
    assert all(r["chunk_count"] == len(c) > 0 for r, c in zip(rows, chunks, strict=True))
    recorded = {completion_id(c): len(c) for c in chunks}
    assert recorded.keys() == sent.keys() == seen.keys()
    assert all(recorded[cid] <= sent[cid] for cid in sent)
    # The documented bound: at most the last ~50 ms of chunks (one 20 ms batch window plus
    # the commit) is lost. At one chunk per 20 ms per stream that is ≤ 3 chunks per stream;
    # allow one more for the kill landing between a read and its hand-off. Held against
    # what each stream's own client had got: what the fake had sent also counts what was
    # still on the wire or unread by the worker, which a loaded machine lets grow (5 of the
    # fake's events not recorded at load 7, 4 expected).
    lost = {cid: seen[cid] - recorded[cid] for cid in seen}
    assert max(lost.values()) <= 4, (lost, sent, recorded)
