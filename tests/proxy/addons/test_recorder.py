"""Recorder: what a routed call leaves in the database (through a real RecordingWriter), and
what the client gets from a stream it taps."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import http
from mitmproxy.test import taddons, tflow, tutils

from relayscope.config import DEMO, Config, Provider
from relayscope.proxy.addons import errors
from relayscope.proxy.addons.context import context_of
from relayscope.proxy.addons.recorder import Recorder
from relayscope.proxy.addons.router import Router
from relayscope.recording.writer import RecordingWriter
from relayscope.store.call_store import CallStore
from tests.proxy.conftest import RecordingSink, client_flow

pytestmark = pytest.mark.anyio

OPENAI = Provider(
    "openai", "https://api.openai.test/v1", api_key="sk-openai-key", models=("gpt-*",)
)
MUST_STREAM = Provider(
    "strict",
    "https://strict.test/v1",
    api_key="sk-strict-key",
    models=("s-*",),
    stream_required=("s-*",),
)
CONFIG = Config(providers=(OPENAI, MUST_STREAM, DEMO))
CHAT = {"model": "gpt-5.2", "messages": [{"role": "user", "content": "say hello please"}]}
CLIENT_KEY = "sk-client-secret-0123456789"

EVENTS = [
    b'data: {"id":"c1","model":"gpt-5.2","choices":[{"index":0,"delta":{"role":"assistant",'
    b'"content":""},"finish_reason":null}]}\n\n',
    b'data: {"id":"c1","model":"gpt-5.2","choices":[{"index":0,"delta":{"content":"Hello "},'
    b'"finish_reason":null}]}\n\n',
    b'data: {"id":"c1","model":"gpt-5.2","choices":[{"index":0,"delta":{"content":"world"},'
    b'"finish_reason":null}]}\n\n',
    b'data: {"id":"c1","model":"gpt-5.2","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'
    b"\n\n",
    b'data: {"id":"c1","model":"gpt-5.2","choices":[],'
    b'"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}\n\n',
    b"data: [DONE]\n\n",
]
STREAM = b"".join(EVENTS)
ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-5.2",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello!"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
}


@dataclass
class Proxy:
    """The Router and the Recorder as the worker chains them, recording into a real database."""

    db_path: Path
    writer: RecordingWriter
    router: Router
    recorder: Recorder

    async def send(self, body: dict[str, Any] | bytes = CHAT, **kwargs: Any) -> http.HTTPFlow:
        flow = client_flow(body=body, **kwargs)
        with taddons.context(self.router, self.recorder):
            self.router.requestheaders(flow)
            await self.router.request(flow)
            self.recorder.request(flow)
        return flow

    def answer(
        self, flow: http.HTTPFlow, status: int, content: bytes, **headers: str
    ) -> Callable[[bytes], Any] | None:
        """The provider's response headers arrive; returns the stream tap, if one was set."""
        flow.response = tutils.tresp(
            status_code=status,
            headers=http.Headers(
                [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
            ),
            content=content,
        )
        self.recorder.responseheaders(flow)
        stream = flow.response.stream
        return stream if callable(stream) else None

    def recorded(self, flow: http.HTTPFlow) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Everything written for the flow's call (the writer is flushed and closed)."""
        self.writer.close()
        ctx = context_of(flow)
        assert ctx is not None
        store = CallStore(self.db_path)
        try:
            call = store.get_call(ctx.id)
            assert call is not None, "the call was not recorded"
            return call, store.chunks(ctx.id)
        finally:
            store.close()


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Proxy]:
    writer = RecordingWriter(tmp_path / "relayscope.db", batch_seconds=0.001).open()
    yield Proxy(
        tmp_path / "relayscope.db",
        writer,
        Router(CONFIG),
        Recorder(writer, max_body_bytes=1024),
    )
    writer.close()


def stream_through(tap: Callable[[bytes], Any], data: bytes, cuts: list[int]) -> bytes:
    """Network chunks split at `cuts` pass through the tap; returns what the client got."""
    out = bytearray()
    for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
        sent = tap(data[start:end])
        out += b"".join(sent) if isinstance(sent, list) else sent
    sent = tap(b"")
    return bytes(out + (b"".join(sent) if isinstance(sent, list) else sent))


# -- what is recorded ----------------------------------------------------------------------


async def test_a_call_is_pending_as_soon_as_it_is_routed(proxy: Proxy) -> None:
    flow = await proxy.send(headers={"Authorization": f"Bearer {CLIENT_KEY}"})
    call, _ = proxy.recorded(flow)
    assert (call["state"], call["provider"], call["model"]) == ("pending", "openai", "gpt-5.2")
    assert call["endpoint"] == "chat.completions" and call["path"] == "/v1/chat/completions"
    assert json.loads(call["request_body"]) == CHAT
    headers = {name.lower(): value for name, value in json.loads(call["request_headers"])}
    assert CLIENT_KEY not in call["request_headers"]
    assert headers["authorization"].endswith("6789")  # enough to tell keys apart
    assert call["client"] == "OpenAI/Python 2.8.1"


async def test_an_answer_is_recorded_with_its_text_and_usage(proxy: Proxy) -> None:
    flow = await proxy.send()
    body = json.dumps(ANSWER).encode()
    assert proxy.answer(flow, 200, body, content_type="application/json") is None  # no tap
    proxy.recorder.response(flow)
    call, chunks = proxy.recorded(flow)
    assert (call["state"], call["status"], call["output_text"]) == ("complete", 200, "Hello!")
    assert (call["prompt_tokens"], call["completion_tokens"]) == (9, 2)
    assert json.loads(call["response_body"]) == ANSWER and chunks == []
    assert call["duration_ms"] is not None and call["ttft_ms"] is not None


async def test_a_stream_passes_through_untouched_and_is_recorded_event_by_event(
    proxy: Proxy,
) -> None:
    flow = await proxy.send({**CHAT, "stream": True, "stream_options": {"include_usage": True}})
    tap = proxy.answer(flow, 200, b"", content_type="text/event-stream")
    assert tap is not None
    # Network chunks that cut events in the middle, as real providers do.
    client_got = stream_through(tap, STREAM, [30, len(EVENTS[0]) + 5, 400])
    proxy.recorder.response(flow)
    call, chunks = proxy.recorded(flow)
    assert client_got == STREAM
    assert [c["data"].encode() for c in chunks] == EVENTS  # each event exactly as received
    assert (call["state"], call["status"], call["stream"]) == ("complete", 200, 1)
    assert (call["output_text"], call["total_tokens"], call["chunk_count"]) == (
        "Hello world",
        11,
        len(EVENTS),
    )
    assert call["response_body"] is None  # the chunks are the body


async def test_a_compressed_stream_reaches_the_client_compressed_and_is_recorded_decoded(
    proxy: Proxy,
) -> None:
    flow = await proxy.send({**CHAT, "stream": True, "stream_options": {"include_usage": True}})
    packed = gzip.compress(STREAM)
    tap = proxy.answer(flow, 200, b"", content_type="text/event-stream", content_encoding="gzip")
    assert tap is not None
    client_got = stream_through(tap, packed, [10, len(packed) // 2])
    proxy.recorder.response(flow)
    call, chunks = proxy.recorded(flow)
    assert client_got == packed
    assert [c["data"].encode() for c in chunks] == EVENTS
    assert call["output_text"] == "Hello world"


async def test_a_provider_error_is_recorded_as_failed_with_its_answer(proxy: Proxy) -> None:
    flow = await proxy.send()
    limited = b'{"error":{"message":"slow down","type":"rate_limit","code":"rate_limited"}}'
    proxy.answer(flow, 429, limited, content_type="application/json")
    proxy.recorder.response(flow)
    call, _ = proxy.recorded(flow)
    assert (call["state"], call["status"]) == ("error", 429)
    assert call["response_body"] == limited.decode()


async def test_what_the_router_refuses_is_recorded_as_answered_by_relayscope(
    proxy: Proxy,
) -> None:
    flow = await proxy.send(path="/chat/completions")
    assert flow.response is not None
    proxy.recorder.responseheaders(flow)
    proxy.recorder.response(flow)
    call, _ = proxy.recorded(flow)
    assert (call["state"], call["status"], call["provider"]) == ("error", 404, "relayscope")
    assert json.loads(call["response_body"])["error"]["code"] == "not_found"


async def test_an_unreachable_provider_is_a_502_with_its_code(proxy: Proxy) -> None:
    flow = await proxy.send()
    flow.error = tflow.terr("Connection refused")
    proxy.recorder.error(flow)
    call, _ = proxy.recorded(flow)
    assert (call["state"], call["status"], call["error_code"]) == (
        "error",
        502,
        "upstream_unreachable",
    )
    assert "Connection refused" in call["error"]


@pytest.mark.parametrize(
    ("message", "cut_by"),
    [("Client disconnected.", "client"), ("peer closed connection", "provider")],
)
async def test_a_stream_cut_midway_is_interrupted_and_says_who_cut_it(
    proxy: Proxy, message: str, cut_by: str
) -> None:
    flow = await proxy.send({**CHAT, "stream": True, "stream_options": {"include_usage": True}})
    tap = proxy.answer(flow, 200, b"", content_type="text/event-stream")
    assert tap is not None
    tap(EVENTS[0] + EVENTS[1])
    flow.error = tflow.terr(message)
    proxy.recorder.error(flow)
    call, chunks = proxy.recorded(flow)
    assert (call["state"], call["status"], call["cut_by"]) == ("interrupted", 200, cut_by)
    assert [c["data"].encode() for c in chunks] == EVENTS[:2]  # what arrived is kept


async def test_a_provider_that_never_answered_in_time_is_a_504(
    proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(errors, "_announced_timeouts", [])  # the error page's announcement
    flow = await proxy.send()
    flow.metadata[errors.TIMEOUT_MARK] = True  # the Watchdog closed the connection
    flow.error = tflow.terr(errors.CLOSED_BY_US)
    proxy.recorder.error(flow)
    call, _ = proxy.recorded(flow)
    assert (call["state"], call["status"], call["error_code"]) == ("error", 504, "upstream_timeout")


async def test_a_body_over_the_limit_is_recorded_truncated_with_its_real_size(
    proxy: Proxy,
) -> None:
    body = {**CHAT, "messages": [{"role": "user", "content": "x" * 3000}]}
    flow = await proxy.send(body)
    call, _ = proxy.recorded(flow)
    sent = json.dumps(body).encode()
    assert call["request_body"] == sent[:1024].decode()
    assert (call["request_size"], call["truncated"]) == (len(sent), 1)
    assert flow.request.content == sent  # the provider still gets all of it


async def test_codex_session_and_turn_are_read_from_its_headers(proxy: Proxy) -> None:
    flow = await proxy.send(
        headers={
            "session_id": "sess-42",
            "x-codex-turn-metadata": json.dumps({"turn_id": "turn-7", "sandbox": "none"}),
        }
    )
    call, _ = proxy.recorded(flow)
    assert (call["session_id"], call["turn_id"]) == ("sess-42", "turn-7")


async def test_a_client_ignorant_of_streaming_gets_one_answer_from_a_forced_stream(
    proxy: Proxy,
) -> None:
    flow = await proxy.send({**CHAT, "model": "s-1"})
    assert json.loads(flow.request.content or b"")["stream"] is True  # the provider must stream
    tap = proxy.answer(flow, 200, b"", content_type="text/event-stream")
    assert tap is not None
    client_got = stream_through(tap, STREAM.replace(b"gpt-5.2", b"s-1"), [100])
    proxy.recorder.response(flow)
    call, chunks = proxy.recorded(flow)
    answer = json.loads(client_got)
    assert flow.response is not None
    assert flow.response.headers["content-type"] == "application/json"
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"] == "Hello world"
    # The recording keeps both sides: the client's request, the provider's, the events.
    assert "stream" not in json.loads(call["request_body"])
    assert json.loads(call["upstream_request_body"])["stream"] is True
    assert len(chunks) == len(EVENTS) and call["quirks"]


async def test_usage_asked_for_the_recording_is_kept_from_the_client(proxy: Proxy) -> None:
    flow = await proxy.send({**CHAT, "stream": True})
    upstream = json.loads(flow.request.content or b"")
    assert upstream["stream_options"]["include_usage"] is True
    tap = proxy.answer(flow, 200, b"", content_type="text/event-stream")
    assert tap is not None
    client_got = stream_through(tap, STREAM, [len(EVENTS[0])])
    proxy.recorder.response(flow)
    call, _ = proxy.recorded(flow)
    assert b'"usage"' not in client_got and b"Hello " in client_got
    assert client_got.endswith(b"data: [DONE]\n\n")
    assert call["total_tokens"] == 11  # recorded all the same


def test_a_flow_without_a_call_context_is_not_recorded(sink: RecordingSink) -> None:
    recorder = Recorder(sink, max_body_bytes=1024)
    flow = client_flow()
    with taddons.context(recorder):
        recorder.request(flow)
        flow.response = tutils.tresp()
        recorder.responseheaders(flow)
        recorder.response(flow)
        recorder.error(flow)
    assert sink.calls == []
