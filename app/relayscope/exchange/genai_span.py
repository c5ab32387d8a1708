"""A recorded call read as the OpenTelemetry GenAI semantic conventions describe a model call.

Pure code: attributes and message content for one call (its row and its chunks); the SDK
wiring that turns these into spans and sends them lives in `otlp.py`. Attribute names follow
the current conventions (github.com/open-telemetry/semantic-conventions-genai): the provider
is the API family (`gen_ai.provider.name = "openai"`); Relayscope's routing name is its own
`relayscope.provider`. Message content (`gen_ai.input.messages`, `gen_ai.output.messages`,
`gen_ai.system_instructions`) is only added when `capture_content` is asked for.

The conventions have no cost attribute (as of 2026-12), so a call's price is Relayscope's
own: `relayscope.cost.usd` (left out when the price is unknown, never 0) and
`relayscope.cost.basis` (the price's source, or why it is unknown).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from relayscope.analysis.cost import Cost
from relayscope.calls.record import CallRecord
from relayscope.protocols.conversation import Turn, turns
from relayscope.protocols.openai_format import Assembled, StreamAssembler, assemble_body
from relayscope.protocols.sse import SSEDecoder

__all__ = ["API_FAMILY", "assembled", "attributes", "error_type", "operation", "span_name"]

#: The API a call speaks: OpenAI's, or Anthropic's Messages (by its endpoint).
API_FAMILY = "openai"
_ANTHROPIC_ENDPOINTS = ("messages", "messages.count_tokens")

_OPERATIONS = {
    "chat.completions": "chat",
    "responses": "chat",
    "completions": "text_completion",
    "embeddings": "embeddings",
    "messages": "chat",
}
# Request parameters and the gen_ai.request.* attribute each becomes.
_REQUEST_NUMBERS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "max_output_tokens": "gen_ai.request.max_tokens",
    "seed": "gen_ai.request.seed",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "n": "gen_ai.request.choice.count",
}
_USAGE = {
    "prompt_tokens": "gen_ai.usage.input_tokens",
    "completion_tokens": "gen_ai.usage.output_tokens",
    "cached_tokens": "gen_ai.usage.cache_read.input_tokens",
    "cache_write_tokens": "gen_ai.usage.cache_creation.input_tokens",
    "reasoning_tokens": "gen_ai.usage.reasoning.output_tokens",
}
# The conventions' finish reasons (output messages use "tool_call", the OpenAI API "tool_calls").
_FINISH = {"tool_calls": "tool_call", "function_call": "tool_call"}
# Anthropic's stop_reason in the conventions' terms.
_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_call",
    "refusal": "content_filter",
}


def operation(call: CallRecord) -> str | None:
    """`chat`, `text_completion`, `embeddings`; None for a call that is not a model call."""
    return _OPERATIONS.get(str(call.get("endpoint")))


def span_name(call: CallRecord) -> str:
    op = operation(call)
    if op is None:  # e.g. GET /v1/models: an HTTP span name
        return f"{call.get('method') or 'GET'} {str(call.get('path') or '/').partition('?')[0]}"
    model = call.get("model")
    return f"{op} {model}" if model else op


def attributes(
    call: CallRecord,
    answer: Assembled,
    *,
    capture_content: bool = False,
    cost: Cost | None = None,
) -> dict[str, Any]:
    """The span's attributes; None values are left out (so is an unknown cost's USD)."""
    body = _json_object(call.get("request_body"))
    out: dict[str, Any] = {}
    op = operation(call)
    if op is not None:
        out.update(_model_call(call, answer, op, body))
        if capture_content:
            out.update(_content(call, answer))
    out.update(_http(call))
    out["error.type"] = error_type(call, answer)
    out.update(
        {
            "relayscope.call_id": call.get("id"),
            "relayscope.provider": call.get("provider"),
            "relayscope.endpoint": call.get("endpoint"),
            "relayscope.state": call.get("state"),
            "relayscope.ttft_ms": call.get("ttft_ms"),
            "relayscope.first_byte_ms": call.get("first_byte_ms"),
            "relayscope.duration_ms": call.get("duration_ms"),
            "relayscope.chunk_count": call.get("chunk_count"),
            "relayscope.finish_reason": call.get("finish_reason"),
            "relayscope.total_tokens": call.get("total_tokens"),
            "relayscope.replay_of": call.get("replay_of"),
            "relayscope.group_id": call.get("group_id"),
            "relayscope.transport": call.get("transport"),
            "relayscope.error": call.get("error"),
            "relayscope.error_code": call.get("error_code"),
            "relayscope.cut_by": call.get("cut_by"),
        }
    )
    if cost is not None:
        out["relayscope.cost.usd"] = None if cost.usd is None else float(cost.usd)
        out["relayscope.cost.basis"] = cost.basis
    return {key: value for key, value in out.items() if value is not None}


def _model_call(
    call: CallRecord, answer: Assembled, op: str, body: dict[str, Any]
) -> dict[str, Any]:
    stream = bool(call.get("stream"))
    ttft = call.get("ttft_ms")
    out: dict[str, Any] = {
        "gen_ai.operation.name": op,
        "gen_ai.provider.name": (
            "anthropic" if call.get("endpoint") in _ANTHROPIC_ENDPOINTS else API_FAMILY
        ),
        "gen_ai.request.model": call.get("model"),
        "gen_ai.response.model": call.get("response_model") or answer.model,
        "gen_ai.response.id": answer.response_id,
        "gen_ai.conversation.id": call.get("session_id"),
        "gen_ai.request.stream": stream,
        "gen_ai.response.time_to_first_chunk": ttft / 1000 if stream and ttft else None,
        "gen_ai.request.stop_sequences": _stop_sequences(body.get("stop")),
        "gen_ai.request.reasoning.level": _reasoning_level(body),
        "gen_ai.tool.definitions": _tool_definitions(body.get("tools")),
    }
    reason = finish_reason(call, answer)
    if reason:
        out["gen_ai.response.finish_reasons"] = [reason]
    for param, key in _REQUEST_NUMBERS.items():
        value = body.get(param)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = value
    for column, key in _USAGE.items():
        out[key] = call.get(column)
    return out


def _http(call: CallRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "http.request.method": call.get("method"),
        "http.response.status_code": call.get("status"),
        "user_agent.original": call.get("client"),
    }
    upstream = urlsplit(str(call.get("upstream_url") or ""))
    if upstream.hostname:
        out["server.address"] = upstream.hostname
        with contextlib.suppress(ValueError):  # a port that is not a number: left out
            out["server.port"] = upstream.port or (443 if upstream.scheme == "https" else 80)
    return out


def finish_reason(call: CallRecord, answer: Assembled) -> str | None:
    """The conventions' reason; a Responses status is mapped ("completed" → "stop")."""
    reason = call.get("finish_reason")
    if reason and call.get("endpoint") == "responses":
        reason = {
            "completed": "tool_call" if answer.tool_calls else "stop",
            "incomplete:max_output_tokens": "length",
            "incomplete:content_filter": "content_filter",
            "failed": "error",
        }.get(str(reason), reason)
    elif reason and call.get("endpoint") == "messages":
        reason = _STOP_REASONS.get(str(reason), reason)
    return _FINISH.get(str(reason), str(reason)) if reason else None


def error_type(call: CallRecord, answer: Assembled) -> str | None:
    status = int(call.get("status") or 0)
    if status >= 400:
        return str(status)  # as the HTTP semantic conventions have it
    if answer.error:
        code = answer.error.get("code") or answer.error.get("type")
        if code:
            return str(code)
    if call.get("state") in ("error", "interrupted"):
        return str(call.get("error_code") or call["state"])
    return None


def _stop_sequences(stop: object) -> list[str] | None:
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list) and stop and all(isinstance(s, str) for s in stop):
        return list(stop)
    return None


def _reasoning_level(body: dict[str, Any]) -> str | None:
    effort = body.get("reasoning_effort")  # chat completions
    reasoning = body.get("reasoning")  # Responses: {"effort": ...}
    if effort is None and isinstance(reasoning, dict):
        effort = reasoning.get("effort")
    return effort if isinstance(effort, str) else None


def _tool_definitions(tools: object) -> str | None:
    """The request's tools, flat (`{"type", "name", "description", "parameters"}`), as JSON."""
    if not isinstance(tools, list) or not tools:
        return None
    flat = []
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        function = tool.get("function")
        inner: dict[str, Any] = function if isinstance(function, dict) else tool
        definition = {"type": tool.get("type", "function"), **inner}
        flat.append({k: v for k, v in definition.items() if k != "strict"})
    return _dumps(flat) if flat else None


# --- message content (only when capture is on) ---------------------------------------------


def _content(call: CallRecord, answer: Assembled) -> dict[str, Any]:
    system, messages = _input_messages(turns(str(call.get("endpoint")), call.get("request_body")))
    output = _output_parts(answer)
    out: dict[str, Any] = {
        "gen_ai.system_instructions": _dumps(system) if system else None,
        "gen_ai.input.messages": _dumps(messages) if messages else None,
    }
    if output:
        message = {
            "role": "assistant",
            "parts": output,
            "finish_reason": finish_reason(call, answer) or "error",
        }
        out["gen_ai.output.messages"] = _dumps([message])
    return out


def _input_messages(
    conversation: Sequence[Turn],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system instruction parts, chat messages) in the conventions' shape."""
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for turn in conversation:
        if turn.role in ("system", "developer"):
            system.append(_text(turn.text))
        elif turn.role == "tool_call":
            part = _tool_call(turn.call_id, turn.name, turn.text)
            _assistant(messages)["parts"].append(part)
        elif turn.role == "reasoning":
            _assistant(messages)["parts"].append({"type": "reasoning", "content": turn.text})
        elif turn.role == "tool_result":
            response = {"type": "tool_call_response", "id": turn.call_id, "response": turn.text}
            messages.append({"role": "tool", "parts": [response]})
        else:
            messages.append({"role": turn.role, "parts": [_text(turn.text)]})
    return system, messages


def _assistant(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The assistant message a tool call belongs to: the last one, or a new one."""
    if not messages or messages[-1]["role"] != "assistant":
        messages.append({"role": "assistant", "parts": []})
    return messages[-1]


def _output_parts(answer: Assembled) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if answer.reasoning_text:
        parts.append({"type": "reasoning", "content": answer.reasoning_text})
    if answer.output_text:
        parts.append(_text(answer.output_text))
    if answer.refusal:
        parts.append({"type": "refusal", "content": answer.refusal})
    for call in answer.tool_calls:
        inner = call.get("function") or call.get("custom") or {}
        arguments = inner.get("arguments", inner.get("input", ""))
        parts.append(_tool_call(str(call.get("id", "")), str(inner.get("name", "")), arguments))
    return parts


def _tool_call(call_id: str, name: str, arguments: object) -> dict[str, Any]:
    # Arguments are JSON text on the wire; the conventions want the object where it is one.
    if isinstance(arguments, str):
        with contextlib.suppress(ValueError, RecursionError):
            arguments = json.loads(arguments)
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


def _text(content: str) -> dict[str, Any]:
    return {"type": "text", "content": content}


# --- reading the recording -----------------------------------------------------------------


def assembled(call: CallRecord, chunks: Sequence[dict[str, Any]]) -> Assembled:
    """The answer again (for its text, response id and error), from the chunks or the body."""
    endpoint = str(call.get("endpoint") or "other")
    server = [c for c in chunks if c.get("direction") != "client"]
    if not server:
        body = call.get("response_body")
        raw = body.encode("utf-8", "replace") if isinstance(body, str) else body
        return assemble_body(endpoint, raw)
    assembler = StreamAssembler(endpoint)
    for chunk in server:
        data = chunk["data"]
        text = data if isinstance(data, str) else bytes(data).decode("utf-8", "replace")
        if chunk.get("direction") == "server":  # a WebSocket message is one event's data
            assembler.feed(text)
            continue
        decoder = SSEDecoder()
        events = decoder.feed(text.encode())
        event = events[0] if events else decoder.flush()
        if event is not None:
            assembler.feed(event.data, event.event)
    return assembler.result()


def _json_object(body: object) -> dict[str, Any]:
    try:
        value = json.loads(body or "")  # type: ignore[arg-type]
    except (ValueError, TypeError, RecursionError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
