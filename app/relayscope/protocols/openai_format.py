"""Readers and stream assembly for the APIs we record: OpenAI chat completions, responses,
completions, and Anthropic Messages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Assembled",
    "RequestInfo",
    "StreamAssembler",
    "Usage",
    "anthropic_usage",
    "assemble_body",
    "endpoint_of",
    "holds_output",
    "read_request",
    "usage_from",
]

# Path segments that name an endpoint, wherever the provider's base path puts them.
_ENDPOINT_SEGMENTS = {
    "responses": "responses",
    "completions": "completions",
    "embeddings": "embeddings",
    "models": "models",
}
# Terminal Responses events and the status each implies when the response carries none.
_TERMINAL_EVENTS = {
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
}
_REASONING_DELTAS = frozenset(
    {"response.reasoning_summary_text.delta", "response.reasoning_text.delta"}
)
_ARGUMENT_DELTAS = frozenset(
    {"response.function_call_arguments.delta", "response.custom_tool_call_input.delta"}
)
_DELTA_EVENTS = (
    _REASONING_DELTAS | _ARGUMENT_DELTAS | {"response.output_text.delta", "response.refusal.delta"}
)


def endpoint_of(path: str) -> str:
    """Name the API a request path calls: "chat.completions", "responses", "messages"
    (Anthropic), "messages.count_tokens", ... or "other".

    The endpoint is found by its segments, so "/v1/chat/completions", "/chat/completions" and
    "/openai/v1/chat/completions?x=1" all give "chat.completions". "messages" counts only
    right after "v1" or at the start (an Assistants thread's "/v1/threads/ID/messages" is not
    the Messages API).
    """
    parts = path.partition("?")[0].partition("#")[0].split("/")
    for i, part in enumerate(parts):
        if part == "messages" and (i <= 1 or parts[i - 1] == "v1"):
            rest = [p for p in parts[i + 1 :] if p]
            if not rest:
                return "messages"
            return "messages.count_tokens" if rest == ["count_tokens"] else "other"
        if part == "chat":
            if i + 1 < len(parts) and parts[i + 1] == "completions":
                return "chat.completions"
        elif part in _ENDPOINT_SEGMENTS:
            return _ENDPOINT_SEGMENTS[part]
    return "other"


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the proxy needs to know about a request body."""

    model: str | None
    stream: bool
    include_usage: bool  # stream_options.include_usage is true
    is_json: bool  # the body parsed as a JSON object


def read_request(body: bytes | None) -> RequestInfo:
    """Read model and streaming options from a request body; never raises."""
    obj = _load_json(body)
    if not isinstance(obj, dict):
        return RequestInfo(model=None, stream=False, include_usage=False, is_json=False)
    model = obj.get("model")
    options = obj.get("stream_options")
    return RequestInfo(
        model=model if isinstance(model, str) else None,
        stream=obj.get("stream") is True,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        is_json=True,
    )


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts, in chat completions terms (a Responses "input" is a "prompt")."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    #: Input tokens written to the prompt cache (Anthropic's cache_creation_input_tokens).
    cache_write_tokens: int | None = None


def usage_from(obj: object) -> Usage | None:
    """Read a chat/completions or a Responses usage object; None if it holds no counts."""
    if not isinstance(obj, dict):
        return None
    usage = Usage(
        prompt_tokens=_int(obj.get("prompt_tokens"), obj.get("input_tokens")),
        completion_tokens=_int(obj.get("completion_tokens"), obj.get("output_tokens")),
        total_tokens=_int(obj.get("total_tokens")),
        cached_tokens=_int(
            _get(obj.get("prompt_tokens_details"), "cached_tokens"),
            _get(obj.get("input_tokens_details"), "cached_tokens"),
        ),
        reasoning_tokens=_int(
            _get(obj.get("completion_tokens_details"), "reasoning_tokens"),
            _get(obj.get("output_tokens_details"), "reasoning_tokens"),
        ),
    )
    return None if usage == _NO_USAGE else usage


_NO_USAGE = Usage()


@dataclass(slots=True)
class Assembled:
    """The whole answer of one call, read from a body or assembled from a stream.

    ``tool_calls`` use the chat shape ``{"id", "type": "function", "function": {"name",
    "arguments"}}`` (for Responses, "id" is the item's call_id); a free-form tool call, such as
    Codex's apply_patch, is ``{"id", "type": "custom", "custom": {"name", "input"}}``.
    ``error`` is the inner object of an ``{"error": {...}}`` (a bare string becomes
    ``{"message": ...}``). ``finish_reason`` is the Responses status for Responses calls, with
    the reason appended for incomplete ones ("incomplete:max_output_tokens").
    """

    output_text: str = ""
    reasoning_text: str = ""
    refusal: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    response_id: str | None = None
    model: str | None = None
    error: dict[str, Any] | None = None
    done: bool = False
    invalid_events: int = 0


class StreamAssembler:
    """Assembles one call's answer from its stream, one SSE event's data at a time.

    ``result()`` may be called at any point, e.g. on a stream that was cut short.
    """

    __slots__ = ("_stream",)

    def __init__(self, endpoint: str) -> None:
        self._stream: _Stream
        if endpoint == "responses":
            self._stream = _ResponsesStream()
        elif endpoint == "messages":
            self._stream = _MessagesStream()
        else:
            self._stream = _ChoicesStream()

    @property
    def has_output(self) -> bool:
        """An event that carries output has been fed (see `holds_output`)."""
        return self._stream.output_seen

    def feed(self, data: str | None, event: str | None = None) -> None:
        """Take one SSE event's data and event name; events without data are ignored."""
        if data is not None:
            self._stream.feed(data, event)

    def result(self) -> Assembled:
        """The answer as assembled so far."""
        return self._stream.result()


def assemble_body(endpoint: str, body: bytes | None) -> Assembled:
    """Read a whole (non-stream) JSON response body; garbage gives an empty Assembled.

    ``done`` is true whenever the body is a JSON object: a whole body is a finished answer.
    """
    obj = _load_json(body)
    if not isinstance(obj, dict):
        return Assembled()
    if endpoint == "responses" or obj.get("object") == "response":
        out = _from_response(obj, None)
    elif endpoint == "messages" or obj.get("type") in ("message", "error"):
        out = _from_message(obj)
    else:
        out = _from_choices_body(obj)
        text = obj.get("text")  # an audio transcription or translation
        if "choices" not in obj and isinstance(text, str):
            out.output_text = text
    out.error = out.error or _error_of(obj.get("error"))
    out.done = True
    return out


def holds_output(obj: dict[str, Any], event: str | None, *, responses: bool) -> bool:
    """Whether one stream event carries output: text, reasoning, a tool-call fragment or a
    refusal (a chat delta, a legacy completion's text, a non-empty Responses `*.delta`).
    A role chunk, a finish reason or usage is not output. TTFT is the first such event.
    Anthropic Messages: a `content_block_delta` with text, thinking or tool input (whatever
    `responses` says: the event names it)."""
    if obj.get("type") == "content_block_delta":
        delta = obj.get("delta")
        return isinstance(delta, dict) and any(delta.get(key) for key in _MESSAGES_OUTPUT_KEYS)
    if responses:
        kind = obj.get("type")
        if not isinstance(kind, str):
            kind = event or ""
        return kind.endswith(".delta") and bool(obj.get("delta"))
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return False
    choice = choices[0]
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        return bool(choice.get("text"))
    return any(delta.get(key) for key in _OUTPUT_KEYS)


_OUTPUT_KEYS = ("content", "reasoning_content", "reasoning", "refusal", "tool_calls")
_MESSAGES_OUTPUT_KEYS = ("text", "thinking", "partial_json")


# --- stream state -------------------------------------------------------------------------


class _Stream:
    """What every stream shares: JSON decoding, error objects, invalid and [DONE] events."""

    def __init__(self) -> None:
        self.error: dict[str, Any] | None = None
        self.done = False
        self.invalid_events = 0
        self.output_seen = False
        self.responses = False

    def feed(self, data: str, event: str | None) -> None:
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError):
            # "[DONE]" is rare (once a stream), so it is looked for only where JSON failed.
            stripped = data.strip()
            if stripped == "[DONE]":
                self.on_done_marker()
            elif stripped:  # an empty data line carries nothing, so it is not invalid
                self.invalid_events += 1
            return
        if not isinstance(obj, dict):
            self.invalid_events += 1
            return
        error = obj.get("error")
        if error is not None:
            self.error = _error_of(error) or self.error
        if not self.output_seen:
            self.output_seen = holds_output(obj, event, responses=self.responses)
        self.on_object(obj, event)

    def on_done_marker(self) -> None:
        pass

    def on_object(self, obj: dict[str, Any], event: str | None) -> None:
        raise NotImplementedError

    def result(self) -> Assembled:
        raise NotImplementedError

    def _base(self) -> Assembled:
        return Assembled(error=self.error, done=self.done, invalid_events=self.invalid_events)


class _ChoicesStream(_Stream):
    """Chat completions and legacy completions chunks: everything hangs off choices[]."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.refusal: list[str] = []
        self.tools = _ToolCallFragments()
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.response_id: str | None = None
        self.model: str | None = None

    def on_done_marker(self) -> None:
        self.done = True

    def on_object(self, obj: dict[str, Any], event: str | None) -> None:
        if self.response_id is None:
            self.response_id = _str(obj.get("id")) or None
        if self.model is None:
            self.model = _str(obj.get("model")) or None
        usage = obj.get("usage")
        if usage is not None:
            self.usage = usage_from(usage) or self.usage
        choice = _first_choice(obj.get("choices"))
        if choice is None:
            return
        delta = choice.get("delta")
        if isinstance(delta, dict):
            self._on_delta(delta)
        text = choice.get("text")  # legacy completions
        if isinstance(text, str):
            self.text.append(text)
        finish_reason = choice.get("finish_reason")
        if isinstance(finish_reason, str):
            self.finish_reason = finish_reason

    def _on_delta(self, delta: dict[str, Any]) -> None:
        content = delta.get("content")
        if content is not None:
            self.text.append(_content_text(content))
        reasoning = _str(delta.get("reasoning_content")) or _str(delta.get("reasoning"))
        if reasoning:
            self.reasoning.append(reasoning)
        refusal = delta.get("refusal")
        if isinstance(refusal, str):
            self.refusal.append(refusal)
        tool_calls = delta.get("tool_calls")
        if isinstance(tool_calls, list):
            for fragment in tool_calls:
                if isinstance(fragment, dict):
                    self.tools.add(fragment)

    def result(self) -> Assembled:
        out = self._base()
        out.output_text = "".join(self.text)
        out.reasoning_text = "".join(self.reasoning)
        out.refusal = "".join(self.refusal)
        out.tool_calls = self.tools.calls()
        out.finish_reason = self.finish_reason
        out.usage = self.usage
        out.response_id = self.response_id
        out.model = self.model
        return out


@dataclass(slots=True)
class _ToolCall:
    """One tool call being put together from its streamed fragments."""

    id: str | None = None
    type: str | None = None
    name: str | None = None
    arguments: list[str] = field(default_factory=list)

    def merge(self, fragment: dict[str, Any]) -> None:
        # id, type and name come once, in the first fragment; some gateways repeat them in
        # every fragment, so only the first is kept. Arguments arrive in pieces.
        self.id = self.id or _str(fragment.get("id")) or None
        self.type = self.type or _str(fragment.get("type")) or None
        function = fragment.get("function")
        if isinstance(function, dict):
            self.name = self.name or _str(function.get("name")) or None
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                self.arguments.append(arguments)

    def as_dict(self) -> dict[str, Any]:
        return _tool_call(self.id, self.name, "".join(self.arguments), self.type)


class _ToolCallFragments:
    """Tool-call fragments of a chat stream, merged by their index."""

    __slots__ = ("_calls", "_last")

    def __init__(self) -> None:
        self._calls: dict[int, _ToolCall] = {}
        self._last = 0

    def add(self, fragment: dict[str, Any]) -> None:
        index = fragment.get("index")
        if type(index) is not int:
            index = self._guess_index(fragment)
        call = self._calls.get(index)
        if call is None:
            call = self._calls[index] = _ToolCall()
        call.merge(fragment)
        self._last = index

    def _guess_index(self, fragment: dict[str, Any]) -> int:
        # Some gateways leave out "index": a new id starts a new call, anything else continues
        # the call before it.
        new_id = _str(fragment.get("id"))
        if new_id and all(call.id != new_id for call in self._calls.values()):
            return max(self._calls, default=-1) + 1
        return self._last

    def calls(self) -> list[dict[str, Any]]:
        return [self._calls[index].as_dict() for index in sorted(self._calls)]


@dataclass(slots=True)
class _OutputItem:
    """One Responses output item (by output_index): its final form, or its deltas so far."""

    final: dict[str, Any] | None = None
    added: dict[str, Any] | None = None
    text: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)
    reasoning: dict[tuple[str, int], list[str]] = field(default_factory=dict)

    def add_reasoning(self, kind: str, obj: dict[str, Any], delta: str) -> None:
        part = obj.get("summary_index", obj.get("content_index", 0))
        key = (kind, part if type(part) is int else 0)
        self.reasoning.setdefault(key, []).append(delta)

    def contribute(self, parts: _Parts) -> None:
        if self.final is not None:
            parts.add_item(self.final)
            return
        parts.text.append("".join(self.text))
        parts.refusal.append("".join(self.refusal))
        parts.reasoning.extend("".join(pieces) for pieces in self.reasoning.values())
        kind = self.added.get("type") if self.added is not None else None
        if self.added is not None and kind in _CALL_ITEM_TYPES:
            key = "arguments" if kind == "function_call" else "input"
            parts.add_item({**self.added, key: "".join(self.arguments)})


class _ResponsesStream(_Stream):
    """Responses API events; the final response object wins over the deltas before it."""

    def __init__(self) -> None:
        super().__init__()
        self.responses = True
        self.items: dict[int, _OutputItem] = {}
        self.item_indexes: dict[str, int] = {}
        self.last_index = 0
        self.started: dict[str, Any] | None = None
        self.final: dict[str, Any] | None = None
        self.final_kind: str | None = None

    def on_object(self, obj: dict[str, Any], event: str | None) -> None:
        kind = obj.get("type")
        if not isinstance(kind, str):
            kind = event or ""
        delta = obj.get("delta")
        if isinstance(delta, str) and kind in _DELTA_EVENTS:
            self._on_delta(obj, kind, delta)
        elif kind in ("response.output_item.added", "response.output_item.done"):
            self._on_item(obj, kind.endswith(".done"))
        elif kind in _TERMINAL_EVENTS:
            self._on_terminal(obj, kind)
        elif kind in ("response.created", "response.in_progress"):
            response = obj.get("response")
            self.started = response if isinstance(response, dict) else self.started
        elif kind == "error" and obj.get("error") is None:
            self.error = {k: v for k, v in obj.items() if k not in ("type", "sequence_number")}

    def _on_delta(self, obj: dict[str, Any], kind: str, delta: str) -> None:
        item = self._item(obj.get("output_index"), obj.get("item_id"))
        if kind == "response.output_text.delta":
            item.text.append(delta)
        elif kind in _REASONING_DELTAS:
            item.add_reasoning(kind, obj, delta)
        elif kind in _ARGUMENT_DELTAS:
            item.arguments.append(delta)
        else:
            item.refusal.append(delta)

    def _item(self, index: object, item_id: object) -> _OutputItem:
        """The item an event is about: by output_index, else by item id, else the last one."""
        if type(index) is not int:
            if isinstance(item_id, str):
                index = self.item_indexes.get(item_id)
                if index is None:  # an item we have not heard of goes after the others
                    index = max(self.items, default=-1) + 1
            else:
                index = self.last_index
        if isinstance(item_id, str):
            self.item_indexes[item_id] = index
        item = self.items.get(index)
        if item is None:
            item = self.items[index] = _OutputItem()
        self.last_index = index
        return item

    def _on_item(self, obj: dict[str, Any], done: bool) -> None:
        item = obj.get("item")
        if isinstance(item, dict):
            state = self._item(obj.get("output_index"), item.get("id"))
            if done:
                state.final = item
            else:
                state.added = item

    def _on_terminal(self, obj: dict[str, Any], kind: str) -> None:
        response = obj.get("response")
        self.final = response if isinstance(response, dict) else {}
        self.final_kind = kind
        self.done = True

    def result(self) -> Assembled:
        final = self.final
        if final is not None and _nonempty_list(final.get("output")):
            out = _from_response(final, self.final_kind)
        else:  # cut short, or a gateway that leaves the final output empty: use the items
            parts = _Parts()
            for index in sorted(self.items):
                self.items[index].contribute(parts)
            out = _from_response(final or {}, self.final_kind, parts)
        out.response_id = out.response_id or _str(_get(self.started, "id")) or None
        out.model = out.model or _str(_get(self.started, "model")) or None
        out.error = out.error or self.error
        out.done, out.invalid_events = self.done, self.invalid_events
        return out


class _MessagesStream(_Stream):
    """Anthropic Messages events: message_start, content_block_start/delta/stop,
    message_delta (stop_reason, usage), message_stop (the terminal event), ping, error."""

    def __init__(self) -> None:
        super().__init__()
        self.message: dict[str, Any] = {}
        self.blocks: dict[int, dict[str, Any]] = {}
        self.pieces: dict[int, list[str]] = {}
        self.usage: dict[str, Any] = {}
        self.stop_reason: str | None = None

    def on_object(self, obj: dict[str, Any], event: str | None) -> None:
        kind = obj.get("type")
        if not isinstance(kind, str):
            kind = event or ""
        if kind == "content_block_delta":
            self._on_delta(obj)
        elif kind == "content_block_start":
            block = obj.get("content_block")
            if isinstance(block, dict):
                index = self._index(obj)
                self.blocks[index] = dict(block)
                self.pieces.setdefault(index, [])
        elif kind == "message_start":
            message = obj.get("message")
            if isinstance(message, dict):
                self.message = message
                self._merge_usage(message.get("usage"))
        elif kind == "message_delta":
            delta = obj.get("delta")
            self.stop_reason = _str(_get(delta, "stop_reason")) or self.stop_reason
            self._merge_usage(obj.get("usage"))
        elif kind == "message_stop":
            self.done = True

    def _index(self, obj: dict[str, Any]) -> int:
        index = obj.get("index")
        return index if type(index) is int else max(self.blocks, default=0)

    def _on_delta(self, obj: dict[str, Any]) -> None:
        delta = obj.get("delta")
        if not isinstance(delta, dict):
            return
        index = self._index(obj)
        block = self.blocks.setdefault(index, {})
        pieces = self.pieces.setdefault(index, [])
        kind = delta.get("type")
        if kind == "text_delta":
            block.setdefault("type", "text")
            pieces.append(_str(delta.get("text")))
        elif kind == "thinking_delta":
            block.setdefault("type", "thinking")
            pieces.append(_str(delta.get("thinking")))
        elif kind == "input_json_delta":
            block.setdefault("type", "tool_use")
            pieces.append(_str(delta.get("partial_json")))
        elif kind == "signature_delta":
            block["signature"] = _str(block.get("signature")) + _str(delta.get("signature"))

    def _merge_usage(self, usage: object) -> None:
        # message_delta's counts are cumulative: each one present replaces message_start's.
        if isinstance(usage, dict):
            self.usage.update({k: v for k, v in usage.items() if v is not None})

    def result(self) -> Assembled:
        content = []
        for index in sorted(self.blocks):
            block = dict(self.blocks[index])
            joined = "".join(self.pieces.get(index, []))
            kind = block.get("type")
            if kind == "text":
                block["text"] = _str(block.get("text")) + joined
            elif kind == "thinking":
                block["thinking"] = _str(block.get("thinking")) + joined
            elif kind in _MESSAGE_TOOL_BLOCKS and joined:
                block["input"] = joined  # the JSON text as streamed, kept as sent
            content.append(block)
        message = {**self.message, "content": content, "usage": self.usage}
        if self.stop_reason is not None:
            message["stop_reason"] = self.stop_reason
        out = _from_message(message)
        out.error = self.error
        out.done, out.invalid_events = self.done, self.invalid_events
        return out


# --- whole objects ------------------------------------------------------------------------

_CALL_ITEM_TYPES = frozenset({"function_call", "custom_tool_call"})


@dataclass(slots=True)
class _Parts:
    """Pieces of an answer collected from output items, joined at the end."""

    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    def add_item(self, item: dict[str, Any]) -> None:
        """Take one Responses output item (message, reasoning, function or custom tool call)."""
        kind = item.get("type")
        if kind == "message":
            for part in _dicts(item.get("content")):
                if part.get("type") == "refusal":
                    self.refusal.append(_str(part.get("refusal")))
                else:
                    self.text.append(_str(part.get("text")))
        elif kind == "reasoning":
            for key in ("summary", "content"):
                self.reasoning.extend(_str(part.get("text")) for part in _dicts(item.get(key)))
        elif kind in _CALL_ITEM_TYPES:
            call_id = _str(item.get("call_id")) or _str(item.get("id")) or None
            if kind == "function_call":
                arguments = _str(item.get("arguments"))
                self.tool_calls.append(_tool_call(call_id, _str(item.get("name")), arguments))
            else:
                self.tool_calls.append(_custom_call(call_id, item))

    def into(self, out: Assembled) -> None:
        out.output_text = "".join(self.text)
        out.reasoning_text = "\n\n".join(text for text in self.reasoning if text)
        out.refusal = "".join(self.refusal)
        out.tool_calls = self.tool_calls


def _from_response(
    response: dict[str, Any], terminal: str | None, parts: _Parts | None = None
) -> Assembled:
    """Read a Responses API response object (from a body or a terminal stream event)."""
    out = Assembled()
    if parts is None:
        parts = _Parts()
        for item in _dicts(response.get("output")):
            parts.add_item(item)
    parts.into(out)
    status = _str(response.get("status")) or _TERMINAL_EVENTS.get(terminal or "")
    reason = _str(_get(response.get("incomplete_details"), "reason"))
    out.finish_reason = f"{status}:{reason}" if status == "incomplete" and reason else status
    out.finish_reason = out.finish_reason or None
    out.usage = usage_from(response.get("usage"))
    out.response_id = _str(response.get("id")) or None
    out.model = _str(response.get("model")) or None
    out.error = _error_of(response.get("error"))
    return out


def _from_choices_body(obj: dict[str, Any]) -> Assembled:
    """Read a chat.completion or a legacy text_completion body."""
    out = Assembled(usage=usage_from(obj.get("usage")))
    out.response_id = _str(obj.get("id")) or None
    out.model = _str(obj.get("model")) or None
    choice = _first_choice(obj.get("choices"))
    if choice is None:
        return out
    out.finish_reason = _str(choice.get("finish_reason")) or None
    message = choice.get("message")
    if not isinstance(message, dict):
        out.output_text = _str(choice.get("text"))
        return out
    out.output_text = _content_text(message.get("content"))
    out.reasoning_text = _str(message.get("reasoning_content")) or _str(message.get("reasoning"))
    out.refusal = _str(message.get("refusal"))
    out.tool_calls = [_tool_call_of(call) for call in _dicts(message.get("tool_calls"))]
    return out


_MESSAGE_TOOL_BLOCKS = frozenset({"tool_use", "server_tool_use"})


def _from_message(message: dict[str, Any]) -> Assembled:
    """Read an Anthropic Messages message (a body, or one assembled from its stream); tool_use
    blocks become chat-shaped tool calls whose arguments are the input as JSON text."""
    out = Assembled(usage=anthropic_usage(message.get("usage")))
    out.response_id = _str(message.get("id")) or None
    out.model = _str(message.get("model")) or None
    out.finish_reason = _str(message.get("stop_reason")) or None
    if message.get("type") == "error":
        out.error = _error_of(message.get("error"))
    text: list[str] = []
    thinking: list[str] = []
    for block in _dicts(message.get("content")):
        kind = block.get("type")
        if kind == "text":
            text.append(_str(block.get("text")))
        elif kind == "thinking":
            thinking.append(_str(block.get("thinking")))
        elif kind in _MESSAGE_TOOL_BLOCKS:
            arguments = block.get("input")
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments if arguments is not None else {})
            call_id, name = _str(block.get("id")) or None, _str(block.get("name")) or None
            out.tool_calls.append(_tool_call(call_id, name, arguments))
    out.output_text = "".join(text)
    out.reasoning_text = "\n\n".join(part for part in thinking if part)
    return out


def anthropic_usage(obj: object) -> Usage | None:
    """An Anthropic usage object in chat terms. Its input_tokens leave out cache reads and
    writes; our prompt_tokens count every input token (as chat's do), so both are added:
    prompt = input + cache read + cache write, cached = cache read, cache_write = writes."""
    if not isinstance(obj, dict):
        return None
    raw_input = _int(obj.get("input_tokens"))
    read = _int(obj.get("cache_read_input_tokens"))
    write = _int(obj.get("cache_creation_input_tokens"))
    output = _int(obj.get("output_tokens"))
    if raw_input is None and output is None and read is None and write is None:
        return None
    prompt = None
    if raw_input is not None or read is not None or write is not None:
        prompt = (raw_input or 0) + (read or 0) + (write or 0)
    total = None if prompt is None and output is None else (prompt or 0) + (output or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=output,
        total_tokens=total,
        cached_tokens=read,
        cache_write_tokens=write,
    )


def _tool_call_of(call: dict[str, Any]) -> dict[str, Any]:
    """A chat message's tool call in our own shape (a custom tool call keeps its own)."""
    function = call.get("function")
    if not isinstance(function, dict) and isinstance(call.get("custom"), dict):
        return _custom_call(_str(call.get("id")) or None, call["custom"])
    return _tool_call(
        _str(call.get("id")) or None,
        _str(_get(function, "name")) or None,
        _str(_get(function, "arguments")),
        _str(call.get("type")) or None,
    )


def _tool_call(
    call_id: str | None, name: str | None, arguments: str, kind: str | None = None
) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": kind or "function",
        "function": {"name": name or None, "arguments": arguments},
    }


def _custom_call(call_id: str | None, item: dict[str, Any]) -> dict[str, Any]:
    # Free-form ("custom") tools, e.g. Codex's apply_patch: the chat API's shape for them.
    name = _str(item.get("name")) or None
    return {
        "id": call_id,
        "type": "custom",
        "custom": {"name": name, "input": _str(item.get("input"))},
    }


# --- small readers ------------------------------------------------------------------------


def _load_json(body: bytes | None) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _first_choice(choices: object) -> dict[str, Any] | None:
    """The choice with index 0 (a missing index counts as 0): the one we record."""
    if isinstance(choices, list):
        for choice in choices:
            if isinstance(choice, dict) and choice.get("index") in (0, None):
                return choice
    return None


def _content_text(content: object) -> str:
    """Message content as text: a string, or the "text" of each part of an array."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part if isinstance(part, str) else _str(_get(part, "text")) for part in content
        )
    return ""


def _error_of(value: object) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        return {"message": value}
    return None


def _int(*values: object) -> int | None:
    """The first value that is an int (bools are not)."""
    for value in values:
        if type(value) is int:
            return value
    return None


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _get(obj: object, key: str) -> object:
    return obj.get(key) if isinstance(obj, dict) else None


def _dicts(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _nonempty_list(value: object) -> bool:
    return isinstance(value, list) and len(value) > 0
