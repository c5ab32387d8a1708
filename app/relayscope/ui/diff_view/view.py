"""DiffView, the window: the two calls' cards, the request and tool-call trees, the answer,
the numbers tables and the request bodies side by side."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QTextCursor, QTextFormat
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTextBrowser,
    QTextEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from relayscope.actions.diff import (
    CallDiff,
    MessageChange,
    ToolCallChange,
    ValueChange,
    diff_calls,
)
from relayscope.calls.record import CallRecord
from relayscope.store.call_store import CallStore
from relayscope.ui import theme
from relayscope.ui.diff_view.tables import ChangeTable, show_numbers
from relayscope.ui.diff_view.text import SIGNS, answer_html, card_html, short, value_text
from relayscope.ui.inspector._style import Colours, colours
from relayscope.ui.plain_text import plain_tooltip

__all__ = ["DiffView"]

SPACING = theme.SPACING


class DiffView(QWidget):
    """What differs between two calls, A (the older, or the one picked first) and B.

    Signals:
        call_link_activated(str): a call id in the header was clicked.
    """

    call_link_activated = Signal(str)

    def __init__(self, store: CallStore, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Diff")
        self._store = store
        self._rows: tuple[CallRecord, CallRecord] | None = None
        self.diff: CallDiff | None = None
        self.header_a = self._card()
        self.header_b = self._card()
        self.swap_button = QPushButton("⇄ Swap", self)
        self.swap_button.setToolTip("Make B the reference")
        self.swap_button.clicked.connect(self.swap)
        self.request_summary = QLabel(self)
        self.request_summary.setWordWrap(True)
        self.request_tree = self._tree(["Change", "Where", "What"])
        self.answer_view = QTextBrowser(self)
        self.answer_view.setOpenLinks(False)
        self.answer_legend = QLabel(self)
        self.tools_tree = self._tree(["Change", "Tool call", "Arguments"])
        self.tools_tree.setRootIsDecorated(False)
        self.numbers = ChangeTable(self)
        self.timing = ChangeTable(self)
        self.body_a = self._body_editor()
        self.body_b = self._body_editor()
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self._layout()
        self.resize(1280, 800)

    # -- building -----------------------------------------------------------------------

    def _card(self) -> QLabel:
        label = QLabel(self)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        label.linkActivated.connect(self.call_link_activated)
        label.setFrameShape(QLabel.Shape.StyledPanel)
        label.setMargin(SPACING)
        return label

    def _tree(self, labels: list[str]) -> QTreeWidget:
        tree = QTreeWidget(self)
        tree.setHeaderLabels(labels)
        tree.setAlternatingRowColors(True)
        tree.setUniformRowHeights(True)
        tree.setWordWrap(False)
        tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        return tree

    def _body_editor(self) -> QPlainTextEdit:
        editor = QPlainTextEdit(self)
        editor.setReadOnly(True)
        editor.setFont(theme.monospace_font())
        editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        return editor

    def _section(self, title: str, *widgets: QWidget) -> QWidget:
        box = QWidget(self)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(SPACING // 2)
        heading = QLabel(title, box)
        heading.setFont(theme.scaled_font(self.font(), 1.1, bold=True))
        column.addWidget(heading)
        for widget in widgets:
            column.addWidget(widget, 1 if isinstance(widget, QAbstractItemView | QTextEdit) else 0)
        return box

    def _layout(self) -> None:
        cards = QHBoxLayout()
        cards.setSpacing(SPACING)
        cards.addWidget(self.header_a, 1)
        cards.addWidget(self.swap_button)
        cards.addWidget(self.header_b, 1)
        request = self._section("Request", self.request_summary, self.request_tree)
        answer = self._section("Answer", self.answer_legend, self.answer_view)
        self.tools_section = self._section("Tool calls", self.tools_tree)
        right = QSplitter(Qt.Orientation.Vertical, self)
        right.addWidget(answer)
        right.addWidget(self.tools_section)
        right.setSizes([300, 120])
        upper = QSplitter(Qt.Orientation.Horizontal, self)
        upper.addWidget(request)
        upper.addWidget(right)
        upper.setSizes([620, 620])
        numbers = QWidget(self)
        numbers_row = QHBoxLayout(numbers)
        numbers_row.setContentsMargins(0, 0, 0, 0)
        numbers_row.setSpacing(2 * SPACING)
        numbers_row.addWidget(self._section("Outcome and usage", self.numbers), 1)
        numbers_row.addWidget(self._section("Timing", self.timing), 1)
        changes = QSplitter(Qt.Orientation.Vertical, self)
        changes.addWidget(upper)
        changes.addWidget(numbers)
        changes.setSizes([390, 310])
        for splitter in (right, upper, changes):
            splitter.setChildrenCollapsible(False)
        bodies = QSplitter(Qt.Orientation.Horizontal, self)
        bodies.addWidget(self.body_a)
        bodies.addWidget(self.body_b)
        self.body_a.verticalScrollBar().valueChanged.connect(
            self.body_b.verticalScrollBar().setValue
        )
        self.body_b.verticalScrollBar().valueChanged.connect(
            self.body_a.verticalScrollBar().setValue
        )
        self.tabs.addTab(self._padded(changes), "Changes")
        self.tabs.addTab(self._padded(bodies), "Request bodies")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2 * SPACING, 2 * SPACING, 2 * SPACING, 2 * SPACING)
        layout.setSpacing(SPACING)
        layout.addLayout(cards)
        layout.addWidget(self.tabs, 1)

    def _padded(self, widget: QWidget) -> QWidget:
        page = QWidget(self)
        column = QVBoxLayout(page)
        column.setContentsMargins(0, SPACING, 0, 0)
        column.addWidget(widget)
        return page

    # -- public API ---------------------------------------------------------------------

    def set_calls(self, a_id: str, b_id: str) -> bool:
        """Compare call A with call B; False if either is not in the database."""
        a, b = self._store.get_call(a_id), self._store.get_call(b_id)
        if a is None or b is None:
            return False
        self._rows = (a, b)
        self._render()
        return True

    def swap(self) -> None:
        if self._rows is not None:
            self._rows = (self._rows[1], self._rows[0])
            self._render()

    def request_lines(self) -> list[str]:
        """The request tree as text lines (`+ added | [3] user | now count them`)."""
        lines = []
        tree = self.request_tree
        items = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
        for item in filter(None, items):
            lines.append(" | ".join(item.text(c) for c in range(3)))
            for child in filter(None, (item.child(j) for j in range(item.childCount()))):
                lines.append("    " + " | ".join(child.text(c) for c in range(3)))
        return lines

    def number_rows(self) -> dict[str, tuple[str, str, str]]:
        """The numbers tables by row title: (A, B, delta) as shown."""
        return self.numbers.rows_by_title() | self.timing.rows_by_title()

    # -- rendering ----------------------------------------------------------------------

    def _render(self) -> None:
        assert self._rows is not None
        a, b = self._rows
        chunks_a = self._store.chunks(a["id"]) if a.get("chunk_count") else None
        chunks_b = self._store.chunks(b["id"]) if b.get("chunk_count") else None
        self.diff = diff = diff_calls(a, b, chunks_a, chunks_b)
        c = colours(self.palette())
        self.setWindowTitle(f"Diff — {a['id']} → {b['id']}")
        self.header_a.setText(card_html("A", a, c))
        self.header_b.setText(card_html("B", b, c))
        self._show_request(diff, c)
        legend = (
            f'<s style="color:{c.error}">struck through</s>: only in A &nbsp;·&nbsp; '
            f'<u style="color:{c.ok}">underlined</u>: only in B'
        )
        self.answer_legend.setText(legend)
        self.answer_view.setHtml(answer_html(diff.answer, c))
        self._show_tools(diff.tool_calls, c)
        show_numbers(self.numbers, self.timing, diff, c)
        self._show_bodies(diff.request.text_a, diff.request.text_b, c)

    def _show_request(self, diff: CallDiff, c: Colours) -> None:
        request = diff.request
        tree = self.request_tree
        tree.clear()
        key = request.messages_key or "messages"
        if request.same:
            summary = "The request bodies are identical."
        elif request.messages_key is None:
            summary = "Neither body carries messages."
        elif not request.messages:
            summary = f"{key}: {request.count_b}, unchanged."
        else:
            summary = f"{key}: {request.count_a} → {request.count_b}"
            if request.unchanged_prefix:
                summary += f"; the first {request.unchanged_prefix} unchanged"
            summary += "."
        if request.params:
            noun = "parameter" if len(request.params) == 1 else "parameters"
            summary += f" {len(request.params)} {noun} changed."
        self.request_summary.setText(summary)
        for change in request.messages:
            tree.addTopLevelItem(self._message_item(change, c))
        for param in request.params:
            tree.addTopLevelItem(self._value_item(param, param.path, c))
        tree.expandAll()

    def _op_item(self, op: str, where: str, what: str, c: Colours) -> QTreeWidgetItem:
        item = QTreeWidgetItem([SIGNS[op], where, what])
        colour = {"added": c.ok, "removed": c.error, "changed": c.warning}[op]
        item.setForeground(0, QBrush(QColor(colour)))
        bold = QFont(self.font())
        bold.setBold(True)
        item.setFont(0, bold)
        item.setToolTip(2, plain_tooltip(what[:2000]))
        return item

    def _message_item(self, change: MessageChange, c: Colours) -> QTreeWidgetItem:
        if change.op == "changed" and change.index_a != change.index_b:
            index = f"[{change.index_a}→{change.index_b}]"
        else:
            index = f"[{change.index_b if change.index_b is not None else change.index_a}]"
        where = f"{index} {change.role}" + (f" {change.name}" if change.name else "")
        value = change.new if change.new is not None else change.old
        what = ", ".join(f.path for f in change.fields) if change.op == "changed" else short(value)
        item = self._op_item(change.op, where, what, c)
        for field in change.fields:
            item.addChild(self._value_item(field, field.path, c))
        return item

    def _value_item(self, change: ValueChange, where: str, c: Colours) -> QTreeWidgetItem:
        if change.op == "added":
            what = value_text(change.new)
        elif change.op == "removed":
            what = value_text(change.old)
        else:
            what = f"{value_text(change.old)}  →  {value_text(change.new)}"
        return self._op_item(change.op, where, what, c)

    def _show_tools(self, changes: Sequence[ToolCallChange], c: Colours) -> None:
        self.tools_tree.clear()
        for change in changes:
            call = change.new if change.new is not None else change.old
            function = call.get("function", {}) if isinstance(call, dict) else {}
            name = str(function.get("name") or (call or {}).get("name") or "?")
            arguments = value_text(function.get("arguments"))
            if change.op == "changed" and change.old is not None:
                old_args = value_text((change.old.get("function") or {}).get("arguments"))
                arguments = f"{old_args}  →  {arguments}"
            self.tools_tree.addTopLevelItem(self._op_item(change.op, name, arguments, c))
        if not changes:
            item = QTreeWidgetItem(["", "", "No differences in tool calls."])
            item.setForeground(2, QBrush(QColor(c.muted)))
            self.tools_tree.addTopLevelItem(item)

    def _show_bodies(self, text_a: str, text_b: str, c: Colours) -> None:
        self.body_a.setPlainText(text_a)
        self.body_b.setPlainText(text_b)
        lines_a, lines_b = text_a.splitlines(), text_b.splitlines()
        matcher = difflib.SequenceMatcher(None, lines_a, lines_b, autojunk=False)
        marks_a: list[int] = []
        marks_b: list[int] = []
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag != "equal":
                marks_a += range(i1, i2)
                marks_b += range(j1, j2)
        self._mark_lines(self.body_a, marks_a, c.error_bg)
        self._mark_lines(self.body_b, marks_b, c.tint(c.ok, 0.16))

    def _mark_lines(self, editor: QPlainTextEdit, lines: list[int], colour: str) -> None:
        selections = []
        document = editor.document()
        for number in lines:
            selection = QTextEdit.ExtraSelection()
            selection.format.setBackground(QColor(colour))
            selection.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
            selection.cursor = QTextCursor(document.findBlockByNumber(number))
            selections.append(selection)
        editor.setExtraSelections(selections)
