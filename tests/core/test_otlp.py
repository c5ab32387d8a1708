"""OTLP/HTTP JSON export: GenAI spans, checked by a real collector on a loopback socket."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.export import Selection
from app.core.otlp import (
    MAX_CHUNK_EVENTS,
    OtlpError,
    OtlpExporter,
    call_span,
    export_calls_otlp,
    parse_headers,
    span_ids,
    traces_url,
)
from app.core.store import CallStore
from tests.core.test_export import (
    BINARY,
    CUT,
    ERROR,
    PLAIN,
    RESPONSES,
    SOCKET,
    STREAM,
    seed_calls,
)


class Collector:
    """A minimal OTLP/HTTP receiver: records each POST to /v1/traces, answers as told."""

    def __init__(self, answers: list[tuple[int, dict[str, Any]]] | None = None) -> None:
        self.posts: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.answers = list(answers or [])
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                collector.posts.append((self.path, headers, json.loads(body)))
                status, answer = collector.answers.pop(0) if collector.answers else (200, {})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                if status == 429:
                    self.send_header("retry-after", "0")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> list[dict[str, Any]]:
        return [
            span
            for _, _, body in self.posts
            for resource in body["resourceSpans"]
            for scope in resource["scopeSpans"]
            for span in scope["spans"]
        ]

    def __enter__(self) -> Collector:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def attributes(span: dict[str, Any]) -> dict[str, Any]:
    """OTLP key/values as plain Python values (intValue strings back to ints)."""
    return {a["key"]: plain(a["value"]) for a in span["attributes"]}


def plain(value: dict[str, Any]) -> Any:
    (kind, inner), *_ = value.items()
    if kind == "intValue":
        return int(inner)
    if kind == "arrayValue":
        return [plain(v) for v in inner["values"]]
    return inner


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CallStore]:
    store = CallStore(seed_calls(tmp_path / "seed.db"))
    yield store
    store.close()


def by_call(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {attributes(span)["relayscope.call_id"]: span for span in spans}


def test_calls_reach_a_real_collector_as_genai_spans(store: CallStore) -> None:
    with Collector() as collector:
        result = export_calls_otlp(
            store,
            collector.endpoint,
            Selection(ids=(STREAM, PLAIN, ERROR, RESPONSES, CUT)),
            headers={"x-team": "relayscope-test"},
        )
    assert result.written == 5 and result.summary() == "Exported 5 calls as otlp."
    path, headers, body = collector.posts[0]
    assert path == "/v1/traces"
    assert headers["content-type"] == "application/json"
    assert headers["x-team"] == "relayscope-test"
    resource = attributes(body["resourceSpans"][0]["resource"])
    assert resource["service.name"] == "relayscope"
    spans = by_call(collector.spans())
    assert set(spans) == {STREAM, PLAIN, ERROR, RESPONSES, CUT}

    stream = spans[STREAM]
    assert (stream["name"], stream["kind"], stream["status"]) == ("chat fake-1", 3, {"code": 1})
    assert (stream["traceId"], stream["spanId"]) == span_ids(STREAM)
    assert len(stream["traceId"]) == 32 and len(stream["spanId"]) == 16
    start, end = int(stream["startTimeUnixNano"]), int(stream["endTimeUnixNano"])
    assert start == 1_795_262_401_000_000_000  # 2026-11-21T12:00:01Z
    assert end - start == 95_250_000
    values = attributes(stream)
    assert {k: values[k] for k in values if k.startswith(("gen_ai.", "server.", "http."))} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "fake",
        "gen_ai.system": "fake",
        "gen_ai.request.model": "fake-1",
        "gen_ai.response.model": "fake-1-2025",
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.usage.input_tokens": 9,
        "gen_ai.usage.output_tokens": 2,
        "http.request.method": "POST",
        "http.response.status_code": 200,
        "server.address": "api.fake.test",
        "server.port": 443,
    }
    assert values["relayscope.ttft_ms"] == 50.0 and values["relayscope.stream"] is True
    assert "error.type" not in values
    # The stream's chunks, each at its arrival time.
    events = stream["events"]
    assert [e["name"] for e in events] == ["relayscope.chunk"] * 5
    assert [attributes(e)["relayscope.chunk.seq"] for e in events] == [0, 1, 2, 3, 4]
    assert [int(e["timeUnixNano"]) - start for e in events] == [
        40_000_000,
        50_000_000,
        60_000_000,
        70_000_000,
        80_000_000,
    ]

    error = spans[ERROR]
    assert attributes(error)["error.type"] == "429"
    assert attributes(error)["http.response.status_code"] == 429
    assert error["status"] == {"code": 2, "message": "rate limit exceeded"}

    cut = spans[CUT]
    assert attributes(cut)["error.type"] == "interrupted"
    assert cut["status"]["code"] == 2 and "provider closed" in cut["status"]["message"]

    responses = spans[RESPONSES]
    assert responses["name"] == "chat gpt-5.2"
    values = attributes(responses)
    assert values["gen_ai.response.id"] == "resp_1"
    assert values["gen_ai.response.finish_reasons"] == ["stop"]  # "completed", in chat terms
    assert (values["gen_ai.usage.input_tokens"], values["gen_ai.usage.output_tokens"]) == (20, 4)
    assert attributes(spans[PLAIN])["gen_ai.response.finish_reasons"] == ["tool_calls"]


def test_websocket_and_non_model_calls(store: CallStore) -> None:
    socket_call = store.get_call(SOCKET)
    other = store.get_call(BINARY)
    assert socket_call is not None and other is not None
    span = call_span(socket_call, store.chunks(SOCKET))
    assert attributes(span)["gen_ai.response.id"] == "resp_ws"
    directions = [attributes(e).get("relayscope.chunk.direction") for e in span["events"]]
    assert directions == ["client", "server", "server", "server"]
    plain_http = call_span(other, [])
    assert plain_http["name"] == "POST /v1/files"
    assert "gen_ai.operation.name" not in attributes(plain_http)


def test_chunk_events_are_capped_and_the_cap_is_said(store: CallStore) -> None:
    call = store.get_call(STREAM)
    assert call is not None
    chunks = [{"seq": i, "t_ms": float(i), "data": "data: {}\n\n"} for i in range(1500)]
    span = call_span(call, chunks)
    assert len(span["events"]) == MAX_CHUNK_EVENTS
    assert span["droppedEventsCount"] == 500
    assert attributes(span)["relayscope.chunk_events_dropped"] == 500


def test_a_replay_links_to_the_span_of_the_call_it_replays(store: CallStore) -> None:
    call = store.get_call(PLAIN)
    assert call is not None
    span = call_span({**call, "replay_of": STREAM})
    (link,) = span["links"]
    assert (link["traceId"], link["spanId"]) == span_ids(STREAM)
    assert span_ids(PLAIN) == span_ids(PLAIN) != span_ids(STREAM)


def test_retries_until_the_collector_takes_the_spans(store: CallStore) -> None:
    with Collector(answers=[(503, {}), (429, {})]) as collector:
        with OtlpExporter(collector.endpoint, backoff_seconds=0.01) as exporter:
            call = store.get_call(STREAM)
            assert call is not None
            assert exporter.submit_call(call, store.chunks(STREAM))
            assert exporter.flush(5)
        assert (exporter.sent, exporter.failed) == (1, 0)
    assert len(collector.posts) == 3  # 503, 429 (Retry-After: 0), then accepted


def test_a_collector_that_refuses_ends_the_export_with_a_sentence(store: CallStore) -> None:
    with (
        Collector(answers=[(400, {"message": "bad trace id"})]) as collector,
        pytest.raises(OtlpError) as caught,
    ):
        export_calls_otlp(store, collector.endpoint, Selection(ids=(STREAM, ERROR)))
    message = str(caught.value)
    assert "answered 400" in message and "bad trace id" in message
    assert "0 of 2 calls were sent" in message
    assert len(collector.posts) == 1  # a 400 is not retried


def test_partial_success_is_reported(store: CallStore) -> None:
    errors: list[str] = []
    partial = {"partialSuccess": {"rejectedSpans": "1", "errorMessage": "span too old"}}
    with Collector(answers=[(200, partial)]) as collector:
        exporter = OtlpExporter(collector.endpoint, on_error=errors.append, batch_seconds=0.5)
        for call in store.list_calls(limit=2):
            exporter.submit_call(call)
        exporter.close()
    assert (exporter.sent, exporter.failed) == (1, 1)
    assert errors == [f"the OTLP collector at {exporter.url} rejected 1 spans (span too old)."]


def test_an_unreachable_collector_is_reported_through_the_callback(store: CallStore) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    errors: list[str] = []
    exporter = OtlpExporter(
        f"http://127.0.0.1:{port}", on_error=errors.append, max_retries=1, backoff_seconds=0.01
    )
    call = store.get_call(STREAM)
    assert call is not None
    exporter.submit_call(call)
    assert exporter.flush(5)
    exporter.close()
    assert exporter.failed == 1 and exporter.sent == 0
    (error,) = errors
    assert error.startswith(f"cannot reach the OTLP collector at http://127.0.0.1:{port}/v1/traces")
    assert error.endswith("1 spans not exported.")


def test_submit_never_blocks_the_caller_when_the_collector_is_slow(store: CallStore) -> None:
    release = threading.Event()

    def slow(request: httpx.Request) -> httpx.Response:
        release.wait(5)
        return httpx.Response(200, json={})

    errors: list[str] = []
    exporter = OtlpExporter(
        "http://collector.test",
        transport=httpx.MockTransport(slow),
        queue_size=2,
        batch_size=1,
        batch_seconds=0.0,
        on_error=errors.append,
    )
    call = store.get_call(STREAM)
    assert call is not None
    span = call_span(call)
    began = time.monotonic()
    accepted = [exporter.submit(span) for _ in range(20)]
    assert time.monotonic() - began < 0.5
    assert accepted.count(True) <= 3  # one being sent, two queued
    assert exporter.dropped == accepted.count(False) >= 17
    assert len(errors) == 1 and "falling behind" in errors[0]
    release.set()
    exporter.close()
    assert exporter.sent == accepted.count(True)


def test_endpoint_and_header_settings() -> None:
    assert traces_url("http://127.0.0.1:4318") == "http://127.0.0.1:4318/v1/traces"
    assert traces_url("http://h:4318/") == "http://h:4318/v1/traces"
    assert traces_url("https://h/otlp/v1/traces") == "https://h/otlp/v1/traces"
    assert parse_headers("x-honeycomb-team=abc%3D, authorization=Basic%20eHk=,bad") == {
        "x-honeycomb-team": "abc=",
        "authorization": "Basic eHk=",
    }
