"""Timing and labelling of a recorded stream's chunks: gaps, stalls, event types, speed."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from relayscope.calls.facts import output_tokens_per_second  # re-exported: defined once there

__all__ = [
    "INVALID_JSON",
    "EventLabel",
    "GapStats",
    "Stall",
    "event_label",
    "find_stalls",
    "gap_profile",
    "gap_stats",
    "gaps",
    "output_tokens_per_second",
    "percentile",
    "sse_fields",
    "stall_threshold_ms",
]

#: The event type of a chunk whose data is neither JSON nor a known marker.
INVALID_JSON = "invalid JSON"
#: A gap shorter than this is never called a stall, however regular the rest of the stream.
MIN_STALL_MS = 1000.0
#: A gap this many times the median gap (and at least MIN_STALL_MS) is a stall.
STALL_FACTOR = 10.0


@dataclass(frozen=True, slots=True)
class GapStats:
    """Gaps between consecutive chunks, in ms; `max_at_seq` is the chunk after the longest."""

    median: float | None
    p95: float | None
    max: float | None
    max_at_seq: int | None


@dataclass(frozen=True, slots=True)
class Stall:
    """A long silence: nothing arrived between chunk `after_seq` and chunk `at_seq`."""

    after_seq: int
    at_seq: int
    start_ms: float
    end_ms: float

    @property
    def gap_ms(self) -> float:
        return self.end_ms - self.start_ms

    @property
    def label(self) -> str:
        return f"stall {self.gap_ms / 1000:.1f} s"


class EventLabel(NamedTuple):
    """What one chunk is (`event_type`) and the text it adds (`delta_text`)."""

    event_type: str
    delta_text: str

    @property
    def invalid(self) -> bool:
        return self.event_type == INVALID_JSON


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile of already sorted values (numpy's default method)."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    position = (len(sorted_values) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def gaps(t_ms: Sequence[float]) -> list[float]:
    """Each chunk's gap since the one before; the first chunk's gap is its time since start."""
    out: list[float] = []
    previous = 0.0
    for t in t_ms:
        out.append(max(0.0, t - previous))
        previous = t
    return out


def gap_stats(t_ms: Sequence[float]) -> GapStats:
    """Median, p95 and max of the gaps *between* chunks (the wait for the first is TTFT).

    `max_at_seq` is the position in `t_ms` of the chunk that ended the longest gap, which is
    its seq for a recorded stream (seqs count from 0 without holes).
    """
    between = [t_ms[i] - t_ms[i - 1] for i in range(1, len(t_ms))]
    if not between:
        return GapStats(None, None, None, None)
    longest = max(range(len(between)), key=between.__getitem__)
    ordered = sorted(between)
    return GapStats(
        median=percentile(ordered, 0.5),
        p95=percentile(ordered, 0.95),
        max=between[longest],
        max_at_seq=longest + 1,
    )


def stall_threshold_ms(stats: GapStats) -> float:
    """How long a gap must be to count as a stall in this stream."""
    return max(MIN_STALL_MS, STALL_FACTOR * (stats.median or 0.0))


#: How many bars the call list's gap sparkline has.
PROFILE_BINS = 24


def gap_profile(t_ms: Sequence[float], bins: int = PROFILE_BINS) -> dict[str, Any] | None:
    """The call list's sparkline of a stream: the gaps between chunks, in order, as at most
    `bins` values (each the longest gap of its run of consecutive chunks, so a stall is never
    averaged away), with the stall threshold of the whole stream. None below two chunks.
    """
    between = [t_ms[i] - t_ms[i - 1] for i in range(1, len(t_ms))]
    if not between:
        return None
    total, count = len(between), min(bins, len(between))
    runs = [between[i * total // count : (i + 1) * total // count] for i in range(count)]
    return {
        "max": [round(max(run), 1) for run in runs],
        "stall": round(stall_threshold_ms(gap_stats(t_ms)), 1),
    }


def find_stalls(
    t_ms: Sequence[float], seqs: Sequence[int] | None = None, threshold_ms: float | None = None
) -> list[Stall]:
    """Gaps between chunks at least `threshold_ms` long (default: `stall_threshold_ms`)."""
    if threshold_ms is None:
        threshold_ms = stall_threshold_ms(gap_stats(t_ms))
    seqs = seqs if seqs is not None else range(len(t_ms))
    return [
        Stall(seqs[i - 1], seqs[i], t_ms[i - 1], t_ms[i])
        for i in range(1, len(t_ms))
        if t_ms[i] - t_ms[i - 1] >= threshold_ms
    ]


# --- event labels -------------------------------------------------------------------------


def sse_fields(raw: str) -> tuple[str | None, str | None, str]:
    """(event name, data, comment) of one recorded chunk.

    A chunk is one SSE event exactly as received ("event: x\\ndata: {...}\\n\\n") or one
    WebSocket message (bare JSON), which is read as the data itself.
    """
    stripped = raw.strip("\r\n\ufeff")
    if stripped[:1] in ("{", "["):
        return None, stripped, ""
    event: str | None = None
    data: list[str] = []
    comments: list[str] = []
    for line in stripped.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line.startswith(":"):
            comments.append(line[1:].strip())
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
    return event, ("\n".join(data) if data else None), " ".join(comments)


def event_label(data: str) -> EventLabel:
    """Label a recorded chunk: chat chunk kinds, Responses event types, [DONE], comments.

    Data that is not JSON gets the type INVALID_JSON, so it can be flagged where it is shown.
    """
    event, payload, comment = sse_fields(data)
    if payload is None:
        if event:
            return EventLabel(event, "")
        return EventLabel("comment", comment) if comment else EventLabel("empty", "")
    if payload.strip() == "[DONE]":
        return EventLabel("[DONE]", "")
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError):
        if not payload.strip():
            return EventLabel(event or "empty", "")
        return EventLabel(INVALID_JSON, payload)
    if not isinstance(obj, dict):
        return EventLabel(event or "json", _short_json(obj))
    if "error" in obj and obj["error"] is not None:
        return EventLabel("error", _error_text(obj["error"]))
    kind = obj.get("type")
    if isinstance(kind, str) and kind:
        return EventLabel(kind, _responses_delta(kind, obj))
    if isinstance(obj.get("choices"), list) or obj.get("object") == "chat.completion.chunk":
        return _choices_label(obj)
    return EventLabel(event or "json", "")


def _choices_label(obj: dict[str, Any]) -> EventLabel:
    choices = obj.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], dict) else None
    if choice is None:
        usage = obj.get("usage")
        return EventLabel("usage", _usage_text(usage)) if usage else EventLabel("chunk", "")
    delta = choice.get("delta")
    delta = delta if isinstance(delta, dict) else {}
    finish = choice.get("finish_reason")
    if isinstance(delta.get("tool_calls"), list) and delta["tool_calls"]:
        return EventLabel("tool_call", _tool_fragment_text(delta["tool_calls"]))
    for key, label in (("reasoning_content", "reasoning"), ("reasoning", "reasoning")):
        if isinstance(delta.get(key), str) and delta[key]:
            return EventLabel(label, delta[key])
    content = delta.get("content", choice.get("text"))
    if isinstance(content, str) and content:
        return EventLabel("content", content)
    if isinstance(finish, str) and finish:
        return EventLabel("finish", finish)
    if delta.get("role"):
        return EventLabel("role", str(delta["role"]))
    if isinstance(delta.get("refusal"), str):
        return EventLabel("refusal", delta["refusal"])
    return EventLabel("content" if "content" in delta else "chunk", "")


def _tool_fragment_text(fragments: list[Any]) -> str:
    parts: list[str] = []
    for fragment in fragments:
        if not isinstance(fragment, dict):
            continue
        function = fragment.get("function") if isinstance(fragment.get("function"), dict) else {}
        name = function.get("name") if isinstance(function, dict) else None
        arguments = function.get("arguments") if isinstance(function, dict) else None
        if name:
            parts.append(f"{name}(")
        if isinstance(arguments, str):
            parts.append(arguments)
    return "".join(parts)


def _responses_delta(kind: str, obj: dict[str, Any]) -> str:
    delta = obj.get("delta")
    if isinstance(delta, str):
        return delta
    if isinstance(delta, dict):  # Anthropic Messages: a piece of text, thinking or tool input
        for key in ("text", "thinking", "partial_json", "stop_reason"):
            if isinstance(delta.get(key), str):
                return str(delta[key])
    item = obj.get("item", obj.get("content_block", obj.get("message")))
    if isinstance(item, dict):
        item_type = str(item.get("type", ""))
        name = item.get("name")
        return f"{item_type} {name}" if isinstance(name, str) and name else item_type
    response = obj.get("response")
    if isinstance(response, dict):
        status = response.get("status")
        usage = _usage_text(response.get("usage"))
        return " · ".join(str(x) for x in (status, usage) if x)
    text = obj.get("text")
    return text if isinstance(text, str) else ""


def _usage_text(usage: object) -> str:
    if not isinstance(usage, dict):
        return ""
    prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
    completion = usage.get("completion_tokens", usage.get("output_tokens"))
    return f"{prompt} in / {completion} out" if prompt is not None else ""


def _error_text(error: object) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or json.dumps(error, ensure_ascii=False))
    return str(error)


def _short_json(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)[:200]
