"""Exports (HAR 1.2, JSONL, fine-tuning JSONL) and the report views, on a real database."""

from __future__ import annotations

import base64
import io
import json
import os
import sqlite3
import stat
import threading
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from relayscope.analysis.cost import Pricer
from relayscope.config import ModelPrice, Provider
from relayscope.exchange.export import (
    ExportCancelled,
    Selection,
    export_calls,
    export_to_path,
)
from relayscope.exchange.finetune_export import finetune_example
from relayscope.recording.writer import RecordingWriter
from relayscope.store.call_store import CallFilter, CallStore

# --- a database with one call of each kind -------------------------------------------------

STREAM, PLAIN, ERROR, RESPONSES, CUT, SOCKET, AGGREGATED, BINARY = (
    f"019a3f2c5b{n:02x}-0000000{n}" for n in range(1, 9)
)
HOST = [["Host", "127.0.0.1:8787"], ["Content-Type", "application/json"]]
AUTH = ["Authorization", "Bearer ****1234"]
SSE_HEADERS = json.dumps([["content-type", "text/event-stream"]])
JSON_HEADERS = json.dumps([["content-type", "application/json"]])
CHAT_REQUEST = (
    '{"model":"fake-1","stream":true,"messages":[{"role":"system","content":"Be brief."},'
    '{"role":"user","content":"say hello please"}]}'
)


def sse(obj: object) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def delta(content: str | None = None, finish: str | None = None, **extra: Any) -> bytes:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "model": "fake-1-2025",
        "choices": [
            {
                "index": 0,
                "delta": {} if content is None else {"content": content},
                "finish_reason": finish,
            }
        ],
        **extra,
    }
    return sse(body)


STREAM_CHUNKS = [
    delta(""),
    delta("Hello "),
    delta("world"),
    delta(None, "stop", usage={"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}),
    b"data: [DONE]\n\n",
]
TOOL_ANSWER = {
    "id": "chatcmpl-2",
    "object": "chat.completion",
    "model": "fake-1",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_9",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                    }
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
}
RATE_LIMIT = {
    "error": {
        "message": "rate limit exceeded",
        "type": "rate_limit_exceeded",
        "code": "rate_limit_exceeded",
        "param": None,
    }
}
RESPONSES_REQUEST = {
    "model": "gpt-5.2",
    "instructions": "Be brief.",
    "input": [
        {
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": "Use tools."}],
        },
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Weather in Paris?"}],
        },
        {"type": "reasoning", "summary": []},
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
    ],
    "tools": [
        {
            "type": "function",
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        {"type": "web_search"},
    ],
}
RESPONSES_ANSWER = {
    "id": "resp_1",
    "object": "response",
    "status": "completed",
    "model": "gpt-5.2-2025",
    "output": [
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "It is sunny."}],
        }
    ],
    "usage": {"input_tokens": 20, "output_tokens": 4, "total_tokens": 24},
}


def _start(call_id: str, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": call_id,
        "started_at": f"2026-11-21T12:00:{n:02d}.000Z",
        "method": "POST",
        "path": "/v1/chat/completions",
        "endpoint": "chat.completions",
        "provider": "fake",
        "model": "fake-1",
        "stream": 0,
        "request_headers": json.dumps([*HOST, AUTH]),
        "request_body": CHAT_REQUEST.replace('"stream":true', '"stream":false'),
        "upstream_url": "https://api.fake.test/v1/chat/completions",
        "client": "OpenAI/Python 2.0",
        "transport": "http",
        **extra,
    }


def _data(raw: bytes) -> str:
    return raw.decode()[6:].strip()


def seed_calls(path: Path) -> Path:
    """A database with a stream, a tool call, a 429, a Responses call, a cut stream,
    a WebSocket call, an aggregated stream and a binary body."""
    writer = RecordingWriter(path).open()
    writer.start(_start(STREAM, 1, stream=1, request_body=CHAT_REQUEST))
    for seq, raw in enumerate(STREAM_CHUNKS):
        writer.chunk(STREAM, seq, 40.0 + 10 * seq, raw, _data(raw), None)
    writer.finish(
        STREAM,
        {
            "status": 200,
            "state": "complete",
            "response_headers": SSE_HEADERS,
            "first_byte_ms": 38.5,
            "duration_ms": 95.25,
            "hold_ms": 12.5,  # a breakpoint held it (part of the duration)
        },
    )
    _plain(writer, PLAIN, 2, 200, TOOL_ANSWER, request_size=120, response_size=400)
    _plain(writer, ERROR, 3, 429, RATE_LIMIT, state="error")
    _plain(
        writer,
        RESPONSES,
        4,
        200,
        RESPONSES_ANSWER,
        path="/v1/responses",
        endpoint="responses",
        model="gpt-5.2",
        request_body=json.dumps(RESPONSES_REQUEST),
    )
    writer.start(_start(CUT, 5, stream=1, request_body=CHAT_REQUEST))
    for seq, raw in enumerate(STREAM_CHUNKS[:2]):
        writer.chunk(CUT, seq, 30.0 + seq, raw, _data(raw), None)
    writer.finish(
        CUT,
        {
            "status": 200,
            "state": "interrupted",
            "error": "Interrupted: the provider closed the connection mid-stream.",
            "response_headers": SSE_HEADERS,
            "first_byte_ms": 30.0,
            "duration_ms": 31.0,
        },
    )
    _socket(writer)
    _aggregated(writer)
    _plain(
        writer,
        BINARY,
        8,
        200,
        {"ok": True},
        path="/v1/files",
        endpoint="other",
        model=None,
        request_body=b"\xff\xfebinary\x00",
    )
    writer.close()
    return path


def _plain(
    writer: RecordingWriter,
    call_id: str,
    n: int,
    status: int,
    answer: dict[str, Any],
    *,
    state: str = "complete",
    response_size: int | None = None,
    **start: Any,
) -> None:
    writer.start(_start(call_id, n, **start))
    fields: dict[str, Any] = {
        "status": status,
        "state": state,
        "response_headers": JSON_HEADERS,
        "response_body": json.dumps(answer).encode(),
        "first_byte_ms": 100.0 + n,
        "duration_ms": 120.0 + n,
    }
    if response_size is not None:
        fields["response_size"] = response_size
    writer.finish(call_id, fields)


def _socket(writer: RecordingWriter) -> None:
    create = json.dumps({"type": "response.create", "model": "gpt-5.2", "input": "hi"})
    events = [
        {"type": "response.output_text.delta", "output_index": 0, "delta": "Hi"},
        {"type": "response.output_text.delta", "output_index": 0, "delta": " there"},
        {"type": "response.completed", "response": {**RESPONSES_ANSWER, "id": "resp_ws"}},
    ]
    writer.start(
        _start(
            SOCKET,
            6,
            method="GET",
            path="/v1/responses",
            endpoint="responses",
            model="gpt-5.2",
            stream=1,
            request_body=create,
            transport="websocket",
        )
    )
    writer.chunk(SOCKET, 0, 5.0, create.encode(), None, None, "client")
    for seq, event in enumerate(events, 1):
        text = json.dumps(event)
        writer.chunk(SOCKET, seq, 10.0 * seq, text.encode(), text, None, "server")
    writer.finish(
        SOCKET,
        {
            "status": 101,
            "state": "complete",
            "response_headers": json.dumps([["upgrade", "websocket"]]),
            "first_byte_ms": 4.0,
            "duration_ms": 50.0,
        },
    )


def _aggregated(writer: RecordingWriter) -> None:
    # stream_required: the client asked without a stream, the provider streamed, and the
    # client got one aggregated body.
    writer.start(_start(AGGREGATED, 7, model="gpt-5.2"))
    for seq, raw in enumerate(STREAM_CHUNKS):
        writer.chunk(AGGREGATED, seq, 20.0 + seq, raw, _data(raw), None)
    writer.finish(
        AGGREGATED,
        {
            "status": 200,
            "state": "complete",
            "response_headers": JSON_HEADERS,
            "response_body": json.dumps({"object": "chat.completion", "choices": []}).encode(),
            "first_byte_ms": 20.0,
            "duration_ms": 30.0,
            "quirks": json.dumps(["stream_required: sent upstream with stream=true"]),
        },
    )


@pytest.fixture
def store(tmp_path: Path) -> Any:
    store = CallStore(seed_calls(tmp_path / "seed.db"))
    yield store
    store.close()


def export_text(
    store: CallStore, fmt: str, selection: Selection | None = None, pricer: Pricer | None = None
) -> str:
    out = io.StringIO()
    export_calls(store, fmt, out, selection, pricer=pricer)
    return out.getvalue()


def entries_by_id(har: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["_relayscope"]["id"]: entry for entry in har["log"]["entries"]}


# --- HAR 1.2 -------------------------------------------------------------------------------

NUMBER = (int, float)
REQUIRED = {
    "log": {"version": str, "creator": dict, "entries": list},
    "creator": {"name": str, "version": str},
    "entry": {
        "startedDateTime": str,
        "time": NUMBER,
        "request": dict,
        "response": dict,
        "cache": dict,
        "timings": dict,
    },
    "request": {
        "method": str,
        "url": str,
        "httpVersion": str,
        "cookies": list,
        "headers": list,
        "queryString": list,
        "headersSize": int,
        "bodySize": int,
    },
    "response": {
        "status": int,
        "statusText": str,
        "httpVersion": str,
        "cookies": list,
        "headers": list,
        "content": dict,
        "redirectURL": str,
        "headersSize": int,
        "bodySize": int,
    },
    "content": {"size": int, "mimeType": str},
    "timings": {"send": NUMBER, "wait": NUMBER, "receive": NUMBER},
    "header": {"name": str, "value": str},
    "postData": {"mimeType": str, "text": str},
}
# Fields HAR 1.2 defines beyond the required ones; anything else must start with "_".
OPTIONAL = {
    "entry": {"pageref", "serverIPAddress", "connection", "comment"},
    "request": {"postData", "comment"},
    "response": {"comment"},
    "content": {"compression", "text", "encoding", "comment"},
    "timings": {"blocked", "dns", "connect", "ssl", "comment"},
    "log": {"browser", "pages", "comment"},
    "postData": {"params", "comment"},
}


def har_problems(document: dict[str, Any]) -> list[str]:
    """Everything in a HAR document that breaks the HAR 1.2 specification's required fields."""
    problems: list[str] = []

    def check(kind: str, obj: object, where: str) -> None:
        if not isinstance(obj, dict):
            problems.append(f"{where}: not an object")
            return
        for key, kind_type in REQUIRED[kind].items():
            value = obj.get(key)
            if key not in obj or isinstance(value, bool) or not isinstance(value, kind_type):
                problems.append(f"{where}.{key}: missing or not {kind_type}")
        allowed = set(REQUIRED[kind]) | OPTIONAL.get(kind, set())
        problems.extend(
            f"{where}.{key}: not a HAR field" for key in obj if key not in allowed and key[0] != "_"
        )

    check("log", document.get("log"), "log")
    log = document["log"]
    check("creator", log.get("creator"), "log.creator")
    for i, entry in enumerate(log.get("entries", [])):
        where = f"entries[{i}]"
        check("entry", entry, where)
        started = datetime.fromisoformat(entry["startedDateTime"])
        if started.tzinfo is None:
            problems.append(f"{where}.startedDateTime: no time zone")
        check("request", entry["request"], where + ".request")
        check("response", entry["response"], where + ".response")
        check("content", entry["response"]["content"], where + ".response.content")
        check("timings", entry["timings"], where + ".timings")
        for part in ("request", "response"):
            for header in entry[part]["headers"]:
                check("header", header, f"{where}.{part}.headers")
        if "postData" in entry["request"]:
            check("postData", entry["request"]["postData"], where + ".request.postData")
        url = urlsplit(entry["request"]["url"])
        if not (url.scheme and url.netloc):
            problems.append(f"{where}.request.url: not absolute")
        timings = entry["timings"]
        if any(v < -1 for v in timings.values() if isinstance(v, NUMBER)):
            problems.append(f"{where}.timings: below -1")
        total = sum(v for k, v in timings.items() if k != "ssl" and v > 0)
        if abs(total - entry["time"]) > 0.01:
            problems.append(f"{where}.time: {entry['time']} is not the sum of timings {total}")
    return problems


def test_har_has_every_field_har_1_2_requires(store: CallStore) -> None:
    har = json.loads(export_text(store, "har"))
    assert har_problems(har) == []
    assert har["log"]["version"] == "1.2"
    assert har["log"]["creator"]["name"] == "Relayscope"
    assert len(har["log"]["entries"]) == 8


def test_har_of_no_calls_is_still_a_valid_document(store: CallStore) -> None:
    text = export_text(store, "har", Selection(filter=CallFilter(text="nothing-matches-this")))
    har = json.loads(text)
    assert har["log"]["entries"] == [] and har_problems(har) == []


def test_har_stream_content_is_the_exact_sse_body(store: CallStore) -> None:
    entry = entries_by_id(json.loads(export_text(store, "har")))[STREAM]
    content = entry["response"]["content"]
    assert content["text"].encode() == b"".join(STREAM_CHUNKS)
    assert content["mimeType"] == "text/event-stream"
    assert content["size"] == len(b"".join(STREAM_CHUNKS))
    assert entry["timings"]["wait"] == 38.5  # time to the first byte
    assert entry["timings"]["wait"] + entry["timings"]["receive"] == entry["time"] == 95.25
    assert entry["request"]["url"] == "http://127.0.0.1:8787/v1/chat/completions"
    assert entry["request"]["postData"] == {"mimeType": "application/json", "text": CHAT_REQUEST}
    assert entry["startedDateTime"] == "2026-11-21T12:00:01.000Z"


def test_har_relayscope_fields_carry_what_har_cannot(store: CallStore) -> None:
    entries = entries_by_id(json.loads(export_text(store, "har")))
    ours = entries[STREAM]["_relayscope"]
    assert (ours["provider"], ours["model"], ours["endpoint"], ours["stream"]) == (
        "fake",
        "fake-1",
        "chat.completions",
        True,
    )
    assert ours["usage"] == {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
    assert ours["chunks"] == [{"seq": i, "t_ms": 40.0 + 10 * i} for i in range(5)]
    assert (ours["ttft_ms"], ours["first_byte_ms"]) == (50.0, 38.5) and ours[
        "finish_reason"
    ] == "stop"
    cut = entries[CUT]
    assert cut["_relayscope"]["state"] == "interrupted"
    assert cut["comment"].startswith("Interrupted: the provider")
    # The aggregated stream: the content is what the client got, the chunks carry the stream.
    aggregated = entries[AGGREGATED]
    assert json.loads(aggregated["response"]["content"]["text"])["object"] == "chat.completion"
    chunks = aggregated["_relayscope"]["chunks"]
    assert "".join(c["data"] for c in chunks).encode() == b"".join(STREAM_CHUNKS)
    assert aggregated["_relayscope"]["quirks"] == [
        "stream_required: sent upstream with stream=true"
    ]


def test_har_error_call_and_status_text(store: CallStore) -> None:
    entry = entries_by_id(json.loads(export_text(store, "har")))[ERROR]
    assert (entry["response"]["status"], entry["response"]["statusText"]) == (
        429,
        "Too Many Requests",
    )
    assert json.loads(entry["response"]["content"]["text"]) == RATE_LIMIT
    assert entry["_relayscope"]["state"] == "error"


def test_har_websocket_call_uses_chrome_messages(store: CallStore) -> None:
    entry = entries_by_id(json.loads(export_text(store, "har")))[SOCKET]
    assert entry["_resourceType"] == "websocket"
    messages = entry["_webSocketMessages"]
    assert [m["type"] for m in messages] == ["send", "receive", "receive", "receive"]
    started = datetime.fromisoformat(entry["startedDateTime"]).timestamp()
    assert messages[1]["time"] == pytest.approx(started + 0.010)
    assert json.loads(messages[0]["data"])["type"] == "response.create"
    assert entry["response"]["status"] == 101


def test_har_binary_request_body_is_base64(store: CallStore) -> None:
    entry = entries_by_id(json.loads(export_text(store, "har")))[BINARY]
    post = entry["request"]["postData"]
    assert post["_encoding"] == "base64"
    assert base64.b64decode(post["text"]) == b"\xff\xfebinary\x00"


def test_har_redacts_a_secret_header_stored_unredacted(tmp_path: Path) -> None:
    # The recorder always redacts; a row written by anything else must not leak either.
    path = seed_calls(tmp_path / "r.db")
    secret = "sk-live-0123456789abcdefghij"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE calls SET request_headers = ?, response_headers = ? WHERE id = ?",
            (
                json.dumps([["Authorization", f"Bearer {secret}"], ["x-api-key", secret]]),
                json.dumps([["Set-Cookie", f"session={secret}"]]),
                PLAIN,
            ),
        )
    store = CallStore(path)
    text = export_text(store, "har")
    store.close()
    assert secret not in text
    headers = entries_by_id(json.loads(text))[PLAIN]["request"]["headers"]
    assert {"name": "Authorization", "value": "Bearer ****ghij"} in headers


# --- JSONL ---------------------------------------------------------------------------------


def test_jsonl_is_every_column_and_chunk_as_stored(store: CallStore) -> None:
    lines = [json.loads(line) for line in export_text(store, "jsonl").splitlines()]
    assert [line["id"] for line in lines] == sorted(
        [STREAM, PLAIN, ERROR, RESPONSES, CUT, SOCKET, AGGREGATED, BINARY]
    )
    for line in lines:
        row = store.get_call(line["id"])
        assert row is not None
        chunks = line.pop("chunks")
        line.pop("cost")  # not a column: the price when read (test_exports_carry_each_cost)
        binary = line.pop("base64", [])
        for column in binary:
            line[column] = base64.b64decode(line[column])
        assert line == row
        assert chunks == store.chunks(row["id"])
    by_id = {line["id"]: line for line in lines}
    assert by_id[BINARY]["request_body"] == b"\xff\xfebinary\x00"
    assert [c["direction"] for c in store.chunks(SOCKET)] == ["client", *["server"] * 3]


def test_exports_carry_each_cost_and_say_unknown_when_it_is(store: CallStore) -> None:
    # The seeded model has no list price; a provider's own price table makes it known.
    own = Provider(
        "fake", "https://fake.example/v1", prices=(ModelPrice("fake-*", input=2.0, output=8.0),)
    )
    priced = Pricer([own])
    lines = {
        line["id"]: line
        for line in map(json.loads, export_text(store, "jsonl", pricer=priced).splitlines())
    }
    # 9 input tokens at $2/M and 2 output tokens at $8/M.
    assert lines[STREAM]["cost"] == {"usd": 0.000034, "basis": "fake price for fake-*"}
    assert lines[ERROR]["cost"] == {"usd": None, "basis": "no usage recorded"}
    har = entries_by_id(json.loads(export_text(store, "har", pricer=priced)))
    assert har[STREAM]["_relayscope"]["cost"] == lines[STREAM]["cost"]
    # Without the override the price is unknown, and says why: never $0.
    unpriced = entries_by_id(json.loads(export_text(store, "har")))[STREAM]["_relayscope"]
    assert unpriced["cost"] == {"usd": None, "basis": "no price known for model 'fake-1'"}


# --- fine-tuning JSONL ---------------------------------------------------------------------


def test_finetune_keeps_finished_chat_calls_and_says_what_it_skipped(store: CallStore) -> None:
    out = io.StringIO()
    result = export_calls(store, "finetune", out)
    examples = [json.loads(line) for line in out.getvalue().splitlines()]
    assert result.written == len(examples) == 5  # stream, tool call, Responses, socket, aggregated
    assert result.skipped == {
        "failed or interrupted": 2,
        "not chat, Responses or Messages calls": 1,
    }
    assert (
        "skipped 3 (2 failed or interrupted, 1 not chat, Responses or Messages calls)"
        in result.summary()
    )
    stream = examples[0]
    assert stream == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "say hello please"},
            {"role": "assistant", "content": "Hello world"},
        ]
    }
    tool = examples[1]["messages"][-1]
    assert tool["content"] is None
    assert tool["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city":"Oslo"}',
    }


def test_finetune_converts_a_responses_call_to_chat_messages(store: CallStore) -> None:
    call = store.get_call(RESPONSES)
    assert call is not None
    example, reason = finetune_example(call)
    assert reason is None and example is not None
    assert example["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Use tools."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "assistant", "content": "It is sunny."},
    ]
    assert example["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"finish_reason": "length"}, "incomplete answers"),
        ({"finish_reason": "incomplete:max_output_tokens"}, "incomplete answers"),
        ({"state": "streaming"}, "failed or interrupted"),
        ({"output_text": None}, "empty answers"),
        ({"request_body": "not json"}, "unreadable requests"),
        ({"endpoint": "embeddings"}, "not chat, Responses or Messages calls"),
    ],
)
def test_finetune_skips_calls_that_would_teach_the_wrong_thing(
    store: CallStore, change: dict[str, Any], reason: str
) -> None:
    call = store.get_call(STREAM)
    assert call is not None
    example, why = finetune_example({**call, **change})
    assert (example, why) == (None, reason)


# --- streaming, progress, cancel, files ----------------------------------------------------


def test_progress_is_reported_up_to_the_total(store: CallStore) -> None:
    seen: list[tuple[int, int]] = []
    export_calls(store, "jsonl", io.StringIO(), on_progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (0, 8) and seen[-1] == (8, 8)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_selection_by_ids_and_by_filter(store: CallStore) -> None:
    by_ids = export_text(store, "jsonl", Selection(ids=(ERROR, STREAM, "019a3f2c5bff-ffffffff")))
    assert [json.loads(x)["id"] for x in by_ids.splitlines()] == [STREAM, ERROR]
    errors = export_text(store, "jsonl", Selection(filter=CallFilter(errors_only=True)))
    assert {json.loads(x)["id"] for x in errors.splitlines()} == {ERROR, CUT}
    out = io.StringIO()
    result = export_calls(store, "har", out, Selection(ids=(STREAM, "019a3f2c5bff-ffffffff")))
    assert (result.written, result.skipped) == (1, {"not in the database": 1})


def test_cancel_stops_the_export_and_leaves_no_file(store: CallStore, tmp_path: Path) -> None:
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done == 3:
            cancel.set()

    target = tmp_path / "out.har"
    with pytest.raises(ExportCancelled):
        export_to_path(store, "har", target, on_progress=progress, cancel=cancel)
    assert list(tmp_path.glob("out.har*")) == [] and list(tmp_path.glob(".out.har*")) == []


def test_export_file_is_owner_only_and_replaced_whole(store: CallStore, tmp_path: Path) -> None:
    target = tmp_path / "calls.jsonl"
    target.write_text("old")
    result = export_to_path(store, "jsonl", target)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert result.path == target and len(target.read_text().splitlines()) == 8
    assert result.summary() == f"Exported 8 calls as jsonl to {target}."


def test_export_reads_calls_one_at_a_time(store: CallStore) -> None:
    # The writer sees each call before the next one is read from the database.
    read: list[str] = []
    original = store.chunks

    def chunks(call_id: str) -> list[dict[str, Any]]:
        read.append(call_id)
        return original(call_id)

    store.chunks = chunks  # type: ignore[method-assign]

    class Out(io.StringIO):
        lines_at_read: list[int] = []  # noqa: RUF012

        def write(self, text: str) -> int:
            self.lines_at_read.append(len(read))
            return super().write(text)

    out = Out()
    export_calls(store, "jsonl", out)
    assert out.lines_at_read == list(range(1, 9))


def test_unknown_format_is_refused_before_a_file_is_made(store: CallStore, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown export format"):
        export_to_path(store, "xml", tmp_path / "out.xml")
    assert list(tmp_path.glob("*out*")) == []


# --- the report views ----------------------------------------------------------------------


def _row(n: int, **values: Any) -> dict[str, Any]:
    return {
        "id": f"view-{n:03d}",
        "started_at": "2026-11-21T10:00:00.000Z",
        "provider": "a",
        "model": "m1",
        "status": 200,
        "state": "complete",
        **values,
    }


@pytest.fixture
def views_db(tmp_path: Path) -> Any:
    store = CallStore(tmp_path / "views.db")
    rows = [
        _row(1, ttft_ms=100.0, prompt_tokens=10, completion_tokens=5, total_tokens=15),
        _row(2, ttft_ms=300.0, prompt_tokens=20, completion_tokens=5, total_tokens=25),
        _row(3, ttft_ms=200.0, status=429, state="error"),
        _row(4, ttft_ms=1000.0, state="interrupted", prompt_tokens=1, total_tokens=1),
        _row(5, started_at="2026-11-22T01:00:00.000Z", ttft_ms=50.0, model="m2",
             prompt_tokens=7, completion_tokens=3, total_tokens=10, cached_tokens=4,
             reasoning_tokens=2),
        _row(6, provider="b", model="m2", status=503, state="error"),
        _row(7, provider="b", model="m2", total_tokens=8, prompt_tokens=6, completion_tokens=2),
        _row(8, provider="b", model="m2", status=503, state="error"),
        _row(9, provider="b", model="m2", status=None, state="pending"),
    ]  # fmt: skip
    store.db["calls"].insert_all(rows)  # type: ignore[union-attr]
    yield store
    store.close()


def test_calls_per_provider_day(views_db: CallStore) -> None:
    rows = list(views_db.db.query("SELECT * FROM calls_per_provider_day"))
    assert rows == [
        {
            "provider": "a",
            "day": "2026-11-21",
            "calls": 4,
            "errors": 2,
            "error_rate": 0.5,
            "prompt_tokens": 31,
            "completion_tokens": 10,
            "total_tokens": 41,
            "avg_ttft_ms": 400.0,
            "median_ttft_ms": 250.0,  # of 100, 200, 300, 1000
            "avg_duration_ms": None,
        },
        {
            "provider": "b",
            "day": "2026-11-21",
            "calls": 4,
            "errors": 2,
            "error_rate": 0.5,
            "prompt_tokens": 6,
            "completion_tokens": 2,
            "total_tokens": 8,
            "avg_ttft_ms": None,
            "median_ttft_ms": None,
            "avg_duration_ms": None,
        },
        {
            "provider": "a",
            "day": "2026-11-22",
            "calls": 1,
            "errors": 0,
            "error_rate": 0.0,
            "prompt_tokens": 7,
            "completion_tokens": 3,
            "total_tokens": 10,
            "avg_ttft_ms": 50.0,
            "median_ttft_ms": 50.0,
            "avg_duration_ms": None,
        },
    ]


def test_median_ttft_of_an_odd_count(views_db: CallStore) -> None:
    views_db.db["calls"].insert(_row(10, ttft_ms=5000.0))  # type: ignore[union-attr]
    (row,) = views_db.db.query(
        "SELECT median_ttft_ms FROM calls_per_provider_day WHERE provider = 'a' AND day = ?",
        ["2026-11-21"],
    )
    assert row["median_ttft_ms"] == 300.0  # of 100, 200, 300, 1000, 5000


def test_token_usage_per_model_and_day(views_db: CallStore) -> None:
    rows = {(r["model"], r["day"]): r for r in views_db.db.query("SELECT * FROM token_usage")}
    assert set(rows) == {("m1", "2026-11-21"), ("m2", "2026-11-21"), ("m2", "2026-11-22")}
    m1 = rows["m1", "2026-11-21"]
    assert (m1["calls"], m1["calls_with_usage"]) == (4, 3)
    assert (m1["prompt_tokens"], m1["completion_tokens"], m1["total_tokens"]) == (31, 10, 41)
    m2 = rows["m2", "2026-11-22"]
    assert (m2["cached_tokens"], m2["reasoning_tokens"], m2["total_tokens"]) == (4, 2, 10)
    assert rows["m2", "2026-11-21"]["total_tokens"] == 8


def test_error_rates_per_provider_and_status(views_db: CallStore) -> None:
    rows = [
        {k: r[k] for k in ("provider", "status", "errors", "interrupted", "provider_calls",
                           "error_rate")}
        for r in views_db.db.query("SELECT * FROM error_rates")
    ]  # fmt: skip
    assert rows == [
        {"provider": "a", "status": 200, "errors": 1, "interrupted": 1, "provider_calls": 5,
         "error_rate": 0.2},
        {"provider": "a", "status": 429, "errors": 1, "interrupted": 0, "provider_calls": 5,
         "error_rate": 0.2},
        {"provider": "b", "status": 503, "errors": 2, "interrupted": 0, "provider_calls": 4,
         "error_rate": 0.5},
    ]  # fmt: skip
