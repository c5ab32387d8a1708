"""StreamTimeline: a strip with one tick per chunk over time, stalls shaded and labelled."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QLine, QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from relayscope.analysis.stream_stats import Stall
from relayscope.ui.inspector import _format as fmt
from relayscope.ui.inspector._style import SPACING, colours

_LABEL_H = 18  # stall and first-token labels above the ticks
_TICKS_H = 34
_AXIS_H = 16
_HIT_PX = 5  # how near the pointer must be to a tick to pick it


def _nice_step(span_ms: float, max_labels: int) -> float:
    """A round axis step (1, 2, 5 × 10^n ms) giving at most `max_labels` labels."""
    raw = span_ms / max(1, max_labels)
    power = 10.0 ** math.floor(math.log10(max(raw, 1e-9)))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


class StreamTimeline(QWidget):
    """x is time since the request started; each chunk is a tick.

    Rows are the chunk table's rows, which are the chunks' seqs (the recorder numbers them
    from 0 without holes); stalls are given in rows too.

    Ticks are binned per pixel column before painting, so 5,000 chunks cost what the strip's
    width costs. Invalid chunks are red, stalls shaded and labelled ("stall 1.2 s").

    Signals:
        chunk_clicked(int): the row (in the chunk table) of the tick the person clicked.
    """

    chunk_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._times: list[float] = []
        self._invalid: set[int] = set()
        self._stalls: list[Stall] = []
        self._first_token_ms: float | None = None
        self._end_ms = 0.0
        self._selected = -1
        self._bins: tuple[tuple[int, int, float], list[int], set[int]] | None = None
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(_LABEL_H + _TICKS_H + _AXIS_H + SPACING)
        self.setToolTip("")  # tooltips are computed per position in event()

    # -- feeding --------------------------------------------------------------------------

    def set_stream(
        self,
        times: Sequence[float],
        *,
        invalid_rows: Sequence[int] = (),
        stalls: Sequence[Stall] = (),
        first_token_ms: float | None = None,
        end_ms: float | None = None,
    ) -> None:
        """Show these chunk times (ms since the request started; rows of the chunk table)."""
        self._times = list(times)
        self._invalid = set(invalid_rows)
        self._stalls = list(stalls)
        self._first_token_ms = first_token_ms
        self._end_ms = max(end_ms or 0.0, self._times[-1] if self._times else 0.0)
        if self._selected >= len(self._times):
            self._selected = -1
        self._bins = None
        self.update()

    def select_row(self, row: int) -> None:
        """Mark the tick of this table row (no signal: the table asked)."""
        if row != self._selected:
            self._selected = row
            self.update()

    def selected_row(self) -> int:
        return self._selected

    def stalls(self) -> list[Stall]:
        return list(self._stalls)

    def stall_labels(self) -> list[str]:
        return [stall.label for stall in self._stalls]

    def sizeHint(self) -> QSize:
        return QSize(600, self.height())

    # -- geometry ---------------------------------------------------------------------------

    def _plot(self) -> QRectF:
        return QRectF(SPACING, _LABEL_H, max(1, self.width() - 2 * SPACING), _TICKS_H)

    def _span(self) -> float:
        return max(self._end_ms, 1.0)

    def tick_x(self, row: int) -> float:
        """Where the tick of this row is drawn (widget coordinates)."""
        plot = self._plot()
        return plot.left() + self._times[row] / self._span() * plot.width()

    def row_at(self, x: float) -> int:
        """The row of the tick nearest to `x`, or -1 if none is within a few pixels."""
        if not self._times:
            return -1
        plot = self._plot()
        t = (x - plot.left()) / plot.width() * self._span()
        i = bisect.bisect_left(self._times, t)
        candidates = [j for j in (i - 1, i) if 0 <= j < len(self._times)]
        best = min(candidates, key=lambda j: abs(self._times[j] - t))
        return best if abs(self.tick_x(best) - x) <= _HIT_PX else -1

    def _stall_at(self, x: float) -> Stall | None:
        plot = self._plot()
        t = (x - plot.left()) / plot.width() * self._span()
        return next((s for s in self._stalls if s.start_ms <= t <= s.end_ms), None)

    def _binned(self) -> tuple[list[int], set[int]]:
        """Pixel columns that have chunks, and those of them holding an invalid chunk."""
        plot = self._plot()
        key = (int(plot.width()), len(self._times), self._span())
        if self._bins is not None and self._bins[0] == key:
            return self._bins[1], self._bins[2]
        scale = plot.width() / self._span()
        left = plot.left()
        xs = [int(left + t * scale) for t in self._times]
        columns = list(dict.fromkeys(xs))  # times are sorted, so columns come out sorted
        bad = {xs[row] for row in self._invalid if row < len(xs)}
        self._bins = (key, columns, bad)
        return columns, bad

    # -- painting ---------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        c = colours(self.palette())
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        plot = self._plot()
        painter.fillRect(plot, QColor(c.code_bg))
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        painter.setFont(small)
        if not self._times:
            painter.setPen(QColor(c.muted))
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter, "No chunks yet")
            return
        self._paint_stalls(painter, plot, c.warning, c.warning_bg)
        self._paint_ticks(painter, plot, c.accent, c.error)
        self._paint_first_token(painter, plot, c.ok)
        self._paint_selection(painter, plot, c.text)
        self._paint_axis(painter, plot, c.muted, c.border)
        painter.end()

    def _paint_stalls(self, painter: QPainter, plot: QRectF, colour: str, fill: str) -> None:
        small = QFont(painter.font())
        scale = plot.width() / self._span()
        bold = QFont(self.font())  # full size: the stall is what this strip is for
        bold.setBold(True)
        metrics = QFontMetrics(bold)
        painter.setFont(bold)
        for stall in self._stalls:
            left = plot.left() + stall.start_ms * scale
            right = plot.left() + stall.end_ms * scale
            band = QRectF(left, plot.top(), max(2.0, right - left), plot.height())
            painter.fillRect(band, QColor(fill))
            painter.fillRect(QRectF(left, plot.top(), band.width(), 3), QColor(colour))
            width = metrics.horizontalAdvance(stall.label) + 4
            x = min(max(band.center().x() - width / 2, 0), self.width() - width)
            painter.setPen(QColor(colour))
            painter.drawText(
                QRectF(x, 0, width, _LABEL_H), Qt.AlignmentFlag.AlignCenter, stall.label
            )
        painter.setFont(small)

    def _paint_ticks(self, painter: QPainter, plot: QRectF, colour: str, bad: str) -> None:
        top, bottom = int(plot.top()) + 6, int(plot.bottom()) - 1
        columns, invalid = self._binned()
        painter.setPen(QPen(QColor(colour), 1))
        painter.drawLines([QLine(x, top, x, bottom) for x in columns if x not in invalid])
        if invalid:
            painter.setPen(QPen(QColor(bad), 2))
            painter.drawLines([QLine(x, top - 5, x, bottom) for x in sorted(invalid)])

    def _paint_first_token(self, painter: QPainter, plot: QRectF, colour: str) -> None:
        if self._first_token_ms is None:
            return
        x = plot.left() + self._first_token_ms / self._span() * plot.width()
        pen = QPen(QColor(colour))
        pen.setWidth(2)
        painter.setPen(pen)
        painter.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
        label = f"first token {fmt.ms(self._first_token_ms)}"
        width = painter.fontMetrics().horizontalAdvance(label) + 4
        stall_spans = [
            (
                plot.left() + s.start_ms / self._span() * plot.width(),
                plot.left() + s.end_ms / self._span() * plot.width(),
            )
            for s in self._stalls
        ]
        left = min(x + 3, self.width() - width)
        if any(a - 80 < left + width and left < b + 80 for a, b in stall_spans):
            return  # the stall's label matters more; the line alone marks the first token
        painter.drawText(QRectF(left, 0, width, _LABEL_H), Qt.AlignmentFlag.AlignVCenter, label)

    def _paint_selection(self, painter: QPainter, plot: QRectF, colour: str) -> None:
        if not 0 <= self._selected < len(self._times):
            return
        x = self.tick_x(self._selected)
        pen = QPen(QColor(colour))
        pen.setWidth(3)
        painter.setPen(pen)
        painter.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
        painter.setBrush(QColor(colour))
        painter.drawPolygon(
            [
                QPointF(x - 4, plot.bottom() + 5),
                QPointF(x + 4, plot.bottom() + 5),
                QPointF(x, plot.bottom() + 1),
            ]
        )

    def _paint_axis(self, painter: QPainter, plot: QRectF, colour: str, line: str) -> None:
        painter.setPen(QColor(line))
        painter.drawLine(QPointF(plot.left(), plot.bottom()), QPointF(plot.right(), plot.bottom()))
        metrics = painter.fontMetrics()
        widest = max(metrics.horizontalAdvance(fmt.ms(t)) for t in (999.0, self._span()))
        label_w = widest + SPACING * 4
        step = _nice_step(self._span(), int(plot.width() // label_w))
        painter.setPen(QColor(colour))
        t = 0.0
        y = plot.bottom() + 4
        while t <= self._span():
            x = plot.left() + t / self._span() * plot.width()
            label = "0" if t == 0 else fmt.ms(t)
            width = metrics.horizontalAdvance(label)
            left = min(max(x - width / 2, 0), self.width() - width)
            painter.drawText(QRectF(left, y, width + 2, _AXIS_H), Qt.AlignmentFlag.AlignLeft, label)
            t += step

    # -- pointer ----------------------------------------------------------------------------

    def event(self, event: object) -> bool:
        if isinstance(event, QHelpEvent) and event.type() == QEvent.Type.ToolTip:
            self._show_tooltip(event.pos(), event.globalPos())
            return True
        return super().event(event)  # type: ignore[arg-type]

    def tooltip_at(self, x: float) -> str:
        row = self.row_at(x)
        if row >= 0:
            gap = self._times[row] - (self._times[row - 1] if row > 0 else 0.0)
            note = "  ⚠ not valid JSON" if row in self._invalid else ""
            return f"#{row} · t {self._times[row]:,.0f} ms · +gap {gap:,.0f} ms{note}"
        stall = self._stall_at(x)
        if stall is not None:
            return (
                f"Stall: nothing arrived for {stall.gap_ms / 1000:.1f} s "
                f"(between #{stall.after_seq} and #{stall.at_seq})"
            )
        return ""

    def _show_tooltip(self, pos: QPoint, global_pos: QPoint) -> None:
        text = self.tooltip_at(pos.x())
        if text:
            QToolTip.showText(global_pos, text, self)
        else:
            QToolTip.hideText()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            row = self.row_at(event.position().x())
            if row < 0:
                stall = self._stall_at(event.position().x())
                row = stall.at_seq if stall is not None else -1
            if row >= 0:
                self.select_row(row)
                self.chunk_clicked.emit(row)
        super().mousePressEvent(event)
