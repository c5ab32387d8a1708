"""openai-agents (the version in uv.lock): an Agent with a function tool, run by Runner."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from agents import (
    Agent,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
    function_tool,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

from tests.compat.harness import assert_recorded_as_sent, run_twice


@function_tool
def get_weather(city: str) -> str:
    """Weather in a city."""
    return f"sunny in {city}"


def agent_for(client: AsyncOpenAI, api: str) -> Agent:
    model: Any = (
        OpenAIResponsesModel(model="fake-1", openai_client=client)
        if api == "responses"
        else OpenAIChatCompletionsModel(model="fake-1", openai_client=client)
    )
    return Agent(name="weather", instructions="Answer briefly.", tools=[get_weather], model=model)


@pytest.mark.parametrize("api", ["responses", "chat"])
@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
def test_agent_calls_its_tool_and_answers(tmp_path: Path, api: str, streamed: bool) -> None:
    set_tracing_disabled(True)

    def run(base_url: str) -> list[Any]:
        async def go() -> Any:
            async with AsyncOpenAI(base_url=base_url, api_key="sk-client", max_retries=0) as c:
                agent = agent_for(c, api)
                if not streamed:
                    return await Runner.run(agent, "weather in Paris?")
                result = Runner.run_streamed(agent, "weather in Paris?")
                async for _ in result.stream_events():
                    pass
                return result

        result = asyncio.run(go())
        usage = result.context_wrapper.usage
        return [
            result.final_output,
            [
                (i.raw_item.name, i.raw_item.arguments)
                for i in result.new_items
                if i.type == "tool_call_item"
            ],
            (usage.requests, usage.input_tokens, usage.output_tokens, usage.total_tokens),
        ]

    twice = run_twice(tmp_path, run)
    assert twice.direct == twice.relayed
    final, calls, (requests, _, _, total) = twice.relayed
    assert final == "Done: sunny in test"
    assert calls == [("get_weather", '{"city": "test"}')]
    assert requests == len(twice.rows) == 2
    if streamed and api == "chat":  # the SDK does not ask for usage; usage capture does
        assert total == 0 and all(r["total_tokens"] for r in twice.rows)
    else:
        assert total == sum(r["total_tokens"] for r in twice.rows)
    assert twice.rows[1]["output_text"] == final
    assert_recorded_as_sent(twice)
