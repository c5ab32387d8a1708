"""OTLP through the OpenTelemetry SDK: GenAI spans, checked by a protobuf collector on loopback."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relayscope.analysis.cost import Pricer
from relayscope.config import ModelPrice, OtlpSettings, Provider
from relayscope.exchange.export import Selection
from relayscope.exchange.otlp import (
    MAX_CHUNK_EVENTS,
    OtlpError,
    OtlpTarget,
    SpanSender,
    call_span,
    export_calls_otlp,
    resolve_target,
    span_ids,
)
from relayscope.store.call_store import CallStore
from tests.exchange.test_export import (
    BINARY,
    CUT,
    ERROR,
    PLAIN,
    RESPONSES,
    SOCKET,
    STREAM,
    seed_calls,
)
from tests.support.otlp_collector import Collector, attributes, by_call

CONTENT_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CallStore]:
    store = CallStore(seed_calls(tmp_path / "seed.db"))
    yield store
    store.close()


def target(collector: Collector, **settings: Any) -> OtlpTarget:
    found = resolve_target(OtlpSettings(endpoint=collector.endpoint, **settings))
    assert found is not None
    return found


def test_calls_reach_a_protobuf_collector_as_genai_spans(store: CallStore) -> None:
    with Collector() as collector:
        result = export_calls_otlp(
            store,
            target(collector, headers=(("x-team", "relayscope-test"),)),
            Selection(ids=(STREAM, PLAIN, ERROR, RESPONSES, CUT)),
        )
    assert result.written == 5 and result.summary() == "Exported 5 calls as otlp."
    post = collector.posts[0]
    assert post.path == "/v1/traces"
    assert post.headers["x-team"] == "relayscope-test"
    resource = attributes(post.request().resource_spans[0].resource)
    assert resource["service.name"] == "relayscope"
    spans = by_call(collector.spans())
    assert set(spans) == {STREAM, PLAIN, ERROR, RESPONSES, CUT}

    stream = spans[STREAM]
    assert (stream.name, stream.kind, stream.status.code) == ("chat fake-1", 3, 1)  # CLIENT, OK
    trace_id, span_id = span_ids(STREAM)
    assert (stream.trace_id, stream.span_id) == (trace_id.to_bytes(16), span_id.to_bytes(8))
    assert stream.start_time_unix_nano == 1_795_262_401_000_000_000  # 2026-11-21T12:00:01Z
    assert stream.end_time_unix_nano - stream.start_time_unix_nano == 95_250_000
    values = attributes(stream)
    assert {k: values[k] for k in values if k.startswith(("gen_ai.", "server.", "http."))} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",  # the API family; the routing name is below
        "gen_ai.request.model": "fake-1",
        "gen_ai.response.model": "fake-1-2025",
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.request.stream": True,
        "gen_ai.response.time_to_first_chunk": 0.05,  # TTFT: the first output token
        "gen_ai.usage.input_tokens": 9,
        "gen_ai.usage.output_tokens": 2,
        "http.request.method": "POST",
        "http.response.status_code": 200,
        "server.address": "api.fake.test",
        "server.port": 443,
    }
    assert values["relayscope.provider"] == "fake" and values["relayscope.ttft_ms"] == 50.0
    assert "error.type" not in values
    assert not set(CONTENT_KEYS) & set(values)  # content is off unless switched on
    # The stream's chunks, each at its arrival time.
    assert [e.name for e in stream.events] == ["relayscope.chunk"] * 5
    assert [attributes(e)["relayscope.chunk.seq"] for e in stream.events] == [0, 1, 2, 3, 4]
    offsets = [e.time_unix_nano - stream.start_time_unix_nano for e in stream.events]
    assert offsets == [40_000_000, 50_000_000, 60_000_000, 70_000_000, 80_000_000]

    error = spans[ERROR]
    assert attributes(error)["error.type"] == "429"
    assert attributes(error)["http.response.status_code"] == 429
    assert (error.status.code, error.status.message) == (2, "rate limit exceeded")

    cut = spans[CUT]
    assert attributes(cut)["error.type"] == "interrupted"
    assert cut.status.code == 2 and "provider closed" in cut.status.message

    responses = attributes(spans[RESPONSES])
    assert spans[RESPONSES].name == "chat gpt-5.2"
    assert responses["gen_ai.response.id"] == "resp_1"
    assert responses["gen_ai.response.finish_reasons"] == ["stop"]  # "completed", mapped
    assert (responses["gen_ai.usage.input_tokens"], responses["gen_ai.usage.output_tokens"]) == (
        20,
        4,
    )
    assert json.loads(responses["gen_ai.tool.definitions"]) == [
        {
            "type": "function",
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        {"type": "web_search"},
    ]
    assert attributes(spans[PLAIN])["gen_ai.response.finish_reasons"] == ["tool_call"]


def content(span: Any) -> dict[str, Any]:
    values = attributes(span)
    return {key: json.loads(values[key]) for key in CONTENT_KEYS if key in values}


def test_conversations_are_on_the_spans_only_when_capture_is_on(store: CallStore) -> None:
    with Collector() as collector:
        export_calls_otlp(
            store,
            target(collector, capture_content=True),
            Selection(ids=(STREAM, PLAIN, RESPONSES)),
        )
    spans = by_call(collector.spans())
    assert content(spans[STREAM]) == {
        "gen_ai.system_instructions": [{"type": "text", "content": "Be brief."}],
        "gen_ai.input.messages": [
            {"role": "user", "parts": [{"type": "text", "content": "say hello please"}]}
        ],
        "gen_ai.output.messages": [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": "Hello world"}],
                "finish_reason": "stop",
            }
        ],
    }
    (answer,) = content(spans[PLAIN])["gen_ai.output.messages"]
    assert answer == {
        "role": "assistant",
        "parts": [
            {
                "type": "tool_call",
                "id": "call_9",
                "name": "get_weather",
                "arguments": {"city": "Oslo"},
            }
        ],
        "finish_reason": "tool_call",
    }
    responses = content(spans[RESPONSES])
    assert responses["gen_ai.system_instructions"] == [
        {"type": "text", "content": "Be brief."},
        {"type": "text", "content": "Use tools."},  # a developer message is an instruction
    ]
    assert responses["gen_ai.input.messages"] == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "get_weather",
                    "arguments": {"city": "Paris"},
                }
            ],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call_1", "response": "sunny"}],
        },
    ]
    assert responses["gen_ai.output.messages"][0]["parts"] == [
        {"type": "text", "content": "It is sunny."}
    ]


def test_where_spans_go_follows_the_config_then_the_standard_variables() -> None:
    nothing = OtlpSettings()
    assert resolve_target(nothing, {}) is None  # off unless an endpoint is set somewhere
    base = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://team:4318/"}
    assert resolve_target(nothing, base) == OtlpTarget("http://team:4318/v1/traces")
    signal = {**base, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://h/otlp/v1/spans"}
    found = resolve_target(nothing, signal)
    assert found is not None and found.traces_url == "https://h/otlp/v1/spans"  # used as is
    config = OtlpSettings(endpoint="http://mine:4318")
    found = resolve_target(config, signal)
    assert found is not None and found.traces_url == "http://mine:4318/v1/traces"  # config wins
    found = resolve_target(config, {}, endpoint="http://cli:4318/v1/traces")
    assert found is not None and found.traces_url == "http://cli:4318/v1/traces"

    json_env = {**base, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}
    assert getattr(resolve_target(nothing, json_env), "protocol", None) == "http/json"
    traces_json = {**base, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}
    assert getattr(resolve_target(nothing, traces_json), "protocol", None) == "http/json"
    with pytest.raises(OtlpError, match=r"'grpc' is not supported.*4318"):
        resolve_target(nothing, {**base, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})

    capture = {**base, "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}
    assert getattr(resolve_target(nothing, capture), "capture_content", None) is True
    assert getattr(resolve_target(nothing, base), "capture_content", None) is False
    assert resolve_target(config, {"OTEL_SDK_DISABLED": "true"}) is None


def test_the_standard_variables_reach_the_wire(
    store: CallStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Collector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=blue,authorization=Bearer%20env")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "relayscope-alice")
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=dev,team=blue")
        config = OtlpSettings(headers=(("authorization", "Bearer config"),))
        found = resolve_target(config)
        assert found is not None
        export_calls_otlp(store, found, Selection(ids=(STREAM,)))
    (post,) = collector.posts
    assert post.path == "/v1/traces"
    assert post.headers["x-team"] == "blue"
    assert post.headers["authorization"] == "Bearer config"  # the config wins, name by name
    resource = attributes(post.request().resource_spans[0].resource)
    assert resource["service.name"] == "relayscope-alice"
    assert (resource["deployment.environment"], resource["team"]) == ("dev", "blue")


def test_http_json_sends_otlp_json(store: CallStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    with Collector() as collector:
        export_calls_otlp(store, target(collector), Selection(ids=(STREAM, ERROR)))
    (post,) = collector.posts
    body = post.json()
    spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
    stream = next(s for s in spans if s["name"] == "chat fake-1" and s["kind"] == 3)
    trace_id, span_id = span_ids(STREAM)
    assert (stream["traceId"], stream["spanId"]) == (f"{trace_id:032x}", f"{span_id:016x}")
    values = {a["key"]: a["value"] for a in stream["attributes"]}
    assert values["gen_ai.provider.name"] == {"stringValue": "openai"}
    assert values["gen_ai.usage.input_tokens"] == {"intValue": "9"}
    assert stream["startTimeUnixNano"] == "1795262401000000000"


def test_a_collector_that_refuses_ends_the_export_with_a_sentence(store: CallStore) -> None:
    with (
        Collector(answers=[(400, b"bad trace id")]) as collector,
        pytest.raises(OtlpError) as caught,
    ):
        export_calls_otlp(store, target(collector), Selection(ids=(STREAM, ERROR)))
    message = str(caught.value)
    assert f"the OTLP collector at {collector.endpoint}/v1/traces did not take the spans" in message
    assert "400" in message and "0 of 2 calls were sent" in message
    assert len(collector.posts) == 1  # a 400 is not retried


def free_port() -> int:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_down_collector_never_blocks_and_is_said_once(
    store: CallStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "10")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1")
    call = store.get_call(STREAM)
    assert call is not None
    chunks = store.chunks(STREAM)
    url = f"http://127.0.0.1:{free_port()}"
    sender = SpanSender(OtlpTarget(url + "/v1/traces"))

    def ours() -> list[logging.LogRecord]:
        return [
            r
            for r in caplog.records
            if r.levelno >= logging.WARNING and not r.name.startswith("opentelemetry.")
        ]

    # Sending waiting for its export would take the exporter's 1 s timeout per span (50 s for
    # these 50): the bounds are a fifth of that. Queueing alone took 4.2 s at load 13 (it
    # builds each span), so the 0.5 s it had failed there.
    with caplog.at_level(logging.DEBUG):
        began = time.monotonic()
        for _ in range(50):
            sender.send(call, chunks)
        assert time.monotonic() - began < 10
        deadline = time.monotonic() + 30  # a batch fails meanwhile, with the SDK's retries
        while not ours() and time.monotonic() < deadline:
            time.sleep(0.05)
        began = time.monotonic()
        sender.close(timeout=1)
        assert time.monotonic() - began < 10
    # The SDK's own per-retry lines stay in its logger (pytest reads them there anyway).
    assert logging.getLogger("opentelemetry.exporter.otlp").propagate is False
    records = ours()
    lines = [r.getMessage() for r in records]
    assert len(lines) == 1, lines
    # Sent (and failed) on the processor's thread, never on the caller's.
    assert records[0].thread != threading.get_ident()
    assert lines[0].startswith(f"cannot send spans to the OTLP collector at {url}/v1/traces")
    assert lines[0].endswith("spans are dropped until it answers.")


def test_the_proxy_sender_delivers_in_batches(
    store: CallStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "10")
    errors: list[str] = []
    with Collector() as collector:
        sender = SpanSender(target(collector), on_error=errors.append)
        for call in store.list_calls(limit=3):
            sender.send(call)
        assert collector.arrived.wait(5)
        sender.close()
    assert len(collector.spans()) == 3 and errors == []


def test_spans_carry_the_cost_as_relayscope_attributes(store: CallStore) -> None:
    # No GenAI convention for cost exists, so it is `relayscope.cost.usd`, with its basis.
    own = Provider("fake", "https://fake.example/v1", prices=(ModelPrice("fake-*", 2.0, 8.0),))
    with Collector() as collector:
        export_calls_otlp(
            store, target(collector), Selection(ids=(STREAM, RESPONSES, ERROR)), pricer=Pricer()
        )
        spans = {key: attributes(span) for key, span in by_call(collector.spans()).items()}
        sender = SpanSender(target(collector), pricer=Pricer([own]))
        call = store.get_call(STREAM)
        assert call is not None
        collector.arrived.clear()
        sender.send(call)
        sender.close()
        proxy_span = attributes(by_call(collector.spans())[STREAM])
    responses = store.get_call(RESPONSES)
    assert responses is not None
    listed = Pricer().price(responses)
    assert listed.usd is not None and listed.basis.endswith("list price")
    assert spans[RESPONSES]["relayscope.cost.usd"] == pytest.approx(float(listed.usd))
    assert spans[RESPONSES]["relayscope.cost.basis"] == listed.basis
    # Unknown is left out, never sent as 0, and the basis says why.
    assert "relayscope.cost.usd" not in spans[STREAM]
    assert spans[STREAM]["relayscope.cost.basis"] == "no price known for model 'fake-1'"
    assert spans[ERROR]["relayscope.cost.basis"] == "no usage recorded"
    # The proxy's sender prices with the config's overrides: 9 in at $2/M, 2 out at $8/M.
    assert proxy_span["relayscope.cost.usd"] == pytest.approx(0.000034)
    assert proxy_span["relayscope.cost.basis"] == "fake price for fake-*"


def test_websocket_and_non_model_calls(store: CallStore) -> None:
    socket_call = store.get_call(SOCKET)
    other = store.get_call(BINARY)
    assert socket_call is not None and other is not None
    span = call_span(socket_call, store.chunks(SOCKET))
    assert span.attributes is not None
    assert span.attributes["gen_ai.response.id"] == "resp_ws"
    directions = [(e.attributes or {}).get("relayscope.chunk.direction") for e in span.events]
    assert directions == ["client", "server", "server", "server"]
    plain_http = call_span(other, [])
    assert plain_http.name == "POST /v1/files"
    assert "gen_ai.operation.name" not in (plain_http.attributes or {})


def test_chunk_events_are_capped_and_the_cap_is_said(store: CallStore) -> None:
    call = store.get_call(STREAM)
    assert call is not None
    chunks = [{"seq": i, "t_ms": float(i), "data": "data: {}\n\n"} for i in range(1500)]
    span = call_span(call, chunks)
    assert len(span.events) == MAX_CHUNK_EVENTS
    assert (span.attributes or {})["relayscope.chunk_events_dropped"] == 500


def test_a_replay_links_to_the_span_of_the_call_it_replays(store: CallStore) -> None:
    call = store.get_call(PLAIN)
    assert call is not None
    span = call_span({**call, "replay_of": STREAM})
    (link,) = span.links
    assert (link.context.trace_id, link.context.span_id) == span_ids(STREAM)
    assert span_ids(PLAIN) == span_ids(PLAIN) != span_ids(STREAM)
