"""The call list's loaded rows and their live updates: the base of `CallListModel`.

Split from `call_list_model` along its seam: this part holds the rows loaded so far (two
lists, see `LiveRows`) and applies the worker's events to them in batches; the model on top
reads pages and counts and answers Qt's questions (data, sort, filter).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from relayscope.store.call_store import IN_BATCH, READ_ERRORS, CallFilter, CallStore
from relayscope.ui import theme
from relayscope.ui.call_rows import COLUMN, COLUMNS, SQL_COLUMNS, ListRow, format_ms, row_runs

_Row = ListRow
ModelIndex = QModelIndex | QPersistentModelIndex

#: How often a live row's elapsed time and spinner move (and, while calls are live, how
#: often their events are applied)...
TICK_MS = 100
#: ... or less often when painting the list is slow (a loaded machine, a huge window): the
#: UI thread spends at most about a quarter of its time repainting for the tick.
TICK_PAINT_SHARE = 4
TICK_MAX_MS = 500
#: The worker's events are collected and applied at most this often (about two frames):
#: one SQL query and one insert per batch, however many calls arrive meanwhile.
COALESCE_MS = 30
#: A batch applied on a timer (the tick's, or the coalescing one's) does about this much
#: work, measured (`_ms_per_read`): a window behind (a recorder that committed late, a
#: loaded machine) catches up in slices, painting and taking input between them, instead
#: of in one long stall. The rest comes half a tick later, oldest first (a call's later
#: events wait with it); with no backlog nothing is left, so no batch is added...
BATCH_MS = 14.0
#: ... and the slices grow, so that a backlog is applied within this time if it can be...
CATCH_UP_S = 0.6
#: ... up to this much work each: a bigger backlog takes longer, and the window stays
#: responsive meanwhile...
MAX_BATCH_MS = 26.0
#: ... and less when the list's repaint is slow (Group by turn, a big window): a slice and
#: the repaint after it, in the same pass of the event loop, stay within this.
PASS_MS = 32.0
#: Two pieces of deferred work (a paced batch, the view's trim) start at least this long
#: after the last one ended: timers due together fire in one pass of the event loop, and
#: their work would add up into one stall, with no paint or input between them.
WORK_GAP_MS = 15
#: Until a batch has been measured: what a call's row costs to read and apply (ms).
_FIRST_MS_PER_READ = 0.1
#: Batches with fewer reads than this teach nothing (their fixed costs dominate); a paced
#: batch takes at least this many.
_MEASURED_READS = 20
#: Changed rows at most this many rows apart are signalled as one range.
_RUN_SLACK = 8
_STATUS, _DURATION = COLUMN["status"], COLUMN["duration"]
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_NEWEST_FIRST = ("started_at", True)


class LiveRows(QAbstractTableModel):
    """Loaded rows, newest first, updated live by the worker's events.

    Loaded rows are two lists, so that neither a live call at the top nor a page at the
    bottom moves the others: `_head` holds the calls inserted live, oldest first (row 0 is
    its last item), `_tail` the rows read from SQL in the list's order. `_index` maps a
    call id to a stamp that does not change when rows are added at either end: row =
    `len(_head) + stamp` (a live row's stamp is negative, a paged row's its place in _tail).
    `trim` drops rows from the bottom (the tail's end, then the oldest live rows) to bound
    memory while traffic flows; `_head_dropped` keeps the live rows' stamps valid then:
    a negative stamp's row is `len(_head) + _head_dropped + stamp`.

    Events are collected and applied once per `COALESCE_MS`, or with the tick while calls
    are live (`flush_events`): one SQL query (`CallStore.rows_matching`) and one
    `rowsInserted` per batch, however fast traffic comes. A backlog (hundreds of calls at
    once) is applied in slices of `BATCH_MS` to `MAX_BATCH_MS` of work, half a tick apart;
    a paced batch or the view's trim never starts within `WORK_GAP_MS` of the last one.
    While a new page is being read (`_loading`) they wait, and are applied to it.

    Signals:
        counts_changed(int, int): calls matching the filter, calls recorded in all (-1:
            being counted).
    """

    counts_changed = Signal(int, int)

    def __init__(self, store: CallStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._filter = CallFilter()
        self._order: tuple[str, bool] = _NEWEST_FIRST
        self._head: list[_Row] = []  # inserted live, oldest first: row 0 is the last
        self._tail: list[_Row] = []  # paged from SQL, in the list's order
        self._index: dict[str, int] = {}  # call id -> stamp; row = len(_head) + stamp
        self._head_dropped = 0  # live rows trimmed from the head's start (see `trim`)
        self._pending_started: dict[str, float] = {}  # call id -> arrival, oldest first
        self._pending_updated: dict[str, dict[str, Any]] = {}
        self._pending_finished: dict[str, Mapping[str, Any]] = {}
        self._pending_since = 0.0  # when the oldest event waiting came (time.monotonic)
        self._ms_per_read = _FIRST_MS_PER_READ  # a call's read and apply, averaged
        self._worked_at = -1e9  # when the last batch or trim ended (time.perf_counter)
        #: SQL queries run by `flush_events` so far (tests check: one per batch).
        self.batch_queries = 0
        self._loading = False  # a new page is being read off the GUI thread
        self._fetched_all = False
        self._trimming = False  # rows are being dropped (`trim`): no page is read meanwhile
        self._shown = 0
        self._total = 0
        self._frame = 0
        self._today = datetime.now().astimezone()
        self._live_ids: set[str] = set()
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._paint_ms = 0.0  # the view's repaints, averaged (note_paint_ms)
        self._tick.timeout.connect(self._on_tick_timeout)
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(COALESCE_MS)
        self._flush_timer.timeout.connect(self._flush_paced)

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._head) + len(self._tail)

    @property
    def newest_first(self) -> bool:
        return self._order == _NEWEST_FIRST

    # -- live updates -------------------------------------------------------------------

    def on_call_events(self, events: Iterable[Mapping[str, Any]]) -> bool:
        """Collect the worker's call events (`WorkerProcess.calls_changed`: `call_started`,
        `call_updated`, `call_finished`, in order) for the next batch (`flush_events`);
        True if a call started among them.

        A started call is inserted at the top (if it matches and sort is by time); a live
        call's changed fields (chunk count, state, status) update its row; a finished call's
        final row (tokens, duration) is read and refreshed in place. An event's `event` and
        `id` keys go with its fields: the row's id is the same, and no column is `event`.
        """
        started, updated, finished = (
            self._pending_started,
            self._pending_updated,
            self._pending_finished,
        )
        any_started = False
        now = time.monotonic()
        if not (started or updated or finished):
            self._pending_since = now
        for event in events:
            kind, call_id = event["event"], event["id"]
            if kind == "call_updated":
                merged = updated.get(call_id)
                if merged is None:
                    updated[call_id] = dict(event)
                else:
                    merged.update(event)
            elif kind == "call_started":
                started[call_id] = now
                any_started = True
            else:
                finished[call_id] = event
        self._schedule_flush()
        return any_started

    def on_call_started(self, call_id: str) -> None:
        """One `call_started` event (`on_call_events`)."""
        self.on_call_events(({"event": "call_started", "id": call_id},))

    def on_call_updated(self, call_id: str, fields: Mapping[str, Any]) -> None:
        """One `call_updated` event (`on_call_events`)."""
        self.on_call_events(({**fields, "event": "call_updated", "id": call_id},))

    def on_call_finished(self, call_id: str, fields: Mapping[str, Any]) -> None:
        """One `call_finished` event (`on_call_events`)."""
        self.on_call_events(({**fields, "event": "call_finished", "id": call_id},))

    def has_pending_events(self) -> bool:
        return bool(self._pending_started or self._pending_updated or self._pending_finished)

    def flush_events(self, *, paced: bool = False) -> None:
        """Apply the events collected since the last batch: one SQL query for the calls that
        started or finished, one `rowsInserted` for the new calls at the top, `dataChanged`
        for the changed rows (in runs). A row read here is at least as new as every event
        of the batch (events are printed after their commit), so their fields are not needed.

        `paced` (the timers): `BATCH_MS` to `MAX_BATCH_MS` of work (`_take_batch`); the rest
        follows half a tick later. Otherwise (a reload, a page, a test) every waiting event
        is applied.
        """
        self._flush_timer.stop()
        if self._loading:
            return  # applied once the new page is in (`_on_page`), so none is lost
        if paced and (wait := self.work_gap_left_ms()):
            self._flush_timer.start(wait)  # the last batch or trim ended just now
            return
        began = time.perf_counter()
        started, updated, finished = self._take_batch(paced)
        new_ids = [c for c in started if c not in self._index]
        # A finished call not loaded is read only if a filter may now take it in.
        wanted = [
            c
            for c in dict.fromkeys([*started, *finished])
            if c in self._index or c in started or not self._filter_is_empty()
        ]
        try:
            found = self._read_rows(wanted)
        except READ_ERRORS:
            return  # the store was closed (the window is going away)
        changed: list[str] = []
        insert: list[_Row] = []
        recount = False
        if self._total >= 0:  # not while the total is being counted (it includes them)
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
        self._worked_at = time.perf_counter()
        if len(wanted) >= _MEASURED_READS:
            ms = (self._worked_at - began) * 1000 / len(wanted)
            # Quick to rise, slow to fall: a slice planned on a cheap spell overruns less.
            weight = 0.5 if ms > self._ms_per_read else 0.15
            self._ms_per_read += weight * (ms - self._ms_per_read)
        if self.has_pending_events():
            self._flush_timer.start(TICK_MS // 2)  # what the budget left (`BATCH_MS`)

    def work_gap_left_ms(self) -> int:
        """How long deferred work should still wait after the last batch or trim
        (`WORK_GAP_MS`); 0 when it may start now."""
        left = WORK_GAP_MS - (time.perf_counter() - self._worked_at) * 1000
        return max(1, round(left)) if left > 0 else 0

    def _flush_paced(self) -> None:
        self.flush_events(paced=True)

    def _take_batch(self, paced: bool) -> tuple[list[str], dict[str, dict[str, Any]], list[str]]:
        """The waiting events to apply now (started, updated, finished), taken out.

        Paced, the rows read (started and finished calls) are at most what `BATCH_MS`
        costs, or more when a backlog would otherwise wait beyond `CATCH_UP_S` (the work
        left spread over the slices left until then), never over `MAX_BATCH_MS` nor, with
        the repaint that follows, over `PASS_MS`. Started calls go first, oldest first,
        then finished ones; every event of a call left out waits with it, so a call's
        events apply in their order.
        """
        started, updated, finished = (
            self._pending_started,
            self._pending_updated,
            self._pending_finished,
        )
        limit = self._read_limit() if paced else len(started) + len(finished)
        if len(started) + len(finished) <= limit:
            self._pending_started, self._pending_updated, self._pending_finished = {}, {}, {}
            return list(started), updated, list(finished)
        order = list(started)
        later = set(order[limit:])
        ready = [c for c in finished if c not in later]
        room = max(0, limit - len(order))
        later.update(ready[room:])
        self._pending_started = {c: started[c] for c in order[limit:]}
        self._pending_updated = {c: f for c, f in updated.items() if c in later}
        self._pending_finished = {c: f for c, f in finished.items() if c in later}
        if self._pending_started:  # the rest are younger (finished ones keep the batch's age)
            self._pending_since = next(iter(self._pending_started.values()))
        return (
            order[:limit],
            {c: f for c, f in updated.items() if c not in later},
            ready[:room],
        )

    def _read_limit(self) -> int:
        """How many calls' rows the next paced batch reads (`_take_batch`)."""
        age = time.monotonic() - self._pending_since
        slices_left = max(1.0, (CATCH_UP_S - age) * 1000 / (TICK_MS // 2))
        waiting = len(self._pending_started) + len(self._pending_finished)
        wanted = waiting * self._ms_per_read / slices_left
        most = max(BATCH_MS, min(MAX_BATCH_MS, PASS_MS - self._paint_ms))
        budget = min(most, max(BATCH_MS, wanted))
        return max(_MEASURED_READS, int(budget / self._ms_per_read))  # so it goes on learning

    def _filter_is_empty(self) -> bool:
        return self._filter == CallFilter()

    def _read_rows(self, call_ids: list[str]) -> dict[str, tuple[dict[str, Any], bool]]:
        """Each call's values and whether it matches the filter: one query per `IN_BATCH`."""
        self.batch_queries += -(-len(call_ids) // IN_BATCH)
        return self.store.rows_matching(call_ids, self._filter, SQL_COLUMNS)

    def _row(self, number: int) -> _Row:
        head = self._head
        return (
            head[len(head) - 1 - number] if number < len(head) else self._tail[number - len(head)]
        )

    def row_of(self, call_id: str) -> int | None:
        """The row showing `call_id`, if it is loaded."""
        stamp = self._index.get(call_id)
        if stamp is None:
            return None
        head = len(self._head)
        return head + stamp if stamp >= 0 else head + self._head_dropped + stamp

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
            self.flush_events(paced=True)
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
            if self.has_pending_events():
                self._flush_timer.start(TICK_MS // 2)  # what the last batch left

    def _schedule_flush(self) -> None:
        # While the tick runs (calls are live), it applies the events (`_on_tick_timeout`).
        if not self._flush_timer.isActive() and not self._tick.isActive():
            self._flush_timer.start(COALESCE_MS)

    def _schedule_recount(self) -> None:
        raise NotImplementedError  # the model counts (CallListModel._schedule_recount)

    def note_paint_ms(self, ms: float) -> None:
        """The view's last repaint took `ms`: the tick slows down when repaints are slow."""
        self._paint_ms = 0.8 * self._paint_ms + 0.2 * ms
        wanted = int(min(TICK_MAX_MS, max(TICK_MS, TICK_PAINT_SHARE * self._paint_ms)))
        if abs(wanted - self._tick.interval()) >= 20:
            self._tick.setInterval(wanted)
