"""Tests for relayscope.protocols.openai_format: request reading, usage, and answers from bodies and streams."""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relayscope.protocols.openai_format import (
    Assembled,
    RequestInfo,
    StreamAssembler,
    Usage,
    assemble_body,
    endpoint_of,
    holds_output,
    read_request,
    usage_from,
)
from relayscope.protocols.sse import SSEDecoder

# --- seeds, verbatim ------------------------------------------------------------------------
# Seed 000 (Constreet) renders its stream without line breaks; the chunks are verbatim and the
# blank lines between them are put back.
SEED_000_CHUNKS = [
    '{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1677652288,"model":"gpt-5.2","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}',
    '{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1677652288,"model":"gpt-5.2","choices":[{"index":0,"delta":{"content":"你"},"finish_reason":null}]}',
    '{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1677652288,"model":"gpt-5.2","choices":[{"index":0,"delta":{"content":"好"},"finish_reason":null}]}',
    '{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1677652288,"model":"gpt-5.2","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}',
    "[DONE]",
]
SEED_003_CHUNKS = [
    '{"id":"chatcmpl-xxx","object":"chat.completion.chunk","created":1677652288,"model":"gpt-4","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}',
    '{"id":"chatcmpl-xxx","object":"chat.completion.chunk","created":1677652288,"model":"gpt-4","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}',
    '{"id":"chatcmpl-xxx","object":"chat.completion.chunk","created":1677652288,"model":"gpt-4","choices":[{"index":0,"delta":{"content":"!"},"finish_reason":null}]}',
    '{"id":"chatcmpl-xxx","object":"chat.completion.chunk","created":1677652288,"model":"gpt-4","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
    "[DONE]",
]
SEED_004_CHUNKS = [
    '{"id":"chatcmpl-abc123","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}',
    '{"id":"chatcmpl-abc123","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"我是"},"finish_reason":null}]}',
    '{"id":"chatcmpl-abc123","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"一个"},"finish_reason":null}]}',
    '{"id":"chatcmpl-abc123","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
    "[DONE]",
]
SEED_000_BODY = b'{ "id": "chatcmpl-123", "object": "chat.completion", "created": 1677652288, "model": "gpt-5.2", "choices": [ { "index": 0, "message": { "role": "assistant", "content": "\xe8\xbf\x99\xe6\x98\xafAI\xe7\x9a\x84\xe5\x9b\x9e\xe5\xa4\x8d\xe5\x86\x85\xe5\xae\xb9" }, "finish_reason": "stop" } ], "usage": { "prompt_tokens": 56, "completion_tokens": 31, "total_tokens": 87 }}'  # noqa: E501
SEED_000_ERROR = '{ "error": { "message": "错误描述", "type": "invalid_request_error", "code": "invalid_api_key" }}'  # noqa: E501
SEED_001_TOOL_BODY = """{
"id": "chatcmpl-8abcd1234efgh5678",
"object": "chat.completion",
"created": 1699012345,
"model": "gpt-4",
"choices": [
{
"index": 0,
"message": {
"role": "assistant",
"content": null,
"tool_calls": [
{
"id": "call_abc123",
"type": "function",
"function": {
"name": "get_current_time",
"arguments": "{\\"timezone\\": \\"Asia/Shanghai\\"}"
}
}
]
},
"finish_reason": "tool_calls"
}
],
"usage": {
"prompt_tokens": 58,
"completion_tokens": 21,
"total_tokens": 79
}
}"""
SEED_001_ERROR = """{
"error": {
"message": "Invalid API key provided",
"type": "invalid_request_error",
"param": "authorization",
"code": "invalid_api_key"
}
}"""
SEED_004_BODY = """{
"id": "chatcmpl-abc123",
"object": "chat.completion",
"created": 1716300000,
"model": "gpt-4o",
"choices": [
{
"index": 0,
"message": {
"role": "assistant",
"content": "我是一个 AI 助手..."
},
"finish_reason": "stop",
"logprobs": null
}
],
"usage": {
"prompt_tokens": 12,
"completion_tokens": 45,
"total_tokens": 57
},
"system_fingerprint": "fp_abc123"
}"""


def assemble(endpoint: str, datas: Iterable[str | None]) -> Assembled:
    assembler = StreamAssembler(endpoint)
    for data in datas:
        assembler.feed(data)
    return assembler.result()


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return json.dumps({"id": "chatcmpl-1", "model": "m", "choices": [choice], **extra})


def sse(events: Iterable[dict[str, Any]]) -> bytes:
    """A Responses stream as sent on the wire: an event: line naming each data: line."""
    return b"".join(
        f"event: {event['type']}\ndata: {json.dumps(event, ensure_ascii=False)}\n\n".encode()
        for event in events
    )


def assemble_bytes(endpoint: str, chunks: Iterable[bytes]) -> Assembled:
    decoder, assembler = SSEDecoder(), StreamAssembler(endpoint)
    for piece in chunks:
        for event in decoder.feed(piece):
            assembler.feed(event.data, event.event)
    last = decoder.flush()
    if last is not None:
        assembler.feed(last.data, last.event)
    return assembler.result()


# --- endpoint_of ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        ("/v1/chat/completions", "chat.completions"),
        ("/v1/chat/completions?stream=true", "chat.completions"),
        ("/chat/completions", "chat.completions"),
        ("/api/paas/v4/chat/completions", "chat.completions"),
        ("/openai/deployments/gpt4/chat/completions?api-version=1", "chat.completions"),
        ("/v1/responses", "responses"),
        ("/v1/responses/resp_123/input_items", "responses"),
        ("/responses", "responses"),
        ("/v1/completions", "completions"),
        ("/v1/embeddings", "embeddings"),
        ("/v1/models", "models"),
        ("/v1/models/gpt-4o", "models"),
        ("/v1/models/completions", "models"),
        ("/v1/chat", "other"),
        ("/v1/files", "other"),
        ("/v1/audio/speech", "other"),
        ("/", "other"),
        ("", "other"),
        ("/v1/chat/completionsx", "other"),
    ],
)
def test_endpoint_of(path: str, endpoint: str) -> None:
    assert endpoint_of(path) == endpoint


# --- read_request ---------------------------------------------------------------------------


def test_read_request_of_a_streaming_chat_request() -> None:
    body = json.dumps(
        {
            "model": "gpt-5.2",
            "messages": [{"role": "user", "content": "你好"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    ).encode()

    assert read_request(body) == RequestInfo("gpt-5.2", True, True, True)


@pytest.mark.parametrize(
    "body",
    [None, b"", b"not json", b"\xff\xfe\x00", b"[1, 2]", b'"model"', b"null", b"[" * 100_000],
)
def test_read_request_never_raises(body: bytes | None) -> None:
    assert read_request(body) == RequestInfo(None, False, False, False)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{}", RequestInfo(None, False, False, True)),
        (b'{"model": 5, "stream": "true"}', RequestInfo(None, False, False, True)),
        (
            b'{"stream": 1, "stream_options": {"include_usage": 1}}',
            RequestInfo(None, False, False, True),
        ),
        (b'{"stream": true, "stream_options": true}', RequestInfo(None, True, False, True)),
        (b'\xef\xbb\xbf{"model": "m"}', RequestInfo("m", False, False, True)),
    ],
)
def test_read_request_takes_only_well_typed_values(body: bytes, expected: RequestInfo) -> None:
    assert read_request(body) == expected


# --- usage_from -----------------------------------------------------------------------------


def test_usage_from_chat_usage_with_details() -> None:
    usage = {
        "prompt_tokens": 120,
        "completion_tokens": 80,
        "total_tokens": 200,
        "prompt_tokens_details": {"cached_tokens": 100, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 64},
    }

    assert usage_from(usage) == Usage(120, 80, 200, 100, 64)


def test_usage_from_responses_usage_maps_input_and_output() -> None:
    usage = {
        "input_tokens": 5120,
        "input_tokens_details": {"cached_tokens": 4096},
        "output_tokens": 86,
        "output_tokens_details": {"reasoning_tokens": 64},
        "total_tokens": 5206,
    }

    assert usage_from(usage) == Usage(5120, 86, 5206, 4096, 64)


@pytest.mark.parametrize(
    "junk",
    [
        None,
        [],
        "usage",
        5,
        {},
        {"prompt_tokens": "9"},
        {"prompt_tokens": True, "total_tokens": 1.5},
        {"prompt_tokens_details": 3, "completion_tokens_details": {"reasoning_tokens": None}},
    ],
)
def test_usage_from_junk_is_none(junk: object) -> None:
    assert usage_from(junk) is None


def test_usage_from_keeps_what_is_there() -> None:
    assert usage_from({"total_tokens": 11, "completion_tokens": False}) == Usage(total_tokens=11)


# --- chat streams ---------------------------------------------------------------------------


def test_seed_000_stream_with_usage_on_the_finish_chunk() -> None:
    result = assemble("chat.completions", SEED_000_CHUNKS)

    assert result == Assembled(
        output_text="你好",
        finish_reason="stop",
        usage=Usage(prompt_tokens=9, completion_tokens=2, total_tokens=11),
        response_id="chatcmpl-123",
        model="gpt-5.2",
        done=True,
    )


def test_seed_003_stream() -> None:
    result = assemble("chat.completions", SEED_003_CHUNKS)

    assert (result.output_text, result.finish_reason, result.done) == ("Hello!", "stop", True)
    assert (result.usage, result.model, result.invalid_events) == (None, "gpt-4", 0)


def test_seed_004_stream_without_model() -> None:
    result = assemble("chat.completions", SEED_004_CHUNKS)

    assert (result.output_text, result.model, result.response_id) == (
        "我是一个",
        None,
        "chatcmpl-abc123",
    )


def test_seed_stream_through_the_decoder_split_everywhere() -> None:
    body = "".join(f"data: {data}\n\n" for data in SEED_000_CHUNKS).encode()

    for cut in range(len(body) + 1):
        result = assemble_bytes("chat.completions", [body[:cut], body[cut:]])
        assert (result.output_text, result.done, result.usage) == ("你好", True, Usage(9, 2, 11))


def test_usage_on_a_final_chunk_without_choices() -> None:
    datas = [
        chunk({"content": "hi"}, usage=None),
        chunk({}, "stop", usage=None),
        json.dumps({"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 3}}),
        "[DONE]",
    ]

    result = assemble("chat.completions", datas)

    assert (result.output_text, result.finish_reason) == ("hi", "stop")
    assert result.usage == Usage(prompt_tokens=3)


def test_tool_calls_interleaved_by_index_across_many_chunks() -> None:
    def call(index: int, arguments: str, **first: Any) -> str:
        fragment: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
        if first:
            fragment["id"], fragment["type"] = first["id"], "function"
            fragment["function"]["name"] = first["name"]
        return chunk({"tool_calls": [fragment]})

    datas = [
        chunk({"role": "assistant", "content": None}),
        call(1, "", id="call_b", name="get_time"),
        call(0, '{"ci', id="call_a", name="get_weather"),
        call(1, '{"tz": '),
        call(0, 'ty": "Par'),
        call(1, '"UTC"}'),
        call(0, 'is"}'),
        chunk({}, "tool_calls"),
        "[DONE]",
    ]

    result = assemble("chat.completions", datas)

    assert result.tool_calls == [
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        },
        {
            "id": "call_b",
            "type": "function",
            "function": {"name": "get_time", "arguments": '{"tz": "UTC"}'},
        },
    ]
    assert (result.finish_reason, result.output_text) == ("tool_calls", "")


def test_tool_call_name_repeated_in_every_fragment_is_kept_once() -> None:
    fragment = {"index": 0, "id": "c1", "type": "function", "function": {"name": "f"}}
    datas = [
        chunk({"tool_calls": [{**fragment, "function": {"name": "f", "arguments": "{"}}]}),
        chunk({"tool_calls": [{**fragment, "function": {"name": "f", "arguments": "}"}}]}),
    ]

    result = assemble("chat.completions", datas)

    assert result.tool_calls == [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    ]


def test_tool_call_fragments_without_index_follow_their_ids() -> None:
    datas = [
        chunk({"tool_calls": [{"id": "c1", "function": {"name": "a", "arguments": "{"}}]}),
        chunk({"tool_calls": [{"function": {"arguments": "}"}}]}),
        chunk({"tool_calls": [{"id": "c2", "function": {"name": "b", "arguments": "["}}]}),
        chunk({"tool_calls": [{"id": "c2", "function": {"arguments": "]"}}]}),
    ]

    result = assemble("chat.completions", datas)

    assert [(c["id"], c["function"]["arguments"]) for c in result.tool_calls] == [
        ("c1", "{}"),
        ("c2", "[]"),
    ]


@pytest.mark.parametrize("name", ["reasoning_content", "reasoning"])
def test_reasoning_under_either_name(name: str) -> None:
    datas = [chunk({name: "Let me "}), chunk({name: "think."}), chunk({"content": "42"})]

    result = assemble("chat.completions", datas)

    assert (result.reasoning_text, result.output_text) == ("Let me think.", "42")


def test_refusal_deltas() -> None:
    datas = [chunk({"refusal": "I can't "}), chunk({"refusal": "help."}), chunk({}, "stop")]

    assert assemble("chat.completions", datas).refusal == "I can't help."


def test_only_choice_index_0_is_assembled() -> None:
    both = {
        "choices": [
            {"index": 1, "delta": {"content": "B"}, "finish_reason": None},
            {"index": 0, "delta": {"content": "A"}, "finish_reason": None},
        ]
    }
    datas = [json.dumps(both), json.dumps(both)]

    assert assemble("chat.completions", datas).output_text == "AA"


def test_cut_chat_stream_keeps_text_and_is_not_done() -> None:
    result = assemble("chat.completions", SEED_000_CHUNKS[:3])

    assert (result.output_text, result.done, result.finish_reason) == ("你好", False, None)


def test_malformed_chunk_is_counted_and_the_rest_assembled() -> None:
    datas = [*SEED_003_CHUNKS[:2], '{"id":"chatcmpl-xxx","choices":[{"ind', *SEED_003_CHUNKS[2:]]

    result = assemble("chat.completions", datas)

    assert (result.invalid_events, result.output_text, result.done) == (1, "Hello!", True)


def test_what_counts_as_invalid() -> None:
    datas = [None, "", "  ", "[1]", "null", "nope", "[DONE]", " [DONE] ", "[" * 100_000]

    result = assemble("chat.completions", datas)

    assert (result.invalid_events, result.done) == (4, True)


def test_error_object_inside_a_200_stream() -> None:
    error = {"message": "upstream overloaded", "type": "server_error", "code": "overloaded"}
    datas = [chunk({"content": "par"}), json.dumps({"error": error})]

    result = assemble("chat.completions", datas)

    assert (result.error, result.output_text, result.done) == (error, "par", False)


def test_error_as_a_bare_string() -> None:
    assert assemble("chat.completions", ['{"error": "quota"}']).error == {"message": "quota"}


def test_legacy_completions_stream() -> None:
    def text(value: str, finish: str | None = None) -> str:
        choice = {"index": 0, "text": value, "finish_reason": finish, "logprobs": None}
        return json.dumps({"id": "cmpl-1", "object": "text_completion", "choices": [choice]})

    datas = [text("Once"), text(" upon"), text(" a", "length"), "[DONE]"]

    result = assemble("completions", datas)

    assert (result.output_text, result.finish_reason, result.done) == (
        "Once upon a",
        "length",
        True,
    )
    assert result.response_id == "cmpl-1"


def test_result_can_be_taken_mid_stream_and_again() -> None:
    assembler = StreamAssembler("chat.completions")
    assembler.feed(SEED_000_CHUNKS[1])
    early = assembler.result()
    for data in SEED_000_CHUNKS[2:]:
        assembler.feed(data)

    assert (early.output_text, early.done) == ("你", False)
    assert assembler.result() == assembler.result()
    assert assembler.result().output_text == "你好"


# --- Responses streams ----------------------------------------------------------------------

RESPONSE_ID, MODEL = "resp_0a1b2c", "gpt-5.2"
REASONING_ITEM = {
    "id": "rs_1",
    "type": "reasoning",
    "summary": [{"type": "summary_text", "text": "**Listing files**"}],
}
MESSAGE_ITEM = {
    "id": "msg_1",
    "type": "message",
    "status": "completed",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "I'll list the files.", "annotations": []}],
}
CALL_ITEM = {
    "id": "fc_1",
    "type": "function_call",
    "status": "completed",
    "arguments": '{"cmd":"ls -la"}',
    "call_id": "call_XYZ",
    "name": "exec_command",
}
CODEX_USAGE = {
    "input_tokens": 5120,
    "input_tokens_details": {"cached_tokens": 4096},
    "output_tokens": 86,
    "output_tokens_details": {"reasoning_tokens": 64},
    "total_tokens": 5206,
}


def response(status: str, output: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": RESPONSE_ID,
        "object": "response",
        "created_at": 1763700000,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "model": MODEL,
        "output": output,
        "usage": None,
        **extra,
    }


def codex_events() -> list[dict[str, Any]]:
    """A Codex turn: reasoning, a message, then an exec_command call, then completion."""
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response("in_progress", [])},
        {"type": "response.in_progress", "response": response("in_progress", [])},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**REASONING_ITEM, "summary": []},
        },
        {
            "type": "response.reasoning_summary_part.added",
            "item_id": "rs_1",
            "output_index": 0,
            "summary_index": 0,
            "part": {"type": "summary_text", "text": ""},
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "item_id": "rs_1",
            "output_index": 0,
            "summary_index": 0,
            "delta": "**Listing files**",
        },
        {"type": "response.output_item.done", "output_index": 0, "item": REASONING_ITEM},
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {**MESSAGE_ITEM, "status": "in_progress", "content": []},
        },
        {
            "type": "response.content_part.added",
            "item_id": "msg_1",
            "output_index": 1,
            "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": []},
        },
    ]
    for piece in ["I'll", " list", " the files."]:
        events.append(
            {
                "type": "response.output_text.delta",
                "item_id": "msg_1",
                "output_index": 1,
                "content_index": 0,
                "delta": piece,
            }
        )
    events += [
        {
            "type": "response.output_text.done",
            "item_id": "msg_1",
            "output_index": 1,
            "content_index": 0,
            "text": "I'll list the files.",
        },
        {"type": "response.output_item.done", "output_index": 1, "item": MESSAGE_ITEM},
        {
            "type": "response.output_item.added",
            "output_index": 2,
            "item": {**CALL_ITEM, "status": "in_progress", "arguments": ""},
        },
    ]
    for piece in ['{"cmd"', ':"ls', ' -la"}']:
        events.append(
            {
                "type": "response.function_call_arguments.delta",
                "item_id": "fc_1",
                "output_index": 2,
                "delta": piece,
            }
        )
    events += [
        {
            "type": "response.function_call_arguments.done",
            "item_id": "fc_1",
            "output_index": 2,
            "arguments": CALL_ITEM["arguments"],
        },
        {"type": "response.output_item.done", "output_index": 2, "item": CALL_ITEM},
        {
            "type": "response.completed",
            "response": response(
                "completed", [REASONING_ITEM, MESSAGE_ITEM, CALL_ITEM], usage=CODEX_USAGE
            ),
        },
    ]
    return [{**event, "sequence_number": n} for n, event in enumerate(events)]


EXPECTED_CALL = {
    "id": "call_XYZ",
    "type": "function",
    "function": {"name": "exec_command", "arguments": '{"cmd":"ls -la"}'},
}


def test_codex_responses_stream() -> None:
    result = assemble_bytes("responses", [sse(codex_events())])

    assert result == Assembled(
        output_text="I'll list the files.",
        reasoning_text="**Listing files**",
        tool_calls=[EXPECTED_CALL],
        finish_reason="completed",
        usage=Usage(5120, 86, 5206, 4096, 64),
        response_id=RESPONSE_ID,
        model=MODEL,
        done=True,
    )


def test_responses_stream_split_at_every_byte_gives_the_same_answer() -> None:
    body = sse(codex_events())
    whole = assemble_bytes("responses", [body])

    for cut in range(0, len(body) + 1, 7):
        assert assemble_bytes("responses", [body[:cut], body[cut:]]) == whole


def test_responses_event_name_is_used_when_data_has_no_type() -> None:
    assembler = StreamAssembler("responses")
    for event in codex_events():
        name = event["type"]
        assembler.feed(json.dumps({k: v for k, v in event.items() if k != "type"}), name)

    result = assembler.result()

    assert (result.output_text, result.tool_calls, result.done) == (
        "I'll list the files.",
        [EXPECTED_CALL],
        True,
    )


def test_cut_responses_stream_falls_back_to_deltas() -> None:
    events = codex_events()
    cut = next(i for i, e in enumerate(events) if e["type"].endswith("arguments.delta")) + 2

    result = assemble_bytes("responses", [sse(events[:cut])])

    assert result.done is False
    assert (result.output_text, result.reasoning_text) == (
        "I'll list the files.",
        "**Listing files**",
    )
    assert result.tool_calls == [
        {**EXPECTED_CALL, "function": {"name": "exec_command", "arguments": '{"cmd":"ls'}}
    ]
    assert (result.finish_reason, result.usage) == (None, None)
    assert (result.response_id, result.model) == (RESPONSE_ID, MODEL)


def test_responses_stream_cut_mid_text_keeps_the_text_so_far() -> None:
    events = codex_events()
    cut = next(i for i, e in enumerate(events) if e.get("delta") == " list") + 1

    result = assemble("responses", [json.dumps(e) for e in events[:cut]])

    assert (result.output_text, result.done, result.tool_calls) == ("I'll list", False, [])


def test_completed_without_output_falls_back_to_the_items() -> None:
    events = codex_events()
    events[-1]["response"]["output"] = []

    result = assemble_bytes("responses", [sse(events)])

    assert (result.output_text, result.tool_calls) == ("I'll list the files.", [EXPECTED_CALL])
    assert (result.usage, result.finish_reason, result.done) == (
        Usage(5120, 86, 5206, 4096, 64),
        "completed",
        True,
    )


def test_completed_output_wins_over_the_deltas() -> None:
    final = {**MESSAGE_ITEM, "content": [{"type": "output_text", "text": "final"}]}
    events = [
        {"type": "response.output_text.delta", "output_index": 0, "delta": "draft"},
        {"type": "response.completed", "response": response("completed", [final])},
    ]

    assert assemble("responses", [json.dumps(e) for e in events]).output_text == "final"


def test_responses_without_output_index_follow_item_ids() -> None:
    events = [
        {"type": "response.output_item.added", "item": {"id": "m1", "type": "message"}},
        {"type": "response.output_text.delta", "item_id": "m1", "delta": "a"},
        {"type": "response.output_item.added", "item": {**CALL_ITEM, "arguments": ""}},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": "{}"},
        {"type": "response.output_text.delta", "item_id": "m1", "delta": "b"},
    ]

    result = assemble("responses", [json.dumps(e) for e in events])

    assert result.output_text == "ab"
    assert result.tool_calls[0]["function"] == {"name": "exec_command", "arguments": "{}"}


def test_responses_reasoning_parts_are_separated() -> None:
    events = [
        {
            "type": "response.reasoning_summary_text.delta",
            "output_index": 0,
            "summary_index": 0,
            "delta": "One",
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "output_index": 0,
            "summary_index": 1,
            "delta": "Two",
        },
        {
            "type": "response.reasoning_text.delta",
            "output_index": 1,
            "content_index": 0,
            "delta": "raw",
        },
    ]

    result = assemble("responses", [json.dumps(e) for e in events])

    assert result.reasoning_text == "One\n\nTwo\n\nraw"


def test_responses_incomplete() -> None:
    final = response(
        "incomplete", [MESSAGE_ITEM], incomplete_details={"reason": "max_output_tokens"}
    )
    events = [{"type": "response.incomplete", "response": final}]

    result = assemble("responses", [json.dumps(e) for e in events])

    assert (result.finish_reason, result.done, result.output_text) == (
        "incomplete:max_output_tokens",
        True,
        "I'll list the files.",
    )


def test_responses_failed_sets_the_error() -> None:
    error = {"code": "server_error", "message": "The model failed."}
    events = [
        {"type": "response.created", "response": response("in_progress", [])},
        {"type": "response.failed", "response": response("failed", [], error=error)},
    ]

    result = assemble("responses", [json.dumps(e) for e in events])

    assert (result.error, result.finish_reason, result.done) == (error, "failed", True)


def test_responses_error_event() -> None:
    event = {
        "type": "error",
        "code": "rate_limit_exceeded",
        "message": "Slow down",
        "param": None,
        "sequence_number": 3,
    }

    result = assemble("responses", [json.dumps(event)])

    assert result.error == {"code": "rate_limit_exceeded", "message": "Slow down", "param": None}
    assert result.done is False


def test_responses_nested_error_event_and_done_marker() -> None:
    error = {"type": "server_error", "message": "boom"}

    result = assemble("responses", [json.dumps({"type": "error", "error": error}), "[DONE]"])

    assert (result.error, result.done, result.invalid_events) == (error, False, 0)


def test_responses_custom_tool_call_from_deltas_and_items() -> None:
    item = {"id": "ctc_1", "type": "custom_tool_call", "call_id": "call_P", "name": "apply_patch"}
    events = [
        {"type": "response.output_item.added", "output_index": 0, "item": {**item, "input": ""}},
        {"type": "response.custom_tool_call_input.delta", "output_index": 0, "delta": "*** Begin"},
    ]
    expected = {
        "id": "call_P",
        "type": "custom",
        "custom": {"name": "apply_patch", "input": "*** Begin"},
    }

    cut = assemble("responses", [json.dumps(e) for e in events])
    body = assemble_body(
        "responses", json.dumps(response("completed", [{**item, "input": "*** Begin"}])).encode()
    )

    assert cut.tool_calls == [expected]
    assert body.tool_calls == [expected]


# --- whole bodies ---------------------------------------------------------------------------


def test_seed_000_body() -> None:
    result = assemble_body("chat.completions", SEED_000_BODY)

    assert result == Assembled(
        output_text="这是AI的回复内容",
        finish_reason="stop",
        usage=Usage(56, 31, 87),
        response_id="chatcmpl-123",
        model="gpt-5.2",
        done=True,
    )


def test_seed_001_tool_call_body() -> None:
    result = assemble_body("chat.completions", SEED_001_TOOL_BODY.encode())

    assert result.tool_calls == [
        {
            "id": "call_abc123",
            "type": "function",
            "function": {"name": "get_current_time", "arguments": '{"timezone": "Asia/Shanghai"}'},
        }
    ]
    assert (result.output_text, result.finish_reason, result.usage) == (
        "",
        "tool_calls",
        Usage(58, 21, 79),
    )


def test_seed_004_body() -> None:
    result = assemble_body("chat.completions", SEED_004_BODY.encode())

    assert (result.output_text, result.model, result.usage) == (
        "我是一个 AI 助手...",
        "gpt-4o",
        Usage(12, 45, 57),
    )


@pytest.mark.parametrize("body", [SEED_000_ERROR, SEED_001_ERROR])
def test_seed_error_bodies(body: str) -> None:
    result = assemble_body("chat.completions", body.encode())

    assert result.error == json.loads(body)["error"]
    assert (result.output_text, result.usage) == ("", None)


def test_chat_body_with_content_parts_reasoning_and_refusal() -> None:
    message = {
        "role": "assistant",
        "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}, 7],
        "reasoning_content": "thinking",
        "refusal": None,
    }
    body = {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}

    result = assemble_body("chat.completions", json.dumps(body).encode())

    assert (result.output_text, result.reasoning_text, result.refusal) == (
        "Hello there",
        "thinking",
        "",
    )


def test_completions_body() -> None:
    body = {"id": "cmpl-9", "choices": [{"index": 0, "text": "Hi.", "finish_reason": "stop"}]}

    result = assemble_body("completions", json.dumps(body).encode())

    assert (result.output_text, result.finish_reason, result.response_id) == (
        "Hi.",
        "stop",
        "cmpl-9",
    )


def test_responses_body() -> None:
    body = response("completed", [REASONING_ITEM, MESSAGE_ITEM, CALL_ITEM], usage=CODEX_USAGE)

    result = assemble_body("responses", json.dumps(body).encode())

    assert result == Assembled(
        output_text="I'll list the files.",
        reasoning_text="**Listing files**",
        tool_calls=[EXPECTED_CALL],
        finish_reason="completed",
        usage=Usage(5120, 86, 5206, 4096, 64),
        response_id=RESPONSE_ID,
        model=MODEL,
        done=True,
    )


def test_responses_body_found_by_its_object_on_another_path() -> None:
    body = json.dumps(response("completed", [MESSAGE_ITEM])).encode()

    assert assemble_body("other", body).output_text == "I'll list the files."


def test_responses_refusal_part() -> None:
    item = {"type": "message", "content": [{"type": "refusal", "refusal": "No."}]}

    result = assemble_body("responses", json.dumps(response("completed", [item])).encode())

    assert (result.refusal, result.output_text) == ("No.", "")


@pytest.mark.parametrize(
    "body",
    [
        None,
        b"",
        b"garbage",
        b"[]",
        b"\x00\xff",
        b"[" * 100_000,
        b'{"choices": 5}',
        b'{"choices": [{"message": {"content": {"a": 1}, "tool_calls": [1, {"function": 2}]}}]}',
        b'{"output": [1, {"type": "message", "content": "x"}], "status": 5, "usage": []}',
    ],
)
def test_assemble_body_never_raises(body: bytes | None) -> None:
    result = assemble_body("responses", body)
    assemble_body("chat.completions", body)

    assert result.output_text == "" and result.error is None


def test_garbage_body_gives_an_empty_answer() -> None:
    assert assemble_body("chat.completions", b"<html>502</html>") == Assembled()


# --- properties -----------------------------------------------------------------------------

_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)


def pieces(text: str, cuts: list[int]) -> list[str]:
    bounds = [0, *sorted(cuts), len(text)]
    return [text[a:b] for a, b in pairwise(bounds)]


def stream_datas(endpoint: str, parts: list[str], completed: bool) -> list[str]:
    if endpoint == "chat.completions":
        return [chunk({"content": part}) for part in parts] + ["[DONE]"]
    if endpoint == "completions":
        return [json.dumps({"choices": [{"index": 0, "text": part}]}) for part in parts]
    events = [{"type": "response.output_text.delta", "delta": p, "output_index": 0} for p in parts]
    if completed:
        item = {"type": "message", "content": [{"type": "output_text", "text": "".join(parts)}]}
        events.append({"type": "response.completed", "response": response("completed", [item])})
    return [json.dumps(event, ensure_ascii=False) for event in events]


@settings(max_examples=200, deadline=None)
@given(
    text=_TEXT,
    endpoint=st.sampled_from(["chat.completions", "completions", "responses"]),
    completed=st.booleans(),
    data=st.data(),
)
def test_any_chunking_of_the_text_reassembles_to_it(
    text: str, endpoint: str, completed: bool, data: st.DataObject
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=10))
    datas = stream_datas(endpoint, pieces(text, cuts), completed)
    body = "".join(f"data: {d}\n\n" for d in datas).encode()
    byte_cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=10))
    bounds = [0, *sorted(byte_cuts), len(body)]

    direct = assemble(endpoint, datas)
    through_decoder = assemble_bytes(endpoint, [body[a:b] for a, b in pairwise(bounds)])

    assert direct.output_text == text
    assert through_decoder == direct
    assert direct.invalid_events == 0


def test_terminal_event_without_a_response_still_finishes() -> None:
    events = [
        {"type": "response.created", "response": response("in_progress", [])},
        {"type": "response.output_text.delta", "output_index": 0, "delta": "hi"},
        {"type": "response.completed"},
    ]

    result = assemble("responses", [json.dumps(e) for e in events])

    assert (result.output_text, result.finish_reason, result.done) == ("hi", "completed", True)
    assert result.response_id == RESPONSE_ID


def test_model_and_id_come_from_the_first_chunk_that_has_them() -> None:
    datas = [json.dumps({"choices": []}), chunk({"content": "x"}), chunk({}, model="other")]

    result = assemble("chat.completions", datas)

    assert (result.model, result.response_id) == ("m", "chatcmpl-1")


# --- Anthropic Messages ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        ("/v1/messages", "messages"),
        ("/v1/messages?beta=true", "messages"),
        ("/v1/messages/count_tokens", "messages.count_tokens"),
        ("/v1/messages/batches", "other"),
        ("/v1/threads/thread_1/messages", "other"),  # OpenAI Assistants, not Messages
    ],
)
def test_messages_paths_are_the_messages_endpoint(path: str, endpoint: str) -> None:
    assert endpoint_of(path) == endpoint


def _messages_events() -> list[tuple[str, dict[str, Any]]]:
    start_usage = {"input_tokens": 10, "cache_read_input_tokens": 100, "output_tokens": 1}
    return [
        ("message_start", {"message": {"id": "msg_1", "model": "claude-x", "usage": start_usage}}),
        ("ping", {}),
        (
            "content_block_start",
            {"index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        ),
        (
            "content_block_delta",
            {"index": 0, "delta": {"type": "thinking_delta", "thinking": "Hm, "}},
        ),
        (
            "content_block_delta",
            {"index": 0, "delta": {"type": "thinking_delta", "thinking": "ok."}},
        ),
        (
            "content_block_delta",
            {"index": 0, "delta": {"type": "signature_delta", "signature": "s"}},
        ),
        ("content_block_stop", {"index": 0}),
        ("content_block_start", {"index": 1, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"index": 1, "delta": {"type": "text_delta", "text": "Let me "}}),
        ("content_block_delta", {"index": 1, "delta": {"type": "text_delta", "text": "look."}}),
        ("content_block_stop", {"index": 1}),
        (
            "content_block_start",
            {
                "index": 2,
                "content_block": {"type": "tool_use", "id": "toolu_1", "name": "grep", "input": {}},
            },
        ),
        (
            "content_block_delta",
            {"index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"q": '}},
        ),
        (
            "content_block_delta",
            {"index": 2, "delta": {"type": "input_json_delta", "partial_json": '"x"}'}},
        ),
        ("content_block_stop", {"index": 2}),
        (
            "message_delta",
            {
                "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": 42, "cache_creation_input_tokens": 5},
            },
        ),
        ("message_stop", {}),
    ]


def _feed_messages(events: list[tuple[str, dict[str, Any]]]) -> Assembled:
    assembler = StreamAssembler("messages")
    for name, data in events:
        assembler.feed(json.dumps({"type": name, **data}), name)
    return assembler.result()


def test_a_messages_stream_is_assembled_into_text_thinking_tool_calls_and_usage() -> None:
    result = _feed_messages(_messages_events())
    assert result.output_text == "Let me look."
    assert result.reasoning_text == "Hm, ok."
    assert result.tool_calls == [
        {
            "id": "toolu_1",
            "type": "function",
            "function": {"name": "grep", "arguments": '{"q": "x"}'},
        }
    ]
    assert (result.finish_reason, result.response_id, result.model) == (
        "tool_use",
        "msg_1",
        "claude-x",
    )
    # Anthropic's input_tokens leave out the cache: prompt_tokens counts every input token.
    assert result.usage == Usage(
        prompt_tokens=115,
        completion_tokens=42,
        total_tokens=157,
        cached_tokens=100,
        cache_write_tokens=5,
    )
    assert result.done and result.error is None


def test_a_messages_stream_cut_before_message_stop_is_not_done() -> None:
    result = _feed_messages(_messages_events()[:9])
    assert not result.done
    assert result.output_text == "Let me "
    assert result.usage is not None and result.usage.completion_tokens == 1


def test_an_overloaded_error_event_is_the_calls_error() -> None:
    error = {"error": {"type": "overloaded_error", "message": "Overloaded"}}
    result = _feed_messages([_messages_events()[0], ("error", error)])
    assert result.error == {"type": "overloaded_error", "message": "Overloaded"}
    assert not result.done


def test_a_messages_body_is_read() -> None:
    body = {
        "id": "msg_2",
        "type": "message",
        "model": "claude-x",
        "content": [
            {"type": "thinking", "thinking": "Think.", "signature": "s"},
            {"type": "text", "text": "Hi."},
            {"type": "tool_use", "id": "toolu_2", "name": "ls", "input": {"path": "."}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 3, "cache_creation_input_tokens": 7, "output_tokens": 9},
    }
    result = assemble_body("messages", json.dumps(body).encode())
    assert (result.output_text, result.reasoning_text) == ("Hi.", "Think.")
    assert result.tool_calls[0]["function"] == {"name": "ls", "arguments": '{"path": "."}'}
    assert result.usage == Usage(10, 9, 19, None, None, 7)
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert assemble_body("messages", json.dumps(error).encode()).error == error["error"]


def test_messages_output_events_are_the_ones_with_text_thinking_or_tool_input() -> None:
    events = {name: {"type": name, **data} for name, data in _messages_events()[:9]}
    assert not holds_output(events["message_start"], "message_start", responses=False)
    assert not holds_output(events["ping"], "ping", responses=False)
    assert not holds_output(events["content_block_start"], None, responses=False)
    thinking = {"type": "content_block_delta", "delta": {"type": "thinking_delta", "thinking": "x"}}
    assert holds_output(thinking, "content_block_delta", responses=False)
    signature = {
        "type": "content_block_delta",
        "delta": {"type": "signature_delta", "signature": "s"},
    }
    assert not holds_output(signature, "content_block_delta", responses=False)
