"""One pass over a stream's chunks: the facts each chunk gives, for the checks to read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from relayscope.analysis.stream_analysis.readers import first_line, get_key, json_error
from relayscope.analysis.stream_stats import Stall, sse_fields
from relayscope.protocols.openai_format import StreamAssembler, holds_output

_ARGUMENT_EVENTS = (
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
)


@dataclass(slots=True)
class _Change:
    """The first chunk where a field (id, model) differed from the chunks before it."""

    seq: int
    before: str
    after: str


class Scan:
    """Facts about each chunk, gathered in one pass (the assembler runs alongside)."""

    def __init__(self, endpoint: str) -> None:
        self.responses = endpoint == "responses"
        self.messages = endpoint == "messages"  # Anthropic Messages events
        self.assembler = StreamAssembler(endpoint)
        self.seqs: list[int] = []
        self.times: list[float] = []
        self.invalid: list[tuple[int, str, str]] = []  # seq, first line, why
        self.errors: list[tuple[int, object]] = []
        self.keepalives: list[int] = []
        self.done_seq: int | None = None
        self.terminal: tuple[int, str, dict[str, Any]] | None = None
        self.last_choices_seq: int | None = None
        self.usage_seq: int | None = None
        self.first_output_ms: float | None = None
        self.output_chunks = 0
        self.values: dict[str, str] = {}  # the id and model seen first
        self.changes: dict[str, _Change] = {}
        self.tool_seq: dict[object, int] = {}  # tool call (index or item id) -> last chunk
        self.item_call_ids: dict[str, str] = {}  # Responses item id -> call_id
        self.turn_starts: set[int] = set()  # positions of the first answers to a new request

    def client_message(self) -> None:
        """A WebSocket request arrived: the server's next answer is a new response."""
        self.turn_starts.add(len(self.seqs))
        self.values.clear()

    def gaps(self) -> list[Stall]:
        """Each silence between consecutive chunks, except one spent waiting on the client."""
        seqs, times = self.seqs, self.times
        return [
            Stall(seqs[i - 1], seqs[i], times[i - 1], times[i])
            for i in range(1, len(times))
            if i not in self.turn_starts
        ]

    def feed(self, seq: int, t_ms: float, raw: str | bytes) -> None:
        self.seqs.append(seq)
        self.times.append(t_ms)
        text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
        event, data = _event_and_data(text)
        if data is None:
            if event is None and text.strip().startswith(":"):
                self.keepalives.append(seq)
            return
        self.assembler.feed(data, event)
        stripped = data.strip()
        if not stripped:
            return
        if stripped == "[DONE]":
            self.done_seq = seq
            return
        try:
            obj = json.loads(stripped)
        except (ValueError, RecursionError) as exc:
            self.invalid.append((seq, first_line(text), json_error(exc)))
            return
        if not isinstance(obj, dict):
            self.invalid.append((seq, first_line(text), "JSON, but not an object"))
            return
        self._on_object(seq, t_ms, obj, event)

    def _on_object(self, seq: int, t_ms: float, obj: dict[str, Any], event: str | None) -> None:
        kind = obj.get("type") if isinstance(obj.get("type"), str) else event
        if obj.get("error") is not None:
            self.errors.append((seq, obj["error"]))
        elif kind == "error":
            self.errors.append((seq, obj))
        if self.responses:
            self._on_event(seq, obj, kind or "")
        elif self.messages:
            self._on_message_event(seq, obj, kind or "")
        else:
            self._track(seq, "id", obj.get("id"))
            self._track(seq, "model", obj.get("model"))
            if obj.get("usage") is not None:
                self.usage_seq = seq
            self._on_choice(seq, obj.get("choices"))
        if holds_output(obj, event, responses=self.responses):  # TTFT's one definition
            self.output_chunks += 1
            if self.first_output_ms is None:
                self.first_output_ms = t_ms

    def _track(self, seq: int, name: str, value: object) -> None:
        if not isinstance(value, str) or not value:
            return
        first = self.values.setdefault(name, value)
        if value != first and name not in self.changes:
            self.changes[name] = _Change(seq, first, value)

    def _on_choice(self, seq: int, choices: object) -> None:
        """Chat/completions chunk."""
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return
        choice = choices[0]
        self.last_choices_seq = seq
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return
        tool_calls = delta.get("tool_calls")
        if isinstance(tool_calls, list):
            for position, fragment in enumerate(tool_calls):
                index = fragment.get("index") if isinstance(fragment, dict) else None
                self.tool_seq[index if type(index) is int else position] = seq

    def _on_event(self, seq: int, obj: dict[str, Any], kind: str) -> None:
        """Responses event."""
        response = obj.get("response")
        if isinstance(response, dict):
            self._track(seq, "id", response.get("id"))
            self._track(seq, "model", response.get("model"))
            if kind in ("response.completed", "response.incomplete", "response.failed"):
                self.terminal = (seq, kind, response)
                if response.get("usage") is not None:
                    self.usage_seq = seq
                if kind == "response.failed" and response.get("error") is not None:
                    self.errors.append((seq, response["error"]))
        item = obj.get("item")
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            if isinstance(item.get("call_id"), str):
                self.item_call_ids[item["id"]] = item["call_id"]
            if item.get("type") == "function_call":
                self.tool_seq[item["id"]] = seq
        if kind in _ARGUMENT_EVENTS and isinstance(obj.get("item_id"), str):
            self.tool_seq[obj["item_id"]] = seq

    def _on_message_event(self, seq: int, obj: dict[str, Any], kind: str) -> None:
        """Anthropic Messages event: id, model, usage, the terminal event, tool blocks."""
        if kind == "message_start" and isinstance(obj.get("message"), dict):
            self._track(seq, "id", obj["message"].get("id"))
            self._track(seq, "model", obj["message"].get("model"))
        elif kind == "message_delta":
            self.last_choices_seq = seq
            if obj.get("usage") is not None:
                self.usage_seq = seq
        elif kind == "message_stop":
            self.terminal = (seq, kind, obj)
        index = obj.get("index")
        block = obj.get("content_block")
        delta = obj.get("delta")
        if type(index) is int and (
            get_key(block, "type") == "tool_use" or get_key(delta, "type") == "input_json_delta"
        ):
            self.tool_seq[index] = seq

    def tool_call_seq(self, position: int, call_id: object) -> int | None:
        """The last chunk that added to the assembled tool call at `position`."""
        if not self.responses:
            keys = sorted(key for key in self.tool_seq if isinstance(key, int))
            return self.tool_seq[keys[position]] if position < len(keys) else None
        for item_id, seq in self.tool_seq.items():
            if item_id == call_id or self.item_call_ids.get(str(item_id)) == call_id:
                return seq
        return None


def _event_and_data(text: str) -> tuple[str | None, str | None]:
    """An event's name and data; the usual one- and two-line events without the full parser."""
    body = text.rstrip("\r\n")
    if "\r" not in body:
        first, newline, rest = body.partition("\n")
        if first.startswith("data:") and not newline:
            return None, _field_value(first[5:])
        if first.startswith("event:") and rest.startswith("data:") and "\n" not in rest:
            return _field_value(first[6:]), _field_value(rest[5:])
    event, data, _ = sse_fields(text)
    return event, data


def _field_value(value: str) -> str:
    return value[1:] if value.startswith(" ") else value
