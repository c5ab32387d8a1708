"""The calls the proxy records through, as op tuples (one per call, cheap to pickle).

`Recording` is the interface the proxy's addons use; `RecordingWriter` (in this process)
and `RecordingProcess` (a child process) both take its ops. The ops are plain tuples tagged
with small integers, not an enum: they are pickled once per chunk on the proxy's hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Event = dict[str, Any]
Op = tuple[Any, ...]
START, CHUNK, FINISH, UPDATE, RAW, CONNECTION = 0, 1, 2, 3, 4, 5


def call_of(op: Op) -> str:
    """The call (or connection) an op belongs to: what a lost op is counted against."""
    return str(op[1]["id"] if op[0] == START else op[1])


def as_text(data: bytes | str | None) -> str | bytes | None:
    """Bodies are stored as TEXT when they are UTF-8 (nearly always), else as a BLOB."""
    if data is None or isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


class Recording:
    """The calls the proxy's addons record through, each one op tuple handed to `_put`
    without blocking: a `RecordingWriter` queues it for its thread, a `RecordingProcess`
    (relayscope.recording.process) for its child process."""

    _put: Callable[[Op], None]

    def start(self, row: dict[str, Any]) -> None:
        self._put((START, row))

    def chunk(
        self,
        call_id: str,
        seq: int,
        t_ms: float,
        raw: bytes,
        data: str | None,
        event: str | None,
        direction: str | None = None,
    ) -> None:
        """One SSE event (or WebSocket message); `data` feeds the stream assembly."""
        self._put((CHUNK, call_id, seq, t_ms, raw, data, event, direction))

    def raw(self, call_id: str, t_ms: float, data: bytes) -> None:
        """Stream bytes as they arrived (b"" at the end); the writer splits them into events.

        The cheapest way to record a stream: the proxy only takes the time. Events completed
        by one network chunk share its arrival time, exactly as if they had been split on
        arrival.
        """
        self._put((RAW, call_id, t_ms, data))

    def update(self, call_id: str, fields: dict[str, Any]) -> None:
        self._put((UPDATE, call_id, fields))

    def finish(self, call_id: str, fields: dict[str, Any]) -> None:
        """End a call. `fields` may carry `response_body` (bytes) to assemble from."""
        self._put((FINISH, call_id, fields))

    def connection(self, connection_id: str, fields: dict[str, Any]) -> None:
        """Create or update a `connections` row (a WebSocket that carries many calls)."""
        self._put((CONNECTION, connection_id, fields))
