"""Fine-tuning export of Anthropic Messages calls: converted to OpenAI's chat format (system,
tool_use → tool_calls, tool_result → tool messages, images, tools), thinking left out; what the
format cannot hold is skipped with its reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from relayscope.exchange.finetune_export import MESSAGES_UNSUPPORTED, finetune_example

BODY: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 1000,
    "system": [
        {"type": "text", "text": "You are a coding agent."},
        {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
    ],
    "tools": [
        {
            "name": "Bash",
            "description": "Run a command",
            "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
        }
    ],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture? Then list the files."},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "A cat. Now ls.", "signature": "sig"},
                {"type": "text", "text": "A cat. "},
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": "app\ntests"}],
                },
                {"type": "text", "text": "<system-reminder>Keep going</system-reminder>"},
            ],
        },
    ],
}


def call(body: dict[str, Any] = BODY, **fields: Any) -> dict[str, Any]:
    return {
        "id": "m1",
        "endpoint": "messages",
        "status": 200,
        "state": "complete",
        "finish_reason": "end_turn",
        "request_body": json.dumps(body),
        "output_text": "Two folders: app and tests.",
        "tool_calls": None,
    } | fields


def test_a_messages_call_becomes_an_openai_fine_tuning_example() -> None:
    example, reason = finetune_example(call())
    assert reason is None and example is not None
    assert example["messages"] == [
        {"role": "system", "content": "You are a coding agent.\n\nBe brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture? Then list the files."},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
            ],
        },
        {
            "role": "assistant",
            "content": "A cat. ",
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "Bash", "arguments": '{"command": "ls"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "app\ntests"},
        {"role": "user", "content": "<system-reminder>Keep going</system-reminder>"},
        {"role": "assistant", "content": "Two folders: app and tests."},
    ]
    assert example["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "Bash",
                "parameters": BODY["tools"][0]["input_schema"],
                "description": "Run a command",
            },
        }
    ]


@pytest.mark.parametrize(
    "change",
    [
        {"tools": [{"type": "web_search_20250305", "name": "web_search"}]},
        {"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]},
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t",
                            "content": [{"type": "image", "source": {}}],
                        }
                    ],
                }
            ]
        },
    ],
)
def test_what_the_format_cannot_hold_is_skipped_with_its_reason(change: dict[str, Any]) -> None:
    assert finetune_example(call(BODY | change)) == (None, MESSAGES_UNSUPPORTED)


def test_a_messages_answer_cut_at_max_tokens_is_incomplete() -> None:
    assert finetune_example(call(finish_reason="max_tokens")) == (None, "incomplete answers")
