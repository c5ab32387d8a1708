"""Provider quirks the proxy works around: forced streaming, and usage capture.

Pure functions: what to change in a request, and how to turn a captured stream back into
what the client asked for. The proxy applies them and records what it changed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from relayscope.config import Provider
from relayscope.protocols.openai_format import StreamAssembler
from relayscope.protocols.sse import SSEDecoder


@dataclass(slots=True)
class RequestPlan:
    """What the proxy changes in one request before it goes upstream."""

    body: dict[str, Any] | None = None  # the new body, or None when nothing changes
    aggregate: bool = False  # client asked stream=false, upstream streams: answer one JSON
    hide_usage: bool = False  # drop the usage the client did not ask for from the stream
    notes: list[str] = field(default_factory=list)


def plan_request(provider: Provider, endpoint: str, body: bytes | None) -> RequestPlan:
    plan = RequestPlan()
    if endpoint != "chat.completions" or not body:
        return plan
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        return plan
    if not isinstance(obj, dict) or not isinstance(obj.get("model"), str):
        return plan
    streaming = obj.get("stream") is True
    if not streaming and provider.requires_stream(obj["model"]):
        obj["stream"] = True
        plan.aggregate = True
        plan.notes.append(
            f"stream_required: sent stream=true to {provider.name}; the client got one "
            "aggregated chat.completion"
        )
        streaming = True
    options = obj.get("stream_options")
    wants_usage = isinstance(options, dict) and options.get("include_usage") is True
    if streaming and provider.capture_usage and not wants_usage:
        obj["stream_options"] = {
            **(options if isinstance(options, dict) else {}),
            "include_usage": True,
        }
        plan.hide_usage = not plan.aggregate
        if plan.hide_usage:
            plan.notes.append(
                "usage capture: asked the provider for usage (stream_options.include_usage); "
                "the usage it sent was kept from the client"
            )
    if plan.notes:
        plan.body = obj
    return plan


_USAGE_NULLS = (b',"usage":null', b', "usage": null')
_LAST_USAGE_NULL = b',"usage":null}\n\n'


def strip_usage(data: bytes) -> bytes | None:
    """The client's version of one captured SSE event: None to drop a usage-only chunk,
    the event without its `usage` when usage rode on a content chunk, else unchanged."""
    if b'"usage"' not in data:
        return data
    for null in _USAGE_NULLS:
        if null in data:
            # OpenAI sends `"usage": null` on every chunk once usage is asked for; a client
            # that did not ask never sees the key. Cut it textually: cheap, and exact.
            return data.replace(null, b"", 1)
    head, sep, payload = data.partition(b"data:")
    if not sep:
        return data
    text = payload.strip()
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return data
    if not isinstance(obj, dict) or obj.get("usage") is None:
        return data
    if not obj.get("choices"):
        return None
    del obj["usage"]
    ending = data[len(data.rstrip(b"\r\n")) :]
    compact = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return head + b"data: " + compact + ending


class UsageHider:
    """The client's copy of a usage-captured stream, from the provider's bytes split anywhere.

    Works on bytes, not events: a chunk of whole events without `"usage"` (nearly all of
    them) goes out as it came, with no parsing. Only complete events are sent, as before:
    bytes after the last event boundary wait for the rest of their event. A stream with CR
    line endings is rare enough to go through the general SSE decoder.
    """

    __slots__ = ("_decoder", "_pending")

    def __init__(self) -> None:
        self._pending = b""
        self._decoder: SSEDecoder | None = None

    def __call__(self, data: bytes) -> bytes:
        """The bytes to send for `data` (b"" means the stream ended: send what is left)."""
        if (
            data.endswith(_LAST_USAGE_NULL)
            and not self._pending
            and self._decoder is None
            and data.count(b'"usage"') == 1
        ):
            # Whole events (a chunk ending in a blank line ends an event, whatever its line
            # endings) with one `"usage": null`: the usual OpenAI chunk once usage is asked
            # for. Only those bytes go; nothing needs splitting.
            return data[: -len(_LAST_USAGE_NULL)] + b"}\n\n"
        end = not data
        if self._decoder is not None or b"\r" in data:
            return self._through_decoder(data)
        if self._pending:
            data, self._pending = self._pending + data, b""
        if not end and not data.endswith(b"\n\n"):
            cut = data.rfind(b"\n\n")
            cut = cut + 2 if cut >= 0 else 0
            data, self._pending = data[:cut], data[cut:]
        usages = data.count(b'"usage"')
        if not usages:
            return data
        nulls = [null for null in _USAGE_NULLS if null in data]
        if nulls and usages == sum(data.count(null) for null in nulls):
            # OpenAI's shape once usage is asked for: `"usage": null` on every chunk. Only the
            # key goes, so the events need no splitting (a JSON string cannot hold `"usage"`).
            for null in nulls:
                data = data.replace(null, b"")
            return data
        events = data.split(b"\n\n")
        tail = events.pop()  # b"" after the last boundary, or the unterminated end
        kept = [strip_usage(event + b"\n\n") for event in events]
        if tail:
            kept.append(strip_usage(tail))
        return b"".join(raw for raw in kept if raw is not None)

    def _through_decoder(self, data: bytes) -> bytes:
        if self._decoder is None:
            self._decoder = SSEDecoder()
            data, self._pending = self._pending + data, b""
        events = self._decoder.feed(data) if data else []
        if not data and (leftover := self._decoder.flush()) is not None:
            events.append(leftover)
        kept = [strip_usage(event.raw) for event in events]
        return b"".join(raw for raw in kept if raw is not None)


def aggregate_chat_completion(events: list[str | None]) -> dict[str, Any]:
    """One `chat.completion` object built from a chat stream's `data:` payloads."""
    assembler = StreamAssembler("chat.completions")
    first: dict[str, Any] = {}
    for data in events:
        assembler.feed(data)
        if not first and data and data.startswith("{"):
            try:
                first = json.loads(data)
            except (ValueError, RecursionError):
                first = {}
    result = assembler.result()
    message: dict[str, Any] = {"role": "assistant", "content": result.output_text or None}
    if result.tool_calls:
        message["tool_calls"] = result.tool_calls
    if result.refusal:
        message["refusal"] = result.refusal
    if result.reasoning_text:
        message["reasoning_content"] = result.reasoning_text
    if message["content"] is None and not result.tool_calls:
        message["content"] = ""
    body: dict[str, Any] = {
        "id": result.response_id or first.get("id") or "chatcmpl-relayscope",
        "object": "chat.completion",
        "created": first.get("created") or int(time.time()),
        "model": result.model or first.get("model") or "",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": result.finish_reason or "stop",
                "logprobs": None,
            }
        ],
    }
    if first.get("system_fingerprint"):
        body["system_fingerprint"] = first["system_fingerprint"]
    if result.usage is not None:
        usage = result.usage
        body["usage"] = {
            "prompt_tokens": usage.prompt_tokens or 0,
            "completion_tokens": usage.completion_tokens or 0,
            "total_tokens": usage.total_tokens or 0,
        }
    if result.error is not None:
        body = {"error": result.error}
    return body
