"""CallListModel: the recorded calls as a table, paged from SQLite on demand, updated live."""

from __future__ import annotations

import functools
import json
import sqlite3
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

from app.core.cost import (
    Cost,
    Pricer,
    default_pricer,
    load_prices_in_background,
    prices_loaded,
)
from app.core.store import CallFilter, CallStore
from app.ui import theme
from app.ui.plain_text import plain_tooltip
from app.ui.roles import Role

ModelIndex = QModelIndex | QPersistentModelIndex

#: Rows fetched per page as the view scrolls.
PAGE_SIZE = 200
#: How often a live row's elapsed time and spinner move.
TICK_MS = 100
#: Counts are recomputed at most this often while traffic flows.
RECOUNT_MS = 300

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

    __slots__ = ("id", "kind", "live", "profile", "started", "texts", "values")

    def __init__(self, values: dict[str, Any], today: datetime) -> None:
        self.values = values
        self.id = str(values["id"])
        started = parse_started(values.get("started_at"))
        self.started = started.timestamp() if started else time.time()
        self.texts: list[str] = []
        self.kind = "idle"
        self.live = False
        self.profile: object = _UNPARSED  # then parse_gap_profile(...): (gaps, stall) or None
        self.render(today, started)

    def render(self, today: datetime, started: datetime | None = None) -> None:
        v = self.values
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
    inserts the new row, `on_call_updated` / `on_call_finished` refresh it in place.

    Signals:
        counts_changed(int, int): calls matching the filter (-1 while being counted),
            calls recorded in all.
    """

    counts_changed = Signal(int, int)

    def __init__(self, store: CallStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._filter = CallFilter()
        self._order: tuple[str, bool] = _NEWEST_FIRST
        self._rows: list[_Row] = []
        self._index: dict[str, int] = {}
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
        self._tick.timeout.connect(self._on_tick_timeout)
        self._recount_timer = QTimer(self)
        self._recount_timer.setSingleShot(True)
        self._recount_timer.setInterval(RECOUNT_MS)
        self._recount_timer.timeout.connect(self._recount)
        self._since_recount = QElapsedTimer()
        self.reload()

    # -- Qt model API -------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def canFetchMore(self, parent: ModelIndex) -> bool:
        return not parent.isValid() and not self._fetched_all

    def fetchMore(self, parent: ModelIndex) -> None:
        if parent.isValid() or self._fetched_all:
            return
        page = self._page(len(self._rows))
        new = [row for row in page if row.id not in self._index]
        if len(page) < PAGE_SIZE or not new:
            self._fetched_all = True
        if not new:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        for offset, row in enumerate(new):
            self._index[row.id] = first + offset
            self._rows.append(row)
        self.endInsertRows()
        self._track_live(new)

    def data(self, index: ModelIndex, role: int = _DISPLAY) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == _DISPLAY:
            if row.live and column == _DURATION:
                return self._live_text(row)
            if column == _COST:
                if row.live:
                    return ""  # priced once its usage has come
                cost = row_cost(row.values)
                return "…" if cost is None else cost.text()
            return row.texts[column]
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
        self._today = datetime.now().astimezone()
        self.beginResetModel()
        self._rows = self._page(0)
        self._index = {row.id: i for i, row in enumerate(self._rows)}
        self._fetched_all = len(self._rows) < PAGE_SIZE
        self._live_ids = set()
        self.endResetModel()
        self._track_live(self._rows)
        if recount:
            self._recount()

    def call_id(self, row: int) -> str | None:
        return self._rows[row].id if 0 <= row < len(self._rows) else None

    def row_of(self, call_id: str) -> int | None:
        """The row showing `call_id`, if it is loaded."""
        return self._index.get(call_id)

    def values_at(self, row: int) -> dict[str, Any]:
        """The loaded row's SQL values (`SQL_COLUMNS`), not a copy: read, never change."""
        return self._rows[row].values

    def is_loaded(self, call_id: str) -> bool:
        return call_id in self._index

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
        if self._rows:
            self._emit_rows_changed(0, len(self._rows) - 1)

    # -- live updates -------------------------------------------------------------------

    def on_call_started(self, call_id: str) -> None:
        """A new call was recorded: insert it at the top (if it matches and sort is by time)."""
        if call_id in self._index:  # already read by a reload that raced the event
            self.on_call_finished(call_id, {})
            return
        self._total += 1
        values = self._read_row(call_id, filtered=True)
        if values is not None:
            self._shown += 1
            if self.newest_first:
                row = _Row(values, self._today)
                row.started = time.time()  # our clock: the elapsed time starts now
                self._insert_live(row)
        self.counts_changed.emit(self._shown, self._total)

    def on_call_updated(self, call_id: str, fields: dict[str, Any]) -> None:
        """A live call changed (chunk count, state, status): update its row from the event."""
        position = self._index.get(call_id)
        if position is None:
            return
        row = self._rows[position]
        for key, value in fields.items():
            if key in row.values:
                row.values[key] = value
        self._rerender(position)

    def on_call_finished(self, call_id: str, fields: dict[str, Any]) -> None:
        """A call ended: read its final row (tokens, duration) and refresh it in place."""
        position = self._index.get(call_id)
        if position is None:
            values = self._read_row(call_id, filtered=True)
            if values is not None and not self._filter_is_empty():
                # It matches now but did not when it started (e.g. "errors only").
                if self.newest_first:
                    self._insert_live(_Row(values, self._today))
                self._schedule_recount()
            return
        values = self._read_row(call_id, filtered=False)
        if values is not None:
            self._rows[position].values = values
        self._rerender(position)
        if not self._filter_is_empty():
            self._schedule_recount()  # a finished call may leave or join the filter

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
        return [_Row(values, self._today) for values in rows]

    def _read_row(self, call_id: str, *, filtered: bool) -> dict[str, Any] | None:
        where, params = self._filter.where() if filtered else ("1", [])
        cursor = self.store.db.conn.execute(
            f"SELECT {', '.join(SQL_COLUMNS)} FROM calls WHERE calls.id = ? AND ({where})",
            [call_id, *params],
        )
        found = cursor.fetchone()
        return dict(zip(SQL_COLUMNS, found, strict=True)) if found else None

    def _insert_live(self, row: _Row) -> None:
        position = 0
        started_at = row.values.get("started_at") or ""
        while (
            position < len(self._rows)
            and (self._rows[position].values.get("started_at") or "") > started_at
        ):
            position += 1
        if position == len(self._rows) and not self._fetched_all:
            return  # it belongs beyond what is loaded; paging will bring it
        self.beginInsertRows(QModelIndex(), position, position)
        self._rows.insert(position, row)
        for i in range(position, len(self._rows)):
            self._index[self._rows[i].id] = i
        self.endInsertRows()
        self._track_live([row])

    def _rerender(self, position: int) -> None:
        row = self._rows[position]
        row.render(self._today)
        self._emit_rows_changed(position, position)
        if row.live:
            self._track_live([row])

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
        self._frame = (self._frame + 1) % theme.SPINNER_FRAMES
        for call_id in list(self._live_ids):
            position = self._index.get(call_id)
            if position is None or not self._rows[position].live:
                self._live_ids.discard(call_id)
                continue
            self.dataChanged.emit(
                self.index(position, _STATUS),
                self.index(position, _DURATION),
                [_DISPLAY, _DECORATION],
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
            self._shown = self._total
            self.counts_changed.emit(self._shown, self._total)
            return
        # A filtered count asks the full-text index (a few ms even at 100k calls; only live
        # calls are matched by LIKE). It runs on the GUI thread, right after the debounce:
        # a background thread emitting into a model that may be gone was not worth the risk.
        try:
            self._shown = self.store.count_calls(self._filter)
        except sqlite3.Error:
            self._shown = -1  # the list itself still shows; only the number is missing
        self.counts_changed.emit(self._shown, self._total)

    def wait_for_counts(self, timeout: float = 5.0) -> None:
        """Counts are synchronous now; kept so tests and benchmarks read the same."""
