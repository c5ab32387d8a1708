"""One-click replays (`ReplayRunner`) and what replays share: the proxy's headers, the
configured providers, retry messages. Jobs themselves are `relayscope.ui.jobs`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
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
from relayscope.ui.jobs import Job, JobRunner, sleep_unless_cancelled

__all__ = [
    "ReplayRunner",
    "configured_providers",
    "proxy_headers",
    "retry_message",
    "send_work",
]

_STATUS_TEXT = {429: "Too Many Requests", 503: "Service Unavailable"}


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
