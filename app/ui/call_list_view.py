"""CallListView: the dense, sortable list of calls (selection, copy, context menu)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPaintEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from app.ui import theme
from app.ui.call_list_model import COLUMN, COLUMNS, CallListModel

#: Widest text each column usually shows (sizes the columns at start).
_SAMPLES = {
    "time": "Mar 02 12:01:03",
    "provider": "openrouter-eu",
    "endpoint": "chat.completions",
    "status": "000",
    "state": "interrupted",
    "stream": "Stream",
    "ttft": "9,999 ms",
    "duration": "99.9 s …",
    "tokens": "12,345 / 12,345",
    "chunks": "99,999",
}


class _RowDelegate(QStyledItemDelegate):
    """Cells without the dotted focus frame: the whole row is what is selected.

    (Costs about 1 ms per repaint of the visible rows, measured with bench/ui_bench.py.)
    """

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        option.state &= ~_HAS_FOCUS


_HAS_FOCUS = QStyle.StateFlag.State_HasFocus


class CallListView(QTableView):
    """The list of calls: one dense row per call, sortable, keyboard-driven.

    Signals:
        call_selected(str): the current call changed (its id; empty when none).
        call_id_copied(str): a call id was put on the clipboard (Ctrl+C or the menu).
    """

    call_selected = Signal(str)
    call_id_copied = Signal(str)

    def __init__(self, model: CallListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._restore_id = ""
        self._empty_message = "No calls match the filter. Press Esc to clear it."
        self.setModel(model)
        self.setItemDelegate(_RowDelegate(self))
        self._configure()
        self._size_columns()
        self._apply_selection_palette()
        self.copy_action = QAction("Copy ID", self)
        self.copy_action.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.copy_action.triggered.connect(self.copy_current_id)
        self.addAction(self.copy_action)
        self.selectionModel().currentRowChanged.connect(self._on_selection_current_row_changed)
        model.modelAboutToBeReset.connect(self._on_model_about_to_be_reset)
        model.modelReset.connect(self._on_model_reset)
        model.rowsInserted.connect(self._on_model_rows_inserted)
        self.customContextMenuRequested.connect(self._on_custom_context_menu_requested)

    def _configure(self) -> None:
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setShowGrid(False)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setCornerButtonEnabled(False)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setFrameShape(QTableView.Shape.NoFrame)
        self.setIconSize(self.iconSize().scaled(14, 14, Qt.AspectRatioMode.IgnoreAspectRatio))
        rows = self.verticalHeader()
        rows.hide()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.fontMetrics().height() + theme.SPACING)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionsMovable(True)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSortIndicator(COLUMN["time"], Qt.SortOrder.DescendingOrder)
        self.setSortingEnabled(True)

    def _size_columns(self) -> None:
        header = self.horizontalHeader()
        metrics = self.fontMetrics()
        padding = 3 * theme.SPACING
        for section, column in enumerate(COLUMNS):
            sample = _SAMPLES.get(column.key, "")
            width = max(metrics.horizontalAdvance(sample), metrics.horizontalAdvance(column.title))
            width += padding + (20 if column.key == "status" else 0)
            header.resizeSection(section, width)
        header.setSectionResizeMode(COLUMN["model"], QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(40)

    # -- public API ---------------------------------------------------------------------

    def current_call_id(self) -> str:
        index = self.currentIndex()
        return self._model.call_id(index.row()) or "" if index.isValid() else ""

    def select_call(self, call_id: str) -> bool:
        """Select the row of `call_id` if it is loaded; True if it was."""
        row = self._model.row_of(call_id)
        if row is None:
            return False
        self.setCurrentIndex(self._model.index(row, 0))
        self.scrollTo(self._model.index(row, 0))
        return True

    def copy_current_id(self) -> None:
        call_id = self.current_call_id()
        if call_id:
            QGuiApplication.clipboard().setText(call_id)
            self.call_id_copied.emit(call_id)

    def set_empty_message(self, text: str) -> None:
        self._empty_message = text
        self.viewport().update()

    # -- events -------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self._model.rowCount() == 0 and self._empty_message:
            painter = QPainter(self.viewport())
            painter.setPen(theme.colour(theme.MUTED))
            painter.drawText(
                self.viewport().rect().adjusted(0, 4 * theme.SPACING, 0, 0),
                int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop),
                self._empty_message,
            )
            painter.end()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # QTableView copies the current cell's text on Ctrl+C; a call's id is what is useful.
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_current_id()
            event.accept()
            return
        super().keyPressEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ApplicationPaletteChange:
            self._apply_selection_palette()
            self._model.refresh_theme()

    def _apply_selection_palette(self) -> None:
        palette = QGuiApplication.palette()
        dark = theme.is_dark(palette)
        soft = theme.selection_colour(dark)
        text = palette.color(palette.ColorRole.Text)
        for group in (palette.ColorGroup.Active, palette.ColorGroup.Inactive):
            palette.setColor(group, palette.ColorRole.Highlight, soft)
            palette.setColor(group, palette.ColorRole.HighlightedText, text)
        self.setPalette(palette)

    # -- slots --------------------------------------------------------------------------

    def _on_selection_current_row_changed(self, current: QModelIndex, _: QModelIndex) -> None:
        call_id = self._model.call_id(current.row()) if current.isValid() else None
        self.call_selected.emit(call_id or "")

    def _on_model_about_to_be_reset(self) -> None:
        self._restore_id = self.current_call_id()

    def _on_model_reset(self) -> None:
        restore, self._restore_id = self._restore_id, ""
        if restore and not self.select_call(restore):
            self.call_selected.emit("")

    def _on_model_rows_inserted(self, _: QModelIndex, first: int, last: int) -> None:
        # New calls arrive at the top; someone reading further down keeps their place.
        bar = self.verticalScrollBar()
        if first == 0 and bar.value() > 0:
            bar.setValue(
                bar.value() + (last - first + 1) * self.verticalHeader().defaultSectionSize()
            )

    def _on_custom_context_menu_requested(self, position: QPoint) -> None:
        index = self.indexAt(position)
        if not index.isValid():
            return
        self.setCurrentIndex(index)
        menu = QMenu(self)
        menu.addAction(self.copy_action)
        menu.exec(self.viewport().mapToGlobal(position))
