"""Bad input gets a clear answer and loses nothing: the call is still recorded."""

from __future__ import annotations

import socket
import time

import h11
import httpx
import pytest

from tests.fakes.provider import FakeProvider
from tests.support.worker import WorkerProcess, marked, recorded

MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.fixture
def cleared_fake(shared_fake: FakeProvider) -> FakeProvider:
    """The shared worker's provider, its logs cleared: `requests` are this test's own."""
    shared_fake.clear()
    return shared_fake


def raw_request(worker: WorkerProcess, data: bytes, timeout: float = 10) -> bytes:
    """Send bytes as they are; read until the server closes (or `timeout` of silence)."""
    host, port = worker.base_url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def one_answer(worker: WorkerProcess, data: bytes, timeout: float = 60) -> bytes:
    """Send a GET's bytes as they are; read until one whole answer has arrived (its end known
    from its own head, as a client reads it) on a connection the server keeps open. Only a
    deadline (generous: a loaded machine is slow, not wrong) ends the read otherwise."""
    host, port = worker.base_url.split("//")[1].split("/")[0].split(":")
    reader = h11.Connection(h11.CLIENT)  # reads the answer to a GET; what is sent is `data`
    reader.send(h11.Request(method="GET", target="/", headers=[("Host", host)]))
    reader.send(h11.EndOfMessage())
    answer = b""
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        while True:
            event = reader.next_event()
            if isinstance(event, h11.EndOfMessage):
                return answer
            if event is h11.NEED_DATA:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                chunk = sock.recv(65536)  # TimeoutError past the deadline
                reader.receive_data(chunk)
                answer += chunk
            elif isinstance(event, h11.ConnectionClosed):
                raise AssertionError(f"closed before the whole answer: {answer!r}")


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b"[1, 2, 3]",
        b'"just a string"',
        b"{" * 5,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"model": "fake-1", "messages": [\xff\xfe]}',
    ],
    ids=["text", "array", "string", "unclosed", "deeply-nested", "invalid-utf8"],
)
def test_bodies_that_are_not_a_json_object(shared_worker: WorkerProcess, body: bytes) -> None:
    path = marked("/v1/chat/completions")
    response = httpx.post(
        shared_worker.base_url.removesuffix("/v1") + path,
        content=body,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    row = recorded(shared_worker, path)
    stored = row["request_body"]
    assert (stored.encode() if isinstance(stored, str) else stored) == body
    assert row["state"] == "error"


def test_a_100_mib_body_is_forwarded_whole_and_recorded_capped(
    worker: WorkerProcess, fake: FakeProvider
) -> None:
    big = "a" * (100 * 1024 * 1024)
    response = httpx.post(
        worker.base_url + "/embeddings", timeout=120, json={"model": "fake-1", "input": big}
    )
    assert response.status_code == 200
    assert len(fake.requests[-1].body) > 100 * 1024 * 1024
    (row,) = worker.wait_for_calls(1, timeout=60)
    assert row["truncated"] & 1
    assert len(row["request_body"]) == 16 * 1024 * 1024
    assert row["request_size"] > 100 * 1024 * 1024


@pytest.mark.parametrize("value", ["../../etc/passwd", "fake\tx", "ünïcode", "a" * 5000])
def test_odd_routing_header_values_are_refused_cleanly(
    shared_worker: WorkerProcess, value: str
) -> None:
    path = marked("/v1/chat/completions")
    response = httpx.post(
        shared_worker.base_url.removesuffix("/v1") + path,
        json={"model": "fake-1", "messages": MESSAGES},
        headers={"X-Relayscope-Provider": value.encode("utf-8")},
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "provider_not_found"
    assert recorded(shared_worker, path)["status"] == 404


def test_header_injection_in_routing_headers_is_rejected_before_routing(
    shared_worker: WorkerProcess, cleared_fake: FakeProvider
) -> None:
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"X-Relayscope-Provider: fake\r\n\rX-Injected: yes\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    )
    answer = raw_request(shared_worker, request)
    assert answer.startswith(b"HTTP/1.1 400")
    assert b'"error"' in answer
    assert cleared_fake.requests == []


@pytest.mark.parametrize("path", ["/", "/admin", "/v2/chat/completions", "/v1beta/models"])
def test_paths_outside_v1_get_a_404_that_says_what_to_do(
    shared_worker: WorkerProcess, path: str
) -> None:
    response = httpx.get(shared_worker.base_url.removesuffix("/v1") + path)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found" and "/v1" in error["message"]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
def test_other_methods_are_forwarded_and_recorded(
    shared_worker: WorkerProcess, shared_fake: FakeProvider, method: str
) -> None:
    path = marked("/v1/files/file-123")
    response = httpx.request(method, shared_worker.base_url.removesuffix("/v1") + path)
    assert response.status_code == 404  # the fake has no /files: its own answer comes back
    assert (shared_fake.requests[-1].method, shared_fake.requests[-1].path) == (method, path)
    row = recorded(shared_worker, path)
    assert row["method"] == method and row["provider"] == "fake"


def test_transfer_encoding_smuggling_attempt_is_refused(
    shared_worker: WorkerProcess, cleared_fake: FakeProvider
) -> None:
    body = b'{"model":"fake-1","messages":[]}'
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        + f"{len(body):x}\r\n".encode()
        + body
        + b"\r\n0\r\n\r\n"
        + b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    answer = raw_request(shared_worker, request)
    assert answer.startswith(b"HTTP/1.1 400")
    assert answer.count(b"HTTP/1.1 ") == 1  # the smuggled second request never ran
    assert cleared_fake.requests == []


def test_http2_prior_knowledge_client_gets_a_clear_refusal(worker: WorkerProcess) -> None:
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000")
    answer = raw_request(worker, preface)
    assert answer.startswith(b"HTTP/1.1 505")
    assert b"http2_not_supported" in answer
    assert worker.wait_for_calls(1)[0]["status"] == 505


def test_h2c_upgrade_falls_back_to_http1(shared_worker: WorkerProcess) -> None:
    request = (
        b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
    )
    answer = one_answer(shared_worker, request)  # kept alive: read to the answer's end
    assert answer.startswith(b"HTTP/1.1 200")
    assert b'"fake-1"' in answer
