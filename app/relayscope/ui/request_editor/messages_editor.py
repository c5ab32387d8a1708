"""MessagesEditor: a request's conversation as a list, each message's role and text editable."""

from __future__ import annotations

import copy
import json
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from relayscope.protocols.conversation import content_text
from relayscope.ui import theme
from relayscope.ui.inspector._format import one_line
from relayscope.ui.inspector._style import colours

SPACING = theme.SPACING
ROLES = ("system", "developer", "user", "assistant", "tool")


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
