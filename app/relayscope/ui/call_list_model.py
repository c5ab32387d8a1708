"""CallListModel: the recorded calls as a table, paged from SQLite on demand, updated live.

The model answers Qt (data, sort, filter) and reads pages and counts; the loaded rows and
their live updates are its base, `LiveRows` (call_list_live.py); what each column shows is
in call_rows.py; pages for a new filter or sort and the counts are read off the GUI thread
(call_list_reads.py).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from PySide6.QtCore import QElapsedTimer, QModelIndex, QObject, Qt, QTimer
from PySide6.QtGui import QBrush

from relayscope.analysis.cost import load_prices_in_background, prices_loaded
from relayscope.calls.record import untyped_rows
from relayscope.store.call_store import CallFilter, CallStore
from relayscope.ui import theme
from relayscope.ui.call_list_live import LiveRows, ModelIndex
from relayscope.ui.call_list_reads import Counts, ListReads
from relayscope.ui.call_rows import (
    COLUMN,
    COLUMNS,
    SQL_COLUMNS,
    UNPARSED,
    Column,
    ListRow,
    format_count,
    format_ms,
    format_time,
    format_tokens,
    parse_gap_profile,
    parse_started,
    row_cost,
    row_runs,
)
from relayscope.ui.plain_text import plain_tooltip
from relayscope.ui.roles import Cell, Role

__all__ = [  # what the other views and the tests import from here
    "COLUMN",
    "COLUMNS",
    "PAGE_SIZE",
    "CallListModel",
    "Column",
    "ModelIndex",
    "format_count",
    "format_ms",
    "format_time",
    "format_tokens",
    "load_prices_in_background",
    "parse_gap_profile",
    "parse_started",
    "prices_loaded",
    "row_cost",
    "row_runs",
]

_Row = ListRow
_UNPARSED = UNPARSED
#: Rows fetched per page as the view scrolls.
PAGE_SIZE = 200
#: Counts are recomputed at most this often while traffic flows.
RECOUNT_MS = 300
#: A new filter's count starts once its rows are painted, or after this long without a paint.
COUNT_UNPAINTED_MS = 100
_STATUS, _DURATION, _COST = COLUMN["status"], COLUMN["duration"], COLUMN["cost"]
_GAPS_COLUMN = COLUMN["gaps"]
_COLOURED = (COLUMN["status"], COLUMN["state"])

# Role ints, cached: comparing `role` to Qt enum members in data() is several times slower.
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
_NO_FLAGS = Qt.ItemFlag.NoItemFlags
_CALL_ID, _CALL_ROW, _GAPS = int(Role.CALL_ID), int(Role.CALL_ROW), int(Role.GAPS)
_CELL = int(Role.CELL)


# -- the model ----------------------------------------------------------------------------


class CallListModel(LiveRows):
    """Recorded calls, newest first, for `CallListView`.

    Rows are paged from SQL as the view scrolls (`PAGE_SIZE` at a time); sorting and
    filtering run in SQL. The first page is read at once (newest first, unfiltered: an index
    walk of 200 rows); a page for a new filter or sort is read on a thread (`ListReads`)
    while the old rows stay shown, so typing never waits for SQLite, and the counts are
    always read on a thread. The worker's events update the model live (`LiveRows`).

    `counts_changed(shown, total)`: calls matching the filter and calls recorded in all,
    each -1 while being counted.
    """

    def __init__(self, store: CallStore, parent: QObject | None = None) -> None:
        super().__init__(store, parent)
        self._alignments = [
            int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if c.numeric
            else int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            for c in COLUMNS
        ]
        self._brushes: dict[str, tuple[QBrush, QBrush]] = {}
        self.refresh_theme()
        self._recount_timer = QTimer(self)
        self._recount_timer.setSingleShot(True)
        self._recount_timer.setInterval(RECOUNT_MS)
        self._recount_timer.timeout.connect(self._recount)
        self._since_recount = QElapsedTimer()
        self._reads = ListReads(store, self)
        self._counted_filter: CallFilter | None = None  # what `_shown` counted
        self._recount_after_page = False
        # A new filter's count waits for its page to be painted (`note_paint_ms`), or for
        # this timer when no view paints it: beside the paint it made the paint twice as slow.
        self._count_after_paint = False
        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.timeout.connect(self._count_after_painted)
        self._show_page([_Row(values) for values in untyped_rows(self._first_page())])
        if self._fetched_all:  # the whole recording is this page: its size is the count
            self._shown = self._total = len(self._tail)
            self._counted_filter = self._filter
        else:  # counted on a thread: the list is painted meanwhile
            self._shown = self._total = -1
            self._recount()

    # -- Qt model API -------------------------------------------------------------------

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def canFetchMore(self, parent: ModelIndex) -> bool:
        return (
            not parent.isValid()
            and not self._fetched_all
            and not self._loading
            and not self._trimming
        )

    def fetchMore(self, parent: ModelIndex) -> None:
        if not self.canFetchMore(parent):
            return
        page = self._page(self.rowCount())
        new = [row for row in page if row.id not in self._index]
        if len(page) < PAGE_SIZE or not new:
            self._fetched_all = True
        if not new:
            return
        first = self.rowCount()
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        for row in new:
            self._index[row.id] = len(self._tail)
            self._tail.append(row)
        self.endInsertRows()
        self._track_live(new)

    def data(self, index: ModelIndex, role: int = _DISPLAY) -> Any:
        if not index.isValid():
            return None
        number, head = index.row(), self._head
        row = head[len(head) - 1 - number] if number < len(head) else self._tail[number - len(head)]
        if row.stale:
            row.render(self._today)
        column = index.column()
        if role == _CELL:
            return self._cell(row, column)
        if role == _DISPLAY:
            return self._text(row, column)
        if role == _ALIGN:
            return self._alignments[column]
        if role == _FOREGROUND:
            if column in _COLOURED:
                return self._brushes[row.kind][0]
            return None
        if role == _BACKGROUND:
            if row.kind == "error" or row.kind == "warning":
                return self._brushes[row.kind][1]
            return None
        if role == _DECORATION:
            if column == _STATUS:
                frame = self._frame if row.live else 0
                return theme.status_icon(row.kind, frame, self._dark)
            return None
        if role == _TOOLTIP:
            if column == _COST and not row.live:
                cost = row_cost(row.values)
                return "Loading prices…" if cost is None else cost.basis
            return self._tooltip(row)
        if role == _CALL_ID:
            return row.id
        if role == _CALL_ROW:
            return dict(row.values)
        if role == _GAPS:
            if row.profile is _UNPARSED:
                row.profile = parse_gap_profile(row.values.get("gap_profile"))
            return row.profile
        return None

    def row_cells(self, number: int, columns: list[int]) -> list[Cell | None]:
        """`Role.CELL` of these columns of row `number` in one call: the view's own paint
        (`call_list_paint.paint_rows`) asks a row at once, without an index per cell."""
        head = self._head
        row = head[len(head) - 1 - number] if number < len(head) else self._tail[number - len(head)]
        if row.stale:
            row.render(self._today)
        return [self._cell(row, column) for column in columns]

    def _text(self, row: _Row, column: int) -> str:
        if row.live and column == _DURATION:
            return self._live_text(row)
        if column == _COST:
            if row.live:
                return ""  # priced once its usage has come
            cost = row_cost(row.values)
            return "…" if cost is None else cost.text()
        return row.texts[column]

    def _cell(self, row: _Row, column: int) -> Cell:
        """`Role.CELL`: what the delegate paints in one cell, the answers of the display,
        foreground, background, decoration and Gaps roles in one call (a call from the
        view costs more than building the tuple; a repaint asks ~250 cells)."""
        kind = row.kind
        colour = self._brushes[kind][0].color() if column in _COLOURED else None
        background = self._brushes[kind][1] if kind == "error" or kind == "warning" else None
        icon = None
        if column == _STATUS:
            icon = theme.status_icon(kind, self._frame if row.live else 0, self._dark)
        profile = None
        if column == _GAPS_COLUMN:
            if row.profile is _UNPARSED:
                row.profile = parse_gap_profile(row.values.get("gap_profile"))
            profile = row.profile
        return (self._text(row, column), colour, background, icon, False, profile)  # type: ignore[return-value]

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == _DISPLAY:
            return COLUMNS[section].title
        if role == _ALIGN:
            return self._alignments[section]
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        return _FLAGS if index.isValid() else _NO_FLAGS

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS) or not COLUMNS[column].sortable:
            return
        wanted = (COLUMNS[column].sort_by, order == Qt.SortOrder.DescendingOrder)
        if wanted != self._order:
            self._order = wanted
            self.reload(recount=False)

    # -- queries ------------------------------------------------------------------------

    @property
    def call_filter(self) -> CallFilter:
        return self._filter

    @property
    def shown_count(self) -> int:
        """Calls that match the filter (loaded or not)."""
        return self._shown

    @property
    def total_count(self) -> int:
        """Calls recorded in all."""
        return self._total

    def set_filter(self, flt: CallFilter) -> None:
        if flt != self._filter:
            self._filter = flt
            self.reload()

    def reload(self, *, recount: bool = True) -> None:
        """Read the first page again (filter, sort or DB changed), on a thread: the loaded
        rows stay until it arrives (`_on_page`); a newer reload's page replaces an older
        one's, never the other way round."""
        if self.has_pending_events():
            self.flush_events()  # so that the counts include them; the rows are read again
        self._loading = True
        self._reads.read_page(self._filter, self._order, PAGE_SIZE, self._on_page, self._on_no_page)
        if recount:
            # Counted once the page is in: on two busy cores the count would slow the page
            # down, and the rows are what a person waits for. The label says "…" meanwhile.
            self._recount_after_page = True
            self._show_counting()

    def wait_for_page(self, timeout: float = 5.0) -> None:
        """Wait for a page being read on its thread and show it (tests, benchmarks); the
        count then starts."""
        self._reads.wait("page", timeout)

    @property
    def loading(self) -> bool:
        """A page for a new filter or sort is being read (the rows shown are the old ones)."""
        return self._loading

    def close(self) -> None:
        """Stop the reads on threads and close their connections (the window closes)."""
        self._reads.close()

    def call_id(self, row: int) -> str | None:
        return self._row(row).id if 0 <= row < self.rowCount() else None

    def values_at(self, row: int) -> dict[str, Any]:
        """The loaded row's SQL values (`SQL_COLUMNS`), not a copy: read, never change."""
        return self._row(row).values

    def loaded_values(self) -> list[dict[str, Any]]:
        """Every loaded row's SQL values, in row order (not copies: read, never change)."""
        return [row.values for row in reversed(self._head)] + [row.values for row in self._tail]

    def is_loaded(self, call_id: str) -> bool:
        return call_id in self._index

    def trim(self, keep: int) -> int:
        """Drop the loaded rows below the first `keep` (paged back from SQL when the view
        scrolls to them): what bounds the list's memory while calls keep arriving. The view
        calls it when nobody reads or has selected anything down there. Returns the rows
        dropped."""
        count = self.rowCount()
        if count <= keep:
            return 0
        # A view that shrinks with the rows may fetch more from our signal: not until the
        # rows announced are gone (a page read meanwhile would be what the trim dropped).
        self._trimming = True
        self.beginRemoveRows(QModelIndex(), keep, count - 1)
        from_tail = min(len(self._tail), count - keep)
        from_head = count - keep - from_tail
        dropped = self._tail[len(self._tail) - from_tail :] + self._head[:from_head]
        del self._tail[len(self._tail) - from_tail :]
        del self._head[:from_head]
        self._head_dropped += from_head
        for row in dropped:
            del self._index[row.id]
            self._live_ids.discard(row.id)
        self._fetched_all = False
        self._trimming = False
        self.endRemoveRows()
        self._worked_at = time.perf_counter()  # the next paced batch waits (WORK_GAP_MS)
        return len(dropped)

    def refresh_theme(self) -> None:
        """Recompute colours after the palette switched between light and dark."""
        self._dark = theme.is_dark()
        self._brushes = {
            kind: (
                QBrush(theme.kind_colour(kind, dark=self._dark)),
                QBrush(theme.row_alert_background(kind, dark=self._dark)),
            )
            for kind in ("ok", "error", "warning", "live", "idle")
        }
        if self.rowCount():
            self._emit_rows_changed(0, self.rowCount() - 1)

    # -- internals ----------------------------------------------------------------------

    def _page(self, offset: int) -> list[_Row]:
        order_by, descending = self._order
        rows = self.store.list_calls(
            self._filter,
            columns=SQL_COLUMNS,
            order_by=order_by,
            descending=descending,
            limit=PAGE_SIZE,
            offset=offset,
        )
        return [_Row(values) for values in untyped_rows(rows)]

    def _first_page(self) -> list[Any]:
        """The newest calls, unfiltered: read at once, an index walk of `PAGE_SIZE` rows."""
        return self.store.list_calls(columns=SQL_COLUMNS, limit=PAGE_SIZE)

    def _on_page(self, values: list[dict[str, Any]]) -> None:
        self._loading = False
        self._show_page([_Row(v) for v in values])
        if self.has_pending_events():
            self.flush_events()  # the events that waited for the page
        if self._recount_after_page:
            self._recount_after_page = False
            self._count_once_painted()

    def _on_no_page(self) -> None:
        """The page could not be read (the database went away): keep what is shown."""
        self._loading = False
        self._recount_after_page = False

    def _show_page(self, rows: list[_Row]) -> None:
        self._today = datetime.now().astimezone()
        self.beginResetModel()
        self._head = []
        self._head_dropped = 0
        self._tail = rows
        self._index = {row.id: i for i, row in enumerate(self._tail)}
        self._fetched_all = len(self._tail) < PAGE_SIZE
        self._live_ids = set()
        self.endResetModel()
        self._track_live(self._tail)

    def _tooltip(self, row: _Row) -> str:
        started = parse_started(row.values.get("started_at"))
        lines = [f"Call {row.id}"]
        if started is not None:
            lines.append(started.strftime("%Y-%m-%d %H:%M:%S %Z"))
        if row.values.get("path"):
            lines.append(str(row.values["path"]))
        if row.values.get("error"):
            lines.append(f"Error: {row.values['error']}")
        if row.values.get("first_byte_ms") is not None:  # the two figures of call_facts
            ttft, first_byte = row.values.get("ttft_ms"), row.values["first_byte_ms"]
            lines.append(f"First token {format_ms(ttft)} · first byte {format_ms(first_byte)}")
        if row.values.get("hold_ms"):
            lines.append(f"Held {format_ms(row.values['hold_ms'])} at a breakpoint (in Duration)")
        if row.values.get("turn_id"):
            lines.append(f"Codex turn {row.values['turn_id']}")
        return plain_tooltip("\n".join(lines))

    def note_paint_ms(self, ms: float) -> None:
        super().note_paint_ms(ms)
        if self._count_after_paint:  # the rows are on screen: count in the next loop turn
            self._count_timer.start(0)

    def _count_once_painted(self) -> None:
        self._count_after_paint = True
        self._count_timer.start(COUNT_UNPAINTED_MS)

    def _count_after_painted(self) -> None:
        if self._count_after_paint:
            self._recount()

    def _schedule_recount(self) -> None:
        if not self._since_recount.isValid() or self._since_recount.hasExpired(RECOUNT_MS):
            self._recount()
        elif not self._recount_timer.isActive():
            self._recount_timer.start()

    def _recount(self) -> None:
        self._count_after_paint = False
        self._count_timer.stop()
        # Counting takes tens of milliseconds at a million calls for all of them, up to a
        # second for a filter: always on a thread (`ListReads`). A new filter shows
        # "counting" (-1) until it is done; a recount of the same filter keeps the last
        # numbers meanwhile, and an older count is dropped.
        self._recount_timer.stop()
        self._since_recount.start()
        flt = self._filter
        self._show_counting()
        self._reads.read_counts(flt, lambda counts: self._on_counted(flt, counts))

    def _show_counting(self) -> None:
        """A new filter's count is not known yet: "…" (without a filter every call is
        shown, and the total known so far says how many)."""
        if self._filter != self._counted_filter:
            self._shown = self._total if self._filter_is_empty() else -1
            self._counted_filter = self._filter if self._shown >= 0 else None
            self.counts_changed.emit(self._shown, self._total)

    def _on_counted(self, flt: CallFilter, counts: Counts) -> None:
        self._shown, self._total = counts
        self._counted_filter = flt if counts[0] >= 0 else None
        self.counts_changed.emit(self._shown, self._total)

    def wait_for_counts(self, timeout: float = 5.0) -> None:
        """Wait for the page, then the count, on their threads and apply them (tests,
        benchmarks)."""
        if self._loading:
            self._reads.wait("page", timeout)
        if self._count_after_paint:  # not painted yet: counted now
            self._recount()
        self._reads.wait("count", timeout)
