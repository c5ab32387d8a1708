"""Realistic recorded calls for the inspector's tests and screenshots.

Each builder inserts a `calls` row (and its chunks) shaped like what the recorder writes:
redacted headers as JSON pairs, bodies as compact JSON text, chunks as raw SSE events.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from relayscope.store.call_store import CallStore, open_database

CHAT_ID = "0199a3f2c5b1-chat0001"
CODEX_ID = "0199a3f2c5b2-codex001"
STREAM_ID = "0199a3f2c5b3-strm0300"
ERROR_ID = "0199a3f2c5b4-err00429"
UPSTREAM_ID = "0199a3f2c5b5-upstrm01"
LIVE_ID = "0199a3f2c5b6-live0001"

STALL_AT = 151  # the chunk that ends the 1.5 s stall
STALL_MS = 1500.0
MALFORMED_AT = 212  # the chunk whose data is not JSON
STREAM_CHUNKS = 300


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def headers(*pairs: tuple[str, str]) -> str:
    return json.dumps([list(p) for p in pairs])


def sse(obj: Any, event: str | None = None) -> str:
    data = obj if isinstance(obj, str) else dumps(obj)
    return (f"event: {event}\n" if event else "") + f"data: {data}\n\n"


CLIENT_HEADERS = headers(
    ("host", "127.0.0.1:8787"),
    ("authorization", "Bearer ****9f3a"),
    ("content-type", "application/json"),
    ("accept", "application/json"),
    ("user-agent", "OpenAI/Python 1.109.1"),
    ("x-stainless-lang", "python"),
    ("content-length", "1234"),
)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}


def _base(call_id: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": call_id,
        "started_at": "2025-06-03T10:01:03.412Z",
        "method": "POST",
        "path": "/v1/chat/completions",
        "endpoint": "chat.completions",
        "provider": "openai",
        "model": "gpt-5.2",
        "stream": 0,
        "status": 200,
        "state": "complete",
        "request_headers": CLIENT_HEADERS,
        "response_headers": headers(
            ("content-type", "application/json"),
            ("x-request-id", "req_8c1d2e3f"),
            ("openai-processing-ms", "1840"),
        ),
        "client": "OpenAI/Python 1.109.1",
        "transport": "http",
    }
    row.update(fields)
    if isinstance(row.get("request_body"), str):
        row.setdefault("request_size", len(row["request_body"].encode()))
    return row


def chat_with_tools() -> dict[str, Any]:
    body = {
        "model": "gpt-5.2",
        "messages": [
            {"role": "system", "content": "You are a concise travel assistant. Use tools."},
            {"role": "user", "content": "What's the weather in Paris and Berlin right now?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_paris",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {
                        "id": "call_berlin",
                        "type": "function",
                        "function": {
                            "name": "get_weather",
                            "arguments": '{"city":"Berlin","unit":"celsius"}',
                        },
                    },
                ],
            },
            {
                "role": "tool",
                "tool_call_id": "call_paris",
                "content": '{"temp_c":18,"sky":"sunny"}',
            },
            {
                "role": "tool",
                "tool_call_id": "call_berlin",
                "content": '{"temp_c":12,"sky":"light rain"}',
            },
        ],
        "tools": [WEATHER_TOOL],
        "temperature": 0.2,
    }
    answer = "Paris: 18 °C and sunny. Berlin: 12 °C with light rain — take an umbrella."
    response = {
        "id": "chatcmpl-9x1",
        "object": "chat.completion",
        "created": 1748944863,
        "model": "gpt-5.2-2025-05-01",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 412,
            "completion_tokens": 24,
            "total_tokens": 436,
            "prompt_tokens_details": {"cached_tokens": 256},
        },
    }
    return _base(
        CHAT_ID,
        request_body=dumps(body),
        response_body=dumps(response),
        output_text=answer,
        finish_reason="stop",
        response_model="gpt-5.2-2025-05-01",
        prompt_tokens=412,
        completion_tokens=24,
        total_tokens=436,
        cached_tokens=256,
        ttft_ms=1843.2,
        first_byte_ms=1843.2,
        duration_ms=1851.7,
        response_size=len(dumps(response)),
    )


PYTEST_OUTPUT = "\n".join(
    [
        "============================= test session starts ==============================",
        "collected 14 items",
        "",
        "tests/test_api.py ......F.......                                        [100%]",
        "",
        "=================================== FAILURES ===================================",
        "___________________________ test_rate_limit_headers ____________________________",
        "    def test_rate_limit_headers(client):",
        "        response = client.get('/v1/limits')",
        ">       assert response.headers['retry-after'] == '3'",
        "E       KeyError: 'retry-after'",
        *[f"tests/test_api.py:{40 + i}: in helper_{i}" for i in range(40)],
        "=========================== 1 failed, 13 passed in 0.41s =======================",
    ]
)


def codex_responses() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A Codex turn: developer prompt, history with function calls and their outputs."""
    developer = "You are Codex, a coding agent. " + "Follow the repository's AGENTS.md. " * 120
    items: list[dict[str, Any]] = [
        {
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": developer}],
        },
        {
            "type": "message",
            "role": "user",
            "content": [
                {
                    "type": "input_text",
                    "text": "<environment_context>cwd=/src/api</environment_context>",
                }
            ],
        },
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Fix the failing test in tests/test_api.py"}
            ],
        },
    ]
    for i in range(12):
        call_id = f"call_{i:02d}"
        command = (
            ["pytest", "-q", "tests/test_api.py"] if i % 2 == 0 else ["rg", "retry-after", "src"]
        )
        items.append(
            {
                "type": "function_call",
                "name": "exec_command",
                "call_id": call_id,
                "arguments": dumps({"cmd": command, "workdir": "/src/api", "timeout_ms": 10000}),
            }
        )
        output = PYTEST_OUTPUT if i % 2 == 0 else f"src/api/limits.py:{20 + i}:    # retry-after"
        items.append({"type": "function_call_output", "call_id": call_id, "output": output})
    items.append(
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "The header is never set; patching it."}],
        }
    )
    body = {
        "model": "gpt-5.2-codex",
        "input": items,
        "tools": [
            {"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
            {"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "019a3f2c-thread",
        "client_metadata": {"originator": "codex_exec"},
    }
    patch = (
        "*** Begin Patch\n*** Update File: src/api/limits.py\n"
        "+    response.headers['retry-after'] = '3'\n*** End Patch"
    )
    events = [
        (
            "response.created",
            {
                "type": "response.created",
                "response": {"id": "resp_1", "model": "gpt-5.2-codex", "status": "in_progress"},
            },
        ),
        (
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {"type": "reasoning", "id": "rs_1"},
            },
        ),
        (
            "response.reasoning_summary_text.delta",
            {
                "type": "response.reasoning_summary_text.delta",
                "output_index": 0,
                "delta": "The test expects a Retry-After header; ",
            },
        ),
        (
            "response.reasoning_summary_text.delta",
            {
                "type": "response.reasoning_summary_text.delta",
                "output_index": 0,
                "delta": "add it where 429s are built.",
            },
        ),
        (
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "output_index": 1,
                "item": {"type": "message", "id": "msg_1"},
            },
        ),
        (
            "response.output_text.delta",
            {
                "type": "response.output_text.delta",
                "output_index": 1,
                "delta": "Adding the missing ",
            },
        ),
        (
            "response.output_text.delta",
            {
                "type": "response.output_text.delta",
                "output_index": 1,
                "delta": "Retry-After header.",
            },
        ),
        (
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "output_index": 2,
                "item": {
                    "type": "custom_tool_call",
                    "id": "ctc_1",
                    "call_id": "call_patch",
                    "name": "apply_patch",
                },
            },
        ),
        (
            "response.custom_tool_call_input.delta",
            {"type": "response.custom_tool_call_input.delta", "output_index": 2, "delta": patch},
        ),
        (
            "response.completed",
            {
                "type": "response.completed",
                "response": {
                    "id": "resp_1",
                    "status": "completed",
                    "usage": {
                        "input_tokens": 9120,
                        "output_tokens": 310,
                        "total_tokens": 9430,
                        "input_tokens_details": {"cached_tokens": 8064},
                        "output_tokens_details": {"reasoning_tokens": 192},
                    },
                },
            },
        ),
    ]
    chunks = [
        {"call_id": CODEX_ID, "seq": i, "t_ms": 640.0 + 45.0 * i, "data": sse(obj, name)}
        for i, (name, obj) in enumerate(events)
    ]
    tool_calls = [
        {"id": "call_patch", "type": "custom", "custom": {"name": "apply_patch", "input": patch}}
    ]
    row = _base(
        CODEX_ID,
        path="/v1/responses",
        endpoint="responses",
        provider="constreet",
        model="gpt-5.2-codex",
        stream=1,
        request_body=dumps(body),
        request_headers=headers(
            ("authorization", "Bearer ****k3y9"),
            ("content-type", "application/json"),
            ("accept", "text/event-stream"),
            ("originator", "codex_exec"),
            ("user-agent", "codex_exec/0.169.0 (Debian 12; x86_64)"),
            ("session-id", "019a3f2c-5b1e-7000-8c1d-2e3f00000001"),
        ),
        response_headers=headers(
            ("content-type", "text/event-stream"), ("x-request-id", "req_c0dex")
        ),
        output_text="Adding the missing Retry-After header.",
        reasoning_text="The test expects a Retry-After header; add it where 429s are built.",
        tool_calls=dumps(tool_calls),
        finish_reason="completed",
        response_model="gpt-5.2-codex",
        prompt_tokens=9120,
        completion_tokens=310,
        total_tokens=9430,
        cached_tokens=8064,
        reasoning_tokens=192,
        ttft_ms=612.0,
        duration_ms=chunks[-1]["t_ms"] + 12,
        chunk_count=len(chunks),
        client="codex_exec/0.169.0 (Debian 12; x86_64)",
    )
    return row, chunks


STREAM_TEXT = (
    "Relayscope records every chunk with its arrival time, so a stall in the middle of a "
    "stream shows up as a gap on the timeline instead of hiding inside one slow request. "
) * 6


def stream_chunks(
    call_id: str = STREAM_ID,
    count: int = STREAM_CHUNKS,
    stall_at: int | None = STALL_AT,
    malformed_at: int | None = MALFORMED_AT,
) -> list[dict[str, Any]]:
    """A chat stream: role chunk, content deltas, one stall, one malformed chunk, finish, [DONE]."""
    rng = random.Random(7)
    words = STREAM_TEXT.split(" ")
    base = {
        "id": "chatcmpl-s1",
        "object": "chat.completion.chunk",
        "created": 1748944863,
        "model": "gpt-5.2-2025-05-01",
    }
    chunks: list[dict[str, Any]] = []
    t = 420.0
    for seq in range(count):
        if seq == stall_at:
            t += STALL_MS
        elif seq > 0:
            t += rng.uniform(14.0, 34.0)
        if seq == 0:
            data = sse(
                {
                    **base,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "content": ""},
                            "finish_reason": None,
                        }
                    ],
                }
            )
        elif seq == malformed_at:
            data = 'data: {"id":"chatcmpl-s1","choices":[{"delta":{"content":"oops\n\n'
        elif seq == count - 3:
            data = sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        elif seq == count - 2:
            data = sse(
                {
                    **base,
                    "choices": [],
                    "usage": {"prompt_tokens": 58, "completion_tokens": 296, "total_tokens": 354},
                }
            )
        elif seq == count - 1:
            data = sse("[DONE]")
        else:
            word = words[(seq - 1) % len(words)] + " "
            data = sse(
                {
                    **base,
                    "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}],
                }
            )
        chunks.append({"call_id": call_id, "seq": seq, "t_ms": round(t, 3), "data": data})
    return chunks


def stream_call(
    call_id: str = STREAM_ID, chunks: list[dict[str, Any]] | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    chunks = chunks if chunks is not None else stream_chunks(call_id)
    body = {
        "model": "gpt-5.2",
        "messages": [{"role": "user", "content": "Explain why stream timing matters, briefly."}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    text = " ".join(STREAM_TEXT.split(" ")[: len(chunks) - 5])
    row = _base(
        call_id,
        stream=1,
        provider="ezmodel",
        request_body=dumps(body),
        response_headers=headers(("content-type", "text/event-stream; charset=utf-8")),
        output_text=text,
        finish_reason="stop",
        response_model="gpt-5.2-2025-05-01",
        prompt_tokens=58,
        completion_tokens=296,
        total_tokens=354,
        ttft_ms=418.0,
        first_byte_ms=5.0,
        duration_ms=chunks[-1]["t_ms"] + 3.0,
        chunk_count=len(chunks),
    )
    return row, chunks


RATE_LIMIT_MESSAGE = (
    "Rate limit reached for gpt-5.2 in organization org-a1b2 on tokens per min (TPM): "
    "Limit 30000, Used 29800, Requested 1200. Please try again in 2.4s."
)


def error_429() -> dict[str, Any]:
    body = {
        "error": {
            "message": RATE_LIMIT_MESSAGE,
            "type": "tokens",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    return _base(
        ERROR_ID,
        status=429,
        state="error",
        error=RATE_LIMIT_MESSAGE,
        request_body=dumps(
            {"model": "gpt-5.2", "messages": [{"role": "user", "content": "Summarise this log."}]}
        ),
        response_body=dumps(body),
        response_headers=headers(
            ("content-type", "application/json"),
            ("retry-after", "3"),
            ("x-ratelimit-remaining-tokens", "200"),
        ),
        ttft_ms=81.0,
        duration_ms=83.5,
        response_size=len(dumps(body)),
    )


def with_upstream() -> dict[str, Any]:
    client = {"model": "constreet/gpt-5.2", "messages": [{"role": "user", "content": "hi"}]}
    upstream = {
        "model": "gpt-5.2",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    return _base(
        UPSTREAM_ID,
        provider="constreet",
        request_body=dumps(client),
        upstream_request_body=dumps(upstream),
        upstream_url="https://api.constreet.cc/v1/chat/completions",
        quirks=dumps(
            ["model prefix 'constreet/' removed", "stream upgraded (GPT models must stream)"]
        ),
        response_body=dumps(
            {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}}]}
        ),
        output_text="Hello!",
        replay_of=CHAT_ID,
        ttft_ms=8702.0,
        first_byte_ms=8702.0,
        duration_ms=9210.0,
        hold_ms=8004.0,  # held at a breakpoint before it went upstream
    )


def insert(db: Database, row: dict[str, Any], chunks: Sequence[dict[str, Any]] = ()) -> None:
    db["calls"].insert(row)
    if chunks:
        db["chunks"].insert_all(chunks)


def build(path: Path) -> CallStore:
    """A database with every sample call; returns a store reading it."""
    db = open_database(path)
    insert(db, chat_with_tools())
    insert(db, *codex_responses())
    insert(db, *stream_call())
    insert(db, error_429())
    insert(db, with_upstream())
    db.conn.commit()
    db.conn.close()
    return CallStore(path)
