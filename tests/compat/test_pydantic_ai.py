"""pydantic-ai (pydantic-ai-slim[openai] in uv.lock) with an OpenAI provider's base_url."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
from pydantic_ai.providers.openai import OpenAIProvider

from tests.compat.harness import assert_recorded_as_sent, run_twice


def get_weather(city: str) -> str:
    """Weather in a city."""
    return f"sunny in {city}"


def agent_for(client: AsyncOpenAI, api: str) -> Agent[None, str]:
    provider = OpenAIProvider(openai_client=client)
    model: Any = (
        OpenAIResponsesModel("fake-1", provider=provider)
        if api == "responses"
        else OpenAIChatModel("fake-1", provider=provider)
    )
    return Agent(model, tools=[get_weather])


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_agent_with_a_tool_then_a_streamed_answer(tmp_path: Path, api: str) -> None:
    def run(base_url: str) -> list[Any]:
        async def go() -> tuple[Any, str, Any]:
            async with AsyncOpenAI(base_url=base_url, api_key="sk-client", max_retries=0) as c:
                result = await agent_for(c, api).run("weather in Paris?")
                async with Agent(agent_for(c, api).model).run_stream("and the hills") as run:
                    text = await run.get_output()
                    return result, text, run.usage

        result, text, stream_usage = asyncio.run(go())
        usage = result.usage
        return [
            result.output,
            (usage.requests, usage.input_tokens, usage.output_tokens),
            text,
            (stream_usage.requests, stream_usage.input_tokens, stream_usage.output_tokens),
        ]

    twice = run_twice(tmp_path, run)
    assert twice.direct == twice.relayed
    output, (requests, input_tokens, output_tokens), text, _ = twice.relayed
    assert output == "Done: sunny in test"
    assert text == twice.fake.answer_for("fake-1", "and the hills")
    tool_rows, stream_row = twice.rows[:2], twice.rows[2]
    assert requests == 2
    assert input_tokens == sum(r["prompt_tokens"] for r in tool_rows)
    assert output_tokens == sum(r["completion_tokens"] for r in tool_rows)
    assert [r["output_text"] for r in twice.rows[1:]] == [output, text]
    assert stream_row["stream"] == 1
    assert_recorded_as_sent(twice)
