"""OpenAI fine-tuning JSONL: `{"messages": [...], "tools": [...]}` per finished chat call.

The request's conversation plus the assistant's recorded answer (text and tool calls). A
Responses call is converted to chat messages (instructions → system, developer → system,
function calls → assistant `tool_calls`, their outputs → `tool` messages; reasoning items are
left out). An Anthropic Messages call is converted the same way, since OpenAI's format is
the one fine-tuning takes: `system` → a system message (text blocks joined by blank lines),
`tool_use` blocks → assistant `tool_calls` (input as JSON arguments), `tool_result` blocks →
`tool` messages before the rest of their user message, images → `image_url` parts (base64 as
data URLs), tools → function tools (`input_schema` as `parameters`); thinking is left out,
like reasoning items. A Messages call holding what the format cannot say (documents, server
tools and their results, images inside tool results) is skipped with that reason, as are
calls that failed, were cut short, stopped early (`length`, `content_filter`, `max_tokens`,
`incomplete`) or are not chat calls; the result says how many and why.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from relayscope.calls import facts as call_facts
from relayscope.calls.record import CallRecord
from relayscope.exchange.records import ExportResult, RecordedCall

__all__ = ["finetune_example", "write_finetune"]

NOT_CHAT = "not chat, Responses or Messages calls"
MESSAGES_UNSUPPORTED = (
    "Messages calls holding documents, server tools or images in tool results "
    "(OpenAI's fine-tuning format cannot hold them)"
)
FAILED = "failed or interrupted"
INCOMPLETE = "incomplete answers"
UNREADABLE = "unreadable requests"
EMPTY = "empty answers"
CONTINUED = "Responses calls continuing a stored conversation (previous_response_id)"

_EARLY_STOPS = frozenset(
    {"length", "content_filter", "failed", "cancelled", "max_tokens", "refusal", "pause_turn"}
)
_TEXT_PARTS = frozenset({"text", "input_text", "output_text"})


def write_finetune(calls: Iterable[RecordedCall], out: TextIO, result: ExportResult) -> None:
    for recorded in calls:
        example, reason = finetune_example(recorded.call)
        if example is None:
            result.skip(reason or NOT_CHAT)
            continue
        out.write(json.dumps(example, ensure_ascii=False) + "\n")
        result.written += 1


def finetune_example(call: CallRecord) -> tuple[dict[str, Any] | None, str | None]:
    """(the training example, None), or (None, why the call cannot be one)."""
    endpoint = call.get("endpoint")
    if endpoint not in ("chat.completions", "responses", "messages"):
        return None, NOT_CHAT
    if call_facts.is_failed(call) or call_facts.is_live(call) or call.get("status") is None:
        return None, FAILED
    reason = str(call.get("finish_reason") or "")
    if reason in _EARLY_STOPS or reason.startswith("incomplete"):
        return None, INCOMPLETE
    body = _json(call.get("request_body"))
    if not isinstance(body, dict):
        return None, UNREADABLE
    if endpoint == "responses":
        if body.get("previous_response_id"):
            return None, CONTINUED
        messages, tools = _responses_messages(body), _responses_tools(body.get("tools"))
    elif endpoint == "messages":
        try:
            messages, tools = _anthropic_messages(body), _anthropic_tools(body.get("tools"))
        except _Unsupported:
            return None, MESSAGES_UNSUPPORTED
    else:
        raw_messages, tools = body.get("messages"), _list(body.get("tools"))
        messages = [m for m in _list(raw_messages) if isinstance(m, dict)]
    if not messages:
        return None, UNREADABLE
    answer = _answer(call)
    if answer is None:
        return None, EMPTY
    example: dict[str, Any] = {"messages": [*messages, answer]}
    if tools:
        example["tools"] = tools
    if isinstance(body.get("parallel_tool_calls"), bool):
        example["parallel_tool_calls"] = body["parallel_tool_calls"]
    return example, None


def _answer(call: CallRecord) -> dict[str, Any] | None:
    text = call.get("output_text") or ""
    tool_calls = _list(_json(call.get("tool_calls")))
    if not text and not tool_calls:
        return None
    answer: dict[str, Any] = {"role": "assistant", "content": text or None}
    if tool_calls:
        answer["tool_calls"] = tool_calls
    return answer


# --- Responses → chat ----------------------------------------------------------------------


def _responses_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    items = body.get("input")
    if isinstance(items, str):
        return [*messages, {"role": "user", "content": items}]
    for item in _list(items):
        if isinstance(item, dict):
            _add_item(messages, item)
    return messages


def _add_item(messages: list[dict[str, Any]], item: dict[str, Any]) -> None:
    kind = item.get("type", "message")
    if kind == "message":
        role = str(item.get("role") or "user")
        content = _content(item.get("content"))
        if content:
            messages.append({"role": "system" if role == "developer" else role, "content": content})
    elif kind in ("function_call", "custom_tool_call"):
        _assistant_for_calls(messages).setdefault("tool_calls", []).append(_tool_call(item))
    elif kind in ("function_call_output", "custom_tool_call_output"):
        output = item.get("output", "")
        text = output if isinstance(output, str) else _plain_text(output)
        messages.append(
            {"role": "tool", "tool_call_id": str(item.get("call_id", "")), "content": text}
        )


def _assistant_for_calls(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The assistant message tool calls join: the one just before, or a new one."""
    if messages and messages[-1].get("role") == "assistant":
        return messages[-1]
    message: dict[str, Any] = {"role": "assistant", "content": None}
    messages.append(message)
    return message


def _tool_call(item: dict[str, Any]) -> dict[str, Any]:
    call_id = str(item.get("call_id") or item.get("id") or "")
    name = str(item.get("name") or "")
    if item.get("type") == "custom_tool_call":
        return {
            "id": call_id,
            "type": "custom",
            "custom": {"name": name, "input": item.get("input", "")},
        }
    arguments = item.get("arguments", "")
    return {
        "id": call_id,
        "type": "function",
        "function": {
            "name": name,
            "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
        },
    }


def _content(content: object) -> str | list[dict[str, Any]]:
    """Responses content as chat content: one text → a string, else a list of parts."""
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for part in _list(content):
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in _TEXT_PARTS and isinstance(part.get("text"), str):
            parts.append({"type": "text", "text": part["text"]})
        elif kind == "refusal" and isinstance(part.get("refusal"), str):
            parts.append({"type": "text", "text": part["refusal"]})
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            parts.append({"type": "image_url", "image_url": {"url": part["image_url"]}})
    if len(parts) == 1 and parts[0]["type"] == "text":
        return str(parts[0]["text"])
    return parts


def _plain_text(content: object) -> str:
    return "\n".join(
        str(p["text"])
        for p in _list(content)
        if isinstance(p, dict) and isinstance(p.get("text"), str)
    )


def _responses_tools(tools: object) -> list[dict[str, Any]]:
    """Responses tool definitions in the chat (and fine-tuning) shape; built-in tools dropped."""
    out: list[dict[str, Any]] = []
    for tool in _list(tools):
        if not isinstance(tool, dict) or not tool.get("name"):
            continue
        spec = {k: v for k, v in tool.items() if k != "type"}
        if tool.get("type") == "function":
            out.append({"type": "function", "function": spec})
        elif tool.get("type") == "custom":
            out.append({"type": "custom", "custom": spec})
    return out


# --- Anthropic Messages → chat ------------------------------------------------------------


class _Unsupported(Exception):
    """A Messages block or tool that OpenAI's fine-tuning format cannot hold."""


def _anthropic_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if isinstance(system, list):
        system = "\n\n".join(_block_texts(system))
    if isinstance(system, str) and system:
        messages.append({"role": "system", "content": system})
    for message in _list(body.get("messages")):
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if message.get("role") == "assistant":
            messages.append(_anthropic_assistant(content))
        elif isinstance(content, str):
            messages.append({"role": "user", "content": content})
        else:
            messages += _anthropic_user(_list(content))
    return messages


def _anthropic_assistant(content: object) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in _list(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "tool_use":
            arguments = json.dumps(block.get("input", {}), ensure_ascii=False)
            function = {"name": str(block.get("name") or ""), "arguments": arguments}
            calls.append(
                {"id": str(block.get("id") or ""), "type": "function", "function": function}
            )
        elif kind not in ("thinking", "redacted_thinking"):
            raise _Unsupported(kind)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _anthropic_user(blocks: list[Any]) -> list[dict[str, Any]]:
    """Tool results as `tool` messages, then the rest of the message as one user message."""
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "tool_result":
            result = block.get("content", "")
            if isinstance(result, list) and any(
                not isinstance(b, dict) or b.get("type") != "text" for b in result
            ):
                raise _Unsupported("tool_result")
            text = result if isinstance(result, str) else "\n".join(_block_texts(result))
            out.append(
                {"role": "tool", "tool_call_id": str(block.get("tool_use_id")), "content": text}
            )
        elif kind == "text":
            parts.append({"type": "text", "text": str(block.get("text") or "")})
        elif kind == "image":
            parts.append({"type": "image_url", "image_url": {"url": _image_url(block)}})
        else:
            raise _Unsupported(kind)
    if len(parts) == 1 and parts[0]["type"] == "text":
        out.append({"role": "user", "content": parts[0]["text"]})
    elif parts:
        out.append({"role": "user", "content": parts})
    return out


def _image_url(block: dict[str, Any]) -> str:
    source = block.get("source")
    if isinstance(source, dict) and source.get("type") == "base64":
        return f"data:{source.get('media_type')};base64,{source.get('data')}"
    if isinstance(source, dict) and source.get("type") == "url":
        return str(source.get("url"))
    raise _Unsupported("image")


def _block_texts(blocks: object) -> list[str]:
    return [
        str(b["text"])
        for b in _list(blocks)
        if isinstance(b, dict) and isinstance(b.get("text"), str)
    ]


def _anthropic_tools(tools: object) -> list[dict[str, Any]]:
    """Messages tool definitions as function tools; a server tool (web search, code
    execution, bash…) has no function equivalent."""
    out: list[dict[str, Any]] = []
    for tool in _list(tools):
        if not isinstance(tool, dict):
            continue
        if tool.get("type") not in (None, "custom") or not tool.get("name"):
            raise _Unsupported("tool")
        function = {"name": tool["name"], "parameters": tool.get("input_schema", {})}
        if tool.get("description"):
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})
    return out


# --- small readers -------------------------------------------------------------------------


def _json(value: object) -> Any:
    if not isinstance(value, str | bytes) or not value:
        return None
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
