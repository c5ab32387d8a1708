"""demo-agent's pure parts: which step it takes, and how much of a prompt its cache covers."""

from __future__ import annotations

import json

from relayscope.protocols.prompts import Prompt
from relayscope.proxy.servers.demo_agent import PromptCache, next_step

TOOLS = [{"type": "function", "name": "exec_command", "parameters": {"type": "object"}}]
LONG = "Follow the project's conventions and run its tests. " * 120  # ~1,600 tokens


def prompt(*items: object, instructions: str = LONG) -> Prompt:
    return Prompt("demo-agent", instructions, json.dumps(TOOLS), tuple(items))


def test_asked_to_act_it_calls_the_first_function_tool_with_json_arguments() -> None:
    step = next_step(prompt({"role": "user", "content": "Please run the tests."}), TOOLS)
    assert (step.tool, json.loads(step.arguments)) == ("exec_command", {"cmd": "pytest -q"})
    chat_tools = [{"type": "function", "function": {"name": "shell"}}]
    step = next_step(prompt({"role": "user", "content": "list the files"}), chat_tools)
    assert (step.tool, json.loads(step.arguments)) == ("shell", {"cmd": "ls"})


def test_given_the_tool_output_or_no_tools_it_answers_with_text() -> None:
    output = {"type": "function_call_output", "call_id": "c1", "output": "a\nb\n\nc"}
    step = next_step(prompt({"role": "user", "content": "list the files"}, output), TOOLS)
    assert step.tool is None and step.text == "The command printed 3 lines: a; b; c"
    chat_output = {"role": "tool", "tool_call_id": "c1", "content": "3 passed"}
    assert "3 passed" in next_step(prompt(chat_output), TOOLS).text
    no_tools = next_step(prompt({"role": "user", "content": "run the tests"}), [])
    assert no_tools.tool is None and no_tools.text


def test_the_cache_covers_the_longest_prefix_seen_in_128_token_steps() -> None:
    cache = PromptCache()
    first = prompt({"role": "user", "content": "hi"})
    total, cached = cache.tokens(first)
    assert total > 1024 and cached == 0  # nothing seen yet
    longer = prompt({"role": "user", "content": "hi"}, {"role": "user", "content": "more"})
    total2, cached2 = cache.tokens(longer)
    assert cached2 % 128 == 0 and total - 128 < cached2 <= total < total2
    changed = prompt({"role": "user", "content": "hi"}, instructions=LONG + "!")
    assert cache.tokens(changed)[1] == 0  # the instructions differ: the prefix breaks early
    short = PromptCache()
    small = prompt({"role": "user", "content": "hi"}, instructions="Be brief.")
    short.tokens(small)
    assert short.tokens(small)[1] == 0  # under 1,024 tokens nothing is cached


def test_a_messages_tool_result_is_the_tool_output_it_answers_from() -> None:
    block = {
        "type": "tool_result",
        "tool_use_id": "t1",
        "content": [{"type": "text", "text": "ok"}],
    }
    result = {"role": "user", "content": [block]}
    step = next_step(prompt({"role": "user", "content": "run the tests"}, result), TOOLS)
    assert step.tool is None and step.text == "The command printed 1 line: ok"
