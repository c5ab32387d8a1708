"""Malformed requests, paths that climb out of /v1, and call ids that are already taken:
refused with a sentence before anything is forwarded, and recorded."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from relayscope.routing.routes import new_call_id
from tests.fakes.provider import FakeProvider
from tests.security.conftest import CHAT, raw_exchange
from tests.support.worker import WorkerProcess, marked, recorded


@pytest.fixture
def fake(shared_fake: FakeProvider) -> FakeProvider:
    shared_fake.clear()
    return shared_fake


def post(path: str, head: bytes, version: bytes = b"HTTP/1.1", body: bytes = CHAT) -> bytes:
    return (
        b"POST %s %s\r\n" % (path.encode(), version)
        + head
        + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        + body
    )


def answer_of(raw: bytes) -> tuple[int, dict[str, str]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)["error"]


HOST = b"Host: 127.0.0.1\r\n"
MALFORMED = {
    "no Host": (b"", b"HTTP/1.1", "host_missing"),
    "no Host, HTTP/1.0": (b"", b"HTTP/1.0", "host_missing"),
    "two Host headers": (HOST + b"Host: evil.test\r\n", b"HTTP/1.1", "host_missing"),
    "NUL in a header value": (HOST + b"X-Note: a\x00b\r\n", b"HTTP/1.1", "invalid_header"),
    "bare CR in a header value": (HOST + b"X-Note: a\rb\r\n", b"HTTP/1.1", "invalid_header"),
    "folded header line": (HOST + b"X-Note: a\r\n b\r\n", b"HTTP/1.1", "invalid_header"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_requests_are_refused_with_400(
    name: str, shared_worker: WorkerProcess, fake: FakeProvider
) -> None:
    head, version, code = MALFORMED[name]
    path = marked("/v1/chat/completions")
    status, error = answer_of(raw_exchange(shared_worker, post(path, head, version)))
    assert (status, error["code"]) == (400, code)
    assert "Relayscope does not forward" in error["message"]
    assert fake.requests == []
    call = recorded(shared_worker, path)
    assert (call["status"], call["error_code"], call["provider"]) == (400, code, "relayscope")


CLIMBING = [
    "/v1/../admin",
    "/v1/files/..",
    "/v1/./models",
    "/v1/%2e%2e/admin",
    "/v1/%2E%2e/%2e%2E/admin",
    "/v1/files/x%2f..%2f..%2fadmin",
    "/v1/%252e%252e/admin",
    "/v1/files\\..\\..\\admin",
    "/v1/files/%5c..%5cadmin?purpose=x",
]


@pytest.mark.parametrize("path", CLIMBING)
def test_paths_that_climb_out_of_v1_are_refused(
    path: str, shared_worker: WorkerProcess, fake: FakeProvider
) -> None:
    path = marked(path)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    status, error = answer_of(raw_exchange(shared_worker, request))
    assert (status, error["code"]) == (400, "invalid_path")
    assert "/v1/chat/completions" in error["message"]
    assert fake.requests == []
    assert recorded(shared_worker, path)["error_code"] == "invalid_path"


def test_encoded_slashes_and_dots_inside_names_still_pass(
    shared_worker: WorkerProcess, fake: FakeProvider
) -> None:
    """Model ids with a slash (percent-encoded) or dots are ordinary, not dot-segments."""
    for path in ("/v1/models/org%2Fmodel-1.5", "/v1/models/..hidden", "/v1/models/a.b"):
        httpx.get(f"{shared_worker.base_url.removesuffix('/v1')}{path}")
    assert [r.path for r in fake.requests] == [
        "/v1/models/org%2Fmodel-1.5",
        "/v1/models/..hidden",
        "/v1/models/a.b",
    ]


def chat_with_id(worker: WorkerProcess, call_id: str, content: str) -> tuple[httpx.Response, str]:
    """(the answer, the recorded path to find the call by)."""
    body = {"model": "fake-1", "messages": [{"role": "user", "content": content}]}
    path = marked("/v1/chat/completions")
    answer = httpx.post(
        f"{worker.base_url.removesuffix('/v1')}{path}",
        headers={"x-relayscope-call-id": call_id},
        json=body,
        timeout=10,
    )
    return answer, path


def test_a_chosen_call_id_cannot_overwrite_a_call(
    shared_worker: WorkerProcess, fake: FakeProvider
) -> None:
    call_id = new_call_id()
    answer, path = chat_with_id(shared_worker, call_id, "the original")
    assert answer.status_code == 200
    assert recorded(shared_worker, path)["id"] == call_id
    for attempt in ("overwrite", "overwrite again"):
        answer, path = chat_with_id(shared_worker, call_id, attempt)
        assert answer.status_code == 409
        error = answer.json()["error"]
        assert error["code"] == "call_id_taken"
        assert "Leave the header out" in error["message"]
        refusal = recorded(shared_worker, path)
        assert refusal["id"] != call_id and refusal["error_code"] == "call_id_taken"
    assert len(fake.requests) == 1
    store = shared_worker.store()
    try:
        original = store.get_call(call_id)
    finally:
        store.close()
    assert original is not None
    assert "the original" in original["request_body"]
    assert original["status"] == 200 and original["state"] == "complete"


def test_a_call_id_from_an_earlier_run_is_refused(
    start_worker: Callable[..., WorkerProcess], fake: FakeProvider
) -> None:
    first = start_worker()
    call_id = new_call_id()
    assert chat_with_id(first, call_id, "yesterday")[0].status_code == 200
    first.wait_for_calls(1)
    first.stop()
    second = start_worker()  # same database, nothing in memory
    answer, _ = chat_with_id(second, call_id, "today")
    assert answer.status_code == 409
    assert len(fake.requests) == 1
    rows = second.wait_for_calls(2)
    assert [r["error_code"] for r in rows] == [None, "call_id_taken"]
    assert "yesterday" in rows[0]["request_body"]


def test_a_fresh_chosen_id_is_used(shared_worker: WorkerProcess, fake: FakeProvider) -> None:
    call_id = new_call_id()
    answer, path = chat_with_id(shared_worker, call_id, "fresh")
    assert answer.status_code == 200
    assert recorded(shared_worker, path)["id"] == call_id
