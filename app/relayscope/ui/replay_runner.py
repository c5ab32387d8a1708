"""Runs blocking core calls (send, compare, export, import) off the GUI thread; one-click replays.

`JobRunner` is the only way the windows run `app.core` work that blocks: each `Job` runs on
a thread of its own and reports back through Qt signals, which arrive on the GUI thread.
Jobs are kept alive by a registry emptied on the GUI thread, so a job is never destroyed by
its worker thread, and a window that closes cancels its jobs and disconnects from them
first, so nothing is ever delivered to a deleted widget.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

from relayscope.actions.replay import (
    ReplayError,
    ReplayEvent,
    ReplayRequest,
    ReplayResult,
    replay_request,
    send,
)
from relayscope.config import ConfigError, load_config
from relayscope.routing.routes import TOKEN_HEADER
from relayscope.store.call_store import CallStore
from relayscope.ui.inspector._format import ms

__all__ = [
    "Job",
    "JobRunner",
    "ReplayRunner",
    "configured_providers",
    "proxy_headers",
    "retry_message",
    "sleep_unless_cancelled",
]

Work = Callable[["Job"], object]
_STATUS_TEXT = {429: "Too Many Requests", 503: "Service Unavailable"}
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


# --- configuration --------------------------------------------------------------------------


def configured_providers(config_path: Path | None) -> list[str]:
    """The providers' names in the config file (empty if it cannot be read)."""
    try:
        return [p.name for p in load_config(config_path).providers]
    except ConfigError:
        return []


def proxy_headers(config_path: Path | None) -> list[tuple[str, str]]:
    """What a replay sends along to the proxy: its access token, when it has one."""
    try:
        token = load_config(config_path).proxy.access_token
    except ConfigError:
        return []
    return [(TOKEN_HEADER, token)] if token else []


def retry_message(result: ReplayResult) -> str:
    """`HTTP 429 Too Many Requests: the provider asks to wait 12 s before retrying.`"""
    status = result.status or 429
    reason = _STATUS_TEXT.get(status, "")
    wait = ms((result.retry_after or 0.0) * 1000)
    return f"HTTP {status} {reason}: the provider asks to wait {wait} before retrying.".replace(
        "  ", " "
    )


# --- one-click replays ----------------------------------------------------------------------


class ReplayRunner(QObject):
    """Replays recorded calls through the proxy in one click (the proxy records them).

    A 429 or 503 that says how long to wait (Retry-After) is offered a "Wait and retry":
    that waits as long as asked, then sends again as a new call (`wait_for_retry_after`).

    Signals:
        replay_started(str): a replay is being sent; its call id (known up front).
        replay_finished(object): a replay ended (its `ReplayResult`).
        message_posted(str, str): a sentence for the window's banner, and its kind
            (`error` or `warning`).
    """

    replay_started = Signal(str)
    replay_finished = Signal(object)
    message_posted = Signal(str, str)

    def __init__(self, store: CallStore, config_path: Path | None, parent: QWidget) -> None:
        super().__init__(parent)
        self._store = store
        self._config_path = config_path
        self._widget = parent
        self._base_url = ""
        self.runner = JobRunner(self)
        self.retry_box: QMessageBox | None = None

    def set_base_url(self, url: str) -> None:
        self._base_url = url

    def replay(self, call_id: str, provider: str | None = None) -> str | None:
        """Send the call again (to `provider`, or as it was routed); the new call's id."""
        call = self._store.get_call(call_id)
        if call is None:
            self.message_posted.emit(f"Call {call_id} is no longer in the database.", "error")
            return None
        if not self._base_url:
            self.message_posted.emit(
                "The proxy is not running, so nothing can be replayed; start it first.", "error"
            )
            return None
        try:
            request = replay_request(
                call, provider=provider or None, headers=proxy_headers(self._config_path)
            )
        except ReplayError as exc:
            self.message_posted.emit(str(exc), "error")
            return None
        self._send(request, wait=0.0)
        return request.call_id

    def shutdown(self) -> None:
        self.runner.shutdown()

    def _send(self, request: ReplayRequest, *, wait: float) -> None:
        work = send_work(request, self._base_url, wait=wait, on_event=_started)
        self.runner.start(
            work,
            on_event=self._on_job_event,
            on_success=lambda result: self._on_job_succeeded(request, result),
        )
        if not wait:
            self.replay_started.emit(request.call_id)

    def _on_job_event(self, event: ReplayEvent) -> None:
        if event.kind == "retry_wait":
            self.message_posted.emit(
                f"Waiting {ms((event.retry_after or 0) * 1000)} as the provider asked…", "warning"
            )

    def _on_job_succeeded(self, request: ReplayRequest, result: ReplayResult | None) -> None:
        if result is None:
            return
        self.replay_finished.emit(result)
        if result.cancelled:
            return
        if result.status in (429, 503) and result.retry_after is not None:
            self._offer_retry(request, result)
        elif not result.ok:
            self.message_posted.emit(
                f"Replay {result.call_id} failed: {result.error or f'HTTP {result.status}'}",
                "error",
            )

    def _offer_retry(self, request: ReplayRequest, result: ReplayResult) -> None:
        box = QMessageBox(self._widget)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Rate limited")
        box.setText(retry_message(result))
        box.setInformativeText(
            f"Call {result.call_id} was recorded with this answer. Wait and retry sends the "
            "request again, as a new call, once the wait is over."
        )
        retry = box.addButton("Wait and retry", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Close)
        box.setDefaultButton(retry)
        box.buttonClicked.connect(
            lambda button: self._on_retry_box_clicked(button, retry, request, result)
        )
        self.retry_box = box
        box.open()

    def _on_retry_box_clicked(
        self, button: object, retry: QPushButton, request: ReplayRequest, result: ReplayResult
    ) -> None:
        self.retry_box = None
        if button is not retry:
            return
        again = request.renewed()
        wait = result.retry_after or 0.0
        self.message_posted.emit(
            f"Waiting {ms(wait * 1000)}, then sending the request again as {again.call_id}…",
            "warning",
        )
        self.replay_started.emit(again.call_id)
        self._send(again, wait=max(wait, 0.001))


def _started(job: Job, event: ReplayEvent) -> None:
    # Only what the runner needs on the GUI thread: a stream's chunks are left out.
    if event.kind == "retry_wait":
        job.post(event)


def send_work(
    request: ReplayRequest,
    base_url: str,
    *,
    wait: float,
    on_event: Callable[[Job, ReplayEvent], None] | None = None,
) -> Callable[[Job], ReplayResult | None]:
    """The job that sends `request` (after waiting `wait` s for a Retry-After, if any);
    `on_event(job, event)` sees each event on the job's thread (default: post it)."""

    def work(job: Job) -> ReplayResult | None:
        if wait and not sleep_unless_cancelled(wait, job.cancel_event):
            return None
        report = (lambda event: on_event(job, event)) if on_event else job.post
        return send(
            request,
            base_url,
            on_event=report,
            cancel=job.cancel_event,
            wait_for_retry_after=wait > 0,
        )

    return work
