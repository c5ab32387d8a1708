"""openai-node and the Vercel AI SDK (npm, pinned here), directly and through Relayscope.

The packages are installed on first run into the test cache (``RELAYSCOPE_TEST_CACHE``).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.compat.harness import assert_recorded_as_sent, npm_packages, run_twice

NODE_OPENAI = "7.59.0"
AI_SDK = "7.0.173"
AI_SDK_OPENAI = "4.0.118"
ZOD = "4.6.7"  # the tool's input schema

OPENAI_NODE = r"""
import OpenAI from 'openai';
const client = new OpenAI({
  baseURL: process.env.BASE_URL, apiKey: 'node-client-key', maxRetries: 0 });
const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
const messages = [{ role: 'user', content: 'from node' }];
const plain = await client.chat.completions.create({ model: 'fake-1', messages });
const stream = await client.chat.completions.create({
  model: 'fake-1', messages, stream: true, stream_options: { include_usage: true } });
let text = '', usage = null;
for await (const chunk of stream) {
  text += chunk.choices[0]?.delta?.content || '';
  usage = chunk.usage || usage;
}
const asked = await client.chat.completions.create({ model: 'fake-1', messages, tools });
const call = asked.choices[0].message.tool_calls[0];
const done = await client.chat.completions.create({ model: 'fake-1', tools, messages: [
  ...messages, asked.choices[0].message,
  { role: 'tool', tool_call_id: call.id, content: 'sunny' }] });
const rs = client.responses.stream({ model: 'fake-1', input: 'from node' });
let deltas = '';
for await (const event of rs) {
  if (event.type === 'response.output_text.delta') deltas += event.delta;
}
const final = await rs.finalResponse();
console.log(JSON.stringify({
  plain: [plain.choices[0].message.content, plain.usage],
  streamed: [text, usage],
  tool: [call.function.name, call.function.arguments, done.choices[0].message.content],
  responses: [deltas, final.output_text, final.usage] }));
"""

VERCEL_AI = r"""
import { generateText, streamText, tool, stepCountIs } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { z } from 'zod';
const openai = createOpenAI({ baseURL: process.env.BASE_URL, apiKey: 'vercel-key' });
const out = {};
for (const [api, model] of [['responses', openai('fake-1')], ['chat', openai.chat('fake-1')]]) {
  const generated = await generateText({ model, prompt: 'from vercel', maxRetries: 0 });
  const streamed = streamText({ model, prompt: 'streamed from vercel', maxRetries: 0 });
  let text = '';
  for await (const part of streamed.textStream) text += part;
  const withTool = await generateText({ model, prompt: 'weather?', maxRetries: 0,
    stopWhen: stepCountIs(3),
    tools: { get_weather: tool({ description: 'Weather',
      inputSchema: z.object({ city: z.string() }),
      execute: async ({ city }) => `sunny in ${city}` }) } });
  out[api] = {
    generated: [generated.text, generated.usage.inputTokens, generated.usage.outputTokens],
    streamed: [text, (await streamed.usage).totalTokens],
    tool: [withTool.steps[0].toolCalls.map((c) => [c.toolName, c.input]), withTool.text],
  };
}
console.log(JSON.stringify(out));
"""


def run_node(folder: Path, script: str, base_url: str) -> Any:
    (folder / "compat.mjs").write_text(script)
    result = subprocess.run(
        ["node", "compat.mjs"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "BASE_URL": base_url},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def openai_node() -> Path:
    return npm_packages(f"compat-openai-node-{NODE_OPENAI}", f"openai@{NODE_OPENAI}")


@pytest.fixture(scope="module")
def vercel_ai() -> Path:
    return npm_packages(
        f"compat-vercel-ai-{AI_SDK}",
        f"ai@{AI_SDK}",
        f"@ai-sdk/openai@{AI_SDK_OPENAI}",
        f"zod@{ZOD}",
    )


def test_openai_node(openai_node: Path, tmp_path: Path) -> None:
    twice = run_twice(tmp_path, lambda url: run_node(openai_node, OPENAI_NODE, url))
    assert twice.direct == twice.relayed
    seen = twice.relayed
    assert seen["plain"][0] == seen["streamed"][0] == twice.fake.answer_for("fake-1", "from node")
    assert seen["tool"] == ["get_weather", '{"city": "test"}', "Done: sunny"]
    assert seen["responses"][0] == seen["responses"][1]
    plain, streamed, _asked, done, responses = twice.rows
    assert plain["client"].startswith("OpenAI/JS")
    assert [r["endpoint"] for r in twice.rows] == ["chat.completions"] * 4 + ["responses"]
    assert streamed["total_tokens"] == seen["streamed"][1]["total_tokens"]
    assert responses["total_tokens"] == seen["responses"][2]["total_tokens"]
    assert done["output_text"] == "Done: sunny"
    assert_recorded_as_sent(twice)


def test_vercel_ai_sdk(vercel_ai: Path, tmp_path: Path) -> None:
    twice = run_twice(tmp_path, lambda url: run_node(vercel_ai, VERCEL_AI, url))
    assert twice.direct == twice.relayed
    for api in ("responses", "chat"):
        seen = twice.relayed[api]
        assert seen["generated"][0] == twice.fake.answer_for("fake-1", "from vercel")
        assert seen["streamed"][0] == twice.fake.answer_for("fake-1", "streamed from vercel")
        assert seen["tool"] == [[["get_weather", {"city": "test"}]], "Done: sunny in test"]
    assert len(twice.rows) == 8
    for api, generated_row, streamed_row in [
        ("responses", twice.rows[0], twice.rows[1]),
        ("chat", twice.rows[4], twice.rows[5]),
    ]:
        seen = twice.relayed[api]
        _, input_tokens, output_tokens = seen["generated"]
        assert (generated_row["prompt_tokens"], generated_row["completion_tokens"]) == (
            input_tokens,
            output_tokens,
        )
        assert streamed_row["total_tokens"] == seen["streamed"][1]
    assert all(r["output_text"] for r in twice.rows if not r["tool_calls"])
    assert_recorded_as_sent(twice)
