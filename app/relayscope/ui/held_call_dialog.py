"""HeldCallDialog: a call held at a breakpoint — edit its JSON, continue it, or fail it — and
HeldCalls, which shows the held calls one at a time while the others wait in line."""

from __future__ import annotations

import json
import time
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QColor, QShowEvent, QTextCursor, QTextFormat
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from relayscope.recording.messages import Command, FailCommand, ResumeCommand
from relayscope.ui import theme
from relayscope.ui.inspector.json_highlighter import JsonHighlighter
from relayscope.ui.plain_text import plain_label

#: The person is "you" in the call's quirks ("request edited by you").
DECIDED_BY = "you"
FAIL_STATUSES = (400, 401, 403, 429, 500, 503)
#: The body is checked once typing pauses this long (a Codex body can be a megabyte).
VALIDATE_AFTER_MS = 200
#: Bodies above this are not colour-highlighted (highlighting is per line, all at once).
HIGHLIGHT_LIMIT = 1024 * 1024
#: Below this many seconds left, the countdown turns amber.
HURRY_SECONDS = 30


def _pretty(body: str) -> tuple[str, Any]:
    """The body pretty-printed if it is JSON (and the parsed value), else as it came."""
    try:
        value = json.loads(body)
    except ValueError:
        return body, None
    return json.dumps(value, indent=2, ensure_ascii=False), value


def _countdown(seconds: float) -> str:
    minutes, rest = divmod(max(0, round(seconds)), 60)
    return f"{minutes}:{rest:02d}"


class HeldCallDialog(QDialog):
    """One held call (a worker `call_held` event): its body in an editor checked as you type.

    Continue sends the edited body (or none, if it means the same JSON); Continue unchanged
    ignores the edits; Fail answers the client with the chosen status and message. The
    countdown shows when the worker will let the call go on its own.

    Signals:
        decided(dict): the worker command to send (`resume` or `fail`, by "you").
    """

    decided = Signal(dict)

    def __init__(self, event: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.held_event = event
        self.call_id = str(event.get("id", ""))
        self.stage = str(event.get("stage") or "request")
        self._timeout = float(event.get("timeout") or 300.0)
        self._held_since = time.monotonic()
        text, self._original = _pretty(str(event.get("body") or ""))
        self._error_line = -1
        self.setModal(False)
        self.setWindowTitle(self._title())
        self.heading = plain_label(QLabel(self._heading(), self))
        self.heading.setFont(theme.scaled_font(self.font(), 1.15, bold=True))
        self.facts = plain_label(QLabel(self._facts(), self))  # the client's model name
        self.facts.setEnabled(False)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.countdown = QLabel(self)
        self.countdown.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.editor = self._editor(text)
        self.validation = QLabel(self)
        self.validation.setTextFormat(Qt.TextFormat.RichText)
        self.validation.linkActivated.connect(self._on_validation_link_activated)
        self.continue_button = QPushButton("Continue", self)
        self.continue_button.setDefault(True)
        self.continue_button.setToolTip("Let the call go on with the body as edited here")
        self.unchanged_button = QPushButton("Continue unchanged", self)
        self.unchanged_button.setToolTip("Let the call go on as it came, ignoring any edits")
        self.status = QComboBox(self)
        for status in FAIL_STATUSES:
            self.status.addItem(str(status), status)
        self.status.setCurrentIndex(FAIL_STATUSES.index(500))
        self.status.setToolTip("The HTTP status the client gets")
        self.message = QLineEdit(self)
        self.message.setPlaceholderText("Stopped at a Relayscope breakpoint.")
        self.message.setToolTip("The error message the client gets")
        self.fail_button = QPushButton("Fail", self)
        self.fail_button.setToolTip("Answer the client with this error instead")
        self._layout()
        self._validate_timer = QTimer(self)
        self._validate_timer.setSingleShot(True)
        self._validate_timer.setInterval(VALIDATE_AFTER_MS)
        self._validate_timer.timeout.connect(self.validate)
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._update_countdown)
        self.editor.textChanged.connect(self._validate_timer.start)
        self.continue_button.clicked.connect(self.continue_edited)
        self.unchanged_button.clicked.connect(self.continue_unchanged)
        self.fail_button.clicked.connect(self.fail)
        self._update_countdown()
        self.validate()
        self.resize(960, 640)

    def _editor(self, text: str) -> QPlainTextEdit:
        editor = QPlainTextEdit(self)
        editor.setFont(theme.monospace_font())
        editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        editor.setTabChangesFocus(False)
        editor.setPlainText(text)
        if self._original is not None and len(text) <= HIGHLIGHT_LIMIT:
            self._highlighter = JsonHighlighter(editor.document(), self.palette())
        return editor

    def _layout(self) -> None:
        top = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(theme.SPACING // 2)
        titles.addWidget(self.heading)
        titles.addWidget(self.facts)
        top.addLayout(titles, 1)
        top.addWidget(self.countdown)
        actions = QHBoxLayout()
        actions.setSpacing(theme.SPACING)
        actions.addWidget(self.continue_button)
        actions.addWidget(self.unchanged_button)
        actions.addStretch(1)
        actions.addWidget(QLabel("or fail it with", self))
        actions.addWidget(self.status)
        actions.addWidget(self.message, 1)
        actions.addWidget(self.fail_button)
        layout = QVBoxLayout(self)
        margin = 2 * theme.SPACING
        layout.setContentsMargins(margin, margin, margin, margin)
        layout.setSpacing(theme.SPACING)
        layout.addLayout(top)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.validation)
        layout.addLayout(actions)

    # -- texts ----------------------------------------------------------------------------

    def _title(self) -> str:
        return f"Held {'answer' if self.stage == 'response' else 'request'} — Relayscope"

    def _heading(self) -> str:
        provider = self.held_event.get("provider") or "the provider"
        if self.stage == "response":
            status = self.held_event.get("status")
            code = f" ({status})" if status else ""
            return f"Answer from {provider}{code} held before it reaches the client"
        return f"Request held before it goes to {provider}"

    def _facts(self) -> str:
        parts = [
            str(self.held_event.get("model") or "no model"),
            str(self.held_event.get("endpoint") or "other"),
            f"rule {self.held_event.get('rule')}",
            f"call {self.call_id}",
        ]
        return "  ·  ".join(parts)

    # -- validation -----------------------------------------------------------------------

    def validate(self) -> bool:
        """Check the editor's JSON now; Continue is enabled only for valid JSON."""
        self._validate_timer.stop()
        if self._original is None:  # the body was not JSON to begin with: sent as text
            self._show_validation("The body is not JSON; it is sent as text.", theme.MUTED)
            self._mark_line(-1)
            self.continue_button.setEnabled(True)
            return True
        try:
            json.loads(self.editor.toPlainText())
        except json.JSONDecodeError as exc:
            link = f'<a href="line:{exc.lineno}:{exc.colno}">line {exc.lineno}</a>'
            self._show_validation(
                f"✕ Not valid JSON at {link}, column {exc.colno}: {exc.msg}. "
                "Fix it to continue with your edits.",
                theme.ERROR,
            )
            self._mark_line(exc.lineno - 1)
            self.continue_button.setEnabled(False)
            return False
        edited = self.is_edited()
        self._show_validation(
            "✓ Valid JSON — edited: Continue sends your version."
            if edited
            else "✓ Valid JSON, as it came.",
            theme.OK,
        )
        self._mark_line(-1)
        self.continue_button.setEnabled(True)
        return True

    def error_line(self) -> int:
        """The 0-based line the JSON error is on (-1: none)."""
        return self._error_line

    def is_edited(self) -> bool:
        """True if the editor's body differs from the held one (as JSON, not as spacing)."""
        text = self.editor.toPlainText()
        if self._original is None:
            return text != str(self.held_event.get("body") or "")
        try:
            return bool(json.loads(text) != self._original)
        except ValueError:
            return True

    def _show_validation(self, text: str, colour: str) -> None:
        link = theme.colour(theme.ACCENT).name()
        self.validation.setText(
            f'<span style="color:{theme.colour(colour).name()}">'
            + text.replace("<a ", f'<a style="color:{link}" ')
            + "</span>"
        )

    def _mark_line(self, line: int) -> None:
        self._error_line = line
        if line < 0:
            self.editor.setExtraSelections([])
            return
        block = self.editor.document().findBlockByNumber(line)
        selection = QTextEdit.ExtraSelection()
        selection.format.setBackground(QColor(theme.row_alert_background("error")))
        selection.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
        selection.cursor = QTextCursor(block)
        self.editor.setExtraSelections([selection])

    def _on_validation_link_activated(self, link: str) -> None:
        _, line, column = link.split(":")
        block = self.editor.document().findBlockByNumber(int(line) - 1)
        cursor = QTextCursor(block)
        cursor.movePosition(
            QTextCursor.MoveOperation.Right, QTextCursor.MoveMode.MoveAnchor, int(column) - 1
        )
        self.editor.setTextCursor(cursor)
        self.editor.centerCursor()
        self.editor.setFocus()

    # -- decisions ------------------------------------------------------------------------

    def continue_edited(self) -> None:
        """Continue with the editor's body (no body sent if it means the same)."""
        if not self.validate():
            return
        command: ResumeCommand = {"cmd": "resume", "id": self.call_id, "by": DECIDED_BY}
        if self.is_edited():
            text = self.editor.toPlainText()
            if self._original is not None:  # compact, as clients send it
                text = json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
            command["body"] = text
        self._decide(command)

    def continue_unchanged(self) -> None:
        self._decide({"cmd": "resume", "id": self.call_id, "by": DECIDED_BY})

    def fail(self) -> None:
        command: FailCommand = {
            "cmd": "fail",
            "id": self.call_id,
            "status": int(self.status.currentData()),
            "message": self.message.text().strip() or self.message.placeholderText(),
            "by": DECIDED_BY,
        }
        self._decide(command)

    def _decide(self, command: Command) -> None:
        self._tick.stop()
        self.decided.emit(command)
        self.done(QDialog.DialogCode.Accepted)

    def seconds_left(self) -> float:
        return self._timeout - (time.monotonic() - self._held_since)

    def _update_countdown(self) -> None:
        left = self.seconds_left()
        colour = theme.WARNING if left <= HURRY_SECONDS else theme.MUTED
        self.countdown.setText(f"Continues unchanged in {_countdown(left)}")
        self.countdown.setStyleSheet(f"color: {theme.colour(colour).name()};")

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._update_countdown()
        self._tick.start()

    def closeEvent(self, event: QCloseEvent) -> None:
        # Closing is "not now": the call stays held (the header's "N held" brings it back).
        self._tick.stop()
        super().closeEvent(event)


class HeldCalls(QObject):
    """The calls held at breakpoints: one `HeldCallDialog` at a time, the others in line.

    Signals:
        count_changed(int): how many calls wait for a decision.
        command_ready(dict): a decision to send to the worker.
        note_posted(str): a held call went on without a decision (e.g. the timeout).
    """

    count_changed = Signal(int)
    command_ready = Signal(dict)
    note_posted = Signal(str)

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._queue: list[dict[str, Any]] = []
        self._decided: set[str] = set()
        self.dialog: HeldCallDialog | None = None

    def count(self) -> int:
        return len(self._queue)

    def held_ids(self) -> list[str]:
        return [str(event.get("id")) for event in self._queue]

    def on_call_held(self, event: dict[str, Any]) -> None:
        """The worker holds a call: show it now, or after the ones before it."""
        self._queue.append(event)
        self.count_changed.emit(len(self._queue))
        if self.dialog is None:
            self._show_next()

    def on_call_released(self, call_id: str, _stage: str = "") -> None:
        """A held call went on: by our decision, or on its own (timeout)."""
        if call_id in self._decided:
            self._decided.discard(call_id)
            return
        event = next((e for e in self._queue if str(e.get("id")) == call_id), None)
        if event is None:
            return
        self._queue.remove(event)
        self.count_changed.emit(len(self._queue))
        seconds = float(event.get("timeout") or 0)
        self.note_posted.emit(
            f"No decision within {seconds:g} s on held call {call_id}: it continued unchanged."
        )
        if self.dialog is not None and self.dialog.call_id == call_id:
            self._close_dialog()
            self._show_next()

    def clear(self) -> None:
        """The worker stopped: every held call went with it."""
        self._queue.clear()
        self._decided.clear()
        self._close_dialog()
        self.count_changed.emit(0)

    def show_current(self) -> None:
        """Bring the held call's dialog back (after it was closed with "not now")."""
        if self.dialog is None:
            self._show_next()
        if self.dialog is not None:
            self.dialog.show()
            self.dialog.raise_()
            self.dialog.activateWindow()

    def _show_next(self) -> None:
        if not self._queue:
            return
        dialog = HeldCallDialog(self._queue[0], self._window)
        dialog.decided.connect(self._on_dialog_decided)
        self.dialog = dialog
        dialog.show()

    def _close_dialog(self) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is not None:
            dialog.decided.disconnect(self._on_dialog_decided)
            dialog.done(QDialog.DialogCode.Rejected)
            dialog.deleteLater()

    def _on_dialog_decided(self, command: dict[str, Any]) -> None:
        call_id = str(command.get("id"))
        self._decided.add(call_id)
        self._queue = [e for e in self._queue if str(e.get("id")) != call_id]
        self.command_ready.emit(command)
        self.count_changed.emit(len(self._queue))
        self._close_dialog()
        self._show_next()
