"""Fixtures: a permissive fake provider (CORS for everyone) behind the real worker."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from tests.fakes.provider import FakeProvider
from tests.support.worker import WorkerProcess, provider_config

KEY = "sk-guarded-secret-key-0123456789"
CHAT = b'{"model": "fake-1", "messages": [{"role": "user", "content": "hi"}]}'


def permissive_provider() -> FakeProvider:
    # cors=True: the worst case, a provider whose answers any page may read.
    return FakeProvider(name="fake", api_key=KEY, cors=True, websocket=True)


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with permissive_provider() as provider:
        yield provider


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[FakeProvider]:
    """One provider for a module's tests (each test clears its request log)."""
    with permissive_provider() as provider:
        yield provider


@pytest.fixture(scope="module")
def shared_worker(
    tmp_path_factory: pytest.TempPathFactory, shared_fake: FakeProvider
) -> Iterator[WorkerProcess]:
    """One worker with the default settings for a module's tests (a start costs seconds)."""
    tmp = tmp_path_factory.mktemp("guarded")
    with WorkerProcess(tmp, guarded_config(shared_fake)) as process:
        yield process


def guarded_config(fake: FakeProvider, proxy: str = "") -> str:
    config = provider_config(("fake", fake.base_url)).replace(
        'api_key = "sk-fake-secret-key-0123456789"', f'api_key = "{KEY}"'
    )
    return (f"[proxy]\n{proxy}\n" if proxy else "") + config


@pytest.fixture
def start_worker(tmp_path: Path, fake: FakeProvider) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(proxy: str = "", **kwargs: Any) -> WorkerProcess:
        process = WorkerProcess(tmp_path, guarded_config(fake, proxy), **kwargs).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def worker(start_worker: Callable[..., WorkerProcess]) -> WorkerProcess:
    return start_worker()


def port_of(worker: WorkerProcess) -> int:
    return int(worker.base_url.rsplit(":", 1)[1].split("/")[0])


def raw_exchange(worker: WorkerProcess, data: bytes, timeout: float = 5.0) -> bytes:
    """Send bytes as they are (what no HTTP library lets a test send) and read the answer
    until the proxy closes the connection or the timeout passes."""
    with socket.create_connection(("127.0.0.1", port_of(worker)), timeout=timeout) as sock:
        sock.sendall(data)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and _complete(answer):
                    break
        except TimeoutError:
            pass
    return answer


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def provider_saw_key(fake: FakeProvider) -> bool:
    return any(KEY in value for r in fake.requests for value in r.headers.values())


def websocket_turn(worker: WorkerProcess, origin: str | None) -> tuple[int, list[str]]:
    """A WebSocket on /v1/responses (as a page's `new WebSocket(...)` opens it, with its
    Origin) and one turn: (status, the server's text messages)."""
    ws = WSConnection(ConnectionType.CLIENT)
    extra = [(b"origin", origin.encode())] if origin else []
    messages: list[str] = []
    status = 0
    with socket.create_connection(("127.0.0.1", port_of(worker)), timeout=10) as sock:
        host = f"127.0.0.1:{port_of(worker)}"
        sock.sendall(ws.send(Request(host=host, target="/v1/responses", extra_headers=extra)))
        while data := sock.recv(65536):
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    status = 101
                    turn = {"type": "response.create", "model": "fake-1", "input": "hi"}
                    sock.sendall(ws.send(TextMessage(data=json.dumps(turn))))
                elif isinstance(event, RejectConnection):
                    status = event.status_code
                elif isinstance(event, TextMessage):
                    messages.append(event.data)
                    if "response.completed" in event.data:
                        sock.sendall(ws.send(CloseConnection(code=1000)))
                        return status, messages
                elif isinstance(event, RejectData) and event.body_finished:
                    return status, messages
    return status, messages
