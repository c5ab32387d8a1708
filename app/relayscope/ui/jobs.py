"""Background jobs for the windows: the one way the app runs blocking work off the GUI thread.

`JobRunner` runs each `Job` on a thread of its own and reports back through Qt signals, which
arrive on the GUI thread. Jobs are kept alive by a registry emptied on the GUI thread, so a
job is never destroyed by its worker thread, and a window that closes cancels its jobs and
disconnects from them first, so nothing is ever delivered to a deleted widget. Replays,
comparisons, exports, imports, sessions, sharing, provider checks, diagnostics and the demo
buttons all go through it.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

__all__ = ["Job", "JobRunner", "Work", "sleep_unless_cancelled"]

Work = Callable[["Job"], object]
#: How soon the registry looks again for a job whose thread is still finishing.
_SWEEP_MS = 20


class Job(QObject):
    """One blocking call on a thread of its own.

    The work gets the job: it reports progress with `post(value)` and stops early once
    `cancel_event` is set. The callbacks given to `JobRunner.start` run on the GUI thread,
    in order: every posted value, then the result or the exception, then the end. Once the
    job is `detach`ed (its window closed) none of them runs any more.
    """

    _posted = Signal(object)
    _returned = Signal(object)
    _raised = Signal(object)

    def __init__(
        self,
        work: Work,
        on_event: Callable[[Any], None] | None = None,
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[Exception], None] | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()  # no parent: the registry owns it until its thread is gone
        self.cancel_event = threading.Event()
        self.ended = False
        self._work = work
        self._callbacks = (on_event, on_success, on_failure, on_end)
        self._thread = threading.Thread(target=self._run, name="relayscope-job", daemon=True)
        # Connected to the job's own slots: the job lives on the GUI thread, so a value
        # emitted on the worker thread is queued to the GUI thread.
        self._posted.connect(self._on_posted)
        self._returned.connect(self._on_returned)
        self._raised.connect(self._on_raised)

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def cancel(self) -> None:
        self.cancel_event.set()

    def detach(self) -> None:
        """Never call the callbacks again (their widget is closing)."""
        self._callbacks = (None, None, None, None)

    def post(self, value: object) -> None:
        """Report `value` to the GUI thread (called by the work, on the job's thread)."""
        self._posted.emit(value)

    def is_running(self) -> bool:
        return not self.ended

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the work has returned; False if it is still running after `timeout`."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def start(self) -> None:
        _REGISTRY.add(self)
        self._thread.start()

    def _run(self) -> None:
        try:
            value = self._work(self)
        except Exception as exc:  # handed to the window, which words it for a person
            self._raised.emit(exc)
        else:
            self._returned.emit(value)

    def _on_posted(self, value: object) -> None:
        if (callback := self._callbacks[0]) is not None:
            callback(value)

    def _on_returned(self, value: object) -> None:
        self.ended = True
        if (callback := self._callbacks[1]) is not None:
            callback(value)
        self._end()

    def _on_raised(self, exc: Exception) -> None:
        self.ended = True
        if (callback := self._callbacks[2]) is not None:
            callback(exc)
        self._end()

    def _end(self) -> None:
        if (callback := self._callbacks[3]) is not None:
            callback()
        _REGISTRY.sweep()


class _Registry:
    """Holds every job until its thread is gone, so a job is destroyed on the GUI thread."""

    def __init__(self) -> None:
        self._jobs: set[Job] = set()

    def add(self, job: Job) -> None:
        self._jobs.add(job)

    def sweep(self) -> None:
        self._jobs = {job for job in self._jobs if not (job.ended and job.wait(0))}
        if any(job.ended for job in self._jobs):
            QTimer.singleShot(_SWEEP_MS, self.sweep)

    def __len__(self) -> int:
        return len(self._jobs)


_REGISTRY = _Registry()


class JobRunner(QObject):
    """Starts jobs for the widget that owns it; `shutdown()` when that widget closes."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: list[Job] = []
        # Should the owner be deleted without a shutdown, its jobs stop calling it.
        self.destroyed.connect(functools.partial(_detach_all, self._jobs))

    def start(
        self,
        work: Work,
        *,
        on_event: Callable[[Any], None] | None = None,
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[Exception], None] | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> Job:
        """Run `work(job)` on a new thread; the callbacks run on the GUI thread."""
        job = Job(work, on_event, on_success, on_failure, on_end)
        self._jobs[:] = [j for j in self._jobs if j.is_running()]
        self._jobs.append(job)
        job.start()
        return job

    def busy(self) -> bool:
        return any(job.is_running() for job in self._jobs)

    def cancel_all(self) -> None:
        for job in self._jobs:
            job.cancel()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel every job, stop listening to them, and give them `timeout` s to end."""
        jobs = list(self._jobs)
        self._jobs.clear()
        _detach_all(jobs)
        deadline = time.monotonic() + timeout
        for job in jobs:
            job.wait(max(0.0, deadline - time.monotonic()))


def _detach_all(jobs: list[Job], *_: object) -> None:
    for job in jobs:
        job.cancel()
        job.detach()


def sleep_unless_cancelled(seconds: float, cancel: threading.Event) -> bool:
    """Wait `seconds` on a job's thread; False if the job was cancelled meanwhile."""
    return not cancel.wait(seconds)
