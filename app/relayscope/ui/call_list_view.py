"""CallListView: the dense, sortable list of calls (selection, copy, grouping, context menu)."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import (
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSignalBlocker,
    Qt,
    QTimer,
    Signal,
    SignalInstance,
)
from PySide6.QtGui import (
    QAction,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QMenu,
    QTableView,
    QWidget,
)

from relayscope.analysis.cost import load_prices_in_background, prices_loaded
from relayscope.ui import theme
from relayscope.ui.call_group_model import CallGroupModel
from relayscope.ui.call_list_live import TICK_MS
from relayscope.ui.call_list_model import COLUMN, COLUMNS, CallListModel
from relayscope.ui.call_list_paint import SPARKLINE_WIDTH, RowDelegate, paint_rows

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
    "gaps": "99.9 s",  # plus room for the sparkline (_size_columns)
    "cost": "$0.00031",
}


#: While traffic flows and the list is read at its top, it keeps this many rows loaded
#: (the rest is paged back from SQL on scrolling): memory stays bounded however long it runs.
KEEP_ROWS = 1000
#: ... trimmed once this many more have arrived (not on every batch).
TRIM_SLACK = 500


class CallListView(QTableView):
    """The list of calls: one dense row per call, sortable, keyboard-driven.

    "Group by turn" (header or row context menu) folds each Codex turn into one row
    (`CallGroupModel`); → / ← or a double-click unfold and fold it. Several calls can be
    selected (Shift/Ctrl) for "Serve as playback…".

    Signals:
        call_selected(str): the current call changed (its id; empty when none).
        call_id_copied(str): a call id was put on the clipboard (Ctrl+C or the menu).
        playback_requested(list): "Serve as playback…" for these call ids.
        diagnostics_requested(str): "Diagnose provider…" for this provider.
        grouping_toggled(bool): "Group by turn" was switched on or off.
    """

    call_selected = Signal(str)
    call_id_copied = Signal(str)
    playback_requested = Signal(list)
    diagnostics_requested = Signal(str)
    grouping_toggled = Signal(bool)
    #: Paint the cells in one Python pass (`paint_rows`); off: Qt's paint, one delegate call
    #: per cell (what bench/ui_bench.py compares against).
    fast_paint = True

    def __init__(self, model: CallListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._source = model
        self._model: CallListModel | CallGroupModel = model
        self._groups: CallGroupModel | None = None
        self._restore_id = ""
        #: The selected call while its row is trimmed away (the list read at its top while
        #: traffic flows): still the current call for the window, selected again when paged back.
        self._parked_id = ""
        #: The rows on screen and where they were, while the model moves rows (those in
        #: `_moving`; None: a layout change) (`_on_model_rows_about_to_move`).
        self._read_at: list[tuple[QPersistentModelIndex, int]] = []
        self._moving: range | None = None
        self._empty_message = "No calls match the filter. Press Esc to clear it."
        self.setItemDelegate(RowDelegate(self))
        # Rows are trimmed after the batch that inserted them, never inside its signal, and
        # between two batches (a quarter of a tick later, and never within the model's
        # WORK_GAP_MS of one): a trim and a batch together would be one long pause.
        self._trim_timer = QTimer(self)
        self._trim_timer.setSingleShot(True)
        self._trim_timer.setInterval(TICK_MS // 4)
        self._trim_timer.timeout.connect(self._on_trim_timer_timeout)
        self._attach(model)
        self._configure()
        self._size_columns()
        self._apply_selection_palette()
        self.copy_action = QAction("Copy ID", self)
        self.copy_action.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.copy_action.triggered.connect(self.copy_current_id)
        self.addAction(self.copy_action)
        self.group_action = QAction("Group by turn", self)
        self.group_action.setCheckable(True)
        self.group_action.setToolTip("One row per Codex turn, unfolding into its requests")
        self.group_action.toggled.connect(self.set_grouped)
        #: The window's actions on the selected calls (edit, compare, diff, export…).
        self.extra_actions: list[QAction] = []
        self.playback_action = QAction("Serve as playback…", self)
        self.playback_action.setToolTip("Serve the selected calls again, with their timing")
        self.playback_action.triggered.connect(self._on_playback_action_triggered)
        self.customContextMenuRequested.connect(self._on_custom_context_menu_requested)
        header = self.horizontalHeader()
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._on_header_context_menu_requested)
        self._sorted_by = (COLUMN["time"], Qt.SortOrder.DescendingOrder)
        header.sortIndicatorChanged.connect(self._on_header_sort_indicator_changed)
        # The Cost column shows "…" until genai-prices has loaded on its own thread.
        self._prices_timer = QTimer(self)
        self._prices_timer.setInterval(200)
        self._prices_timer.timeout.connect(self._on_prices_timer_timeout)
        if not prices_loaded():
            load_prices_in_background()
            self._prices_timer.start()

    def _on_header_sort_indicator_changed(self, section: int, order: Qt.SortOrder) -> None:
        """A column the model cannot sort (Cost) keeps the indicator where the order is."""
        if COLUMNS[section].sortable:
            self._sorted_by = (section, order)
            return
        header = self.horizontalHeader()
        header.blockSignals(True)
        header.setSortIndicator(*self._sorted_by)
        header.blockSignals(False)

    def _on_prices_timer_timeout(self) -> None:
        if prices_loaded():
            self._prices_timer.stop()
            self.viewport().update()

    def _attach(self, model: CallListModel | CallGroupModel) -> None:
        """Show `model` (the list, or the list grouped by turn), keeping columns and selection."""
        state = self.horizontalHeader().saveState() if self.model() is not None else None
        if self.model() is not None:
            for signal, slot in self._followed(self._model):
                signal.disconnect(slot)
        self._model = model
        old_selection = self.selectionModel()
        self.setModel(model)
        if old_selection is not None:
            # setModel leaves the old one to its owner. Until the event loop deletes it, it
            # follows the old model (the list, when grouping is turned on): its current
            # row moving there (a trim) is not this view's, and must not show another call.
            old_selection.currentRowChanged.disconnect(self._on_selection_current_row_changed)
            old_selection.deleteLater()
        if state is not None:
            self.horizontalHeader().restoreState(state)
        self.selectionModel().currentRowChanged.connect(self._on_selection_current_row_changed)
        for signal, slot in self._followed(model):
            signal.connect(slot)

    def _followed(
        self, model: CallListModel | CallGroupModel
    ) -> list[tuple[SignalInstance, Callable[..., None]]]:
        """The model's signals this view follows (the selection, the reading place)."""
        return [
            (model.modelAboutToBeReset, self._on_model_about_to_be_reset),
            (model.modelReset, self._on_model_reset),
            (model.rowsInserted, self._on_model_rows_inserted),
            (model.rowsAboutToBeMoved, self._on_model_rows_about_to_move),
            (model.rowsMoved, self._on_model_rows_moved),
            (model.layoutAboutToBeChanged, self._on_model_layout_about_to_change),
            (model.layoutChanged, self._on_model_rows_moved),
        ]

    def _configure(self) -> None:
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
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
            width += SPARKLINE_WIDTH if column.key == "gaps" else 0
            header.resizeSection(section, width)
        header.setSectionResizeMode(COLUMN["model"], QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(40)

    # -- public API ---------------------------------------------------------------------

    def current_call_id(self) -> str:
        index = self.currentIndex()
        if not index.isValid():
            return self._parked_id
        return self._model.call_id(index.row()) or ""

    def select_call(self, call_id: str) -> bool:
        """Select the row of `call_id` if it is loaded (unfolding its turn); True if it was."""
        groups = self._groups if self._model is self._groups else None
        row = self._model.row_of(call_id)
        if groups is not None and row is not None and groups.call_id(row) != call_id:
            turn = groups.turn_id(row)
            if turn is not None:
                groups.set_expanded(turn, True)
                row = groups.row_of(call_id)
        if row is None:
            return False
        # Select explicitly: setCurrentIndex() would pick its selection command from the
        # keyboard's modifiers, so a Ctrl held (or last seen) while a link or a replay selects
        # a call would toggle the row instead of selecting it.
        index = self._model.index(row, 0)
        flags = (
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows
        )
        self.selectionModel().setCurrentIndex(index, flags)
        self.scrollTo(index)
        return True

    def select_first_row(self) -> None:
        """Make the top row current (the first call, or the list got the keyboard)."""
        if self._model.rowCount() > 0:
            self.setCurrentIndex(self._model.index(0, 0))

    def selected_call_ids(self) -> list[str]:
        """The selected calls, top to bottom (a turn's row stands for all its calls)."""
        rows = sorted(index.row() for index in self.selectionModel().selectedRows())
        if not rows and self._parked_id:
            return [self._parked_id]
        ids: list[str] = []
        for row in rows:
            if isinstance(self._model, CallGroupModel):
                ids += self._model.call_ids(row)
            elif (call_id := self._model.call_id(row)) is not None:
                ids.append(call_id)
        return list(dict.fromkeys(ids))

    def is_grouped(self) -> bool:
        return self._groups is not None and self._model is self._groups

    @property
    def group_model(self) -> CallGroupModel | None:
        """The grouping model while "Group by turn" is on."""
        return self._groups if self.is_grouped() else None

    def set_grouped(self, grouped: bool) -> None:
        """Fold each Codex turn into one row (or show every call on its own row again)."""
        if grouped == self.is_grouped():
            return
        current = self.current_call_id()
        if grouped:
            self._groups = CallGroupModel(self._source, self)
            self._attach(self._groups)
        else:
            self._attach(self._source)
            if self._groups is not None:
                self._groups.deleteLater()
            self._groups = None
        self.group_action.setChecked(grouped)
        if current:
            self.select_call(current)
        self.grouping_toggled.emit(grouped)

    def toggle_turn(self, row: int) -> bool:
        """Unfold or fold the turn on `row`; False if the row is not a turn's."""
        groups = self.group_model
        turn = groups.turn_id(row) if groups is not None else None
        if groups is None or turn is None:
            return False
        groups.set_expanded(turn, not groups.is_expanded(turn))
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
        started = time.perf_counter()
        delegate = self.itemDelegate()
        if isinstance(delegate, RowDelegate):
            delegate.prepare()
        if not self._paint_rows(event, delegate):
            super().paintEvent(event)
        self._source.note_paint_ms((time.perf_counter() - started) * 1000)
        if self._model.rowCount() == 0 and self._empty_message:
            painter = QPainter(self.viewport())
            painter.setPen(theme.colour(theme.MUTED))
            painter.drawText(
                self.viewport().rect().adjusted(0, 4 * theme.SPACING, 0, 0),
                int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop),
                self._empty_message,
            )
            painter.end()

    def _paint_rows(self, event: QPaintEvent, delegate: object) -> bool:
        """Paints the visible cells in one Python pass (`paint_rows`) when nothing needs
        Qt's own per-cell paint: the list's delegate, its own models, no editor open, left
        to right. False (nothing painted) otherwise."""
        if (
            not self.fast_paint
            or type(delegate) is not RowDelegate  # a subclass may paint its own way
            or self.model() is not self._model
            or self.state() == QAbstractItemView.State.EditingState
            or self.isRightToLeft()
        ):
            return False
        painter = QPainter(self.viewport())
        paint_rows(self, delegate, self._model, painter, event.region().boundingRect())
        painter.end()
        return True

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # QTableView copies the current cell's text on Ctrl+C; a call's id is what is useful.
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_current_id()
            event.accept()
            return
        if self._fold_key(event.key()):
            event.accept()
            return
        super().keyPressEvent(event)

    def _fold_key(self, key: int) -> bool:
        """→ unfolds the current turn, ← folds it (or goes from a call up to its turn)."""
        groups = self.group_model
        row = self.currentIndex().row()
        if groups is None or row < 0 or key not in (Qt.Key.Key_Right, Qt.Key.Key_Left):
            return False
        turn = groups.turn_id(row)
        if turn is not None:
            groups.set_expanded(turn, key == Qt.Key.Key_Right)
            return True
        if key == Qt.Key.Key_Left:
            call_id = groups.call_id(row) or ""
            for above in range(row - 1, -1, -1):
                if call_id in groups.call_ids(above) and groups.turn_id(above) is not None:
                    self.setCurrentIndex(groups.index(above, 0))
                    return True
        return False

    def mousePressEvent(self, event: QMouseEvent) -> None:
        # The ▸ in front of a turn's time folds and unfolds it, as in a tree.
        index = self.indexAt(event.position().toPoint())
        if (
            self.group_model is not None
            and index.isValid()
            and index.column() == self.horizontalHeader().logicalIndexAt(0)
            and event.position().x() - self.columnViewportPosition(index.column())
            < 3 * theme.SPACING
            and self.toggle_turn(index.row())
        ):
            self.setCurrentIndex(index)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        index = self.indexAt(event.position().toPoint())
        if index.isValid() and self.toggle_turn(index.row()):
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        # Qt sends no changeEvent for this one to a widget with a palette of its own (the
        # selection colours): without it the list kept the old light or dark palette.
        if event.type() == QEvent.Type.ApplicationPaletteChange:
            self._apply_selection_palette()
            self._source.refresh_theme()
            self.viewport().update()
        return handled

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
        self._parked_id = ""
        call_id = self._model.call_id(current.row()) if current.isValid() else None
        self.call_selected.emit(call_id or "")

    def _on_model_about_to_be_reset(self) -> None:
        self._restore_id = self.current_call_id()

    def _on_model_reset(self) -> None:
        restore, self._restore_id = self._restore_id, ""
        self._parked_id = ""
        if restore and not self.select_call(restore):
            self.call_selected.emit("")

    def _on_model_rows_inserted(self, _: QModelIndex, first: int, last: int) -> None:
        # New calls arrive at the top; someone reading further down keeps their place: the
        # rows above the top of the viewport (all of one height) push it down. Qt raises the
        # scroll bar's maximum only when it lays the rows out, after this signal: raised
        # first, or a place near the bottom of the loaded rows was clamped (and moved).
        bar = self.verticalScrollBar()
        height = self.verticalHeader().defaultSectionSize()
        if first * height < bar.value():
            self.updateGeometries()
            bar.setValue(bar.value() + (last - first + 1) * height)
        if self._source.rowCount() > KEEP_ROWS + TRIM_SLACK and not self._trim_timer.isActive():
            self._trim_timer.start(TICK_MS // 4)
        if self._parked_id and self._source.is_loaded(self._parked_id):
            parked, self._parked_id = self._parked_id, ""
            row = self._model.row_of(parked)
            if row is not None:  # selected again where it is, without scrolling there
                flags = (
                    QItemSelectionModel.SelectionFlag.ClearAndSelect
                    | QItemSelectionModel.SelectionFlag.Rows
                )
                with QSignalBlocker(self.selectionModel()):  # the window shows it already
                    self.selectionModel().setCurrentIndex(self._model.index(row, 0), flags)
                self.viewport().update()

    def _on_model_rows_about_to_move(
        self, _: QModelIndex, first: int, last: int, *__: object
    ) -> None:
        # Grouped, a turn moves down when a call that started before its first one joins
        # it (a filter took it in late), or many turns at once when a page brings their
        # first calls (a layout change). Someone reading further down keeps their place:
        # the first row on screen that stays is followed (the top one may be the one that
        # moves, far away).
        self._remember_shown(range(first, last + 1))

    def _on_model_layout_about_to_change(self, *_: object) -> None:
        self._remember_shown(None)

    def _remember_shown(self, moving: range | None) -> None:
        self._read_at, self._moving = [], moving
        bar = self.verticalScrollBar()
        height = self.verticalHeader().defaultSectionSize()
        if bar.value() <= 0 or height <= 0:
            return
        top = bar.value() // height
        bottom = min(self._model.rowCount(), top + self.viewport().height() // height + 1)
        self._read_at = [
            (QPersistentModelIndex(self._model.index(row, 0)), row) for row in range(top, bottom)
        ]

    def _on_model_rows_moved(self, *_: object) -> None:
        read_at, moving, self._read_at = self._read_at, self._moving, []
        for index, row in read_at:
            if not index.isValid():
                continue
            shift = index.row() - row
            # A layout change does not say which rows moved: turns move down past the rows
            # that stay, which move up (or not at all).
            stays = row not in moving if moving is not None else shift <= 0
            if stays:
                bar = self.verticalScrollBar()
                bar.setValue(bar.value() + shift * self.verticalHeader().defaultSectionSize())
                return

    def _on_trim_timer_timeout(self) -> None:
        if wait := self._source.work_gap_left_ms():
            self._trim_timer.start(wait)  # a batch ended just now: not in the same pass
        else:
            self._trim_rows()

    def _trim_rows(self) -> None:
        """Drop the rows far below while the list is read at its top: they come back from
        SQL when scrolled to. A call selected down there stays the current call (the
        inspector keeps showing it, actions act on it) and is selected again when its row
        is paged back; several selected calls keep their rows."""
        if self.verticalScrollBar().value() > 0:
            return  # someone reads further down: everything stays
        source = self._source
        selected = self.selected_call_ids()
        keep = KEEP_ROWS
        if len(selected) > 1:
            rows = [source.row_of(call_id) for call_id in selected]
            keep = max([keep, *(row + 1 for row in rows if row is not None)])
        if source.rowCount() <= keep + TRIM_SLACK:
            return
        row = source.row_of(selected[0]) if len(selected) == 1 else None
        if row is not None and row >= keep:
            self._parked_id = selected[0]
            with QSignalBlocker(self.selectionModel()):  # not a new selection: no signal
                self.selectionModel().clear()
        source.trim(keep)

    def _on_custom_context_menu_requested(self, position: QPoint) -> None:
        index = self.indexAt(position)
        if not index.isValid():
            return
        selection = self.selectionModel()
        if selection.isRowSelected(index.row(), QModelIndex()):
            # A right-click inside the selection keeps it (playback of several calls).
            selection.setCurrentIndex(index, selection.SelectionFlag.NoUpdate)
        else:
            self.setCurrentIndex(index)
        count = len(self.selected_call_ids())
        self.playback_action.setText(
            "Serve as playback…" if count <= 1 else f"Serve {count} calls as playback…"
        )
        menu = QMenu(self)
        menu.addAction(self.copy_action)
        menu.addActions(self.extra_actions)
        menu.addAction(self.playback_action)
        provider = str(self._model.data(self._model.index(index.row(), COLUMN["provider"])))
        if provider and provider != "—" and "," not in provider:
            diagnose = menu.addAction(f"Diagnose provider “{provider}”…")
            diagnose.triggered.connect(lambda: self.diagnostics_requested.emit(provider))
        menu.addSeparator()
        menu.addAction(self.group_action)
        menu.exec(self.viewport().mapToGlobal(position))

    def _on_header_context_menu_requested(self, position: QPoint) -> None:
        menu = QMenu(self)
        menu.addAction(self.group_action)
        menu.exec(self.horizontalHeader().mapToGlobal(position))

    def _on_playback_action_triggered(self) -> None:
        ids = self.selected_call_ids()
        if ids:
            self.playback_requested.emit(ids)
