"""langchain-openai's ChatOpenAI (the version in uv.lock), directly and through Relayscope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from tests.compat.harness import assert_recorded_as_sent, run_twice


@tool
def get_weather(city: str) -> str:
    """Weather in a city."""
    return f"sunny in {city}"


#: The models a test made: their SDK clients are closed when it ends (a keep-alive socket the
#: garbage collector finds later fails whichever test is running then).
_OPEN: list[ChatOpenAI] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().root_client.close()


def chat_for(base_url: str) -> ChatOpenAI:
    chat = ChatOpenAI(model="fake-1", base_url=base_url, api_key="sk-client", max_retries=0)
    _OPEN.append(chat)
    return chat


def test_invoke_stream_and_tool_round_trip(tmp_path: Path) -> None:
    def run(base_url: str) -> list[Any]:
        chat = chat_for(base_url)
        plain = chat.invoke("tell me about the sea")
        streamed: AIMessageChunk | None = None
        for chunk in chat_for(base_url).bind(stream_usage=True).stream("and the hills"):
            streamed = chunk if streamed is None else streamed + chunk
        assert streamed is not None
        question = HumanMessage("weather in Paris?")
        with_tools = chat.bind_tools([get_weather])
        asked = with_tools.invoke([question])
        call = asked.tool_calls[0]
        result = ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])
        final = with_tools.invoke([question, asked, result])
        return [
            plain.content,
            plain.usage_metadata,
            streamed.content,
            streamed.usage_metadata,
            [(c["name"], c["args"]) for c in asked.tool_calls],
            final.content,
            final.usage_metadata,
        ]

    twice = run_twice(tmp_path, run, prompt_cache=True, reasoning_tokens=2)
    assert twice.direct == twice.relayed
    plain, plain_usage, streamed, usage, calls, final, final_usage = twice.relayed
    assert plain == twice.fake.answer_for("fake-1", "tell me about the sea")
    assert streamed == twice.fake.answer_for("fake-1", "and the hills")
    assert usage["total_tokens"] > 0
    assert calls == [("get_weather", {"city": "test"})]
    assert final == "Done: sunny in test"
    rows = twice.rows
    assert [r["output_text"] for r in (rows[0], rows[1], rows[3])] == [plain, streamed, final]
    assert rows[0]["total_tokens"] == plain_usage["total_tokens"]
    assert rows[1]["total_tokens"] == usage["total_tokens"]
    assert usage["output_token_details"]["reasoning"] == rows[1]["reasoning_tokens"] == 2
    final_row = rows[3]
    assert (
        final_row["cached_tokens"]
        and final_row["cached_tokens"] == final_usage["input_token_details"]["cache_read"]
    )
    assert_recorded_as_sent(twice)
