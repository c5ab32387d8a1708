"""What the proxy worker and the desktop app say to each other, typed once.

The worker (`relayscope.proxy.worker`, its recording process `relayscope.recording.writer` and the
breakpoint holder `proxy.addons.breakpoints`) prints one NDJSON *event* per line on stdout;
the app (`relayscope.ui.worker_process`) reads them and writes NDJSON *commands* on the worker's
stdin (`--parent-pipe`). Both sides import this module (it lives in `app.core`, which both may
import). Where the app has to branch on what happened, an event carries a `code`, never a
sentence to match: the sentence (`message`) is for people.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal, NotRequired, TypedDict, cast, get_args

__all__ = [
    "CALL_EVENTS",
    "FAILURE_CODES",
    "BreakpointsSet",
    "CallEvent",
    "CallFinished",
    "CallHeld",
    "CallReleased",
    "CallStarted",
    "CallUpdated",
    "Command",
    "CommandError",
    "ConnectionUpdated",
    "Event",
    "FailCommand",
    "Failed",
    "FailureCode",
    "Listening",
    "OtlpErrorEvent",
    "RecordError",
    "ResumeCommand",
    "SetBreakpoints",
    "Stage",
    "Stopped",
    "encode",
    "parse_event",
    "parse_events",
]

#: Why the worker did not start or stopped listening (`Failed.code`).
FailureCode = Literal[
    "port_in_use",  # `port` is taken by another program
    "cannot_listen",  # the address cannot be bound for another reason
    "database",  # the recording database cannot be opened or written
    "recorder",  # the recording process cannot be started
    "config",  # the configuration is not usable (e.g. an OTLP endpoint)
    "playback",  # nothing to play back
    "other",
]
FAILURE_CODES: frozenset[str] = frozenset(get_args(FailureCode))

Stage = Literal["request", "response"]


# --- events: worker -> app ------------------------------------------------------------------


class Listening(TypedDict):
    event: Literal["listening"]
    url: str
    host: str
    port: int


class Failed(TypedDict):
    """The worker is not listening (and exits non-zero); `message` is for the person."""

    event: Literal["failed"]
    code: FailureCode
    message: str
    port: NotRequired[int]  # with port_in_use and cannot_listen


class Stopped(TypedDict):
    event: Literal["stopped"]


class CallStarted(TypedDict):
    """A call's row was committed (printed after the commit: read it at once)."""

    event: Literal["call_started"]
    id: str


class CallUpdated(TypedDict):
    """A live call changed: the fields that changed (chunk count, state, TTFT, gaps...)."""

    event: Literal["call_updated"]
    id: str
    chunk_count: NotRequired[int]
    state: NotRequired[str]
    ttft_ms: NotRequired[float | None]
    status: NotRequired[int | None]
    max_gap_ms: NotRequired[float | None]
    gap_profile: NotRequired[str | None]


class CallFinished(TypedDict):
    event: Literal["call_finished"]
    id: str
    state: NotRequired[str]
    status: NotRequired[int | None]
    duration_ms: NotRequired[float | None]
    ttft_ms: NotRequired[float | None]
    chunk_count: NotRequired[int | None]
    error: NotRequired[str | None]


class ConnectionUpdated(TypedDict):
    """A WebSocket's `connections` row changed."""

    event: Literal["connection_updated"]
    id: str


class RecordError(TypedDict):
    """Recording failed (`message`), or works again (`message` null)."""

    event: Literal["record_error"]
    message: str | None


class OtlpErrorEvent(TypedDict):
    event: Literal["otlp_error"]
    message: str


class CallHeld(TypedDict):
    """A breakpoint holds a call until a `resume`/`fail` command or the timeout."""

    event: Literal["call_held"]
    id: str
    stage: Stage
    rule: str
    provider: str | None
    model: str | None
    endpoint: str
    status: int | None
    body: str
    timeout: float


class CallReleased(TypedDict):
    event: Literal["call_released"]
    id: str
    stage: Stage


class BreakpointsSet(TypedDict):
    event: Literal["breakpoints_set"]
    count: int


class CommandError(TypedDict):
    event: Literal["command_error"]
    message: str


#: A call's events: several a call, hundreds of calls a second (the app takes them in batches).
CallEvent = CallStarted | CallUpdated | CallFinished
CALL_EVENTS: frozenset[str] = frozenset(("call_started", "call_updated", "call_finished"))

Event = (
    Listening
    | Failed
    | Stopped
    | CallStarted
    | CallUpdated
    | CallFinished
    | ConnectionUpdated
    | RecordError
    | OtlpErrorEvent
    | CallHeld
    | CallReleased
    | BreakpointsSet
    | CommandError
)

#: Each event's required fields and their types, checked by `parse_event`.
_REQUIRED: dict[str, dict[str, tuple[type, ...]]] = {
    "listening": {"url": (str,), "host": (str,), "port": (int,)},
    "failed": {"message": (str,)},
    "stopped": {},
    "call_started": {"id": (str,)},
    "call_updated": {"id": (str,)},
    "call_finished": {"id": (str,)},
    "connection_updated": {"id": (str,)},
    "record_error": {"message": (str, type(None))},
    "otlp_error": {"message": (str,)},
    "call_held": {"id": (str,), "stage": (str,)},
    "call_released": {"id": (str,), "stage": (str,)},
    "breakpoints_set": {"count": (int,)},
    "command_error": {"message": (str,)},
}


def parse_event(line: bytes | str) -> Event | None:
    """One NDJSON line as an event; None for anything else (the plain `Relayscope listening
    on` line, noise, an unknown event, an event missing a required field)."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    return _typed(obj)


def parse_events(lines: Sequence[bytes]) -> list[Event | None]:
    """`parse_event` of each line (stripped), in one go.

    One `json.loads` of the lines as a JSON array costs about half as much per line as one
    each. The worker prints one JSON value per line (`encode`), so an array that parses into
    one value per line holds the lines' values in order; anything else (a line that is not
    JSON: noise, a cut line) fails the array, and then each line is parsed on its own, so a
    bad line costs the others nothing but the retry.
    """
    if len(lines) > 1:
        try:
            values = json.loads(b"[" + b",".join(lines) + b"]")
        except ValueError:  # UnicodeDecodeError too: parse_event replaces bad bytes
            pass
        else:
            if len(values) == len(lines):
                return [_typed(value) for value in values]
    return [parse_event(line) for line in lines]


def _typed(obj: object) -> Event | None:
    if not isinstance(obj, dict):
        return None
    kind = obj.get("event")
    if isinstance(kind, str) and kind in CALL_EVENTS:  # their one required field: the id
        return cast(Event, obj) if isinstance(obj.get("id"), str) else None
    required = _REQUIRED.get(str(kind))
    if required is None:
        return None
    for name, types in required.items():
        value = obj.get(name)
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            return None
    if obj["event"] == "failed" and obj.get("code") not in FAILURE_CODES:
        obj["code"] = "other"  # a worker older than codes: its sentence still says why
    return cast(Event, obj)


# --- commands: app -> worker ----------------------------------------------------------------


class SetBreakpoints(TypedDict):
    cmd: Literal["set_breakpoints"]
    rules: list[dict[str, Any]]
    timeout: NotRequired[float]


class ResumeCommand(TypedDict):
    """Let a held call go on, with `body` in place of what was held when given."""

    cmd: Literal["resume"]
    id: str
    body: NotRequired[str | None]
    by: NotRequired[str]


class FailCommand(TypedDict):
    """Answer a held call with an error (`status` 400-599) instead."""

    cmd: Literal["fail"]
    id: str
    status: NotRequired[int]
    message: NotRequired[str]
    by: NotRequired[str]


Command = SetBreakpoints | ResumeCommand | FailCommand


def encode(message: Event | Command) -> str:
    """One NDJSON line (with its newline), as compact as the worker prints it."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False) + "\n"
