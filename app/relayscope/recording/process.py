"""The recording writer in a process of its own, so the proxy never waits on SQLite.

A writer thread inside the proxy shares the interpreter lock with the event loop: every
batch it commits (SQLite, stream assembly, the full-text index) holds the loop up, and each
hand-over of the lock costs a pair of thread switches. Here the proxy's hooks only append
op tuples to a deque; a flusher thread sends them to a child process once per batch window,
as one length-prefixed pickle on the child's stdin, and the child runs a `RecordingWriter`
(same ops, same batching, same retries). The child prints its commit events as NDJSON on
its stdout; the parent hands those lines on (the desktop app reads them from the worker).

In the proxy worker the batches are sent from the event loop itself (`open(loop)`): a
timer every batch window pickles what is queued and writes it to the pipe without blocking
(what does not fit waits for the pipe to drain, `loop.add_writer`). A flusher thread would
take the interpreter lock from the loop at every window, and on a busy two-core machine the
loop then waits for a thread that the kernel has not even scheduled yet (the suspected
source of the proxy's latency tail, docs/benchmarks.md). Without a loop (tests, tools) the flusher
thread does the same.

Ending: the parent closes the child's stdin; the child commits everything queued and
exits. A child that dies is started again (the batch it did not take is sent to the new
one) and the parent reports it; after three deaths within a minute it gives up and says so,
and traffic keeps flowing unrecorded.

The child is `python -m relayscope.recording.child --db PATH [--events]` (the packaged
binary runs it as `relayscope _record`); it is not a user command.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import pickle
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from relayscope.recording.child import FRAME_HEADER
from relayscope.recording.writer import Op, Recording

log = logging.getLogger(__name__)

_OWN_GROUP: dict[str, Any] = {"process_group": 0} if os.name == "posix" else {}
_PIPE_BYTES = 1 << 20  # room for a few batches of a fast stream while the child commits
_MAX_DEATHS = 3  # within _DEATH_WINDOW seconds, then recording stops
_DEATH_WINDOW = 60.0


def child_command(path: Path, *, events: bool) -> list[str]:
    """How to start the recording child: the same program as this one."""
    if getattr(sys, "frozen", False):  # a packaged app: the binary is the CLI
        base = [sys.executable, "_record"]
    else:  # this module itself: lighter than the CLI (no sqlite-utils, no config)
        base = [sys.executable, "-m", "relayscope.recording.child"]
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
        # With a loop: frames (their ops, the bytes not yet written) waiting for the pipe.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._frames: collections.deque[tuple[list[Op], memoryview]] = collections.deque()
        self._waiting_fd: int | None = None  # the pipe `loop.add_writer` watches

    # -- lifetime ---------------------------------------------------------------------

    def open(self, loop: asyncio.AbstractEventLoop | None = None) -> RecordingProcess:
        """Start the child. With `loop` (the proxy's, running in this thread), batches are
        sent from that loop; `close` must then be called in the loop's thread too."""
        self._loop = loop
        self._spawn()
        if loop is None:
            self._flusher.start()
        else:
            self._timer = loop.call_later(self._batch_seconds, self._tick)
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Send everything queued, let the child commit it, and wait for it to exit."""
        self._stop.set()
        if self._loop is not None:
            if self._timer is not None:
                self._timer.cancel()
            self._send_all(timeout)
        if self._flusher.is_alive():
            self._flusher.join(timeout)
        if self._loop is None:
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
            stdin.write(FRAME_HEADER.pack(len(payload)))
            stdin.write(payload)
            stdin.flush()
        except (OSError, ValueError):
            # The child is gone: the next pass restarts it and sends this batch again.
            self._unsent = batch

    # -- on the event loop ---------------------------------------------------------------

    def _tick(self) -> None:
        assert self._loop is not None
        child = self._child
        if child is not None and child.poll() is not None and not self._given_up:
            self._restart(child.returncode)
        self._queue_frame()
        self._timer = self._loop.call_later(self._batch_seconds, self._tick)

    def _queue_frame(self) -> None:
        """What the hooks queued since the last window, as one frame, and write what fits."""
        ops = self._ops
        if self._unsent or ops:
            batch = self._unsent + list(ops)
            ops.clear()
            self._unsent = []
            if self._given_up or self._child is None:
                return
            payload = pickle.dumps(batch, pickle.HIGHEST_PROTOCOL)
            frame = memoryview(FRAME_HEADER.pack(len(payload)) + payload)
            self._frames.append((batch, frame))
        if self._frames and self._waiting_fd is None:
            self._write_frames()

    def _write_frames(self) -> None:
        """Write queued frames without blocking; the rest waits until the pipe drains."""
        child = self._child
        stdin = child.stdin if child is not None else None
        frames = self._frames
        try:
            assert stdin is not None
            fd = stdin.fileno()
            while frames:
                batch, data = frames[0]
                try:
                    written = os.write(fd, data)
                except BlockingIOError:
                    written = 0
                if written < len(data):
                    frames[0] = (batch, data[written:])
                    self._watch(fd)
                    return
                frames.popleft()
        except (OSError, ValueError, AssertionError):
            # The child is gone: the next window restarts it and sends these again whole
            # (a frame it read only in part was never applied).
            self._take_back_frames()
        self._watch(None)

    def _watch(self, fd: int | None) -> None:
        loop = self._loop
        if loop is None or fd == self._waiting_fd:
            return
        if self._waiting_fd is not None:
            loop.remove_writer(self._waiting_fd)
        if fd is not None:
            loop.add_writer(fd, self._write_frames)
        self._waiting_fd = fd

    def _take_back_frames(self) -> None:
        self._unsent = [op for batch, _ in self._frames for op in batch] + self._unsent
        self._frames.clear()
        self._watch(None)

    def _send_all(self, timeout: float) -> None:
        """At close: write every frame, waiting for the pipe up to `timeout` seconds (a child
        that stopped reading must not hang the worker)."""
        self._watch(None)
        self._queue_frame()
        deadline = time.monotonic() + timeout
        while self._frames and self._child is not None and self._child.stdin is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                log.error(
                    "The recording process stopped reading; %d batches not sent.", len(self._frames)
                )
                break
            with contextlib.suppress(OSError, ValueError):
                select.select([], [self._child.stdin.fileno()], [], min(left, 0.5))
            self._write_frames()
            self._watch(None)

    def _restart(self, status: int | None) -> None:
        self._take_back_frames()
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
        self._frames.clear()
        self._watch(None)
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
        if self._loop is not None:
            os.set_blocking(child.stdin.fileno(), False)  # the loop must never wait on it
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
