"""The recording writer in a process of its own, so the proxy never waits on SQLite.

A writer thread inside the proxy shares the interpreter lock with the event loop: every
batch it commits (SQLite, stream assembly, the full-text index) holds the loop up, and each
hand-over of the lock costs a pair of thread switches. Here the proxy's hooks only append
op tuples to a deque; a flusher thread sends them to a child process once per batch window,
as one length-prefixed pickle on the child's stdin, and the child runs a `RecordingWriter`
(same ops, same batching, same retries). The child prints its commit events as NDJSON on
its stdout; the parent hands those lines on (the desktop app reads them from the worker).

Ending: the parent closes the child's stdin; the child commits everything queued and
exits. A child that dies is started again (the batch it did not take is sent to the new
one) and the parent reports it; after three deaths within a minute it gives up and says so,
and traffic keeps flowing unrecorded.

The child is `python -m relayscope.recording.process --db PATH [--events]` (the packaged
binary runs it as `relayscope _record`); it is not a user command.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from relayscope.recording.writer import Event, Op, Recording, RecordingWriter

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">I")
_OWN_GROUP: dict[str, Any] = {"process_group": 0} if os.name == "posix" else {}
_PIPE_BYTES = 1 << 20  # room for a few batches of a fast stream while the child commits
_MAX_DEATHS = 3  # within _DEATH_WINDOW seconds, then recording stops
_DEATH_WINDOW = 60.0


def child_command(path: Path, *, events: bool) -> list[str]:
    """How to start the recording child: the same program as this one."""
    if getattr(sys, "frozen", False):  # a packaged app: the binary is the CLI
        base = [sys.executable, "_record"]
    else:  # this module itself: lighter than the CLI (no sqlite-utils, no config)
        base = [sys.executable, "-m", "relayscope.recording.process"]
    return [*base, "--db", str(path), *(["--events"] if events else [])]


class RecordingProcess(Recording):
    """Same calls as `RecordingWriter` (start/chunk/raw/update/finish), done by a child.

    The calls are made on the proxy's event loop and cost one `deque.append` each.
    `on_lines` gets the child's NDJSON event lines (complete lines, bytes); `on_error` gets
    a sentence when the child had to be restarted or recording stopped.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        on_lines: Callable[[bytes], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        batch_seconds: float = 0.02,
        command: Sequence[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self._ops: collections.deque[Op] = collections.deque()
        self._put = self._ops.append  # the Recording calls: one append on the event loop
        self._on_lines = on_lines
        self._on_error = on_error
        self._batch_seconds = batch_seconds
        self._command = list(command or child_command(self.path, events=on_lines is not None))
        self._child: subprocess.Popen[bytes] | None = None
        self._relay: threading.Thread | None = None
        self._unsent: list[Op] = []  # a batch a dead child did not take
        self._deaths: list[float] = []
        self._given_up = False
        self._ship_lock = threading.Lock()
        self._stop = threading.Event()
        self._flusher = threading.Thread(
            target=self._flush_loop, name="relayscope-recording", daemon=True
        )

    # -- lifetime ---------------------------------------------------------------------

    def open(self) -> RecordingProcess:
        self._spawn()
        self._flusher.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Send everything queued, let the child commit it, and wait for it to exit."""
        self._stop.set()
        if self._flusher.is_alive():
            self._flusher.join(timeout)
        self._ship(wait=timeout)  # a child that stopped reading must not hang the worker
        child = self._child
        if child is not None:
            if child.stdin is not None:
                with contextlib.suppress(OSError):
                    child.stdin.close()
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                log.error("The recording process did not finish within %g s; stopped it.", timeout)
                child.kill()
                child.wait()
        if self._relay is not None:
            self._relay.join(timeout)

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    # -- the flusher thread -------------------------------------------------------------

    def _flush_loop(self) -> None:
        while not self._stop.wait(self._batch_seconds):
            child = self._child
            if child is not None and child.poll() is not None and not self._given_up:
                self._restart(child.returncode)
            self._ship()

    def _ship(self, wait: float = -1) -> None:
        if not self._ship_lock.acquire(timeout=wait):
            return
        try:
            self._ship_locked()
        finally:
            self._ship_lock.release()

    def _ship_locked(self) -> None:
        ops = self._ops
        batch = self._unsent + [ops.popleft() for _ in range(len(ops))]
        self._unsent = []
        if not batch or self._given_up or self._child is None:
            return
        payload = pickle.dumps(batch, pickle.HIGHEST_PROTOCOL)
        stdin = self._child.stdin
        try:
            assert stdin is not None
            stdin.write(_HEADER.pack(len(payload)))
            stdin.write(payload)
            stdin.flush()
        except (OSError, ValueError):
            # The child is gone: the next pass restarts it and sends this batch again.
            self._unsent = batch

    def _restart(self, status: int | None) -> None:
        dead = self._child
        if dead is not None and dead.stdin is not None:
            with contextlib.suppress(OSError):
                dead.stdin.close()
        now = time.monotonic()
        self._deaths = [t for t in self._deaths if now - t < _DEATH_WINDOW] + [now]
        if len(self._deaths) >= _MAX_DEATHS:
            self._give_up(
                f"Recording stopped: the recording process failed {len(self._deaths)} times "
                f"in a minute (last exit status {status}). Traffic still flows but is not "
                "recorded; restart Relayscope to record again."
            )
            return
        try:
            self._spawn()
        except OSError as exc:
            self._give_up(
                f"Recording stopped: the recording process stopped (exit status {status}) and "
                f"cannot be started again ({exc}). Traffic still flows but is not recorded."
            )
            return
        self._report(
            f"The recording process stopped unexpectedly (exit status {status}) and was "
            "restarted; calls in flight at that moment may be recorded incomplete."
        )

    def _give_up(self, message: str) -> None:
        """Stop recording: drop what is queued (nothing will take it) and say so."""
        self._given_up = True
        self._unsent = []
        self._ops.clear()
        self._report(message)

    def _report(self, message: str) -> None:
        log.error("%s", message)
        if self._on_error is not None:
            self._on_error(message)

    def _spawn(self) -> None:
        child = subprocess.Popen(
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE if self._on_lines is not None else subprocess.DEVNULL,
            close_fds=True,
            # Its own process group: a terminal's Ctrl+C goes to the worker, which ends the
            # recording in order (closing stdin), even while the child is still starting up.
            **_OWN_GROUP,
        )
        assert child.stdin is not None
        _grow_pipe(child.stdin.fileno())
        self._child = child
        if self._on_lines is not None and child.stdout is not None:
            self._relay = threading.Thread(
                target=self._relay_loop,
                args=(child.stdout, self._on_lines),
                name="relayscope-recording-events",
                daemon=True,
            )
            self._relay.start()

    @staticmethod
    def _relay_loop(stream: IO[bytes], on_lines: Callable[[bytes], None]) -> None:
        pending = b""
        with stream, contextlib.suppress(OSError):
            while data := os.read(stream.fileno(), 65536):
                pending += data
                cut = pending.rfind(b"\n") + 1
                if cut:
                    on_lines(pending[:cut])
                    pending = pending[cut:]


def _grow_pipe(fd: int) -> None:
    """Linux only (F_SETPIPE_SZ); elsewhere the default pipe size will do."""
    with contextlib.suppress(ImportError, AttributeError, OSError):
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)


# -- the child -----------------------------------------------------------------------------


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
    try:
        while (ops := _read_frame(sys.stdin.buffer.fileno())) is not None:
            writer.submit(ops)
    finally:
        writer.close()
    return 0


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


def _read_frame(fd: int) -> list[Op] | None:
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    payload = _read_exactly(fd, size)
    if payload is None:
        return None  # the parent died in the middle of a frame
    ops: list[Op] = pickle.loads(payload)  # from our own parent, over a private pipe
    return ops


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
