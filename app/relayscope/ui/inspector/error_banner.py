"""ErrorBanner: what went wrong with a call and what to do, above everything else."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QApplication, QFrame, QLabel, QVBoxLayout, QWidget

from relayscope.ui.inspector._hints import ErrorSummary
from relayscope.ui.inspector._style import SPACING, colours


class ErrorBanner(QFrame):
    """A red-edged box: a title (status and code), the message, and a hint."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ErrorBanner")
        self._title = QLabel()
        self._message = QLabel()
        self._hint = QLabel()
        for label in (self._title, self._message, self._hint):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setTextFormat(Qt.TextFormat.PlainText)
        font = self._title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self._title.setFont(font)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(SPACING * 2, SPACING, SPACING * 2, SPACING)
        layout.setSpacing(SPACING // 2)
        layout.addWidget(self._title)
        layout.addWidget(self._message)
        layout.addWidget(self._hint)
        self._restyle()

    def set_summary(self, summary: ErrorSummary) -> None:
        self._title.setText(summary.title)
        self._message.setText(summary.message)
        self._message.setVisible(bool(summary.message))
        self._hint.setText(f"What to do: {summary.hint}" if summary.hint else "")
        self._hint.setVisible(bool(summary.hint))

    def text(self) -> str:
        """Everything the banner says, for tests and accessibility."""
        labels = (self._title, self._message, self._hint)
        return "\n".join(label.text() for label in labels if label.text())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ParentChange):
            self._restyle()
        super().changeEvent(event)

    def _restyle(self) -> None:
        # The parent's palette: this frame's own is changed by its style sheet.
        parent = self.parentWidget()
        c = colours(parent.palette() if parent is not None else QApplication.palette())
        # Style sheets only on this frame and its labels: the colours come from the palette.
        sheet = f"#ErrorBanner {{ background: {c.error_bg}; border-left: 4px solid {c.error}; }}"
        if sheet == self.styleSheet():
            return  # applying a sheet changes the palette too; stop the echo here
        self.setStyleSheet(sheet)
        self._title.setStyleSheet(f"color: {c.error};")
        self._message.setStyleSheet(f"color: {c.text};")
        self._hint.setStyleSheet(f"color: {c.text};")
