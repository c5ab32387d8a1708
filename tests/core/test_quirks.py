from __future__ import annotations

import json

from app.core.config import Provider
from app.core.quirks import aggregate_chat_completion, plan_request, strip_usage

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
