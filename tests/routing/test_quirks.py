from __future__ import annotations

import itertools
import json

from hypothesis import given
from hypothesis import strategies as st

from relayscope.config import Provider
from relayscope.protocols.sse import SSEDecoder
from relayscope.routing.quirks import (
    UsageHider,
    aggregate_chat_completion,
    plan_request,
    strip_usage,
)

GATEWAY = Provider(name="gw", base_url="https://gw.example/v1", stream_required=("gpt-*",))


def body(**fields: object) -> bytes:
    return json.dumps({"model": "gpt-5.2", "messages": [], **fields}).encode()


def test_non_stream_request_for_a_stream_required_model_is_streamed_and_aggregated() -> None:
    plan = plan_request(GATEWAY, "chat.completions", body())
    assert plan.aggregate and not plan.hide_usage
    assert plan.body is not None and plan.body["stream"] is True
    assert plan.body["stream_options"] == {"include_usage": True}


def test_stream_without_usage_asks_for_it_and_hides_it() -> None:
    plan = plan_request(GATEWAY, "chat.completions", body(model="claude-x", stream=True))
    assert plan.hide_usage and not plan.aggregate
    assert plan.body is not None and plan.body["stream_options"] == {"include_usage": True}


def test_nothing_changes_when_nothing_needs_to() -> None:
    assert plan_request(GATEWAY, "chat.completions", body(model="claude-x")).body is None
    asked = body(stream=True, stream_options={"include_usage": True})
    assert plan_request(GATEWAY, "chat.completions", asked).body is None
    assert plan_request(GATEWAY, "responses", body()).body is None
    off = Provider(name="off", base_url="https://x/v1", capture_usage=False)
    assert plan_request(off, "chat.completions", body(stream=True)).body is None
    assert plan_request(GATEWAY, "chat.completions", b"{not json").body is None


def test_strip_usage() -> None:
    usage_only = b'data: {"id":"a","choices":[],"usage":{"total_tokens":3}}\n\n'
    assert strip_usage(usage_only) is None
    on_finish = (
        b'data: {"id":"a","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
        b'"usage":{"total_tokens":3}}\n\n'
    )
    stripped = strip_usage(on_finish)
    assert stripped is not None and stripped.endswith(b"\n\n")
    assert "usage" not in json.loads(stripped[6:])
    nulled = b'data: {"id":"a","choices":[{"index":0,"delta":{"content":"x"}}],"usage":null}\n\n'
    assert (
        strip_usage(nulled)
        == b'data: {"id":"a","choices":[{"index":0,"delta":{"content":"x"}}]}\n\n'
    )
    assert strip_usage(b"data: [DONE]\n\n") == b"data: [DONE]\n\n"


CAPTURED = (
    b'data: {"id":"a","choices":[{"index":0,"delta":{"role":"assistant"}}],"usage":null}\n\n'
    b": keep-alive\n\n"
    b'data: {"id":"a","choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":null}\n\n\n'
    b'data: {"id":"a","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b'data: {"id":"a","choices":[],"usage":{"prompt_tokens":3,"total_tokens":4}}\n\n'
    b"data: [DONE]\n\n"
)


def reference_client_copy(stream: bytes) -> bytes:
    """What the client must get: every event through strip_usage, whole events only."""
    decoder = SSEDecoder()
    events = [*decoder.feed(stream)]
    if (leftover := decoder.flush()) is not None:
        events.append(leftover)
    return b"".join(kept for e in events if (kept := strip_usage(e.raw)) is not None)


def hide(stream_parts: list[bytes]) -> tuple[bytes, list[bytes]]:
    hider = UsageHider()
    sent = [hider(part) for part in stream_parts if part] + [hider(b"")]
    return b"".join(sent), sent


def test_usage_hider_passes_plain_chunks_untouched_and_drops_the_usage() -> None:
    plain = b'data: {"id":"a","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
    hider = UsageHider()
    assert hider(plain) is plain  # no parsing, no copy: the common case
    out, _ = hide([CAPTURED])
    assert b'"usage"' not in out
    assert out == reference_client_copy(CAPTURED)
    assert out.endswith(b"data: [DONE]\n\n") and b": keep-alive" in out


def test_usage_hider_only_sends_whole_events() -> None:
    first, second = CAPTURED[:30], CAPTURED[30:]
    _, sent = hide([first, second])
    assert sent[0] == b""  # half an event waits for the rest
    assert all(part.endswith(b"\n\n") for part in sent if part)


@given(st.lists(st.integers(min_value=0, max_value=len(CAPTURED)), max_size=8))
def test_usage_hider_gives_the_same_bytes_however_the_stream_is_split(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(CAPTURED)]
    parts = [CAPTURED[a:b] for a, b in itertools.pairwise(points)]
    assert hide(parts)[0] == reference_client_copy(CAPTURED)


@given(st.lists(st.integers(min_value=0, max_value=len(CAPTURED)), max_size=6))
def test_usage_hider_with_crlf_line_endings(cuts: list[int]) -> None:
    stream = CAPTURED.replace(b"\n", b"\r\n")
    points = [0, *sorted(c for c in cuts if c < len(stream)), len(stream)]
    parts = [stream[a:b] for a, b in itertools.pairwise(points)]
    out = hide(parts)[0]
    assert b'"usage"' not in out
    assert out.count(b"data: ") == stream.count(b"data: ") - 1  # only the usage chunk dropped


def test_aggregate_chat_completion() -> None:
    events = [
        '{"id":"c","created":7,"model":"gpt-5.2","system_fingerprint":"fp","choices":'
        '[{"index":0,"delta":{"role":"assistant","content":""}}]}',
        '{"id":"c","choices":[{"index":0,"delta":{"content":"Hi "}}]}',
        '{"id":"c","choices":[{"index":0,"delta":{"content":"there"}}]}',
        '{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
        '"usage":{"prompt_tokens":2,"completion_tokens":2,"total_tokens":4}}',
        "[DONE]",
    ]
    result = aggregate_chat_completion(list(events))
    assert result["object"] == "chat.completion" and result["id"] == "c"
    assert result["created"] == 7 and result["system_fingerprint"] == "fp"
    assert result["choices"][0]["message"] == {"role": "assistant", "content": "Hi there"}
    assert result["choices"][0]["finish_reason"] == "stop"
    assert result["usage"] == {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}
