"""Tests for relayscope.protocols.conversation: a request body read as turns, per API."""

from __future__ import annotations

import json

from relayscope.protocols.conversation import Turn, prompt_text, turns

CLAUDE_CODE_TURN = {
    "model": "claude-sonnet-4-6",
    "system": [
        {"type": "text", "text": "You are Claude Code."},
        {"type": "text", "text": "Be terse.", "cache_control": {"type": "ephemeral"}},
    ],
    "messages": [
        {"role": "user", "content": "List the files."},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Use ls.", "signature": "sig"},
                {"type": "text", "text": "Listing."},
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"cmd": "ls"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.py\nb.py"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png"}},
                {"type": "text", "text": "Which is larger?"},
            ],
        },
    ],
}


def test_a_messages_request_reads_as_system_messages_and_content_blocks() -> None:
    body = json.dumps(CLAUDE_CODE_TURN)
    assert turns("messages", body) == [
        Turn("system", "You are Claude Code.\nBe terse."),
        Turn("user", "List the files."),
        Turn("reasoning", "Use ls."),
        Turn("assistant", "Listing."),
        Turn("tool_call", '{"cmd": "ls"}', name="Bash", call_id="toolu_1"),
        Turn("tool_result", "a.py\nb.py", call_id="toolu_1"),
        Turn("user", "[image]\nWhich is larger?"),
    ]
    searchable = prompt_text("messages", body)
    assert "Be terse." in searchable and "a.py" in searchable and "Which is larger?" in searchable


def test_count_tokens_requests_read_the_same_way() -> None:
    body = json.dumps(
        {"model": "m", "system": "Hi.", "messages": [{"role": "user", "content": "x"}]}
    )
    assert turns("messages.count_tokens", body) == [Turn("system", "Hi."), Turn("user", "x")]
