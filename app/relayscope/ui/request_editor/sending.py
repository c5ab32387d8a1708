"""The request editor's sending half: the job that sends a body through the proxy, the answer
pane it streams into, and the Send and Cancel buttons' state."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QComboBox, QLabel, QPlainTextEdit, QPushButton, QWidget

from relayscope.actions.replay import (
    JsonError,
    ReplayError,
    ReplayEvent,
    ReplayRequest,
    ReplayResult,
    new_request,
    replay_request,
)
from relayscope.calls.record import CallRecord
from relayscope.ui import theme
from relayscope.ui.inspector._format import count, ms
from relayscope.ui.jobs import Job, JobRunner
from relayscope.ui.replay_runner import proxy_headers, retry_message, send_work
from relayscope.ui.request_editor.json_editor import JsonEditor

SPACING = theme.SPACING
_STATUS_TEXT = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
_STATUS_TEXT |= {429: "Too Many Requests", 500: "Server Error", 502: "Bad Gateway"}
_STATUS_TEXT |= {503: "Service Unavailable"}


class RequestSender(QWidget):
    """What `RequestEditor` builds on to send: `send`, `cancel`, `wait_and_retry`, the job's
    events shown in the answer pane (`_build_response`), and the signals (see RequestEditor).
    The editor form sets the attributes declared here."""

    call_sent = Signal(str)
    call_finished = Signal(object)
    call_link_activated = Signal(str)

    # Set by RequestEditor.
    _config_path: Path | None
    _base_url: str
    _call: CallRecord | None
    _path: str | None
    _job: Job | None
    _last: tuple[ReplayRequest, ReplayResult] | None
    _started: float
    _clock: QTimer
    runner: JobRunner
    provider: QComboBox
    json_editor: JsonEditor
    send_button: QPushButton
    cancel_button: QPushButton

    def _build_response(self) -> None:
        self.status = QLabel("Not sent yet.", self)
        self.status.setFont(theme.scaled_font(self.font(), 1.15, bold=True))
        self.timing = QLabel(self)
        self.call_link = QLabel(self)
        self.call_link.setTextFormat(Qt.TextFormat.RichText)
        self.call_link.linkActivated.connect(self.call_link_activated)
        self.retry_button = QPushButton("Wait and retry", self)
        self.retry_button.hide()
        self.answer = QPlainTextEdit(self)
        self.answer.setReadOnly(True)
        self.answer.setPlaceholderText("The answer streams in here.")
        self.answer.document().setDocumentMargin(SPACING)

    # -- public API ---------------------------------------------------------------------

    def body_text(self) -> str:
        return self.json_editor.toPlainText()

    def is_sending(self) -> bool:
        return self._job is not None

    def send(self) -> str | None:
        """Send the body through the proxy; the new call's id (None if it cannot be sent)."""
        body = self.json_editor.validate_now()
        if isinstance(body, JsonError) or self._job is not None or not self._base_url:
            self._update_send()
            return None
        raw = self.body_text().encode()
        provider = str(self.provider.currentData() or "") or None
        headers = proxy_headers(self._config_path)
        try:
            if self._call is not None:
                request = replay_request(self._call, provider=provider, body=raw, headers=headers)
            else:
                request = new_request(raw, path=self._path, provider=provider, headers=headers)
        except ReplayError as exc:
            self._show_failure(str(exc))
            return None
        self._start(request, wait=0.0)
        return request.call_id

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.status.setText("Cancelling…")

    def wait_and_retry(self) -> str | None:
        """After a 429/503: wait the Retry-After the provider gave, then send again."""
        if self._last is None or self._job is not None:
            return None
        request, result = self._last
        again = request.renewed()
        self._start(again, wait=max(result.retry_after or 0.0, 0.001))
        return again.call_id

    # -- sending ------------------------------------------------------------------------

    def _start(self, request: ReplayRequest, *, wait: float) -> None:
        work = send_work(request, self._base_url, wait=wait)
        self.answer.clear()
        self.retry_button.hide()
        self._started = time.monotonic()
        self.status.setText(f"Waiting {ms(wait * 1000)} (Retry-After)…" if wait else "Sending…")
        self._colour_status(theme.ACCENT)
        self.timing.setText("")
        self._show_link(request.call_id)
        self._job = self.runner.start(
            work,
            on_event=self._on_job_event,
            on_success=lambda result: self._on_job_succeeded(request, result),
            on_failure=lambda exc: self._show_failure(f"Sending failed: {exc}"),
            on_end=self._on_job_ended,
        )
        self._clock.start()
        self._update_send()
        self.call_sent.emit(request.call_id)

    def _on_job_event(self, event: ReplayEvent) -> None:
        if event.kind == "response":
            self.status.setText(f"{event.status} {_STATUS_TEXT.get(event.status or 0, '')}…")
        elif event.kind in ("chunk", "body") and event.text:
            cursor = self.answer.textCursor()
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.insertText(event.text)
            if not self.answer.verticalScrollBar().isSliderDown():
                self.answer.verticalScrollBar().setValue(self.answer.verticalScrollBar().maximum())
        elif event.kind == "retry_wait":
            self.status.setText(f"Waiting {ms((event.retry_after or 0) * 1000)} (Retry-After)…")
        if event.call_id:
            self._show_link(event.call_id)

    def _on_job_succeeded(self, request: ReplayRequest, result: ReplayResult | None) -> None:
        if result is None:
            self.status.setText("Cancelled before sending.")
            self._colour_status(theme.MUTED)
            return
        self._last = (request, result)
        self._show_link(result.call_id)
        if result.cancelled:
            self.status.setText("Cancelled")
            self._colour_status(theme.WARNING)
        elif result.status is None:
            self.status.setText("No answer")
            self._colour_status(theme.ERROR)
        else:
            reason = _STATUS_TEXT.get(result.status, "")
            self.status.setText(f"{result.status} {reason}".strip())
            self._colour_status(theme.OK if result.ok else theme.ERROR)
        self.timing.setText(self._timing_text(result))
        if result.error and not result.output_text:
            self.answer.setPlainText(result.error)
        if result.status in (429, 503) and result.retry_after is not None:
            self.retry_button.setToolTip(retry_message(result))
            self.retry_button.setText(f"Wait {ms(result.retry_after * 1000)} and retry")
            self.retry_button.show()
        self.call_finished.emit(result)

    def _timing_text(self, result: ReplayResult) -> str:
        parts = [f"TTFT {ms(result.ttft_ms)}", f"Total {ms(result.elapsed_ms)}"]
        usage = result.answer.usage
        if usage is not None and usage.completion_tokens is not None:
            parts.append(f"{count(usage.prompt_tokens)} in / {count(usage.completion_tokens)} out")
        return "    ".join(parts)

    def _on_job_ended(self) -> None:
        self._job = None
        self._clock.stop()
        self._update_send()

    def _show_elapsed(self) -> None:
        if self._job is not None:
            self.timing.setText(f"{ms((time.monotonic() - self._started) * 1000)} …")

    def _show_failure(self, text: str) -> None:
        self.status.setText("Not sent")
        self._colour_status(theme.ERROR)
        self.answer.setPlainText(text)

    def _show_link(self, call_id: str) -> None:
        link = theme.colour(theme.ACCENT).name()
        self.call_link.setText(f'Call <a style="color:{link}" href="{call_id}">{call_id}</a>')

    def _colour_status(self, name: str) -> None:
        self.status.setStyleSheet(f"color: {theme.colour(name).name()};")

    def _update_send(self) -> None:
        valid = self.json_editor.error() is None
        sending = self._job is not None
        self.send_button.setEnabled(valid and not sending and bool(self._base_url))
        self.cancel_button.setEnabled(sending)
        if not self._base_url:
            self.send_button.setToolTip("The proxy is not running; start it to send.")
        elif not valid:
            self.send_button.setToolTip("Fix the JSON first (see the message under the body).")
        else:
            self.send_button.setToolTip("Send through Relayscope (Ctrl+Enter)")
