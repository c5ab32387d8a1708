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

A child that falls behind (a slow disk, a stopped child) is not allowed to grow either side
without bound: the child stops reading while its own queue is full (relayscope.recording.child),
so the pipe fills and the backlog waits here, each frame kept once, as its pickled bytes.
Beyond `BACKLOG_BYTES` the frames go to a file beside the database (`relayscope.db-backlog`,
0600, removed when drained) and are written to the pipe from there, in order. If that file
cannot be written, the frames beyond the bound are dropped and the calls in them reported as
lost (the way the journal reports a full disk).

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
from relayscope.recording.ops import call_of
from relayscope.recording.writer import Op, Recording

log = logging.getLogger(__name__)

_OWN_GROUP: dict[str, Any] = {"process_group": 0} if os.name == "posix" else {}
_PIPE_BYTES = 1 << 20  # room for a few batches of a fast stream while the child commits
_MAX_DEATHS = 3  # within _DEATH_WINDOW seconds, then recording stops
_DEATH_WINDOW = 60.0
#: Frames waiting for the pipe kept in the worker's memory; beyond it they go to the backlog
#: file. 64 MiB is about 200,000 of the bench's stream chunks (~0.3 KiB each as a frame, with
#: the recording process stopped: docs/benchmarks.md, branch backlog7), and the same cap as
#: the journal's memory fallback.
BACKLOG_BYTES = 64 * 1024 * 1024
_REFILL_BYTES = 4 * 1024 * 1024  # read back from the backlog file at a time


def backlog_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + "-backlog")


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
        backlog_bytes: int = BACKLOG_BYTES,
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
        # With a loop: whole frames waiting for the pipe, oldest first (a frame is
        # self-contained: a new child can be sent the same bytes), and how much of the first
        # one the pipe took; newer frames beyond `backlog_bytes` wait in the backlog file.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._frames: collections.deque[bytes] = collections.deque()
        self._written = 0
        self.queued_bytes = 0  # the frames' bytes, held in memory
        self.backlog_bytes = backlog_bytes
        self._backlog = _BacklogFile(backlog_path(self.path))
        self._lost_calls: set[str] = set()  # dropped while the backlog file failed
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
        if ops:
            batch = list(ops)
            ops.clear()
            if self._given_up or self._child is None:
                return
            payload = pickle.dumps(batch, pickle.HIGHEST_PROTOCOL)
            frame = FRAME_HEADER.pack(len(payload)) + payload
            # Once frames were dropped, memory takes them again when half of it is free:
            # a call is not dropped and taken by turns.
            bound = self.backlog_bytes // 2 if self._lost_calls else self.backlog_bytes
            if self._backlog or self.queued_bytes + len(frame) > bound:
                self._to_backlog(batch, frame)  # behind the frames already there
            else:
                self._frames.append(frame)
                self.queued_bytes += len(frame)
                self._caught_up()
        if (self._frames or self._backlog) and self._waiting_fd is None:
            self._write_frames()

    def _to_backlog(self, batch: list[Op], frame: bytes) -> None:
        try:
            self._backlog.append(frame)
            return
        except OSError as exc:
            error = f"{self._backlog.path}: {exc.strerror or exc}"
        first = not self._lost_calls
        self._lost_calls.update(call_of(op) for op in batch)
        if first:
            self._report(
                f"Recording fell behind by more than {self.backlog_bytes / 2**20:g} MiB and "
                f"{error}; traffic still flows, but calls made until recording catches up "
                "are recorded incomplete or not at all."
            )

    def _caught_up(self) -> None:
        if self._lost_calls:
            lost, self._lost_calls = len(self._lost_calls), set()
            self._report(
                f"Recording caught up; {lost} calls made while it was behind are recorded "
                "incomplete or not at all."
            )

    def _write_frames(self) -> None:
        """Write queued frames without blocking; the rest waits until the pipe drains."""
        child = self._child
        stdin = child.stdin if child is not None else None
        frames = self._frames
        try:
            assert stdin is not None
            fd = stdin.fileno()
            while frames or self._refill():
                data = frames[0]
                with contextlib.suppress(BlockingIOError):
                    self._written += os.write(fd, memoryview(data)[self._written :])
                if self._written < len(data):
                    self._watch(fd)
                    return
                frames.popleft()
                self.queued_bytes -= len(data)
                self._written = 0
        except (OSError, ValueError, AssertionError):
            # The child is gone: the next window restarts it and sends these again whole
            # (a frame it read only in part was never applied).
            self._take_back_frames()
        self._watch(None)

    def _refill(self) -> bool:
        """Frames from the backlog file into memory (the pipe took all those before)."""
        if not self._backlog:
            return False
        try:
            for frame in self._backlog.take(min(_REFILL_BYTES, self.backlog_bytes)):
                self._frames.append(frame)
                self.queued_bytes += len(frame)
        except OSError as exc:  # the file we wrote cannot be read back: what is left is lost
            self._report(
                f"Recording fell behind and {self._backlog.path} cannot be read back "
                f"({exc.strerror or exc}); calls made meanwhile are recorded incomplete or "
                "not at all."
            )
            self._backlog.close()
        return bool(self._frames)

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
        self._written = 0  # the frame the dead child read in part goes to the next one whole
        self._watch(None)

    def _send_all(self, timeout: float) -> None:
        """At close: write every frame, waiting for the pipe up to `timeout` seconds (a child
        that stopped reading must not hang the worker)."""
        self._watch(None)
        self._queue_frame()
        deadline = time.monotonic() + timeout
        while (self._frames or self._backlog) and self._child is not None:
            if self._child.stdin is None:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                log.error(
                    "The recording process stopped reading; %d batches and %d bytes in %s "
                    "not sent.",
                    len(self._frames),
                    self._backlog.size(),
                    self._backlog.path,
                )
                break
            with contextlib.suppress(OSError, ValueError):
                select.select([], [self._child.stdin.fileno()], [], min(left, 0.5))
            self._write_frames()
            self._watch(None)
        self._backlog.close()

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
        self.queued_bytes = self._written = 0
        self._backlog.close()
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


class _BacklogFile:
    """Frames beyond the memory bound, in order: appended at the end, taken from the front.

    Opened when first needed and removed from the directory at once where the system allows
    (POSIX): it is held open, and nothing is left behind if the worker is killed. The file
    holds pickles for our own child only: it is never read by anything but this object.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._end = 0  # bytes written
        self._read = 0  # bytes taken back
        self._listed = False  # still in the directory (not POSIX): removed at close

    def __bool__(self) -> bool:
        return self._read < self._end

    def size(self) -> int:
        return self._end - self._read

    def append(self, frame: bytes) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                self.path.unlink()  # POSIX: gone once closed, even after a crash
            except OSError:
                self._listed = True
        written = 0
        try:
            while written < len(frame):
                written += os.pwrite(self._fd, memoryview(frame)[written:], self._end + written)
        except OSError:
            # Half a frame must never be sent: the next one is written over it.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._end)
            raise
        self._end += written

    def take(self, limit: int) -> list[bytes]:
        """The oldest frames, at least one and about `limit` bytes; the file is closed once
        everything was taken."""
        assert self._fd is not None
        frames: list[bytes] = []
        taken = 0
        while self._read < self._end and (not frames or taken < limit):
            (size,) = FRAME_HEADER.unpack(_pread(self._fd, FRAME_HEADER.size, self._read))
            frame = _pread(self._fd, FRAME_HEADER.size + size, self._read)
            frames.append(frame)
            self._read += len(frame)
            taken += len(frame)
        if self._read >= self._end:
            self.close()
        return frames

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            if self._listed:
                with contextlib.suppress(OSError):
                    self.path.unlink()
                self._listed = False
        self._end = self._read = 0


def _pread(fd: int, size: int, offset: int) -> bytes:
    parts: list[bytes] = []
    while size:
        data = os.pread(fd, size, offset)
        if not data:
            raise OSError(0, "the file is shorter than what was written to it")
        parts.append(data)
        size -= len(data)
        offset += len(data)
    return b"".join(parts)
