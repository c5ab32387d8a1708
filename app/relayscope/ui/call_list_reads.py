"""The call list's reads off the GUI thread: a page for a new filter or sort, and the counts.

At a million calls a filtered page takes tens of milliseconds and a count up to seconds;
either would freeze typing on the GUI thread. Each runs as a `Job` (ui/jobs.py, the app's one
background mechanism) on a `CallReader`: a read-only connection of its own, one for pages and
one for counts, so a slow count never holds up the next keystroke's page. Every read carries
a generation: a newer request stops the older read inside SQLite, and a result that still
arrives late is dropped, so an older keystroke's page never replaces a newer one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject

from relayscope.store.call_reader import CallReader, ReadCancelled
from relayscope.store.call_store import READ_ERRORS, CallFilter, CallStore
from relayscope.ui.call_rows import SQL_COLUMNS
from relayscope.ui.jobs import Job, JobRunner

#: What a count job answers: calls matching the filter, calls recorded in all.
Counts = tuple[int, int]


class ListReads(QObject):
    """Pages and counts for one `CallListModel`; callbacks run on the GUI thread."""

    def __init__(self, store: CallStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._runner = JobRunner(self)
        self._readers: dict[str, CallReader] = {}
        self._generations = {"page": 0, "count": 0}
        self._jobs: dict[str, Job | None] = {"page": None, "count": None}

    def read_page(
        self,
        flt: CallFilter,
        order: tuple[str, bool],
        limit: int,
        on_page: Callable[[list[dict[str, Any]]], None],
        on_failure: Callable[[], None],
    ) -> None:
        """Read the first `limit` rows of `flt` in `order`; `on_page(rows)` unless a newer
        page was asked for meanwhile (then nothing is called for this one)."""
        reader = self._reader("page")
        order_by, descending = order

        def work(job: Job) -> list[dict[str, Any]]:
            return reader.page(
                flt,
                SQL_COLUMNS,
                order_by=order_by,
                descending=descending,
                limit=limit,
                cancelled=job.cancel_event.is_set,
            )

        self._start("page", work, on_page, on_failure)

    def read_counts(self, flt: CallFilter, on_counts: Callable[[Counts], None]) -> None:
        """Count the calls `flt` keeps and all calls; `on_counts((shown, total))` unless a
        newer count was asked for. A count that fails reports -1 (unknown) for both."""
        reader = self._reader("count")
        empty = flt == CallFilter()

        def work(job: Job) -> Counts:
            total = reader.count(cancelled=job.cancel_event.is_set)
            shown = total if empty else reader.count(flt, cancelled=job.cancel_event.is_set)
            return shown, total

        self._start("count", work, on_counts, lambda: on_counts((-1, -1)))

    def pending(self, kind: str) -> bool:
        job = self._jobs[kind]
        return job is not None and job.is_running()

    def wait(self, kind: str, timeout: float = 5.0) -> None:
        """Block until the running `kind` read ("page" or "count") is done and deliver its
        result now (tests and benchmarks; the app never waits)."""
        job = self._jobs[kind]
        if job is not None and job.wait(timeout):
            # The job's result is a queued signal to the job object: deliver just that.
            QCoreApplication.sendPostedEvents(job, int(QEvent.Type.MetaCall))

    def close(self) -> None:
        """Stop every read and close the connections (the model is going away)."""
        for job in self._jobs.values():
            if job is not None:
                job.cancel()
        self._runner.shutdown()
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()

    def _reader(self, kind: str) -> CallReader:
        reader = self._readers.get(kind)
        if reader is None:
            reader = self._readers[kind] = self._store.reader()
        return reader

    def _start(
        self,
        kind: str,
        work: Callable[[Job], Any],
        on_result: Callable[[Any], None],
        on_failure: Callable[[], None],
    ) -> None:
        self._generations[kind] += 1
        generation = self._generations[kind]
        if (old := self._jobs[kind]) is not None:
            old.cancel()  # its read stops inside SQLite; the new one waits for the lock

        def current() -> bool:
            return generation == self._generations[kind]

        def succeeded(value: object) -> None:
            if current():
                on_result(value)

        def failed(exc: Exception) -> None:
            if current() and not isinstance(exc, ReadCancelled):
                if not isinstance(exc, READ_ERRORS):
                    raise exc
                on_failure()

        self._jobs[kind] = self._runner.start(work, on_success=succeeded, on_failure=failed)
