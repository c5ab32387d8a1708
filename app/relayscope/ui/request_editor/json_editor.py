"""JsonEditor: a monospace JSON editor that marks where the text stops being a JSON object."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from relayscope.actions.replay import JsonError, parse_json_body
from relayscope.ui import theme
from relayscope.ui.inspector._style import colours
from relayscope.ui.inspector.json_highlighter import JsonHighlighter

SPACING = theme.SPACING


def error_text(error: JsonError) -> str:
    """`line 3, column 14: Expecting ','`: where the JSON stops being valid, and why."""
    return f"line {error.line}, column {error.column}: {error.message}"


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
