"""Tests for relayscope.exchange.genai_span: a recorded Anthropic Messages call as GenAI attributes."""

from __future__ import annotations

import json

from relayscope.exchange.genai_span import attributes, span_name
from relayscope.protocols.openai_format import assemble_body

MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "model": "claude-sonnet-4-6",
    "content": [{"type": "tool_use", "id": "toolu_1", "name": "ls", "input": {"path": "."}}],
    "stop_reason": "tool_use",
    "usage": {"input_tokens": 5, "cache_read_input_tokens": 90, "output_tokens": 7},
}
CALL = {
    "id": "019a3f2c5b1e-8c1d2e3f",
    "method": "POST",
    "path": "/v1/messages",
    "endpoint": "messages",
    "model": "claude-sonnet-4-6",
    "status": 200,
    "state": "complete",
    "stream": 0,
    "finish_reason": "tool_use",
    "prompt_tokens": 95,
    "completion_tokens": 7,
    "cached_tokens": 90,
    "cache_write_tokens": 0,
    "request_body": json.dumps(
        {
            "model": "claude-sonnet-4-6",
            "max_tokens": 64,
            "system": "Be terse.",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Files?"}]}],
        }
    ),
}


def test_a_messages_call_is_an_anthropic_chat_span() -> None:
    answer = assemble_body("messages", json.dumps(MESSAGE).encode())
    attrs = attributes(CALL, answer, capture_content=True)
    assert span_name(CALL) == "chat claude-sonnet-4-6"
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.response.finish_reasons"] == ["tool_call"]
    assert attrs["gen_ai.request.max_tokens"] == 64
    assert attrs["gen_ai.usage.input_tokens"] == 95  # cache reads included, as documented
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 90
    assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 0
    assert json.loads(attrs["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "Be terse."}
    ]
    (message,) = json.loads(attrs["gen_ai.input.messages"])
    assert message["parts"] == [{"type": "text", "content": "Files?"}]
    (output,) = json.loads(attrs["gen_ai.output.messages"])
    assert output["parts"][0]["name"] == "ls"
