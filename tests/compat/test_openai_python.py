"""openai-python (the version in uv.lock), directly and through Relayscope."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openai import OpenAI
from pydantic import BaseModel

from tests.compat.harness import assert_recorded_as_sent, run_twice

TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


#: The clients a test made, closed when it ends (an unclosed keep-alive socket found later by
#: the garbage collector fails whichever test is running then).
_OPEN: list[OpenAI] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def client_for(base_url: str) -> OpenAI:
    client = OpenAI(base_url=base_url, api_key="sk-client", max_retries=0)
    _OPEN.append(client)
    return client


@pytest.mark.parametrize("usage_on_finish", [False, True], ids=["usage-chunk", "usage-on-finish"])
def test_chat_plain_and_streamed_with_cached_tokens(tmp_path: Path, usage_on_finish: bool) -> None:
    def run(base_url: str) -> list[Any]:
        client = client_for(base_url)
        first = [{"role": "user", "content": "tell me about the sea"}]
        plain = client.chat.completions.create(model="fake-1", messages=first)
        follow_up = [
            *first,
            {"role": "assistant", "content": plain.choices[0].message.content},
            {"role": "user", "content": "and the mountains"},
        ]
        stream = client.chat.completions.create(
            model="fake-1",
            messages=follow_up,
            stream=True,
            stream_options={"include_usage": True},
        )
        text, usage = "", None
        for chunk in stream:
            text += "".join(c.delta.content or "" for c in chunk.choices)
            usage = chunk.usage or usage
        assert usage is not None
        return [
            plain.choices[0].message.content,
            plain.usage.model_dump() if plain.usage else None,
            text,
            usage.model_dump(),
        ]

    twice = run_twice(
        tmp_path, run, prompt_cache=True, usage_on_finish=usage_on_finish, reasoning_tokens=2
    )
    assert twice.direct == twice.relayed
    plain_text, plain_usage, text, usage = twice.relayed
    assert text == twice.fake.answer_for("fake-1", "and the mountains")
    assert usage["prompt_tokens_details"]["cached_tokens"] > 0
    plain_row, stream_row = twice.rows
    assert plain_row["output_text"] == plain_text
    assert plain_row["total_tokens"] == plain_usage["total_tokens"]
    assert stream_row["output_text"] == text
    assert stream_row["cached_tokens"] == usage["prompt_tokens_details"]["cached_tokens"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 2
    assert plain_row["reasoning_tokens"] == stream_row["reasoning_tokens"] == 2
    assert_recorded_as_sent(twice)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_chat_tool_round_trip(tmp_path: Path, stream: bool) -> None:
    def run(base_url: str) -> list[Any]:
        client = client_for(base_url)
        messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
        if stream:
            with client.chat.completions.stream(
                model="fake-1", messages=messages, tools=TOOLS
            ) as events:
                message = events.get_final_completion().choices[0].message
        else:
            message = (
                client.chat.completions.create(model="fake-1", messages=messages, tools=TOOLS)
                .choices[0]
                .message
            )
        calls = [(c.function.name, c.function.arguments) for c in message.tool_calls or []]
        messages.append(message.model_dump(exclude_none=True))
        messages.append({"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"})
        answer = client.chat.completions.create(model="fake-1", messages=messages, tools=TOOLS)
        return [calls, answer.choices[0].message.content]

    twice = run_twice(tmp_path, run)
    assert twice.direct == twice.relayed
    calls, answer = twice.relayed
    assert calls == [("get_weather", '{"city": "test"}')]
    assert answer == "Done: sunny, 21 C"
    first, second = twice.rows
    assert [(c["function"]["name"], c["function"]["arguments"]) for c in _calls(first)] == calls
    assert second["output_text"] == answer
    assert_recorded_as_sent(twice)


class Forecast(BaseModel):
    city: str
    days: int
    rain: bool


def test_structured_outputs_chat_and_responses_parse(tmp_path: Path) -> None:
    def run(base_url: str) -> list[Any]:
        client = client_for(base_url)
        messages: Any = [{"role": "user", "content": "forecast"}]
        chat = client.chat.completions.parse(
            model="fake-1", messages=messages, response_format=Forecast
        )
        responses = client.responses.parse(model="fake-1", input="forecast", text_format=Forecast)
        return [chat.choices[0].message.parsed, responses.output_parsed]

    twice = run_twice(tmp_path, run)
    assert twice.direct == twice.relayed
    expected = Forecast(city="test", days=1, rain=True)
    assert twice.relayed == [expected, expected]
    for row in twice.rows:
        assert Forecast.model_validate_json(row["output_text"]) == expected
    assert_recorded_as_sent(twice)


def test_responses_stream_helper_with_cached_tokens(tmp_path: Path) -> None:
    def run(base_url: str) -> list[Any]:
        client = client_for(base_url)
        seen = []
        for prompt in ("first question", "second question"):
            with client.responses.stream(
                model="fake-1", instructions="be brief and kind to everyone", input=prompt
            ) as stream:
                deltas = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
                final = stream.get_final_response()
            assert final.usage is not None
            seen.append([deltas, final.output_text, final.usage.model_dump()])
        return seen

    twice = run_twice(tmp_path, run, prompt_cache=True, reasoning_tokens=3)
    assert twice.direct == twice.relayed
    (_, first, _), (deltas, text, usage) = twice.relayed
    assert deltas == text == twice.fake.answer_for("fake-1", "second question")
    assert usage["input_tokens_details"]["cached_tokens"] > 0
    assert [r["output_text"] for r in twice.rows] == [first, text]
    assert twice.rows[1]["cached_tokens"] == usage["input_tokens_details"]["cached_tokens"]
    assert usage["output_tokens_details"]["reasoning_tokens"] == 3
    assert twice.rows[1]["reasoning_tokens"] == 3
    assert_recorded_as_sent(twice)


def _calls(row: dict[str, Any]) -> list[dict[str, Any]]:
    return list(json.loads(row["tool_calls"] or "[]"))


def test_audio_transcription_and_file_upload_multipart(tmp_path: Path) -> None:
    audio = b"RIFF\x24\x08\x00\x00WAVEfmt " + bytes(range(256)) * 8  # binary, not UTF-8

    def run(base_url: str) -> list[Any]:
        client = client_for(base_url)
        transcript = client.audio.transcriptions.create(
            model="whisper-1", file=("hello.wav", audio, "audio/wav")
        )
        uploaded = client.files.create(
            file=("notes.jsonl", b'{"prompt": "hi"}\n', "application/jsonl"), purpose="batch"
        )
        return [transcript.text, (uploaded.filename, uploaded.bytes, uploaded.purpose)]

    twice = run_twice(tmp_path, run)
    assert twice.direct == twice.relayed
    text, uploaded = twice.relayed
    assert "hello.wav" in text and "whisper-1" in text
    assert uploaded == ("notes.jsonl", 17, "batch")
    transcription, upload = twice.rows
    assert (transcription["model"], transcription["output_text"]) == ("whisper-1", text)
    assert upload["path"] == "/v1/files"
    assert_recorded_as_sent(twice)
