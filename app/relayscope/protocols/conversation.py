"""Reads a request body as a conversation: who said what, which tools were called."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of a conversation as a person reads it."""

    role: str  # system, developer, user, assistant, tool, tool_call, tool_result
    text: str
    name: str = ""  # tool name, or the message's name
    call_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _json_object(body: bytes | str | None) -> dict[str, Any] | None:
    if not body:
        return None
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def content_text(content: object) -> str:
    """Text of a message `content`: a string, or an array of parts (text/input_text/…)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                text = part.get("text") or part.get("refusal")
                if isinstance(text, str):
                    parts.append(text)
                elif part.get("type") in ("image_url", "input_image", "image"):
                    parts.append("[image]")
        return "\n".join(parts)
    return ""


def turns(endpoint: str, body: bytes | str | None) -> list[Turn]:
    """The conversation a request carries (chat messages, Responses input, or a prompt)."""
    obj = _json_object(body)
    if obj is None:
        return []
    if endpoint == "responses":
        return _responses_turns(obj)
    if endpoint in ("messages", "messages.count_tokens"):
        return _anthropic_turns(obj)
    if endpoint == "completions":
        prompt = obj.get("prompt")
        text = prompt if isinstance(prompt, str) else json.dumps(prompt, ensure_ascii=False)
        return [Turn("user", text)]
    messages = obj.get("messages")
    return _chat_turns(messages) if isinstance(messages, list) else []


def _chat_turns(messages: list[Any]) -> list[Turn]:
    out: list[Turn] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = str(message.get("role", "?"))
        text = content_text(message.get("content"))
        if role == "tool":
            out.append(Turn("tool_result", text, call_id=str(message.get("tool_call_id", ""))))
            continue
        if text or not message.get("tool_calls"):
            out.append(Turn(role, text, name=str(message.get("name", ""))))
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict):
                function = call.get("function") or {}
                out.append(
                    Turn(
                        "tool_call",
                        str(function.get("arguments", "")),
                        name=str(function.get("name", "")),
                        call_id=str(call.get("id", "")),
                    )
                )
    return out


def _anthropic_turns(obj: dict[str, Any]) -> list[Turn]:
    """Anthropic Messages: `system` (a string or text blocks), then messages whose content is
    a string or blocks (text, image, thinking, tool_use, tool_result), in their order."""
    out: list[Turn] = []
    system = content_text(obj.get("system"))
    if system:
        out.append(Turn("system", system))
    for message in obj.get("messages") or []:
        if not isinstance(message, dict):
            continue
        role = str(message.get("role", "?"))
        content = message.get("content")
        if not isinstance(content, list):
            out.append(Turn(role, content_text(content)))
            continue
        text: list[Any] = []
        for block in content:
            turn = _anthropic_block_turn(block)
            if turn is None:
                text.append(block)
                continue
            if text:
                out.append(Turn(role, content_text(text)))
                text = []
            out.append(turn)
        if text:
            out.append(Turn(role, content_text(text)))
    return out


def _anthropic_block_turn(block: object) -> Turn | None:
    """A content block that is a turn of its own (a tool call or result, thinking)."""
    if not isinstance(block, dict):
        return None
    kind = block.get("type")
    if kind in ("tool_use", "server_tool_use"):
        arguments = json.dumps(block.get("input", {}), ensure_ascii=False)
        return Turn("tool_call", arguments, str(block.get("name", "")), str(block.get("id", "")))
    if kind == "tool_result":
        result = block.get("content", "")
        text = result if isinstance(result, str) else content_text(result)
        return Turn("tool_result", text, call_id=str(block.get("tool_use_id", "")))
    if kind == "thinking" and isinstance(block.get("thinking"), str):
        return Turn("reasoning", block["thinking"])
    return None


def _responses_turns(obj: dict[str, Any]) -> list[Turn]:
    out: list[Turn] = []
    instructions = obj.get("instructions")
    if isinstance(instructions, str) and instructions:
        out.append(Turn("system", instructions))
    items = obj.get("input")
    if isinstance(items, str):
        return [*out, Turn("user", items)]
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        if kind == "message":
            out.append(Turn(str(item.get("role", "?")), content_text(item.get("content"))))
        elif kind in ("function_call", "custom_tool_call"):
            args = item.get("arguments", item.get("input", ""))
            out.append(
                Turn(
                    "tool_call",
                    str(args),
                    name=str(item.get("name", "")),
                    call_id=str(item.get("call_id", "")),
                )
            )
        elif kind in ("function_call_output", "custom_tool_call_output"):
            output = item.get("output", "")
            text = output if isinstance(output, str) else content_text(output)
            out.append(Turn("tool_result", text, call_id=str(item.get("call_id", ""))))
        elif kind == "reasoning":
            summary = content_text(item.get("summary"))
            if summary:
                out.append(Turn("reasoning", summary))
    return out


def prompt_text(endpoint: str, body: bytes | str | None) -> str:
    """All the text of a request's conversation, for full-text search."""
    return "\n".join(t.text for t in turns(endpoint, body) if t.text)
