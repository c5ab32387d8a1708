"""What a sent request gives back: its events as they happen, and how it ended."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from relayscope.actions.replay.request import ReplayRequest
from relayscope.analysis.stream_stats import event_label
from relayscope.protocols.openai_format import Assembled, StreamAssembler, assemble_body
from relayscope.protocols.sse import SSEEvent

_TEXT_EVENTS = frozenset({"content", "response.output_text.delta", "response.refusal.delta"})
EventKind = Literal["response", "chunk", "body", "retry_wait", "done"]


@dataclass(frozen=True, slots=True)
class ReplayEvent:
    """Something that happened while a request ran, in order, for a live view.

    ``response``: status and headers arrived. ``chunk``: one SSE event (``text`` is the
    answer text it adds). ``body``: a whole non-stream body (``text`` is its answer).
    ``retry_wait``: waiting ``retry_after`` seconds before resending. ``done``: ``result``
    is final. Callbacks run on the sending thread; a GUI hands them to its own thread.
    """

    kind: EventKind
    call_id: str
    t_ms: float
    seq: int = -1
    status: int | None = None
    event_type: str = ""
    data: str | None = None
    text: str = ""
    retry_after: float | None = None
    result: ReplayResult | None = None


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """How a sent request ended, as this client saw it (the database has the proxy's view)."""

    call_id: str
    status: int | None  # None when no response arrived
    headers: tuple[tuple[str, str], ...]
    body: bytes  # a non-stream response's body; empty for streams
    events: tuple[ReplayEvent, ...]  # a stream's chunk events
    error: str | None
    retry_after: float | None  # seconds, from Retry-After / retry-after-ms on an error
    elapsed_ms: float
    ttft_ms: float | None  # first output chunk for streams, the body otherwise (call_facts)
    first_byte_ms: float | None = None  # the response's headers
    answer: Assembled = field(default_factory=Assembled)
    cancelled: bool = False
    previous: ReplayResult | None = None  # the 429/503 attempt that was waited out

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 400 and self.error is None

    @property
    def output_text(self) -> str:
        return self.answer.output_text

    @property
    def call_ids(self) -> list[str]:
        """Every call this result sent, first attempt first."""
        return [*(self.previous.call_ids if self.previous else []), self.call_id]


OnEvent = Callable[[ReplayEvent], None]


@dataclass(slots=True)
class Progress:
    """What one attempt has received so far (kept when it is cancelled halfway)."""

    request: ReplayRequest
    on_event: OnEvent | None
    t0: float = field(default_factory=time.monotonic)
    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    events: list[ReplayEvent] = field(default_factory=list)
    ttft_ms: float | None = None
    first_byte_ms: float | None = None
    assembler: StreamAssembler | None = None

    def ms(self) -> float:
        return round((time.monotonic() - self.t0) * 1000, 3)

    def chunk(self, event: SSEEvent) -> None:
        t_ms = self.ms()
        raw = event.raw.decode("utf-8", "replace")
        label = event_label(raw)
        text = label.delta_text if label.event_type in _TEXT_EVENTS else ""
        if label.event_type == "content_block_delta" and '"text_delta"' in raw:
            text = label.delta_text  # Anthropic's answer text (not thinking, not tool input)
        item = ReplayEvent(
            "chunk",
            self.request.call_id,
            t_ms,
            seq=len(self.events),
            status=self.status,
            event_type=label.event_type,
            data=event.data,
            text=text,
        )
        self.events.append(item)
        if self.assembler is not None:
            self.assembler.feed(event.data, event.event)
            if self.ttft_ms is None and self.assembler.has_output:
                self.ttft_ms = t_ms  # TTFT: the first output (relayscope.calls.facts)
        emit(self.on_event, item)

    def result(self, error: str | None, *, cancelled: bool = False) -> ReplayResult:
        endpoint = self.request.endpoint
        if self.assembler is not None:
            answer = self.assembler.result()
        else:
            answer = assemble_body(endpoint, self.body) if self.body else Assembled()
        if error is None and self.status is not None and self.status >= 400:
            error = _error_message(answer) or f"HTTP {self.status}"
        elif error is None and answer.error:
            error = _error_message(answer)
        retry_after = None
        if self.status is not None and self.status >= 400:
            retry_after = parse_retry_after(dict((k.lower(), v) for k, v in self.headers))
        return ReplayResult(
            call_id=self.request.call_id,
            status=self.status,
            headers=self.headers,
            body=self.body,
            events=tuple(self.events),
            error=error,
            retry_after=retry_after,
            elapsed_ms=self.ms(),
            ttft_ms=self.ttft_ms,
            first_byte_ms=self.first_byte_ms,
            answer=answer,
            cancelled=cancelled,
        )


def emit(on_event: OnEvent | None, event: ReplayEvent) -> None:
    if on_event is not None:
        on_event(event)


def _error_message(answer: Assembled) -> str | None:
    error = answer.error
    if not error:
        return None
    message = error.get("message")
    return str(message) if message else json.dumps(error, ensure_ascii=False)


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date).

    ``headers`` keys are lower case. None when neither is present or readable.
    """
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
