"""Tests for relayscope.actions.replay: building a replay, editing a body, sending it (MockTransport)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from relayscope.actions.replay import (
    JsonError,
    ReplayError,
    ReplayEvent,
    edit_body,
    new_request,
    parse_json_body,
    parse_retry_after,
    proxy_reachable,
    replay_request,
    send,
)
from relayscope.routing.routes import valid_call_id

BODY = {
    "model": "gpt-5.2",
    "stream": True,
    "stream_options": {"include_usage": True},
    "messages": [{"role": "user", "content": "hi"}],
}
# Exactly as the recorder stores them: the client's headers, secrets redacted.
RECORDED_HEADERS = [
    ["Host", "127.0.0.1:8787"],
    ["Content-Length", "97"],
    ["Accept-Encoding", "gzip, deflate, br"],
    ["Connection", "keep-alive"],
    ["Authorization", "Bearer ****1234"],
    ["x-api-key", "****abcd"],
    ["Cookie", "****"],
    ["Content-Type", "application/json"],
    ["User-Agent", "OpenAI/Python 1.99.0"],
    ["X-Stainless-Lang", "python"],
    ["OpenAI-Beta", "assistants=v2"],
    ["X-Relayscope-Replay-Of", "0199aaaaaaaa-00000000"],
    ["X-Relayscope-Call-Id", "0199bbbbbbbb-11111111"],
    ["X-Relayscope-Group", "g1"],
]


def recorded_call(**fields: Any) -> dict[str, Any]:
    return {
        "id": "0199cccccccc-22222222",
        "method": "POST",
        "path": "/v1/chat/completions",
        "provider": "fast",
        "model": "gpt-5.2",
        "request_headers": json.dumps(RECORDED_HEADERS),
        "request_body": json.dumps(BODY),
        "truncated": 0,
        "transport": "http",
        **fields,
    }


# --- building -----------------------------------------------------------------------------------


def test_a_replay_keeps_the_body_endpoint_and_streaming_mode() -> None:
    call = recorded_call()
    request = replay_request(call)
    assert (request.method, request.path, request.endpoint) == (
        "POST",
        "/v1/chat/completions",
        "chat.completions",
    )
    assert request.body == call["request_body"].encode()  # byte for byte
    assert request.stream is True


def test_a_replay_drops_secrets_and_hop_by_hop_headers_and_keeps_the_clients_own() -> None:
    request = replay_request(recorded_call())
    names = [name.lower() for name, _ in request.headers]
    assert names == ["content-type", "user-agent", "x-stainless-lang", "openai-beta"]
    assert "****" not in json.dumps(request.wire_headers())


def test_a_replay_is_tagged_with_the_original_and_a_new_call_id_known_up_front() -> None:
    call = recorded_call()
    first, second = replay_request(call), replay_request(call)
    wire = dict(first.wire_headers())
    assert wire["X-Relayscope-Replay-Of"] == call["id"]
    assert wire["X-Relayscope-Call-Id"] == first.call_id
    assert valid_call_id(first.call_id) and first.call_id != second.call_id
    assert "X-Relayscope-Group" not in wire  # the original's tags never leak into a replay
    assert "X-Relayscope-Provider" not in wire


def test_a_chosen_provider_is_sent_in_the_routing_header() -> None:
    request = replay_request(recorded_call(), provider="slow")
    assert dict(request.wire_headers())["X-Relayscope-Provider"] == "slow"


def test_without_a_provider_the_originals_routing_header_routes_it_again() -> None:
    headers = [*RECORDED_HEADERS, ["X-Relayscope-Provider", "fast"]]
    request = replay_request(recorded_call(request_headers=json.dumps(headers)))
    assert dict(request.wire_headers())["X-Relayscope-Provider"] == "fast"
    request = replay_request(recorded_call(request_headers=json.dumps(headers)), provider="slow")
    assert [v for k, v in request.wire_headers() if k.lower() == "x-relayscope-provider"] == [
        "slow"
    ]


def test_a_model_override_changes_only_the_model() -> None:
    request = replay_request(recorded_call(), model="gpt-5.2-mini")
    assert request.json_body() == {**BODY, "model": "gpt-5.2-mini"}


def test_a_routing_prefix_is_dropped_when_another_provider_is_chosen() -> None:
    call = recorded_call(request_body=json.dumps({**BODY, "model": "fast/gpt-5.2"}))
    assert replay_request(call).json_body() == {**BODY, "model": "fast/gpt-5.2"}
    assert replay_request(call, provider="slow").json_body() == BODY


def test_an_edited_body_replaces_the_recorded_one_and_sets_the_stream_flag() -> None:
    edited = json.dumps(edit_body(BODY, stream=False, temperature=0.3)).encode()
    request = replay_request(recorded_call(), body=edited)
    assert request.body == edited
    assert request.stream is False


def test_a_truncated_recording_cannot_be_replayed_unedited() -> None:
    with pytest.raises(ReplayError, match="truncated"):
        replay_request(recorded_call(truncated=1))
    assert replay_request(recorded_call(truncated=1), body=b"{}").body == b"{}"


def test_a_websocket_call_is_replayed_as_the_equivalent_http_stream() -> None:
    message = {"type": "response.create", "model": "gpt-5.2", "input": "hi"}
    call = recorded_call(
        method="GET",
        path="/v1/responses",
        transport="websocket",
        request_body=json.dumps(message),
        request_headers=json.dumps(
            [
                ["Upgrade", "websocket"],
                ["Sec-WebSocket-Key", "abc"],
                ["OpenAI-Beta", "responses_websockets=2026-02-06"],
                ["originator", "codex_exec"],
            ]
        ),
    )
    request = replay_request(call)
    assert (request.method, request.path, request.stream) == ("POST", "/v1/responses", True)
    assert request.json_body() == {"model": "gpt-5.2", "input": "hi", "stream": True}
    assert [k for k, _ in request.headers] == ["originator", "Content-Type"]


def test_extra_headers_such_as_the_access_token_are_sent_as_given() -> None:
    request = replay_request(recorded_call(), headers=[("X-Relayscope-Token", "t0k")])
    assert ("X-Relayscope-Token", "t0k") in request.wire_headers()


def test_new_request_picks_the_endpoint_from_the_body() -> None:
    assert new_request({"model": "m", "messages": []}).path == "/v1/chat/completions"
    assert new_request({"model": "m", "input": "hi"}).path == "/v1/responses"
    assert new_request({"model": "m", "prompt": "hi"}).path == "/v1/completions"
    # Anthropic Messages: what only its bodies carry.
    assert new_request({"model": "m", "system": "x", "messages": []}).path == "/v1/messages"
    result = {"type": "tool_result", "tool_use_id": "t", "content": "ok"}
    body = {"model": "m", "messages": [{"role": "user", "content": [result]}]}
    assert new_request(body).path == "/v1/messages"
    plain = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    assert new_request(plain).path == "/v1/chat/completions"
    request = new_request({"model": "m", "input": "hi"}, provider="p", model="x", group_id="g")
    wire = dict(request.wire_headers())
    assert (wire["X-Relayscope-Provider"], wire["X-Relayscope-Group"]) == ("p", "g")
    assert request.json_body() == {"model": "x", "input": "hi"}


def test_the_url_keeps_a_prefix_in_front_of_the_proxys_v1() -> None:
    request = new_request({"model": "m", "messages": []})
    assert request.url("http://127.0.0.1:8787/v1") == "http://127.0.0.1:8787/v1/chat/completions"
    assert request.url("http://h:1/relay/v1/") == "http://h:1/relay/v1/chat/completions"


# --- editing ------------------------------------------------------------------------------------


def test_edit_body_changes_the_given_fields_on_a_copy() -> None:
    edited = edit_body(BODY, model="m2", temperature=0.3, max_tokens=50)
    assert edited == {**BODY, "model": "m2", "temperature": 0.3, "max_tokens": 50}
    assert BODY["model"] == "gpt-5.2" and "temperature" not in BODY


def test_edit_body_turning_the_stream_off_drops_stream_options() -> None:
    assert edit_body(BODY, stream=False) == {
        "model": "gpt-5.2",
        "stream": False,
        "messages": BODY["messages"],
    }


def test_edit_body_speaks_each_apis_dialect() -> None:
    responses = {"model": "m", "input": [{"role": "user", "content": "hi"}]}
    new_input = [{"role": "user", "content": "bye"}]
    assert edit_body(responses, max_tokens=9, messages=new_input) == {
        "model": "m",
        "input": new_input,
        "max_output_tokens": 9,
    }
    chat = {"model": "m", "messages": [], "max_completion_tokens": 5}
    assert edit_body(chat, max_tokens=9)["max_completion_tokens"] == 9
    assert "max_tokens" not in edit_body(chat, max_tokens=9)


def test_parse_json_body_returns_the_object() -> None:
    assert parse_json_body('{"model": "m"}') == {"model": "m"}


def test_parse_json_body_says_where_the_json_breaks() -> None:
    text = '{\n  "model": "m",\n  "temperature": 0.2,,\n  "messages": []\n}'
    error = parse_json_body(text)
    assert isinstance(error, JsonError)
    assert (error.line, error.column) == (3, 22)
    assert error.message == "Expecting property name enclosed in double quotes"
    assert text[error.offset] == ","


def test_parse_json_body_wants_an_object() -> None:
    error = parse_json_body('\n  ["a"]')
    assert error == JsonError(2, 3, "A request body is a JSON object, not an array.", 3)
    empty = parse_json_body("  ")
    assert isinstance(empty, JsonError) and "empty" in empty.message


# --- Retry-After --------------------------------------------------------------------------------


def test_retry_after_in_seconds_milliseconds_or_as_a_date() -> None:
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after({"retry-after": "Thu, 01 Jan 2026 12:00:30 GMT"}, now=now) == 30.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


# --- sending ------------------------------------------------------------------------------------


def sse(*objects: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(o).encode() + b"\n\n" for o in objects)


def chat_chunk(text: str, finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}


STREAM = sse(chat_chunk("Hello "), chat_chunk("there", "stop")) + b"data: [DONE]\n\n"
URL = "http://relayscope.test/v1"


def test_send_streams_each_event_to_the_callback_and_assembles_the_answer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=STREAM)

    request = replay_request(recorded_call())
    events: list[ReplayEvent] = []
    result = send(request, URL, on_event=events.append, transport=httpx.MockTransport(handler))
    assert str(seen[0].url) == "http://relayscope.test/v1/chat/completions"
    assert seen[0].headers["x-relayscope-call-id"] == request.call_id
    assert seen[0].content == request.body
    assert [e.kind for e in events] == ["response", "chunk", "chunk", "chunk", "done"]
    assert [e.text for e in events if e.kind == "chunk"] == ["Hello ", "there", ""]
    assert events[-1].result is result
    assert (result.call_id, result.status, result.ok) == (request.call_id, 200, True)
    assert result.output_text == "Hello there" and result.answer.finish_reason == "stop"
    assert len(result.events) == 3 and result.ttft_ms is not None
    assert result.elapsed_ms >= result.ttft_ms


def test_send_reads_a_whole_body_when_there_is_no_stream() -> None:
    body = {
        "choices": [{"message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}]
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    events: list[ReplayEvent] = []
    result = send(
        new_request({"model": "m", "messages": []}),
        URL,
        on_event=events.append,
        transport=transport,
    )
    assert [e.kind for e in events] == ["response", "body", "done"]
    assert events[1].text == "Hi" == result.output_text
    assert json.loads(result.body) == body and result.events == ()


def rate_limited(calls: list[httpx.Request], *, then_ok: bool = True) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1 or not then_ok:
            error = {"error": {"message": "slow down", "type": "rate_limit_exceeded"}}
            return httpx.Response(429, headers={"Retry-After": "0.2"}, json=error)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=STREAM)

    return httpx.MockTransport(handler)


def test_a_429_reports_retry_after_and_is_not_retried_silently() -> None:
    calls: list[httpx.Request] = []
    result = send(replay_request(recorded_call()), URL, transport=rate_limited(calls))
    assert len(calls) == 1
    assert (result.status, result.retry_after, result.error) == (429, 0.2, "slow down")
    assert not result.ok and result.previous is None


def test_waiting_for_retry_after_resends_once_under_a_new_call_id() -> None:
    calls: list[httpx.Request] = []
    events: list[ReplayEvent] = []
    request = replay_request(recorded_call())
    start = time.monotonic()
    result = send(
        request,
        URL,
        on_event=events.append,
        wait_for_retry_after=True,
        transport=rate_limited(calls),
    )
    assert time.monotonic() - start >= 0.2
    assert len(calls) == 2
    first_id, second_id = (c.headers["x-relayscope-call-id"] for c in calls)
    assert first_id == request.call_id and second_id == result.call_id != first_id
    assert {c.headers["x-relayscope-replay-of"] for c in calls} == {"0199cccccccc-22222222"}
    assert result.ok and result.output_text == "Hello there"
    assert result.previous is not None and result.previous.status == 429
    assert result.call_ids == [first_id, second_id]
    assert [e.retry_after for e in events if e.kind == "retry_wait"] == [0.2]


def test_a_retry_after_beyond_the_limit_is_reported_not_waited() -> None:
    calls: list[httpx.Request] = []
    result = send(
        replay_request(recorded_call()),
        URL,
        wait_for_retry_after=True,
        max_retry_wait=0.1,
        transport=rate_limited(calls),
    )
    assert len(calls) == 1 and result.retry_after == 0.2


def test_cancel_stops_a_stream_at_once_and_keeps_what_arrived() -> None:
    async def endless() -> AsyncIterator[bytes]:
        yield sse(chat_chunk("first "))
        await asyncio.sleep(30)
        yield sse(chat_chunk("never"))

    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=endless()
        )
    )
    cancel = threading.Event()

    def on_event(event: ReplayEvent) -> None:
        if event.kind == "chunk":
            cancel.set()

    start = time.monotonic()
    result = send(
        replay_request(recorded_call()), URL, on_event=on_event, cancel=cancel, transport=transport
    )
    assert time.monotonic() - start < 2
    assert result.cancelled and result.error == "Cancelled."
    assert result.output_text == "first "


def test_an_unreachable_proxy_is_a_result_with_an_error_not_an_exception() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    result = send(replay_request(recorded_call()), URL, transport=httpx.MockTransport(refuse))
    assert result.status is None and not result.ok
    assert result.error is not None and "Could not connect to Relayscope" in result.error


def test_proxy_reachable_tells_a_listening_port_from_a_closed_one() -> None:
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert proxy_reachable(f"http://127.0.0.1:{port}/v1")
    assert not proxy_reachable(f"http://127.0.0.1:{port}/v1", timeout=0.5)
