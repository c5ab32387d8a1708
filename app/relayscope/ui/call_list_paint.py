"""How the call list paints its cells: straight onto the painter, one model call per cell.

Under heavy traffic the list repaints its visible rows ten times a second, and Qt's own
cell painting (`QStyledItemDelegate`: seven `data()` calls per cell, then the style lays out
each cell's text) was most of the UI thread's time. `RowDelegate` asks the model once per
cell (`Role.CELL`) and draws what the style drew: the selection or alert background, the
status icon, the text elided with "…" in the column's alignment and colour, the Gaps
sparkline. `StyledRowDelegate` is the style's way, kept as the reference the tests and
`bench/ui_bench.py` compare against.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from relayscope.ui import theme
from relayscope.ui.call_list_model import COLUMN, COLUMNS
from relayscope.ui.roles import Role

#: Room for the Gaps sparkline: 24 bars of 3 px and a 1 px space.
SPARKLINE_WIDTH = 24 * 4
_GAPS = COLUMN["gaps"]
_GAPS_ROLE = int(Role.GAPS)
_CELL = int(Role.CELL)
_HAS_FOCUS = QStyle.StateFlag.State_HasFocus
_SELECTED = QStyle.StateFlag.State_Selected
_ACTIVE = QStyle.StateFlag.State_Active
_ENABLED = QStyle.StateFlag.State_Enabled
_ALIGNMENTS = [
    (Qt.AlignmentFlag.AlignRight if c.numeric else Qt.AlignmentFlag.AlignLeft)
    | Qt.AlignmentFlag.AlignVCenter
    for c in COLUMNS
]


def sparkline_bars(
    gaps: list[float], stall_ms: float, width: int, height: int
) -> list[tuple[int, int, int, bool]]:
    """(x, width, height, is a stall) of each bar, tallest gap = full height (at least 1 px,
    so a steady stream still shows a baseline); nothing when there is no room."""
    if width < len(gaps) or height < 2 or not gaps:
        return []
    step = min(width // len(gaps), 4)
    tallest = max(gaps) or 1.0
    return [
        (i * step, max(1, step - 1), max(1, round(height * gap / tallest)), gap >= stall_ms)
        for i, gap in enumerate(gaps)
    ]


class _Sparkline:
    """Draws a Gaps cell's bars left of its text (the longest gap, at most "99.9 s" wide)."""

    _colour_cache: tuple[bool, tuple[QColor, QColor]] | None = None

    def draw(
        self,
        painter: QPainter,
        rect: QRect,
        metrics: QFontMetrics,
        profile: tuple[list[float], float],
    ) -> None:
        gaps, stall_ms = profile
        text_room = metrics.horizontalAdvance("99.9 s") + 2 * theme.SPACING
        width = min(SPARKLINE_WIDTH, rect.width() - text_room)
        left, bottom = rect.left() + theme.SPACING // 2, rect.bottom() - 3
        bars = sparkline_bars(gaps, stall_ms, width, rect.height() - 8)
        steady, stall = self._colours()
        for x, bar_width, height, stalled in bars:
            painter.fillRect(
                left + x, bottom + 1 - height, bar_width, height, stall if stalled else steady
            )

    def _colours(self) -> tuple[QColor, QColor]:
        dark = theme.is_dark()
        if self._colour_cache is None or self._colour_cache[0] != dark:
            colours = (theme.colour(theme.MUTED), theme.colour(theme.WARNING))
            self._colour_cache = (dark, colours)
        return self._colour_cache[1]


class StyledRowDelegate(QStyledItemDelegate):
    """The style's cell painting (seven roles per cell, the style's text layout) without the
    dotted focus frame, plus the sparkline: what the list painted before `RowDelegate`, kept
    as the reference for its tests and for bench/ui_bench.py's side-by-side repaint cost."""

    _sparkline = _Sparkline()

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        option.state &= ~_HAS_FOCUS

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        super().paint(painter, option, index)
        if index.column() != _GAPS:
            return
        profile = index.data(_GAPS_ROLE)
        if profile is not None:
            self._sparkline.draw(painter, option.rect, option.fontMetrics, profile)


class RowDelegate(QStyledItemDelegate):
    """Paints a call list cell from one `Role.CELL` answer, as `StyledRowDelegate` (the
    Fusion style) does, without the style's per-cell text layout. The whole row is what is
    selected: no focus frame. A model without the role is painted the style's way."""

    def __init__(self, view: QAbstractItemView) -> None:
        super().__init__(view)
        self._view = view
        self._sparkline = _Sparkline()
        self._font = QFont()
        self._fonts: tuple[QFont, QFontMetrics, QFont, QFontMetrics] | None = None
        #: (style, icon size) -> (icon's left offset, text area's left offset, text margin).
        self._geometry: tuple[object, QSize, int, int, int] | None = None

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        cell = index.data(_CELL)
        if cell is None:
            super().paint(painter, option, index)
            return
        text, colour, background, icon, bold, profile = cell
        rect: QRect = option.rect
        state = option.state
        palette: QPalette = option.palette
        group = (
            QPalette.ColorGroup.Disabled
            if not state & _ENABLED
            else QPalette.ColorGroup.Active
            if state & _ACTIVE
            else QPalette.ColorGroup.Inactive
        )
        selected = bool(state & _SELECTED)
        if selected:
            # As the style: the highlight replaces the alert tint, the text takes the
            # highlighted text's colour (the status colours too).
            painter.fillRect(rect, palette.brush(group, QPalette.ColorRole.Highlight))
            colour = palette.color(group, QPalette.ColorRole.HighlightedText)
        else:
            if background is not None:
                painter.fillRect(rect, background)
            if colour is None:
                colour = palette.color(group, QPalette.ColorRole.Text)
        icon_left, text_left, margin = self._layout(option)
        area = QRect(rect)
        if icon is not None:
            size = self._view.iconSize()
            top = rect.top() + (rect.height() - size.height()) // 2
            mode = QIcon.Mode.Selected if selected else QIcon.Mode.Normal
            icon.paint(
                painter,
                QRect(rect.left() + icon_left, top, size.width(), size.height()),
                Qt.AlignmentFlag.AlignCenter,
                mode,
                QIcon.State.Off,
            )
            area.setLeft(rect.left() + text_left)
        font, metrics = self._font_for(option.font, bold)
        if profile is not None:
            self._sparkline.draw(painter, rect, metrics, profile)
        if not text:
            return
        column = index.column()
        width = area.width() - 2 * margin
        shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
        painter.setFont(font)
        painter.setPen(colour)
        painter.drawText(
            QRectF(area.left() + margin, area.top(), width, area.height()),
            _ALIGNMENTS[column],
            shown,
        )

    def _font_for(self, font: QFont, bold: bool) -> tuple[QFont, QFontMetrics]:
        """The view's font (or its bold, for a turn's row) and metrics, made once per font."""
        if self._fonts is None or font != self._font:
            heavy = QFont(font)
            heavy.setBold(True)
            self._font = QFont(font)
            self._fonts = (self._font, QFontMetrics(font), heavy, QFontMetrics(heavy))
        fonts = self._fonts
        return (fonts[2], fonts[3]) if bold else (fonts[0], fonts[1])

    def _layout(self, option: QStyleOptionViewItem) -> tuple[int, int, int]:
        """Where the style puts a cell's icon and text (asked once per style and icon size)."""
        style = self._view.style()
        size = self._view.iconSize()
        cached = self._geometry
        if cached is not None and cached[0] is style and cached[1] == size:
            return cached[2], cached[3], cached[4]
        probe = QStyleOptionViewItem(option)
        probe.rect = QRect(0, 0, 200, max(option.rect.height(), size.height()))
        probe.features = (
            QStyleOptionViewItem.ViewItemFeature.HasDisplay
            | QStyleOptionViewItem.ViewItemFeature.HasDecoration
        )
        probe.icon = theme.status_icon("ok")
        probe.decorationSize = size
        probe.text = "200"
        icon = style.subElementRect(QStyle.SubElement.SE_ItemViewItemDecoration, probe, self._view)
        text = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, probe, self._view)
        metric = QStyle.PixelMetric.PM_FocusFrameHMargin
        margin = style.pixelMetric(metric, None, self._view) + 1
        self._geometry = (style, QSize(size), icon.left(), text.left(), margin)
        return icon.left(), text.left(), margin
