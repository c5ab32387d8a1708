"""Fixtures for the addons' unit tests: mitmproxy's test helpers, flows as clients send them,
and a recording sink that keeps what an addon hands the recording writer."""

from __future__ import annotations

import json
import warnings
from typing import Any, NamedTuple

import pytest
from mitmproxy import http
from mitmproxy.test import tflow, tutils

from relayscope.recording.writer import Recording

with warnings.catch_warnings():
    # taddons imports mitmproxy.master, which imports every built-in addon, proxyauth's ldap3
    # among them; ldap3 reads names pyasn1 0.6 deprecated. Not our code, and only here.
    warnings.filterwarnings("ignore", r"(tag|type)Map is deprecated", DeprecationWarning)
    from mitmproxy.test import taddons  # noqa: F401  (imported once, warnings silenced)

#: Where clients reach Relayscope in these tests.
LISTEN_HOST, LISTEN_PORT = "127.0.0.1", 8787


def client_flow(
    path: str = "/v1/chat/completions",
    body: dict[str, Any] | bytes | None = None,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> http.HTTPFlow:
    """A flow as a local client sends it to Relayscope's listener (no response yet)."""
    content = json.dumps(body).encode() if isinstance(body, dict) else (body or b"")
    fields = {"host": f"{LISTEN_HOST}:{LISTEN_PORT}", "user-agent": "OpenAI/Python 2.8.1"}
    if content:
        fields |= {"content-type": "application/json", "content-length": str(len(content))}
    fields |= headers or {}
    request = tutils.treq(
        host=LISTEN_HOST,
        port=LISTEN_PORT,
        method=method.encode(),
        path=path.encode(),
        headers=http.Headers([(k.encode(), v.encode()) for k, v in fields.items()]),
        content=content,
    )
    return tflow.tflow(req=request)


def error_of(response: http.Response | None) -> dict[str, Any]:
    """The OpenAI-format error object of an answer (fails the test if it is not one)."""
    assert response is not None, "no answer"
    assert response.headers.get("content-type") == "application/json"
    error = json.loads(response.content or b"")["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert set(error) == {"message", "type", "code", "param"}
    return dict(error)


class Chunk(NamedTuple):
    call_id: str
    seq: int
    t_ms: float
    raw: bytes
    data: str | None
    event: str | None
    direction: str | None


class RecordingSink(Recording):
    """A `Recording` whose ops stay here instead of going to a writer: the base class builds
    them as it would for the real one; `calls` keeps each call by name, in order."""

    def __init__(self) -> None:
        self.ops: list[tuple[Any, ...]] = []
        self._put = self.ops.append
        self.calls: list[tuple[str, Any]] = []

    def start(self, row: dict[str, Any]) -> None:
        self.calls.append(("start", (row,)))
        super().start(row)

    def chunk(
        self,
        call_id: str,
        seq: int,
        t_ms: float,
        raw: bytes,
        data: str | None,
        event: str | None,
        direction: str | None = None,
    ) -> None:
        self.calls.append(("chunk", Chunk(call_id, seq, t_ms, raw, data, event, direction)))
        super().chunk(call_id, seq, t_ms, raw, data, event, direction)

    def raw(self, call_id: str, t_ms: float, data: bytes) -> None:
        self.calls.append(("raw", (call_id, t_ms, data)))
        super().raw(call_id, t_ms, data)

    def update(self, call_id: str, fields: dict[str, Any]) -> None:
        self.calls.append(("update", (call_id, fields)))
        super().update(call_id, fields)

    def finish(self, call_id: str, fields: dict[str, Any]) -> None:
        self.calls.append(("finish", (call_id, fields)))
        super().finish(call_id, fields)

    def named(self, name: str) -> list[Any]:
        return [args for called, args in self.calls if called == name]


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
