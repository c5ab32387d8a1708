"""RecordingWriter: the one thread that writes recordings, in batched WAL transactions.

The proxy's hooks never touch SQLite: they hand small tuples to `RecordingWriter`, which
commits at most every `batch_seconds` (so chunks become visible within ~50 ms), assembles
stream output off the event loop, and reports each commit as NDJSON-ready event dicts.

The module keeps the thread, the queue and what happens when the database fails (the
journal); what the ops write is `relayscope.recording.apply`, the op tuples are
`relayscope.recording.ops`, the connection `relayscope.recording.database`.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from relayscope.recording.apply import LIVE_PROFILE_SECONDS, Applier
from relayscope.recording.database import connect, interrupt_leftovers
from relayscope.recording.journal import Journal, journal_path
from relayscope.recording.ops import Event, Op, Recording

# Imported from here by the proxy, the recording process and the tools.
__all__ = [
    "LIVE_PROFILE_SECONDS",
    "Event",
    "Op",
    "Recording",
    "RecordingWriter",
    "prepare_database",
]

log = logging.getLogger(__name__)

_STOP = object()
#: How often writing to a failed database is tried again.
RETRY_SECONDS = 1.0


def prepare_database(path: Path | str) -> int:
    """Create or migrate the database and mark what a killed run left unfinished as
    interrupted; returns how many calls that was. Raises StoreError with the reason."""
    from relayscope.store.call_store import StoreError, open_database  # sqlite-utils: only here

    db = open_database(path)
    try:
        # Calls an earlier run could not save (a storage outage) go in first, so that those
        # it left unfinished are marked like any other.
        writer = RecordingWriter(path, migrate=False)
        try:
            writer.replay_journal()  # if the database still fails, the journal stays
        finally:
            writer.close()
        return interrupt_leftovers(db.conn)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot write to the recording database ({exc}).") from exc
    finally:
        db.conn.close()


class RecordingWriter(Recording):
    """Owns the write connection. Thread-safe `start`/`chunk`/`finish`/`update` calls."""

    def __init__(
        self,
        path: Path | str,
        *,
        on_commit: Callable[[list[Event]], None] | None = None,
        on_error: Callable[[str | None], None] | None = None,
        batch_seconds: float = 0.02,
        migrate: bool = True,
    ) -> None:
        """`migrate=False`: the database exists and is up to date (the recording process)."""
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        if migrate:
            from relayscope.store.call_store import open_database

            self._conn = open_database(self.path).conn
        else:
            # Connected on first use: the recording process must start (and keep what it is
            # sent in its journal) even when the disk is already full.
            with contextlib.suppress(sqlite3.Error):
                self._conn = connect(self.path)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._put = self._queue.put  # the Recording calls, from any thread
        self._on_commit = on_commit
        self._on_error = on_error
        self._batch_seconds = batch_seconds
        self._applier = Applier(lambda: self.conn)
        self._failing: str | None = None
        self._failing_reason = ""
        # Ops the database would not take, in order (relayscope.recording.journal). Ops are
        # idempotent (INSERT OR REPLACE / UPDATE; live state is dropped only after a
        # successful commit), so writing them back again after a crash is harmless.
        self.journal = Journal(journal_path(self.path))
        self._last_try = 0.0
        self.unsaved_at_exit = 0
        self._thread = threading.Thread(target=self._run, name="relayscope-writer", daemon=True)

    @property
    def conn(self) -> sqlite3.Connection:
        """The write connection, opened again if it could not be (raises sqlite3.Error)."""
        if self._conn is None:
            self._conn = connect(self.path)
        return self._conn

    def submit(self, ops: list[Op]) -> None:
        """Queue ops made by another process's `RecordingProcess` (relayscope.recording.process).

        One put per op: measured on a 20,000-chunk stream (bench/recorder_bench.py) this
        costs about 1 % of the writer's CPU per chunk, so batches are not queued whole.
        """
        for op in ops:
            self._queue.put(op)

    def queued(self) -> int:
        """Ops submitted and not yet taken by the writer thread (approximate)."""
        return self._queue.qsize()

    def open(self, *, interrupt_leftovers: bool = True) -> RecordingWriter:
        if interrupt_leftovers:
            self.mark_leftovers_interrupted()
        self._thread.start()
        return self

    def close(self, timeout: float | None = None) -> None:
        """Flush everything queued so far and stop the thread.

        Waits for the thread: it always ends (each batch commits or, the database failing,
        goes to the journal, which is kept in its file at the end). With `timeout`, stops
        waiting after that long and leaves the connection to the thread, which goes on
        writing: closing it under the thread lost what it held, or crashed the process."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning(
                    "Recording is still writing about %d queued operations to %s.",
                    self.queued(),
                    self.path,
                )
                return
        if self._conn is not None:
            self._conn.close()

    def mark_leftovers_interrupted(self) -> int:
        """Calls a killed worker left pending/streaming: interrupted, with their chunk counts."""
        return interrupt_leftovers(self.conn)

    # -- the writer thread ------------------------------------------------------------

    def _run(self) -> None:
        pending: list[Any] = []
        stopping = False
        while True:
            if not stopping:
                try:
                    # With unsaved ops waiting, wake up to write them back even if nothing new
                    # comes.
                    op = self._queue.get(timeout=RETRY_SECONDS if self.journal else None)
                except queue.Empty:
                    op = None
                if op is _STOP:
                    stopping = True
                elif op is not None:
                    pending.append(op)
                    stopping = self._gather(pending)
            if pending:
                self._write(pending)
                pending = []
            elif self.journal:
                self._replay()
            if stopping:
                self._finish_journal()
                return

    def _write(self, ops: list[Any]) -> None:
        """Commit `ops`, or during an outage add them to the journal (behind what is there)."""
        ops = self._applier.split_raw(ops)  # once: what the journal keeps is already split
        if self.journal:
            self.journal.append(ops)
            if not self._replay():
                self._report_journal()  # says so if the journal itself now fails
        elif not self._commit(ops):
            self.journal.append(ops)
            self._last_try = time.monotonic()
            self._report_journal()

    def _replay(self, *, now: bool = False) -> bool:
        """Write the journal back in bounded batches (at most every RETRY_SECONDS); True
        once it is empty."""
        if not now and time.monotonic() - self._last_try < RETRY_SECONDS:
            return False
        self._last_try = time.monotonic()
        for batch in self.journal.batches():
            if not self._commit(batch):
                return False
        self.journal.done()
        log.info("The database takes recordings again; the unsaved calls were written.")
        self._failing = None
        if self._on_error:
            self._on_error(None)
        return True

    def replay_journal(self) -> bool:
        """At start, before anything else is written: calls an earlier run could not save."""
        if not self.journal:
            return True
        calls = self.journal.calls()
        if self._replay(now=True):
            log.warning("Wrote %d calls saved in %s by an earlier run.", calls, self.journal.path)
            return True
        return False

    def _report_journal(self) -> None:
        journal = self.journal
        if journal.file_error is not None:
            message = (
                f"Recording to {self.path} failed ({self._failing_reason}) and so did "
                f"{journal.file_error}; traffic still flows, retrying. Calls are kept in "
                "memory meanwhile."
            )
            if journal.lost_calls:
                message += f" {len(journal.lost_calls)} calls did not fit and are lost."
        else:
            message = (
                f"Recording to {self.path} failed ({self._failing_reason}); traffic still "
                f"flows, retrying. Calls are kept in {journal.path} meanwhile and written to "
                "the database once it takes them again."
            )
        if self._failing != message:
            self._failing = message
            log.error("%s", message)
            if self._on_error:
                self._on_error(message)

    def _finish_journal(self) -> None:
        """At exit: write the journal back if the database takes it now, else keep it (in
        the file, replayed at the next start) and say how many calls wait there."""
        if not self.journal:
            return
        # One more try, waiting less for a lock: the batch that failed just before may have
        # waited out the whole busy_timeout already, and the exit must not be killed.
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("PRAGMA busy_timeout=1000")
        if self._replay(now=True):
            return
        self.journal.keep_memory_in_file()
        calls = self.journal.calls()
        if self.journal.file_error is not None:
            message = (
                f"{calls} calls could not be saved: the database and {self.journal.file_error} "
                "cannot be written; they are lost."
            )
        else:
            message = (
                f"{calls} calls could not be written to {self.path}; they are kept in "
                f"{self.journal.path} and will be written at the next start."
            )
        if self.journal.lost_calls:
            message += f" {len(self.journal.lost_calls)} more were lost (no room left)."
        self.unsaved_at_exit = calls
        log.error("%s", message)
        if self._on_error:
            self._on_error(message)

    def _gather(self, pending: list[Any]) -> bool:
        """Collect what arrives within one batch window; True if asked to stop.

        One sleep, then one drain: waking for every queued chunk would take the GIL from the
        proxy's event loop once per chunk, which cost more than writing the chunks.
        """
        time.sleep(self._batch_seconds)
        while True:
            try:
                op = self._queue.get_nowait()
            except queue.Empty:
                return False
            if op is _STOP:
                return True
            pending.append(op)

    def _commit(self, ops: list[Any]) -> bool:
        """Write `ops` (already split) in one transaction; False if the database failed."""
        try:
            with self.conn:
                events = self._applier.apply(ops)
        except sqlite3.Error as exc:
            self._failing_reason = str(exc)
            self._applier.failed()
            return False
        if self._failing is not None and not self.journal:
            self._failing = None
            if self._on_error:
                self._on_error(None)
        self._applier.committed(events)
        if self._on_commit and events:
            self._on_commit(events)
        return True
