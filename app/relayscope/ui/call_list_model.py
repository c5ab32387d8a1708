"""CallListModel: the recorded calls as a table, paged from SQLite on demand, updated live."""

from __future__ import annotations

import contextlib
import functools
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QElapsedTimer,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush

from relayscope.analysis.cost import (
    Cost,
    Pricer,
    default_pricer,
    load_prices_in_background,
    prices_loaded,
)
from relayscope.calls.record import untyped_rows
from relayscope.store.call_store import CallFilter, CallStore
from relayscope.ui import theme
from relayscope.ui.plain_text import plain_tooltip
from relayscope.ui.roles import Cell, Role

ModelIndex = QModelIndex | QPersistentModelIndex

#: Rows fetched per page as the view scrolls.
PAGE_SIZE = 200
#: How often a live row's elapsed time and spinner move (and, while calls are live, how
#: often their events are applied)...
TICK_MS = 100
#: ... or less often when painting the list is slow (a loaded machine, a huge window): the
#: UI thread spends at most about a quarter of its time repainting for the tick.
TICK_PAINT_SHARE = 4
TICK_MAX_MS = 500
#: Counts are recomputed at most this often while traffic flows.
RECOUNT_MS = 300
#: The worker's events are collected and applied at most this often (about two frames):
#: one SQL query and one insert per batch, however many calls arrive meanwhile.
COALESCE_MS = 30
#: Changed rows at most this many rows apart are signalled as one range.
_RUN_SLACK = 8
#: Ids per `WHERE id IN (...)` (SQLite allows 32,766 parameters; the filter's come too).
_IN_BATCH = 500

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


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    sort_by: str  # the SQL column; "" for a column that cannot be sorted in SQL
    numeric: bool = False

    @property
    def sortable(self) -> bool:
        return bool(self.sort_by)


COLUMNS: tuple[Column, ...] = (
    Column("time", "Time", "started_at"),
    Column("provider", "Provider", "provider"),
    Column("model", "Model", "model"),
    Column("endpoint", "Endpoint", "endpoint"),
    Column("status", "Status", "status"),
    Column("state", "State", "state"),
    Column("stream", "Stream", "stream"),
    Column("ttft", "TTFT", "ttft_ms", numeric=True),
    Column("duration", "Duration", "duration_ms", numeric=True),
    Column("tokens", "Tokens in / out", "total_tokens", numeric=True),
    Column("chunks", "Chunks", "chunk_count", numeric=True),
    Column("gaps", "Gaps", "max_gap_ms", numeric=True),  # a sparkline and the longest gap
    # Priced when shown (costs are never stored, so SQL cannot order by them): not sortable.
    # Last, and not in _Row.texts: data() prices it for the rows painted.
    Column("cost", "Cost", "", numeric=True),
)
COLUMN = {c.key: i for i, c in enumerate(COLUMNS)}
_STATUS, _DURATION, _COST = COLUMN["status"], COLUMN["duration"], COLUMN["cost"]
_GAPS_COLUMN = COLUMN["gaps"]
_COLOURED = (COLUMN["status"], COLUMN["state"])

#: The columns read for each row (never the bodies: a page stays a few kilobytes).
SQL_COLUMNS = (
    "id",
    "started_at",
    "provider",
    "model",
    "endpoint",
    "status",
    "state",
    "stream",
    "ttft_ms",
    "first_byte_ms",
    "hold_ms",
    "duration_ms",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",  # with the model and response_model: what prices the row (Cost)
    "reasoning_tokens",
    "response_model",
    "chunk_count",
    "error",
    "path",
    "session_id",
    "turn_id",  # Codex: the requests and retries of one user message (CallGroupModel)
    "max_gap_ms",
    "gap_profile",
)
_LIVE = theme.LIVE_STATES
_UNPARSED = object()
_NEWEST_FIRST = ("started_at", True)


# -- formatting (pure) --------------------------------------------------------------------


def format_ms(ms: float | None) -> str:
    """`412 ms`, `3.1 s`, `42.0 s`, `2 min 05 s`; an em dash when unknown."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 100_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes} min {seconds:02d} s"


def format_count(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"


def format_tokens(prompt: int | None, completion: int | None) -> str:
    """`9 / 812` (in / out); an em dash when neither is known."""
    if prompt is None and completion is None:
        return "—"
    return f"{format_count(prompt)} / {format_count(completion)}"


@functools.lru_cache(maxsize=4096)
def _priced(pricer: Pricer, usage: tuple[Any, ...]) -> Cost:
    keys = ("model", "provider", "response_model", "started_at", *_PRICED_USAGE)
    return pricer.price(dict(zip(keys, usage, strict=True)))


_PRICED_USAGE = ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens")


def row_cost(values: dict[str, Any]) -> Cost | None:
    """A row's cost by the app's pricer, cached by what prices it (so a live row whose usage
    arrives is priced again, and a changed config's new pricer prices every row again);
    None while the price list is still loading (on its own thread: a paint never waits)."""
    if not prices_loaded():
        load_prices_in_background()
        return None
    key = (
        values.get("model"),
        values.get("provider"),
        values.get("response_model"),
        str(values.get("started_at") or "")[:10],  # list prices change by the day at most
        *(values.get(k) for k in _PRICED_USAGE),
    )
    return _priced(default_pricer(), key)


def parse_started(started_at: str | None) -> datetime | None:
    if not started_at:
        return None
    try:
        return datetime.fromisoformat(started_at).astimezone()
    except ValueError:
        return None


def format_time(started: datetime | None, today: datetime | None = None) -> str:
    """Local `12:01:03` today, `Mar 02 12:01:03` on other days."""
    if started is None:
        return "—"
    today = today or datetime.now().astimezone()
    if started.date() == today.date():
        return started.strftime("%H:%M:%S")
    return started.strftime("%b %d %H:%M:%S")


# -- rows ---------------------------------------------------------------------------------


class _Row:
    """One loaded call: raw values plus its display strings, computed once."""

    __slots__ = ("id", "kind", "live", "profile", "stale", "started", "texts", "values")

    def __init__(self, values: dict[str, Any], started: float | None = None) -> None:
        self.values = values
        self.id = str(values["id"])
        if started is None:
            when = parse_started(values.get("started_at"))
            started = when.timestamp() if when else time.time()
        self.started = started
        self.texts: list[str] = []
        self.profile: object = _UNPARSED  # then parse_gap_profile(...): (gaps, stall) or None
        # The texts are rendered when the row is first painted: most rows never are
        # (a page read for a scroll past them, calls arriving faster than anyone reads).
        self.mark_stale()

    def mark_stale(self) -> None:
        """Its values changed: state and colour now, the texts when the row is next shown
        (under heavy traffic most changed rows are never painted)."""
        v = self.values
        self.kind = theme.status_kind(v.get("status"), v.get("state"))
        self.live = v.get("state") in _LIVE
        self.stale = True
        self.profile = _UNPARSED

    def render(self, today: datetime, started: datetime | None = None) -> None:
        v = self.values
        self.stale = False
        status, state = v.get("status"), v.get("state")
        self.kind = theme.status_kind(status, state)
        self.live = state in _LIVE
        stream = bool(v.get("stream"))
        if started is None:
            started = parse_started(v.get("started_at"))
        self.texts = [
            format_time(started, today),
            v.get("provider") or "—",
            v.get("model") or "—",
            v.get("endpoint") or "—",
            str(status) if status is not None else ("…" if self.live else "—"),
            state or "—",
            "SSE" if stream else "",
            format_ms(v.get("ttft_ms")),
            format_ms(v.get("duration_ms")),
            format_tokens(v.get("prompt_tokens"), v.get("completion_tokens")),
            format_count(v.get("chunk_count")) if stream else "",
            format_ms(v.get("max_gap_ms")) if v.get("max_gap_ms") is not None else "",
        ]
        self.profile = _UNPARSED  # parsed when the row is first painted (Role.GAPS)


def parse_gap_profile(text: str | None) -> tuple[list[float], float] | None:
    """`calls.gap_profile` as (gaps, stall threshold), or None if absent or unreadable."""
    if not text:
        return None
    try:
        profile = json.loads(text)
        gaps = [float(g) for g in profile["max"]]
        stall = float(profile["stall"])
    except (ValueError, TypeError, KeyError):
        return None
    return (gaps, stall) if gaps else None


# -- the model ----------------------------------------------------------------------------


class CallListModel(QAbstractTableModel):
    """Recorded calls, newest first, for `CallListView`.

    Rows are paged from SQL as the view scrolls (`PAGE_SIZE` at a time); sorting and
    filtering run in SQL. The worker's events update the model live: `on_call_started`
    inserts the new row, `on_call_updated` / `on_call_finished` refresh it in place. Events
    are collected and applied once per `COALESCE_MS` (`flush_events`): one SQL query
    (`WHERE id IN (...)`) and one `rowsInserted` per batch, however fast traffic comes.

    Loaded rows are two lists, so that neither a live call at the top nor a page at the
    bottom moves the others: `_head` holds the calls inserted live, oldest first (row 0 is
    its last item), `_tail` the rows read from SQL in the list's order. `_index` maps a
    call id to a stamp that does not change when rows are added at either end: row =
    `len(_head) + stamp` (a live row's stamp is negative, a paged row's its place in _tail).
    `trim` drops rows from the bottom (the tail's end, then the oldest live rows) to bound
    memory while traffic flows; `_head_dropped` keeps the live rows' stamps valid then:
    a negative stamp's row is `len(_head) + _head_dropped + stamp`.

    Signals:
        counts_changed(int, int): calls matching the filter (-1 while being counted),
            calls recorded in all.
    """

    counts_changed = Signal(int, int)
    #: A filtered count finished on its thread (its generation): applied on the GUI thread.
    _counted = Signal(int)

    def __init__(self, store: CallStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._filter = CallFilter()
        self._order: tuple[str, bool] = _NEWEST_FIRST
        self._head: list[_Row] = []  # inserted live, oldest first: row 0 is the last
        self._tail: list[_Row] = []  # paged from SQL, in the list's order
        self._index: dict[str, int] = {}  # call id -> stamp; row = len(_head) + stamp
        self._head_dropped = 0  # live rows trimmed from the head's start (see `trim`)
        self._pending_started: dict[str, None] = {}  # ordered set
        self._pending_updated: dict[str, dict[str, Any]] = {}
        self._pending_finished: dict[str, dict[str, Any]] = {}
        #: SQL queries run by `flush_events` so far (tests check: one per batch).
        self.batch_queries = 0
        self._fetched_all = False
        self._shown = 0
        self._total = 0
        self._frame = 0
        self._today = datetime.now().astimezone()
        self._live_ids: set[str] = set()
        self._alignments = [
            int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if c.numeric
            else int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            for c in COLUMNS
        ]
        self._brushes: dict[str, tuple[QBrush, QBrush]] = {}
        self.refresh_theme()
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._paint_ms = 0.0  # the view's repaints, averaged (note_paint_ms)
        self._tick.timeout.connect(self._on_tick_timeout)
        self._recount_timer = QTimer(self)
        self._recount_timer.setSingleShot(True)
        self._recount_timer.setInterval(RECOUNT_MS)
        self._recount_timer.timeout.connect(self._recount)
        self._since_recount = QElapsedTimer()
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(COALESCE_MS)
        self._flush_timer.timeout.connect(self.flush_events)
        self._count_generation = 0
        self._count_result: tuple[int, int] | None = None  # (generation, calls matching)
        self._count_thread: threading.Thread | None = None
        self._counted_filter: CallFilter | None = None  # what `_shown` counted
        self._counted.connect(self._on_counted)
        self.reload()

    # -- Qt model API -------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._head) + len(self._tail)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def canFetchMore(self, parent: ModelIndex) -> bool:
        return not parent.isValid() and not self._fetched_all

    def fetchMore(self, parent: ModelIndex) -> None:
        if parent.isValid() or self._fetched_all:
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

    @property
    def newest_first(self) -> bool:
        return self._order == _NEWEST_FIRST

    def set_filter(self, flt: CallFilter) -> None:
        if flt != self._filter:
            self._filter = flt
            self.reload()

    def reload(self, *, recount: bool = True) -> None:
        """Drop the loaded rows and read the first page again (filter, sort or DB changed)."""
        if self.has_pending_events():
            self.flush_events()  # so that the counts include them; the rows are read again
        self._today = datetime.now().astimezone()
        self.beginResetModel()
        self._head = []
        self._head_dropped = 0
        self._tail = self._page(0)
        self._index = {row.id: i for i, row in enumerate(self._tail)}
        self._fetched_all = len(self._tail) < PAGE_SIZE
        self._live_ids = set()
        self.endResetModel()
        self._track_live(self._tail)
        if recount:
            self._recount()

    def call_id(self, row: int) -> str | None:
        return self._row(row).id if 0 <= row < self.rowCount() else None

    def row_of(self, call_id: str) -> int | None:
        """The row showing `call_id`, if it is loaded."""
        stamp = self._index.get(call_id)
        if stamp is None:
            return None
        head = len(self._head)
        return head + stamp if stamp >= 0 else head + self._head_dropped + stamp

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
        self.endRemoveRows()
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

    # -- live updates -------------------------------------------------------------------

    def on_call_started(self, call_id: str) -> None:
        """A new call was recorded: insert it at the top (if it matches and sort is by time).

        Applied with the other events of the same ~frame (`flush_events`)."""
        self._pending_started[call_id] = None
        self._schedule_flush()

    def on_call_updated(self, call_id: str, fields: dict[str, Any]) -> None:
        """A live call changed (chunk count, state, status): update its row from the event."""
        merged = self._pending_updated.get(call_id)
        if merged is None:
            self._pending_updated[call_id] = dict(fields)
        else:
            merged.update(fields)
        self._schedule_flush()

    def on_call_finished(self, call_id: str, fields: dict[str, Any]) -> None:
        """A call ended: read its final row (tokens, duration) and refresh it in place."""
        self._pending_finished[call_id] = fields
        self._schedule_flush()

    def has_pending_events(self) -> bool:
        return bool(self._pending_started or self._pending_updated or self._pending_finished)

    def flush_events(self) -> None:
        """Apply the events collected since the last batch: one SQL query for the calls that
        started or finished, one `rowsInserted` for the new calls at the top, `dataChanged`
        for the changed rows (in runs). A row read here is at least as new as every event
        of the batch (events are printed after their commit), so their fields are not needed.
        """
        self._flush_timer.stop()
        started, self._pending_started = list(self._pending_started), {}
        updated, self._pending_updated = self._pending_updated, {}
        finished, self._pending_finished = self._pending_finished, {}
        new_ids = [c for c in started if c not in self._index]
        # A finished call not loaded is read only if a filter may now take it in.
        wanted = [
            c
            for c in dict.fromkeys([*started, *finished])
            if c in self._index or c in started or not self._filter_is_empty()
        ]
        try:
            found = self._read_rows(wanted)
        except sqlite3.ProgrammingError:
            return  # the store was closed (the window is going away)
        changed: list[str] = []
        insert: list[_Row] = []
        recount = False
        self._total += len(new_ids)
        for call_id in new_ids:
            hit = found.get(call_id)
            if hit is None or not hit[1]:
                continue
            if self._shown >= 0:  # not while a filtered count runs (it includes the call)
                self._shown += 1
            if self.newest_first:
                insert.append(_Row(hit[0], time.time()))  # our clock: elapsed time starts now
        for call_id in finished:
            if call_id in self._index or call_id in started:
                continue
            hit = found.get(call_id)
            if hit is not None and hit[1]:
                # It matches now but did not when it started (e.g. "errors only").
                if self.newest_first:
                    insert.append(_Row(hit[0]))
                recount = True
        for call_id in dict.fromkeys([*started, *finished]):
            position = self.row_of(call_id)  # finished, or loaded before its start event
            hit = found.get(call_id)
            if position is None or hit is None:
                continue
            self._row(position).values = hit[0]
            changed.append(call_id)
        for call_id, fields in updated.items():
            position = self.row_of(call_id)
            if call_id in found or position is None:
                continue
            values = self._row(position).values
            for key, value in fields.items():
                if key in values:
                    values[key] = value
            changed.append(call_id)
        if finished and not self._filter_is_empty():
            recount = True  # a finished call may leave or join the filter
        if insert:
            self._insert_live(insert)
        self._rerender([c for c in dict.fromkeys(changed) if c in self._index])
        if new_ids:
            self.counts_changed.emit(self._shown, self._total)
        if recount:
            self._schedule_recount()

    # -- internals ----------------------------------------------------------------------

    def _filter_is_empty(self) -> bool:
        return self._filter == CallFilter()

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

    def _read_rows(self, call_ids: list[str]) -> dict[str, tuple[dict[str, Any], bool]]:
        """Each call's values and whether it matches the filter: one query per `_IN_BATCH`."""
        where, params = self._filter.where()
        out: dict[str, tuple[dict[str, Any], bool]] = {}
        for first in range(0, len(call_ids), _IN_BATCH):
            ids = call_ids[first : first + _IN_BATCH]
            marks = ", ".join("?" * len(ids))
            self.batch_queries += 1
            cursor = self.store.db.conn.execute(
                f"SELECT {', '.join(SQL_COLUMNS)}, ({where}) FROM calls"
                f" WHERE calls.id IN ({marks})",
                [*params, *ids],
            )
            for found in cursor:
                values = dict(zip(SQL_COLUMNS, found[:-1], strict=True))
                out[str(values["id"])] = (values, bool(found[-1]))
        return out

    def _row(self, number: int) -> _Row:
        head = self._head
        return (
            head[len(head) - 1 - number] if number < len(head) else self._tail[number - len(head)]
        )

    def _insert_live(self, rows: list[_Row]) -> None:
        """Insert new calls where they belong (newest first): at the top, O(1) each, when
        they are newer than the top row, which is how live calls come; otherwise (a call
        that joined a filter when it finished) the rows are renumbered, once per batch."""
        rows.sort(key=lambda r: r.values.get("started_at") or "")  # oldest first
        top = self._row(0).values.get("started_at") or "" if self.rowCount() else ""
        if (rows[0].values.get("started_at") or "") >= top:
            self.beginInsertRows(QModelIndex(), 0, len(rows) - 1)
            for row in rows:
                self._head.append(row)
                self._index[row.id] = -len(self._head) - self._head_dropped
            self.endInsertRows()
            self._track_live(rows)
            return
        for row in reversed(rows):  # newest first, each where it belongs
            position = self._position_of(row.values.get("started_at") or "")
            if position == self.rowCount() and not self._fetched_all:
                continue  # it belongs beyond what is loaded; paging will bring it
            self._fold_head()
            self.beginInsertRows(QModelIndex(), position, position)
            self._tail.insert(position, row)
            for i in range(position, len(self._tail)):
                self._index[self._tail[i].id] = i
            self.endInsertRows()
            self._track_live([row])

    def _position_of(self, started_at: str) -> int:
        """Where a call started at `started_at` goes among the loaded rows (newest first)."""
        low, high = 0, self.rowCount()
        while low < high:  # started_at descends with the row number
            middle = (low + high) // 2
            if (self._row(middle).values.get("started_at") or "") > started_at:
                low = middle + 1
            else:
                high = middle
        return low

    def _fold_head(self) -> None:
        """Move the live rows into `_tail` (renumbering every row: O(rows), rarely)."""
        if self._head:
            self._tail[0:0] = reversed(self._head)
            self._head = []
            self._head_dropped = 0
            self._index = {row.id: i for i, row in enumerate(self._tail)}

    def _rerender(self, call_ids: list[str]) -> None:
        positions: list[int] = []
        live: list[_Row] = []
        for call_id in call_ids:
            position = self.row_of(call_id)
            if position is None:
                continue
            row = self._row(position)
            row.mark_stale()
            positions.append(position)
            if row.live:
                live.append(row)
        # Runs a few rows apart are one signal: under heavy traffic the changed rows are
        # interleaved with finished ones, and each signal costs more than repainting a row.
        for first, last in row_runs(sorted(positions), slack=_RUN_SLACK):
            self._emit_rows_changed(first, last)
        if live:
            self._track_live(live)

    def _emit_rows_changed(self, first: int, last: int) -> None:
        self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1), [])

    def _track_live(self, rows: list[_Row]) -> None:
        self._live_ids.update(row.id for row in rows if row.live)
        if self._live_ids and not self._tick.isActive():
            self._tick.start()

    def _live_text(self, row: _Row) -> str:
        elapsed = max(0.0, time.time() - row.started) * 1000
        return format_ms(elapsed) + " …"

    def _on_tick_timeout(self) -> None:
        # While calls are live, the tick applies the waiting events too: one repaint per
        # tick for the new rows, the changed ones and the moving elapsed times together.
        if self.has_pending_events():
            self.flush_events()
        self._frame = (self._frame + 1) % theme.SPINNER_FRAMES
        low, high = -1, -1
        gone: list[str] = []
        for call_id in self._live_ids:
            position = self.row_of(call_id)
            if position is None or not self._row(position).live:
                gone.append(call_id)
            elif low < 0:
                low = high = position
            elif position < low:
                low = position
            elif position > high:
                high = position
        self._live_ids.difference_update(gone)
        if low >= 0:
            # One signal for the span of live rows (the view repaints only what it shows).
            self.dataChanged.emit(
                self.index(low, _STATUS), self.index(high, _DURATION), [_DISPLAY, _DECORATION]
            )
        if not self._live_ids:
            self._tick.stop()

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

    def _schedule_flush(self) -> None:
        # While the tick runs (calls are live), it applies the events (`_on_tick_timeout`).
        if not self._flush_timer.isActive() and not self._tick.isActive():
            self._flush_timer.start()

    def _schedule_recount(self) -> None:
        if not self._since_recount.isValid() or self._since_recount.hasExpired(RECOUNT_MS):
            self._recount()
        elif not self._recount_timer.isActive():
            self._recount_timer.start()

    def _recount(self) -> None:
        self._recount_timer.stop()
        self._since_recount.start()
        self._total = self.store.count_calls()  # an index count: about a millisecond
        if self._filter_is_empty():
            self._count_generation += 1  # a filtered count still running is dropped
            self._shown, self._counted_filter = self._total, self._filter
            self.counts_changed.emit(self._shown, self._total)
            return
        # A filtered count asks the full-text index or an index of the table: a few ms at
        # 100k calls, seconds at a million. It runs on a thread of its own with its own
        # read-only connection; a new filter shows "counting" (-1) until it is done (a
        # recount of the same filter keeps the last number), and an older count is dropped.
        self._count_generation += 1
        generation, flt = self._count_generation, self._filter
        if flt != self._counted_filter:
            self._shown = -1
            self.counts_changed.emit(self._shown, self._total)
        thread = threading.Thread(target=self._count_in_thread, args=(generation, flt), daemon=True)
        self._count_thread = thread
        thread.start()

    def _count_in_thread(self, generation: int, flt: CallFilter) -> None:
        where, params = flt.where()
        try:
            conn = sqlite3.connect(f"file:{self.store.path}?mode=ro", uri=True)
            try:
                row = conn.execute(f"SELECT count(*) FROM calls WHERE {where}", params).fetchone()
            finally:
                conn.close()
            shown = int(row[0])
        except sqlite3.Error:
            shown = -1  # the list itself still shows; only the number is missing
        self._count_result = (generation, shown)
        with contextlib.suppress(RuntimeError):  # the model is gone (the window closed)
            self._counted.emit(generation)

    def _on_counted(self, generation: int) -> None:
        result = self._count_result
        if result is None or result[0] != generation or generation != self._count_generation:
            return
        self._count_result = None
        self._shown = result[1]
        self._counted_filter = self._filter
        self.counts_changed.emit(self._shown, self._total)

    def note_paint_ms(self, ms: float) -> None:
        """The view's last repaint took `ms`: the tick slows down when repaints are slow."""
        self._paint_ms = 0.8 * self._paint_ms + 0.2 * ms
        wanted = int(min(TICK_MAX_MS, max(TICK_MS, TICK_PAINT_SHARE * self._paint_ms)))
        if abs(wanted - self._tick.interval()) >= 20:
            self._tick.setInterval(wanted)

    def wait_for_counts(self, timeout: float = 5.0) -> None:
        """Wait for a filtered count running on its thread and apply it (tests, benchmarks)."""
        thread = self._count_thread
        if thread is not None:
            thread.join(timeout)
        self._on_counted(self._count_generation)


def row_runs(rows: list[int], slack: int = 0) -> list[tuple[int, int]]:
    """Sorted row numbers as contiguous (first, last) runs (`slack`: runs at most that many
    rows apart are joined)."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and row - runs[-1][1] <= slack + 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs
