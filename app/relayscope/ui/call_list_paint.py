"""How the call list paints its cells: straight onto the painter, one model call per row.

Under heavy traffic the list repaints its visible rows ten times a second, and Qt's own
cell painting (`QStyledItemDelegate`: seven `data()` calls per cell, then the style lays out
each cell's text) was most of the UI thread's time. `RowDelegate` asks the model once per
cell (`Role.CELL`) and draws what the style drew: the selection or alert background, the
status icon, the text elided with "…" in the column's alignment and colour, the Gaps
sparkline. Even so, Qt calling Python once per cell cost as much as the drawing, so the
view paints its visible rows itself in one Python pass (`paint_rows`), with the same
drawing code (`RowDelegate.draw_cell`). `StyledRowDelegate` is the style's way, kept as the
reference the tests and `bench/ui_bench.py` compare against.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, cast

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QFontMetricsF,
    QIcon,
    QPainter,
    QPalette,
    QPen,
    QStaticText,
    QTransform,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
)

from relayscope.ui import theme
from relayscope.ui.call_list_model import COLUMN, COLUMNS
from relayscope.ui.roles import Cell, Role

#: Room for the Gaps sparkline: 24 bars of 3 px and a 1 px space.
SPARKLINE_WIDTH = 24 * 4
_GAPS = COLUMN["gaps"]
_GAPS_ROLE = int(Role.GAPS)
_CELL = int(Role.CELL)
#: Shaped cell texts kept (a screen of cells is a few hundred).
_TEXT_CACHE = 4096
_HAS_FOCUS = QStyle.StateFlag.State_HasFocus
_SELECTED = QStyle.StateFlag.State_Selected.value
_ACTIVE = QStyle.StateFlag.State_Active.value
_ENABLED = QStyle.StateFlag.State_Enabled.value
_RIGHT = [c.numeric for c in COLUMNS]
_SHOW_DECORATION_SELECTED = QStyle.StyleHint.SH_ItemView_ShowDecorationSelected


def _group(state: int) -> QPalette.ColorGroup:
    """The palette's colour group for a view item's state, as the style picks it."""
    if not state & _ENABLED:
        return QPalette.ColorGroup.Disabled
    return QPalette.ColorGroup.Active if state & _ACTIVE else QPalette.ColorGroup.Inactive


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
        rect: tuple[int, int, int, int],
        metrics: QFontMetrics,
        profile: tuple[list[float], float],
    ) -> None:
        """Draws in `rect` (left, top, width, height: plain ints, no QRect to build)."""
        gaps, stall_ms = profile
        x, y, cell_width, cell_height = rect
        text_room = metrics.horizontalAdvance("99.9 s") + 2 * theme.SPACING
        width = min(SPARKLINE_WIDTH, cell_width - text_room)
        left, bottom = x + theme.SPACING // 2, y + cell_height - 1 - 3
        bars = sparkline_bars(gaps, stall_ms, width, cell_height - 8)
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
            rect = cast(tuple[int, int, int, int], option.rect.getRect())
            self._sparkline.draw(painter, rect, option.fontMetrics, profile)


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
        #: (text, width, height, bold, right-aligned) -> (shaped text, x and y in its rect).
        self._texts: dict[tuple[str, int, int, bool, bool], tuple[QStaticText, float, float]] = {}
        self._frame: _Frame | None = None

    def prepare(self) -> None:
        """Read what every cell of the coming paint shares (the view's font, palette, style,
        icon size) once: reading them from each cell's option costs more than drawing it.
        The view calls this before each paint; a delegate never prepared prepares itself."""
        view = self._view
        font = view.font()
        if self._fonts is None or font != self._font:
            heavy = QFont(font)
            heavy.setBold(True)
            self._font = QFont(font)
            self._fonts = (self._font, QFontMetrics(font), heavy, QFontMetrics(heavy))
            self._texts.clear()
        palette = view.palette()
        colours = {
            group: (
                palette.brush(group, QPalette.ColorRole.Highlight),
                palette.color(group, QPalette.ColorRole.HighlightedText),
                palette.color(group, QPalette.ColorRole.Text),
                palette.brush(group, QPalette.ColorRole.AlternateBase),
            )
            for group in (
                QPalette.ColorGroup.Active,
                QPalette.ColorGroup.Inactive,
                QPalette.ColorGroup.Disabled,
            )
        }
        self._frame = _Frame(self._fonts, colours, *self._layout())

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
        rect = cast(tuple[int, int, int, int], option.rect.getRect())
        # An int: operators on Qt's flag enums cost microseconds.
        self.draw_cell(painter, rect, option.state.value, cell, _RIGHT[index.column()])

    def draw_cell(
        self,
        painter: QPainter,
        rect: tuple[int, int, int, int],
        state: int,
        cell: Cell,
        right: bool,
    ) -> None:
        """Draws one cell in `rect` (left, top, width, height) for a view item's `state`
        (`QStyle.StateFlag` as an int): `paint()` per cell when Qt asks, `paint_rows` for
        the whole view in one Python pass."""
        frame = self._frame
        if frame is None:
            self.prepare()
            frame = cast(_Frame, self._frame)
        text, colour, background, icon, bold, profile = cell
        left, top, width, height = rect
        selected = state & _SELECTED
        if selected or colour is None:
            highlight, highlighted_text, plain_text, _ = frame.colours[_group(state)]
            if selected:
                # As the style: the highlight replaces the alert tint, the text takes the
                # highlighted text's colour (the status colours too).
                painter.fillRect(left, top, width, height, highlight)
                colour = highlighted_text
            else:
                colour = plain_text
        if background is not None and not selected:
            painter.fillRect(left, top, width, height, background)
        margin = frame.margin
        if icon is not None:
            size = frame.icon_size
            icon.paint(
                painter,
                QRect(left + frame.icon_left, top + (height - size) // 2, size, size),
                Qt.AlignmentFlag.AlignCenter,
                QIcon.Mode.Selected if selected else QIcon.Mode.Normal,
                QIcon.State.Off,
            )
            width -= frame.text_left
            left += frame.text_left
        fonts = frame.fonts
        font, metrics = (fonts[2], fonts[3]) if bold else (fonts[0], fonts[1])
        if profile is not None:
            self._sparkline.draw(painter, rect, metrics, profile)
        if not text:
            return
        width -= 2 * margin
        key = (text, width, height, bold, right)
        laid = self._texts.get(key)
        if laid is None:
            laid = self._lay_out(key, font, metrics)
        static, dx, dy = laid
        if bold:
            painter.setFont(font)  # the view's own font is the painter's already
        painter.setPen(colour)
        painter.drawStaticText(QPointF(left + margin + dx, top + dy), static)
        if bold:
            painter.setFont(fonts[0])

    def _lay_out(
        self, key: tuple[str, int, int, bool, bool], font: QFont, metrics: QFontMetrics
    ) -> tuple[QStaticText, float, float]:
        """A cell text elided to its width, shaped once and placed as the style places it
        (vertically centred, left or right): most texts repeat from one repaint to the next
        and from row to row ("complete", "200", a model), and shaping is what costs."""
        text, width, height, _, right = key
        shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
        exact = QFontMetricsF(font)
        static = QStaticText(shown)
        static.setTextFormat(Qt.TextFormat.PlainText)
        static.prepare(QTransform(), font)
        dx = width - exact.horizontalAdvance(shown) if right else 0.0
        laid = (static, dx, (height - exact.height()) / 2)
        if len(self._texts) >= _TEXT_CACHE:
            self._texts.clear()  # live elapsed times churn; a refill is a few repaints
        self._texts[key] = laid
        return laid

    def _layout(self) -> tuple[int, int, int, int]:
        """Where the style puts a cell's icon and text: the icon's left, the text area's
        left, the text's margin and the icon's size."""
        view = self._view
        style = view.style()
        size = view.iconSize()
        probe = QStyleOptionViewItem()
        probe.initFrom(view)
        probe.rect = QRect(0, 0, 200, max(view.fontMetrics().height(), size.height()) + 8)
        probe.features = (
            QStyleOptionViewItem.ViewItemFeature.HasDisplay
            | QStyleOptionViewItem.ViewItemFeature.HasDecoration
        )
        probe.font = view.font()
        probe.icon = theme.status_icon("ok")
        probe.decorationSize = size
        probe.decorationAlignment = Qt.AlignmentFlag.AlignCenter
        probe.decorationPosition = QStyleOptionViewItem.Position.Left
        probe.displayAlignment = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        probe.text = "200"
        icon = style.subElementRect(QStyle.SubElement.SE_ItemViewItemDecoration, probe, view)
        text = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, probe, view)
        margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1
        return icon.left(), text.left(), margin, size.height()


class _Frame(NamedTuple):
    """What the cells of one paint share (`RowDelegate.prepare`)."""

    fonts: tuple[QFont, QFontMetrics, QFont, QFontMetrics]
    #: Per colour group: highlight, highlighted text, text, alternate row background.
    colours: dict[QPalette.ColorGroup, tuple[QBrush, QColor, QColor, QBrush]]
    icon_left: int
    text_left: int
    margin: int
    icon_size: int


class _CellRows(Protocol):
    def row_cells(self, number: int, columns: list[int]) -> list[Cell | None]: ...


def paint_rows(
    view: QTableView, delegate: RowDelegate, model: _CellRows, painter: QPainter, dirty: QRect
) -> None:
    """Paints the cells of `view` that meet `dirty` in one Python pass, as `QTableView`'s
    own paint does with `delegate` (alternate rows, selection, grid), without its call from
    C++ into Python for each cell: at 500 calls/s that per-cell dispatch was most of a
    repaint. The caller checks the view is one this can paint (rows whole, left to right,
    no editor) and has called `delegate.prepare()`."""
    frame = cast(_Frame, delegate._frame)
    option = QStyleOptionViewItem()
    view.initViewItemOption(option)  # the state Qt gives every cell (enabled, active)
    state = option.state.value & ~_HAS_FOCUS.value
    style = view.style()
    show_selected = style.styleHint(_SHOW_DECORATION_SELECTED, option, view)
    highlight, _, _, alternate_base = frame.colours[_group(state)]
    header = view.horizontalHeader()
    first = header.visualIndexAt(dirty.left())
    last = header.visualIndexAt(dirty.right())
    first, last = max(first, 0), header.count() - 1 if last < 0 else last
    logicals: list[int] = []
    spans: list[tuple[int, int]] = []
    for visual in range(first, last + 1):
        logical = header.logicalIndex(visual)
        width = 0 if header.isSectionHidden(logical) else header.sectionSize(logical)
        if width > 0:
            logicals.append(logical)
            spans.append((header.sectionViewportPosition(logical), width))
    top = view.rowAt(dirty.top())
    bottom = view.rowAt(dirty.bottom())
    rows = view.model().rowCount()
    bottom = rows - 1 if bottom < 0 else bottom
    if top < 0 or not logicals:
        return
    grid = 1 if view.showGrid() else 0
    alternating = view.alternatingRowColors()
    selection = view.selectionModel()
    root = view.rootIndex()
    lines: list[int] = []
    row_left, row_right = spans[0][0], spans[-1][0] + spans[-1][1]
    for row in range(top, bottom + 1):
        height = view.rowHeight(row)
        if height <= 0:
            continue
        y = view.rowViewportPosition(row)
        lines.append(y + height - 1)
        whole = selection.isRowSelected(row, root)
        some = not whole and selection.rowIntersectsSelection(row, root)
        odd = alternating and row & 1
        cells = model.row_cells(row, logicals)
        # The style's row panel (PE_PanelItemViewRow) under each cell: one fill for the
        # row when its cells are alike and touch (no grid between them).
        panel = highlight if whole and show_selected else alternate_base if odd else None
        each = grid or some
        if panel is not None and not each:
            painter.fillRect(row_left, y, row_right - row_left, height, panel)
        for logical, (x, width), cell in zip(logicals, spans, cells, strict=True):
            picked = whole or (some and selection.isSelected(view.model().index(row, logical)))
            rect = (x, y, width - grid, height - grid)
            if each:
                if picked and show_selected:
                    painter.fillRect(*rect, highlight)
                elif odd:
                    painter.fillRect(*rect, alternate_base)
            if cell is not None:
                cell_state = state | _SELECTED if picked else state
                delegate.draw_cell(painter, rect, cell_state, cell, _RIGHT[logical])
    if grid:
        _paint_grid(view, painter, dirty, lines, spans, option)


def _paint_grid(
    view: QTableView,
    painter: QPainter,
    dirty: QRect,
    lines: list[int],
    spans: list[tuple[int, int]],
    option: QStyleOptionViewItem,
) -> None:
    """The grid as `QTableView` draws it: a line under each row and right of each column,
    across the part of `dirty` the cells cover."""
    colour = view.style().styleHint(QStyle.StyleHint.SH_Table_GridLineColor, option, view)
    painter.save()
    painter.setPen(QPen(QColor.fromRgba(colour & 0xFFFFFFFF), 1, view.gridStyle()))
    header, rows = view.horizontalHeader(), view.verticalHeader()
    right = min(dirty.right(), header.length() - header.offset() - 1)
    bottom = min(dirty.bottom(), rows.length() - rows.offset() - 1)
    for y in lines:
        painter.drawLine(dirty.left(), y, right, y)
    for x, width in spans:
        painter.drawLine(x + width - 1, dirty.top(), x + width - 1, bottom)
    painter.restore()
