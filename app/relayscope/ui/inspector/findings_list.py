"""FindingsList: a stream's findings (severity icon and sentence), each a jump to its chunk."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QMouseEvent, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QFrame, QListWidget, QListWidgetItem, QWidget

from relayscope.analysis.stream_analysis import ERROR, INFO, WARNING, Finding
from relayscope.ui import theme
from relayscope.ui.inspector._style import SPACING
from relayscope.ui.plain_text import plain_tooltip
from relayscope.ui.roles import Role

#: Rows shown before the list scrolls (the chunk table below needs the room).
VISIBLE_ROWS = 4
_CODE = re.compile(r"`([^`]*)`")
_ICON_PX = 14


def plain_message(message: str) -> str:
    """The analysis writes code in backticks (for terminals); here it reads as quotes."""
    return _CODE.sub(lambda m: f"“{m.group(1)}”", message)


@cache
def severity_icon(severity: str, dark: bool) -> QIcon:
    """Cross for errors, triangle for warnings, an `i` for information."""
    if severity == ERROR:
        return theme.status_icon("error", 0, dark)
    if severity == WARNING:
        return theme.status_icon("warning", 0, dark)
    icon = QIcon()
    for scale in (1, 2):
        pixmap = QPixmap(_ICON_PX * scale, _ICON_PX * scale)
        pixmap.setDevicePixelRatio(scale)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme.colour(theme.ACCENT, dark=dark))
        painter.drawEllipse(QRectF(1, 1, _ICON_PX - 2, _ICON_PX - 2))
        pen = QPen(QColor("#FFFFFF"), 1.8)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        middle = _ICON_PX / 2
        painter.drawLine(QPointF(middle, 6.2), QPointF(middle, 10.2))
        painter.drawPoint(QPointF(middle, 3.9))
        painter.end()
        icon.addPixmap(pixmap)
        icon.addPixmap(pixmap, QIcon.Mode.Selected)
    return icon


class FindingsList(QListWidget):
    """The findings of `relayscope.analysis.stream_analysis.analyse`, most severe first.

    A finding tied to a chunk is a link: clicking it (or Enter) asks for that chunk.
    With no findings one quiet line says the stream looks healthy.

    Signals:
        finding_activated(int): the seq of the chunk the chosen finding is about.
    """

    finding_activated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._findings: list[Finding] = []
        self._live = False
        self._shown: tuple[tuple[Finding, ...], bool] | None = None
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setUniformItemSizes(True)
        self.setIconSize(QSize(_ICON_PX, _ICON_PX))
        self.setMouseTracking(True)
        self.viewport().setAutoFillBackground(False)
        self.setStyleSheet("QListWidget { background: transparent; }")
        self.setViewportMargins(SPACING // 2, 0, 0, 0)
        self._soften_selection()
        self.itemClicked.connect(self._on_item_activated)
        self.itemActivated.connect(self._on_item_activated)

    # -- feeding --------------------------------------------------------------------------

    def set_findings(self, findings: Sequence[Finding], *, live: bool = False) -> None:
        """Show these findings (in the order given: the analysis puts errors first)."""
        if self._shown == (tuple(findings), live):
            return
        self._shown = (tuple(findings), live)
        self._findings, self._live = list(findings), live
        self.clear()
        dark = theme.is_dark(self.palette())
        for finding in self._findings:
            text = plain_message(finding.message)
            if finding.seq is not None:
                text = f"#{finding.seq}   {text}"
            item = QListWidgetItem(severity_icon(finding.severity, dark), text)
            item.setData(Role.FINDING_SEQ, finding.seq)
            item.setToolTip(plain_tooltip(self._tooltip(finding)))
            self.addItem(item)
        if not self._findings:
            item = QListWidgetItem(theme.status_icon("ok", 0, dark), self._healthy_text())
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item.setForeground(theme.colour(theme.MUTED, dark=dark))
            self.addItem(item)
        self._fit_height()

    def _healthy_text(self) -> str:
        if self._live:
            return "No findings so far (the end of the stream is checked when it finishes)."
        return "No findings: the stream ended properly, without stalls or broken chunks."

    def _tooltip(self, finding: Finding) -> str:
        where = (
            "the whole call" if finding.seq is None else f"chunk {finding.seq} (click to see it)"
        )
        return f"{finding.severity.capitalize()} · {finding.code} · {where}\n\n" + plain_message(
            finding.message
        )

    def _fit_height(self) -> None:
        row = max(self.sizeHintForRow(0), self.fontMetrics().height() + SPACING // 2)
        rows = min(max(1, self.count()), VISIBLE_ROWS)
        self.setFixedHeight(rows * row + 2 * self.frameWidth() + 2)

    def _soften_selection(self) -> None:
        # The accent at full strength shouts; the call list uses the same soft selection.
        self.setPalette(theme.soft_selection(self.palette()))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ApplicationPaletteChange:
            self._soften_selection()
            self._shown = None
            self.set_findings(self._findings, live=self._live)  # icons for the new palette

    # -- reading ----------------------------------------------------------------------------

    def findings(self) -> list[Finding]:
        return list(self._findings)

    def messages(self) -> list[str]:
        """What each row says (tests, and copying)."""
        return [self.item(i).text() for i in range(self.count())]

    def severities(self) -> list[str]:
        return [f.severity for f in self._findings]

    def row_of_code(self, code: str) -> int:
        return next((i for i, f in enumerate(self._findings) if f.code == code), -1)

    def activate_row(self, row: int) -> None:
        """As if the person clicked this row."""
        item = self.item(row)
        if item is not None:
            self.setCurrentItem(item)
            self._on_item_activated(item)

    # -- slots ------------------------------------------------------------------------------

    def _on_item_activated(self, item: QListWidgetItem) -> None:
        seq = item.data(Role.FINDING_SEQ)
        if isinstance(seq, int):
            self.finding_activated.emit(seq)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        # A pointing hand over findings that lead somewhere, as over a link.
        item = self.itemAt(event.position().toPoint())
        linked = item is not None and isinstance(item.data(Role.FINDING_SEQ), int)
        cursor = Qt.CursorShape.PointingHandCursor if linked else Qt.CursorShape.ArrowCursor
        self.viewport().setCursor(cursor)
        super().mouseMoveEvent(event)


__all__ = ["ERROR", "INFO", "WARNING", "FindingsList", "plain_message", "severity_icon"]
