"""The recording process itself: `relayscope _record` (or `python -m relayscope.recording.child`).

It reads batches of ops from its stdin, each a length-prefixed pickle written by its parent's
`RecordingProcess` (relayscope.recording.process), hands them to a `RecordingWriter`, and
prints the writer's commit events as NDJSON on its stdout. It ends when its stdin closes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import pickle
import signal
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from relayscope.recording.writer import Event, Op, RecordingWriter

#: A frame on the child's stdin: its length (4 bytes, big-endian), then the pickled ops.
FRAME_HEADER = struct.Struct(">I")
#: Ops read but not yet taken by the writer thread above which the child stops reading its
#: stdin: the pipe then fills and the parent keeps the backlog (bounded there, see
#: relayscope.recording.process). About two seconds of the heaviest traffic measured...
QUEUE_OPS = 20_000
#: ... or their frames' bytes above this (big request bodies are few ops). The writer
#: thread's batch under way holds as much again, at most.
QUEUE_BYTES = 16 * 1024 * 1024


def child_main(argv: Sequence[str]) -> int:
    """`relayscope _record`: write the ops read from stdin until it closes."""
    parser = argparse.ArgumentParser(prog="relayscope _record")
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--events", action="store_true")
    parser.add_argument("--batch-seconds", type=float, default=0.02)
    args = parser.parse_args(argv)
    # The parent decides when recording ends (it closes stdin): a stray SIGINT or SIGTERM
    # must not lose the last batch.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr
    )
    out = _EventOut(sys.stdout.buffer) if args.events else None
    writer = RecordingWriter(
        args.db,
        on_commit=out.emit if out else None,
        on_error=out.error if out else None,
        batch_seconds=args.batch_seconds,
        migrate=False,  # the worker prepared the database before it started us
    )
    # The worker marked the leftovers of an earlier run before it started listening; a
    # restarted child must not mark the calls in flight now.
    writer.open(interrupt_leftovers=False)
    queue = _Queued(writer)
    try:
        while (frame := read_frame(sys.stdin.buffer.fileno())) is not None:
            queue.submit(*frame)
            while queue.full():  # behind: let the pipe push back
                time.sleep(args.batch_seconds)
    finally:
        writer.close()
    return 0


class _Queued:
    """The ops handed to the writer and not yet taken by its thread, counted and sized by
    their frames (a frame's ops count until its last one is taken)."""

    def __init__(self, writer: RecordingWriter) -> None:
        self._writer = writer
        self._submitted = 0
        self._frames: deque[tuple[int, int]] = deque()  # (ops submitted after it, its bytes)
        self.bytes = 0

    def submit(self, ops: list[Op], size: int) -> None:
        self._writer.submit(ops)
        self._submitted += len(ops)
        self._frames.append((self._submitted, size))
        self.bytes += size

    def full(self) -> bool:
        waiting = self._writer.queued()
        taken = self._submitted - waiting
        while self._frames and self._frames[0][0] <= taken:
            self.bytes -= self._frames.popleft()[1]
        return waiting > QUEUE_OPS or self.bytes > QUEUE_BYTES


class _EventOut:
    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def emit(self, events: list[Event]) -> None:
        data = b"".join(json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in events)
        with self._lock, contextlib.suppress(OSError, ValueError):
            self._stream.write(data)
            self._stream.flush()

    def error(self, message: str | None) -> None:
        self.emit([{"event": "record_error", "message": message}])


def read_frame(fd: int) -> tuple[list[Op], int] | None:
    """The next frame's ops and its size in bytes; None once the parent closed the pipe."""
    header = _read_exactly(fd, FRAME_HEADER.size)
    if header is None:
        return None
    (size,) = FRAME_HEADER.unpack(header)
    payload = _read_exactly(fd, size)
    if payload is None:
        return None  # the parent died in the middle of a frame
    ops: list[Op] = pickle.loads(payload)  # from our own parent, over a private pipe
    return ops, size


def _read_exactly(fd: int, size: int) -> bytes | None:
    parts: list[bytes] = []
    left = size
    while left:
        data = os.read(fd, min(left, 1 << 20))
        if not data:
            return None
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
