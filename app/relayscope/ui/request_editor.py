"""RequestEditor: edit a request (from a recorded call, or typed) and send it through the proxy.

Postman's shape: quick controls and Send on top, the body in the middle (the conversation as
an editable list beside the JSON), the answer streaming in below. The JSON text is the truth;
the controls and the list are views of it, kept in sync both ways through `edit_body`.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QColor,
    QFont,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QShortcut,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTextEdit,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from relayscope.actions.replay import (
    JsonError,
    ReplayError,
    ReplayEvent,
    ReplayRequest,
    ReplayResult,
    edit_body,
    new_request,
    parse_json_body,
    replay_request,
)
from relayscope.protocols.conversation import content_text
from relayscope.store.call_store import CallStore
from relayscope.ui import theme
from relayscope.ui.inspector._format import count, ms, one_line
from relayscope.ui.inspector._json_text import as_text
from relayscope.ui.inspector._style import colours
from relayscope.ui.inspector.json_highlighter import JsonHighlighter
from relayscope.ui.plain_text import plain_label
from relayscope.ui.replay_runner import (
    Job,
    JobRunner,
    configured_providers,
    proxy_headers,
    retry_message,
    send_work,
)

__all__ = ["JsonEditor", "MessagesEditor", "RequestEditor", "error_text"]

SPACING = theme.SPACING
ROLES = ("system", "developer", "user", "assistant", "tool")
_MAX_TOKEN_KEYS = ("max_output_tokens", "max_completion_tokens", "max_tokens")
_TEMPERATURE_UNSET = -0.1
_STATUS_TEXT = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
_STATUS_TEXT |= {429: "Too Many Requests", 500: "Server Error", 502: "Bad Gateway"}
_STATUS_TEXT |= {503: "Service Unavailable"}


def error_text(error: JsonError) -> str:
    """`line 3, column 14: Expecting ','`: where the JSON stops being valid, and why."""
    return f"line {error.line}, column {error.column}: {error.message}"


def _path_for(body: Mapping[str, Any]) -> str:
    """Where a body goes when it is not a recorded call's (as `new_request` decides)."""
    if "messages" in body:
        return "/v1/chat/completions"
    return "/v1/completions" if "prompt" in body else "/v1/responses"


def primary_button(text: str, parent: QWidget) -> QPushButton:
    """The accent-coloured button of a window (Send, Run)."""
    button = QPushButton(text, parent)
    button.setDefault(True)
    accent = theme.colour(theme.ACCENT, dark=False)  # white text needs the deep blue
    button.setStyleSheet(
        f"QPushButton {{ background: {accent.name()}; color: white; border: none;"
        f" border-radius: 4px; padding: {SPACING // 2}px {SPACING * 2}px; font-weight: 600; }}"
        f" QPushButton:hover {{ background: {accent.darker(110).name()}; }}"
        f" QPushButton:disabled {{ background: {theme.colour(theme.MUTED).name()}; }}"
    )
    return button


# --- the JSON editor ------------------------------------------------------------------------


class _Gutter(QWidget):
    """Line numbers beside the JSON editor; the line with the JSON error gets a red marker."""

    def __init__(self, editor: JsonEditor) -> None:
        super().__init__(editor)
        self._editor = editor

    def sizeHint(self) -> QSize:
        return QSize(self._editor.gutter_width(), 0)

    def paintEvent(self, event: QPaintEvent) -> None:
        self._editor.paint_gutter(self, event)


class JsonEditor(QPlainTextEdit):
    """A monospace JSON editor that checks the text as you type.

    Where the text stops being a JSON object is marked in place (a wavy underline at the
    spot, a tinted line, a red dot beside its number) and `error()` says why.

    Signals:
        validity_changed(object): after an edit, the body (a dict) or a `JsonError`.
    """

    validity_changed = Signal(object)
    #: Typing is checked once the keyboard rests this long (big bodies parse in ~10 ms).
    VALIDATE_MS = 120

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFont(theme.monospace_font())
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabChangesFocus(False)
        self.setTabStopDistance(self.fontMetrics().horizontalAdvance(" ") * 2)
        self._highlighter = JsonHighlighter(self.document(), self.palette())
        self._result: dict[str, Any] | JsonError = parse_json_body("")
        self._gutter = _Gutter(self)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.VALIDATE_MS)
        self._timer.timeout.connect(self.validate_now)
        self.textChanged.connect(self._timer.start)
        self.blockCountChanged.connect(self._update_margins)
        self.updateRequest.connect(self._on_update_request)
        self._update_margins()

    # -- public API ---------------------------------------------------------------------

    def set_json(self, value: Mapping[str, Any]) -> None:
        """Show `value` pretty-printed (an undoable edit, keeping the cursor's line)."""
        self.set_text(json.dumps(value, indent=2, ensure_ascii=False))

    def set_text(self, text: str) -> None:
        line = self.textCursor().blockNumber()
        cursor = QTextCursor(self.document())
        cursor.beginEditBlock()
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(text)
        cursor.endEditBlock()
        block = self.document().findBlockByNumber(min(line, self.blockCount() - 1))
        self.setTextCursor(QTextCursor(block))
        self.validate_now()

    def result(self) -> dict[str, Any] | JsonError:
        """The body as last checked, or where it is not valid."""
        return self._result

    def body(self) -> dict[str, Any] | None:
        return self._result if isinstance(self._result, dict) else None

    def error(self) -> JsonError | None:
        return self._result if isinstance(self._result, JsonError) else None

    def validate_now(self) -> dict[str, Any] | JsonError:
        self._timer.stop()
        self._result = parse_json_body(self.toPlainText())
        self._mark_error()
        self._gutter.update()
        self.validity_changed.emit(self._result)
        return self._result

    # -- the gutter ---------------------------------------------------------------------

    def gutter_width(self) -> int:
        digits = len(str(max(1, self.blockCount())))
        return SPACING * 3 + self.fontMetrics().horizontalAdvance("9") * max(2, digits)

    def paint_gutter(self, gutter: QWidget, event: QPaintEvent) -> None:
        palette = self.palette()
        c = colours(palette)
        painter = QPainter(gutter)
        painter.fillRect(event.rect(), QColor(c.code_bg))
        error = self.error()
        block = self.firstVisibleBlock()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        height = self.fontMetrics().height()
        while block.isValid() and top <= event.rect().bottom():
            number = block.blockNumber() + 1
            if block.isVisible():
                bad = error is not None and error.line == number
                painter.setPen(QColor(c.error if bad else c.muted))
                painter.drawText(
                    QRect(0, top, gutter.width() - SPACING, height),
                    int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                    str(number),
                )
                if bad:
                    painter.setBrush(QColor(c.error))
                    painter.setPen(Qt.PenStyle.NoPen)
                    painter.drawEllipse(SPACING // 2, top + height // 2 - 3, 6, 6)
            top += round(self.blockBoundingRect(block).height())
            block = block.next()
        painter.end()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        rect = self.contentsRect()
        self._gutter.setGeometry(rect.left(), rect.top(), self.gutter_width(), rect.height())

    def _update_margins(self, _: int = 0) -> None:
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)

    def _on_update_request(self, rect: QRect, dy: int) -> None:
        if dy:
            self._gutter.scroll(0, dy)
        else:
            self._gutter.update(0, rect.y(), self._gutter.width(), rect.height())

    def _mark_error(self) -> None:
        error = self.error()
        if error is None:
            self.setExtraSelections([])
            return
        c = colours(self.palette())
        line = QTextEdit.ExtraSelection()
        line.format.setBackground(QColor(c.error_bg))
        line.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
        block = self.document().findBlockByNumber(max(0, error.line - 1))
        line.cursor = QTextCursor(block)
        spot = QTextEdit.ExtraSelection()
        spot.format.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
        spot.format.setUnderlineColor(QColor(c.error))
        spot.format.setForeground(QColor(c.error))
        cursor = QTextCursor(block)
        column = min(max(0, error.column - 1), max(0, block.length() - 1))
        if column >= block.length() - 1 and column > 0:
            column -= 1  # the error is at the line's end: mark its last character
        cursor.setPosition(block.position() + column)
        cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
        if not cursor.hasSelection():
            cursor.movePosition(
                QTextCursor.MoveOperation.PreviousCharacter, QTextCursor.MoveMode.KeepAnchor
            )
        spot.cursor = cursor
        self.setExtraSelections([line, spot])


# --- the conversation as a list -------------------------------------------------------------


def _role(item: Any) -> str:
    if isinstance(item, dict):
        role = item.get("role")
        if isinstance(role, str) and role:
            return role
        kind = item.get("type")
        if isinstance(kind, str) and kind:
            return kind
    return "?"


def _is_message(item: Any) -> bool:
    return isinstance(item, dict) and "role" in item and item.get("type", "message") == "message"


def _editable_text(item: Any) -> str | None:
    """The message's text when it is one piece of text a person can edit, else None."""
    if not _is_message(item):
        return None
    content = item.get("content")
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list):
        texts = [p for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        if len(texts) == 1 and len(content) == 1:
            return str(texts[0]["text"])
    return None


def _summary(item: Any) -> str:
    if _is_message(item):
        return content_text(item.get("content"))
    if isinstance(item, dict):
        for key in ("name", "arguments", "output", "call_id"):
            value = item.get(key)
            if isinstance(value, str) and value:
                return value
    return json.dumps(item, ensure_ascii=False)


class MessagesEditor(QWidget):
    """The request's conversation as a list: pick a message, edit its role and text.

    Chat `messages` and Responses `input` items; items that are not messages (function
    calls, their outputs, reasoning) stay in place and can be moved or removed, and are
    edited in the JSON.

    Signals:
        messages_edited(list): the whole list after a change made here.
    """

    messages_edited = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: list[Any] = []
        self._responses = False
        self._updating = False
        self.title = QLabel("Messages", self)
        self.list = QTreeWidget(self)
        self.list.setHeaderLabels(["#", "Role", "Content"])
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        self.list.setAlternatingRowColors(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.list.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.list.currentItemChanged.connect(self._on_list_current_item_changed)
        self.add_button = self._tool("+", "Add a user message after the selected one")
        self.remove_button = self._tool("−", "Remove the selected message")
        self.up_button = self._tool("↑", "Move the selected message up")
        self.down_button = self._tool("↓", "Move the selected message down")
        self.add_button.clicked.connect(self.add_message)
        self.remove_button.clicked.connect(self.remove_current)
        self.up_button.clicked.connect(lambda: self.move_current(-1))
        self.down_button.clicked.connect(lambda: self.move_current(1))
        self.role = QComboBox(self)
        self.role.setEditable(True)
        self.role.addItems(ROLES)
        self.role.currentTextChanged.connect(self._on_role_current_text_changed)
        self.content = QPlainTextEdit(self)
        self.content.setPlaceholderText("The message's text")
        self.content.textChanged.connect(self._on_content_text_changed)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.note.setEnabled(False)
        self._layout()
        self._show_current()

    def _tool(self, text: str, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setMinimumWidth(3 * SPACING)
        return button

    def _layout(self) -> None:
        bar = QHBoxLayout()
        bar.setSpacing(SPACING // 2)
        bar.addWidget(self.title, 1)
        for button in (self.add_button, self.remove_button, self.up_button, self.down_button):
            bar.addWidget(button)
        role_row = QHBoxLayout()
        role_row.addWidget(QLabel("Role", self))
        role_row.addWidget(self.role, 1)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.list)
        bottom = QWidget(self)
        column = QVBoxLayout(bottom)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(SPACING // 2)
        column.addLayout(role_row)
        column.addWidget(self.content, 1)
        column.addWidget(self.note)
        splitter.addWidget(bottom)
        splitter.setSizes([200, 200])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(SPACING // 2)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)

    # -- public API ---------------------------------------------------------------------

    def set_messages(self, items: list[Any], *, responses: bool) -> None:
        """Show `items` (keeping the selected row when it still exists)."""
        row = self.current_row()
        self._items = copy.deepcopy(items)
        self._responses = responses
        self.title.setText("Input items" if responses else "Messages")
        self._fill(min(max(row, 0), len(self._items) - 1))

    def messages(self) -> list[Any]:
        return copy.deepcopy(self._items)

    def add_message(self) -> None:
        """A new, empty user message after the selected one (or at the end)."""
        if self._responses:
            item: dict[str, Any] = {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": ""}],
            }
        else:
            item = {"role": "user", "content": ""}
        row = self.current_row()
        at = row + 1 if row >= 0 else len(self._items)
        self._items.insert(at, item)
        self._changed(select=at)
        self.content.setFocus()

    def remove_current(self) -> None:
        row = self.current_row()
        if 0 <= row < len(self._items):
            del self._items[row]
            self._changed(select=min(row, len(self._items) - 1))

    def move_current(self, step: int) -> None:
        row = self.current_row()
        to = row + step
        if 0 <= row < len(self._items) and 0 <= to < len(self._items):
            self._items[row], self._items[to] = self._items[to], self._items[row]
            self._changed(select=to)

    def current_row(self) -> int:
        item = self.list.currentItem()
        return self.list.indexOfTopLevelItem(item) if item is not None else -1

    def select_row(self, row: int) -> None:
        item = self.list.topLevelItem(row)
        if item is not None:
            self.list.setCurrentItem(item)

    def row_texts(self) -> list[str]:
        """What the list shows, one `role: text` line per item (for tests and tooltips)."""
        return [f"{_role(item)}: {_summary(item)}" for item in self._items]

    def set_current_role(self, role: str) -> None:
        self.role.setCurrentText(role)

    def set_current_text(self, text: str) -> None:
        self.content.setPlainText(text)

    # -- internals ----------------------------------------------------------------------

    def _fill(self, select: int) -> None:
        self._updating = True
        self.list.clear()
        bold = QFont(self.list.font())
        bold.setBold(True)
        for index, item in enumerate(self._items):
            row = QTreeWidgetItem([str(index), _role(item), one_line(_summary(item), 200)])
            row.setFont(1, bold)
            row.setTextAlignment(0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if not _is_message(item):
                row.setForeground(1, QColor(colours(self.palette()).tool))
            self.list.addTopLevelItem(row)
        self._updating = False
        if self._items:
            self.select_row(max(0, select))
        self._show_current()

    def _changed(self, *, select: int) -> None:
        self._fill(select)
        self.messages_edited.emit(self.messages())

    def _show_current(self) -> None:
        row = self.current_row()
        item = self._items[row] if 0 <= row < len(self._items) else None
        text = _editable_text(item)
        self._updating = True
        self.role.setCurrentText(_role(item) if item is not None else "")
        self.content.setPlainText(text if text is not None else _summary(item) if item else "")
        self._updating = False
        self.role.setEnabled(_is_message(item))
        self.content.setReadOnly(text is None)
        self.remove_button.setEnabled(item is not None)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < len(self._items) - 1)
        if item is None:
            self.note.setText("No messages: add one with +.")
        elif text is None:
            self.note.setText(f"This {_role(item)} item is edited in the JSON.")
        else:
            self.note.setText("")
        self.note.setVisible(bool(self.note.text()))

    def _on_list_current_item_changed(self, *_: object) -> None:
        if not self._updating:
            self._show_current()

    def _on_role_current_text_changed(self, role: str) -> None:
        row = self.current_row()
        if self._updating or not role or not 0 <= row < len(self._items):
            return
        item = self._items[row]
        if not _is_message(item) or item.get("role") == role:
            return
        item["role"] = role
        content = item.get("content")
        if isinstance(content, list):  # Responses: what the assistant said is output_text
            for part in content:
                if isinstance(part, dict) and part.get("type") in ("input_text", "output_text"):
                    part["type"] = "output_text" if role == "assistant" else "input_text"
        self._refresh_row(row)

    def _on_content_text_changed(self) -> None:
        row = self.current_row()
        if self._updating or not 0 <= row < len(self._items):
            return
        item = self._items[row]
        if _editable_text(item) is None:
            return
        text = self.content.toPlainText()
        content = item.get("content")
        if isinstance(content, list) and content:
            content[0]["text"] = text
        else:
            item["content"] = text
        self._refresh_row(row)

    def _refresh_row(self, row: int) -> None:
        shown = self.list.topLevelItem(row)
        if shown is not None:
            shown.setText(1, _role(self._items[row]))
            shown.setText(2, one_line(_summary(self._items[row]), 200))
        self.messages_edited.emit(self.messages())


# --- the window -----------------------------------------------------------------------------


class RequestEditor(QWidget):
    """Edit and resend: a request's body with quick controls, sent through the proxy.

    Opened on a recorded call (`load_call`: the new call is recorded as its replay) or on
    any body (`set_body`). Send streams the answer into the lower pane with its status,
    TTFT and total time, and the new call's id as a link; Cancel stops it.

    Signals:
        call_sent(str): a request went out; the new call's id (known before it is sent).
        call_finished(object): the `ReplayResult` of a send.
        call_link_activated(str): the new call's id was clicked.
    """

    call_sent = Signal(str)
    call_finished = Signal(object)
    call_link_activated = Signal(str)

    def __init__(
        self,
        store: CallStore,
        config_path: Path | None,
        base_url: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Edit and resend")
        self._store = store
        self._config_path = config_path
        self._base_url = base_url
        self._call: dict[str, Any] | None = None
        self._path: str | None = None
        self._syncing = False
        self._job: Job | None = None
        self._last: tuple[ReplayRequest, ReplayResult] | None = None
        self._started = 0.0
        self.runner = JobRunner(self)
        self._build_controls()
        self._build_response()
        self._layout()
        self._connect()
        self.set_body({"model": "", "messages": [{"role": "user", "content": ""}]})
        self.resize(1280, 800)

    def _build_controls(self) -> None:
        self.endpoint = plain_label(QLabel(self))
        self.endpoint.setFont(theme.monospace_font())
        self.endpoint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.provider = QComboBox(self)
        self.provider.setToolTip("Where the proxy sends it: a provider, or routed by model")
        self.provider.addItem("Route by model", "")
        for name in configured_providers(self._config_path):
            self.provider.addItem(name, name)
        self.model = QLineEdit(self)
        self.model.setPlaceholderText("model")
        self.model.setMinimumWidth(22 * SPACING)
        self.stream = QCheckBox("Stream", self)
        self.temperature = QDoubleSpinBox(self)
        self.temperature.setRange(_TEMPERATURE_UNSET, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setDecimals(2)
        self.temperature.setSpecialValueText("default")
        self.temperature.setValue(_TEMPERATURE_UNSET)
        self.max_tokens = QSpinBox(self)
        self.max_tokens.setRange(0, 10_000_000)
        self.max_tokens.setSingleStep(256)
        self.max_tokens.setSpecialValueText("default")
        self.max_tokens.setGroupSeparatorShown(True)
        self.send_button = primary_button("Send", self)
        self.send_button.setToolTip("Send through Relayscope (Ctrl+Enter)")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.json_editor = JsonEditor(self)
        self.json_error = QLabel(self)
        self.format_button = QToolButton(self)
        self.format_button.setText("Format")
        self.format_button.setToolTip("Indent the JSON (two spaces)")
        self.json_error.setWordWrap(True)
        self.messages = MessagesEditor(self)

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

    def _layout(self) -> None:
        top = QHBoxLayout()
        top.setSpacing(SPACING)
        top.addWidget(self.endpoint)
        top.addSpacing(SPACING)
        labelled: tuple[tuple[str, QWidget], ...] = (
            ("Provider", self.provider),
            ("Model", self.model),
            ("", self.stream),
            ("Temperature", self.temperature),
            ("Max tokens", self.max_tokens),
        )
        for label, widget in labelled:
            if label:
                top.addWidget(QLabel(label, self))
            top.addWidget(widget)
        top.addStretch(1)
        top.addWidget(self.cancel_button)
        top.addWidget(self.send_button)
        body = QWidget(self)
        body_column = QVBoxLayout(body)
        body_column.setContentsMargins(0, 0, 0, 0)
        body_column.setSpacing(SPACING // 2)
        body_bar = QHBoxLayout()
        body_bar.addWidget(QLabel("Body (JSON)", self), 1)
        body_bar.addWidget(self.format_button)
        body_column.addLayout(body_bar)
        body_column.addWidget(self.json_editor, 1)
        body_column.addWidget(self.json_error)
        middle = QSplitter(Qt.Orientation.Horizontal, self)
        middle.addWidget(self.messages)
        middle.addWidget(body)
        middle.setSizes([440, 800])
        middle.setChildrenCollapsible(False)
        response = QWidget(self)
        response_column = QVBoxLayout(response)
        response_column.setContentsMargins(0, SPACING, 0, 0)
        response_column.setSpacing(SPACING // 2)
        status_row = QHBoxLayout()
        status_row.setSpacing(2 * SPACING)
        status_row.addWidget(self.status)
        status_row.addWidget(self.timing)
        status_row.addWidget(self.call_link)
        status_row.addStretch(1)
        status_row.addWidget(self.retry_button)
        response_column.addLayout(status_row)
        response_column.addWidget(self.answer, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(middle)
        self.splitter.addWidget(response)
        self.splitter.setSizes([470, 260])
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2 * SPACING, 2 * SPACING, 2 * SPACING, 2 * SPACING)
        layout.setSpacing(SPACING)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)

    def _connect(self) -> None:
        self.json_editor.validity_changed.connect(self._on_json_editor_validity_changed)
        self.messages.messages_edited.connect(self._on_messages_messages_edited)
        self.model.textEdited.connect(self._on_model_text_edited)
        self.stream.toggled.connect(self._on_stream_toggled)
        self.temperature.valueChanged.connect(self._on_temperature_value_changed)
        self.max_tokens.valueChanged.connect(self._on_max_tokens_value_changed)
        self.send_button.clicked.connect(self.send)
        self.format_button.clicked.connect(self._on_format_clicked)
        self.cancel_button.clicked.connect(self.cancel)
        self.retry_button.clicked.connect(self.wait_and_retry)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, self.send)
        timer = QTimer(self)
        timer.setInterval(100)
        timer.timeout.connect(self._show_elapsed)
        self._clock = timer

    # -- public API ---------------------------------------------------------------------

    def set_base_url(self, url: str) -> None:
        """The proxy's base URL (empty while it is not listening)."""
        self._base_url = url
        self._update_send()

    def load_call(self, call_id: str) -> bool:
        """Edit a recorded call's request (the send is recorded as its replay)."""
        call = self._store.get_call(call_id)
        if call is None:
            return False
        parsed = parse_json_body(as_text(call.get("request_body")))
        self._call = call
        self._path = str(call.get("path") or "") or None
        self.setWindowTitle(f"Edit and resend — call {call_id}")
        if isinstance(parsed, dict):
            self._set(parsed)
        else:
            self.json_editor.set_text(as_text(call.get("request_body")))
        self._show_endpoint()
        return True

    def set_body(self, body: Mapping[str, Any] | str, *, path: str | None = None) -> None:
        """Edit a body of your own (a new request, not a replay)."""
        self._call = None
        self._path = path
        self.setWindowTitle("New request")
        if isinstance(body, str):
            self.json_editor.set_text(body)
        else:
            self._set(dict(body))
        self._show_endpoint()

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

    # -- keeping the JSON, the controls and the list in sync ----------------------------

    def _set(self, body: dict[str, Any]) -> None:
        self.json_editor.set_json(body)

    def _edit(self, **changes: Any) -> None:
        body = self.json_editor.body()
        if body is None or self._syncing:
            return
        unset = [key for key, value in changes.items() if value is None]
        edited = edit_body(body, **{k: v for k, v in changes.items() if v is not None})
        for key in unset:
            for name in _MAX_TOKEN_KEYS if key == "max_tokens" else (key,):
                edited.pop(name, None)
        self._syncing = True
        try:
            self.json_editor.set_json(edited)
        finally:
            self._syncing = False

    def _on_format_clicked(self) -> None:
        body = self.json_editor.validate_now()
        if isinstance(body, dict):
            self._set(body)

    def _on_model_text_edited(self, text: str) -> None:
        if text.strip():
            self._edit(model=text.strip())
        else:
            self._edit(model=None)

    def _on_stream_toggled(self, checked: bool) -> None:
        self._edit(stream=checked)

    def _on_temperature_value_changed(self, value: float) -> None:
        self._edit(temperature=None if value <= _TEMPERATURE_UNSET + 1e-9 else round(value, 2))

    def _on_max_tokens_value_changed(self, value: int) -> None:
        self._edit(max_tokens=value or None)

    def _on_messages_messages_edited(self, items: list[Any]) -> None:
        self._edit(messages=items)

    def _on_json_editor_validity_changed(self, result: dict[str, Any] | JsonError) -> None:
        valid = isinstance(result, dict)
        for widget in (self.model, self.stream, self.temperature, self.max_tokens):
            widget.setEnabled(valid)
        self.messages.setEnabled(valid)
        if isinstance(result, JsonError):
            c = colours(self.palette())
            self.json_error.setText(f"⚠ {error_text(result)}")
            self.json_error.setStyleSheet(f"color: {c.error}; font-weight: 600;")
        else:
            self.json_error.setText("")
            self.json_error.setStyleSheet("")
            self._controls_from(result)
        self.json_error.setVisible(not valid)
        self._show_endpoint()
        self._update_send()

    def _controls_from(self, body: dict[str, Any]) -> None:
        widgets = (self.model, self.stream, self.temperature, self.max_tokens)
        for widget in widgets:
            widget.blockSignals(True)
        try:
            model = body.get("model")
            if self.model.text() != (model if isinstance(model, str) else ""):
                self.model.setText(model if isinstance(model, str) else "")
            self.stream.setChecked(body.get("stream") is True)
            temperature = body.get("temperature")
            if isinstance(temperature, int | float) and not isinstance(temperature, bool):
                self.temperature.setValue(float(temperature))
            else:
                self.temperature.setValue(_TEMPERATURE_UNSET)
            limit = next((body[k] for k in _MAX_TOKEN_KEYS if isinstance(body.get(k), int)), 0)
            self.max_tokens.setValue(int(limit))
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self._messages_from(body)  # rebuilt only when it differs (not while typing in it)

    def _messages_from(self, body: dict[str, Any]) -> None:
        responses = "input" in body and "messages" not in body
        items = body.get("input" if responses else "messages")
        if isinstance(items, str):
            items = [{"role": "user", "content": items}]
        if not isinstance(items, list):
            items = []
        if items != self.messages.messages() or responses != self.messages._responses:
            self.messages.set_messages(items, responses=responses)

    def _show_endpoint(self) -> None:
        path = self._path
        if path is None:
            path = _path_for(self.json_editor.body() or {})
        self.endpoint.setText(f"POST {path}")

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

    def closeEvent(self, event: QCloseEvent) -> None:
        self.runner.shutdown()
        self._job = None
        super().closeEvent(event)
