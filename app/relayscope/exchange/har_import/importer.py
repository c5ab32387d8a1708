"""The import itself: entries through a RecordingWriter of its own, already-recorded calls
skipped, progress and cancelling."""

from __future__ import annotations

import binascii
import threading
from pathlib import Path
from typing import Any

from relayscope.exchange.export import ProgressCallback
from relayscope.exchange.har_import.mapping import call_from_entry
from relayscope.exchange.har_import.reading import is_api_entry, load_entries
from relayscope.exchange.har_import.results import (
    ALREADY,
    NOT_API,
    UNREADABLE,
    HarImportError,
    ImportResult,
)
from relayscope.recording.writer import RecordingWriter
from relayscope.store.call_store import CallStore


class ImportWriter(RecordingWriter):
    """The recording writer without the start-up sweep.

    A proxy may be recording into the same database right now: its calls in flight are not
    leftovers of a killed worker, so they must not be marked interrupted.
    """

    def mark_leftovers_interrupted(self) -> int:
        return 0


def import_har(
    path: Path | str,
    db_path: Path | str,
    *,
    all_entries: bool = False,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> ImportResult:
    """Import the OpenAI-format calls of a HAR file (every entry with `all_entries`).

    Calls imported before a cancel stay; the result says `cancelled`.
    """
    entries = load_entries(path)
    importer = _Importer(db_path, ImportResult(total=len(entries)))
    try:
        step = max(1, len(entries) // 1000)
        for done, entry in enumerate(entries, 1):
            if cancel is not None and cancel.is_set():
                importer.result.cancelled = True
                break
            if all_entries or is_api_entry(entry):
                importer.add(entry)
            else:
                importer.result.skip(NOT_API)
            if on_progress and (done % step == 0 or done == len(entries)):
                on_progress(done, len(entries))
    finally:
        importer.close()
    return importer.result


class _Importer:
    """Feeds calls to the writer, a few hundred ahead of what it has committed at most.

    The pacing keeps each write transaction small, so a proxy recording into the same
    database never waits long for the lock, and a big HAR is not queued whole in memory.
    """

    AHEAD = 200  # calls handed to the writer and not yet committed
    PATIENCE = 10.0  # seconds to wait for the writer before queueing more anyway

    def __init__(self, db_path: Path | str, result: ImportResult) -> None:
        self.result = result
        self.seen: set[str] = set()
        self.failures: list[str | None] = []
        self.committed = 0
        self.changed = threading.Condition()
        self.store = CallStore(db_path)
        self.writer = ImportWriter(
            db_path, on_commit=self._on_commit, on_error=self.failures.append
        ).open()

    def add(self, entry: dict[str, Any]) -> None:
        try:
            call = call_from_entry(entry)
        except (TypeError, ValueError, binascii.Error):
            self.result.skip(UNREADABLE)
            return
        if call.id in self.seen or self.store.get_call(call.id) is not None:
            self.result.skip(ALREADY)
            return
        self.seen.add(call.id)
        with self.changed:
            self.changed.wait_for(
                lambda: self.result.imported - self.committed < self.AHEAD, self.PATIENCE
            )
        writer = self.writer
        writer.start(call.start)
        for seq, c in enumerate(call.chunks):
            writer.chunk(call.id, seq, c.t_ms, c.raw, c.data, c.event, c.direction)
        writer.finish(call.id, call.finish)
        self.result.imported += 1
        self.result.ids.append(call.id)

    def close(self) -> None:
        self.writer.close()
        self.store.close()
        if self.failures and self.failures[-1] is not None:
            raise HarImportError(self.failures[-1])

    def _on_commit(self, events: list[dict[str, Any]]) -> None:
        finished = sum(1 for event in events if event["event"] == "call_finished")
        with self.changed:
            self.committed += finished
            self.changed.notify_all()
