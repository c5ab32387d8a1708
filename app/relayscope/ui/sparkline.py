"""Sparkline: a small line plot of one figure over time, painted with QPainter."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QHelpEvent, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from relayscope.ui import theme
from relayscope.ui.plain_text import plain_tooltip

_TITLE_H = 22
_AXIS_H = 18
_Y_LABEL_W = 64


class Sparkline(QWidget):
    """`title` and the latest value above a line through the points (gaps where a value is
    missing), the range on the left and the first and last time below.

    `fmt` writes a value with its unit ("412 ms", "4.2 %").
    """

    def __init__(
        self,
        title: str,
        fmt: Callable[[float], str],
        parent: QWidget | None = None,
        *,
        colour: str = theme.ACCENT,
        floor_zero: bool = True,
    ) -> None:
        super().__init__(parent)
        self.title = title
        self._fmt = fmt
        self._colour = colour
        self._floor_zero = floor_zero
        self._labels: list[str] = []
        self._values: list[float | None] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(150)
        self.setMouseTracking(True)

    def set_points(self, labels: Sequence[str], values: Sequence[float | None]) -> None:
        """One point per time bucket: its label ("10:00") and value (None: no data)."""
        self._labels = list(labels)
        self._values = list(values)
        self.update()

    def values(self) -> list[float | None]:
        return list(self._values)

    def sizeHint(self) -> QSize:
        return QSize(360, self.height())

    # -- geometry ---------------------------------------------------------------------------

    def _plot(self) -> QRectF:
        s = theme.SPACING
        return QRectF(
            _Y_LABEL_W,
            _TITLE_H + s,
            max(1.0, self.width() - _Y_LABEL_W - s),
            max(1.0, self.height() - _TITLE_H - _AXIS_H - 2 * s),
        )

    def _range(self) -> tuple[float, float]:
        known = [v for v in self._values if v is not None]
        if not known:
            return 0.0, 1.0
        low = 0.0 if self._floor_zero else min(known)
        high = max(known)
        if high - low < 1e-9:
            high = low + (abs(low) or 1.0)
        return low, high

    def point_at(self, i: int) -> QPointF | None:
        value = self._values[i] if 0 <= i < len(self._values) else None
        if value is None:
            return None
        plot = self._plot()
        low, high = self._range()
        step = plot.width() / max(1, len(self._values) - 1)
        x = plot.left() + (i * step if len(self._values) > 1 else plot.width() / 2)
        y = plot.bottom() - (value - low) / (high - low) * plot.height()
        return QPointF(x, y)

    # -- painting ---------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text = palette.color(palette.ColorRole.WindowText)
        muted = theme.colour(theme.MUTED)
        line = theme.colour(self._colour)
        self._paint_titles(painter, text, muted)
        plot = self._plot()
        grid = QColor(palette.color(palette.ColorRole.Mid))
        painter.setPen(QPen(grid, 1))
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())
        painter.drawLine(plot.topLeft(), plot.topRight())
        self._paint_axes(painter, plot, muted)
        if not any(v is not None for v in self._values):
            painter.setPen(muted)
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter, "no data yet")
            painter.end()
            return
        self._paint_line(painter, plot, line)
        painter.end()

    def _paint_titles(self, painter: QPainter, text: QColor, muted: QColor) -> None:
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(text)
        title_rect = QRectF(0, 0, self.width(), _TITLE_H)
        painter.drawText(
            title_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.title
        )
        latest = next((v for v in reversed(self._values) if v is not None), None)
        if latest is not None:
            painter.drawText(
                title_rect.adjusted(0, 0, -theme.SPACING, 0),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                f"latest {self._fmt(latest)}",
            )
        painter.setFont(self.font())

    def _paint_axes(self, painter: QPainter, plot: QRectF, muted: QColor) -> None:
        painter.setPen(muted)
        low, high = self._range()
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        width = _Y_LABEL_W - theme.SPACING
        for value, y in ((high, plot.top()), (low, plot.bottom())):
            painter.drawText(QRectF(0, y - 10, width, 20), right, self._fmt(value))
        if not self._labels:
            return
        y = plot.bottom() + 4
        painter.drawText(
            QRectF(plot.left(), y, plot.width() / 2, _AXIS_H),
            Qt.AlignmentFlag.AlignLeft,
            self._labels[0],
        )
        if len(self._labels) > 1:
            painter.drawText(
                QRectF(plot.center().x(), y, plot.width() / 2, _AXIS_H),
                Qt.AlignmentFlag.AlignRight,
                self._labels[-1],
            )

    def _paint_line(self, painter: QPainter, plot: QRectF, colour: QColor) -> None:
        points = [self.point_at(i) for i in range(len(self._values))]
        path = QPainterPath()
        drawing = False
        for point in points:
            if point is None:
                drawing = False
            elif drawing:
                path.lineTo(point)
            else:
                path.moveTo(point)
                drawing = True
        fill = QColor(colour)
        fill.setAlpha(36)
        for run in _runs(points):
            area = QPainterPath()
            area.moveTo(run[0].x(), plot.bottom())
            for point in run:
                area.lineTo(point)
            area.lineTo(run[-1].x(), plot.bottom())
            painter.fillPath(area, fill)
        painter.setPen(QPen(colour, 2))
        painter.drawPath(path)
        painter.setBrush(colour)
        painter.setPen(Qt.PenStyle.NoPen)
        radius = 2.5 if len(points) <= 48 else 1.5
        for point in points:
            if point is not None:
                painter.drawEllipse(point, radius, radius)

    # -- pointer ----------------------------------------------------------------------------

    def tooltip_at(self, x: float) -> str:
        if not self._values:
            return ""
        plot = self._plot()
        step = plot.width() / max(1, len(self._values) - 1)
        i = round((x - plot.left()) / step) if len(self._values) > 1 else 0
        i = min(max(i, 0), len(self._values) - 1)
        value = self._values[i]
        label = self._labels[i] if i < len(self._labels) else ""
        return f"{label} · {self._fmt(value) if value is not None else 'no calls'}"

    def event(self, event: QEvent) -> bool:
        if isinstance(event, QHelpEvent) and event.type() == QEvent.Type.ToolTip:
            text = self.tooltip_at(event.pos().x())
            if text:
                QToolTip.showText(event.globalPos(), plain_tooltip(text), self)
            return True
        return super().event(event)


def _runs(points: list[QPointF | None]) -> list[list[QPointF]]:
    runs: list[list[QPointF]] = [[]]
    for point in points:
        if point is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(point)
    return [run for run in runs if run]
