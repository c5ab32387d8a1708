"""CallGroupModel: the call list with one expandable row per Codex turn (its requests inside)."""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt
from PySide6.QtGui import QFont

from relayscope.ui import theme
from relayscope.ui.call_group_turn import (
    COLLAPSED,
    EXPANDED,
    Turn,
    call_turn,
    lay_out,
    render_turn,
    started_of,
    turn_cells,
    turn_data,
    turn_values,
)
from relayscope.ui.call_group_turn import (
    Key as _Key,
)
from relayscope.ui.call_list_model import (
    COLUMN,
    COLUMNS,
    CallListModel,
    ModelIndex,
    row_runs,
)
from relayscope.ui.keyed_rows import KeyedRows
from relayscope.ui.roles import Cell, Role

__all__ = ["CHILD_INDENT", "COLLAPSED", "EXPANDED", "CallGroupModel"]

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
_TURN, _CELL = int(Role.TURN), int(Role.CELL)
_TIME = COLUMN["time"]
_CALL_ROW = int(Role.CALL_ROW)
#: Changed rows at most this many apart are one signal (the source's `_RUN_SLACK`): each
#: signal costs more than repainting a row, and the view repaints only the rows it shows.
_RUN_SLACK = 8
#: Turns moved one signal each; more are moved in one layout change.
_FEW_MOVES = 4
#: A call inside an expanded turn is indented under the turn's disclosure triangle.
CHILD_INDENT = "      "


class CallGroupModel(QAbstractTableModel):
    """`CallListModel`'s loaded rows, with the calls of each Codex turn (`turn_id`) folded
    into one row that expands into its requests and retries. Other calls stay single rows.

    Only the rows the source has loaded are grouped (it pages 200 at a time): a turn shows
    the calls loaded so far. A turn's row sits where its first request does (its anchor:
    the earliest started, the first in the list among equals); it shows that time, the
    provider and model, the number of requests, the last status, the time from the first
    request to the end of the last, the tokens of all, and the longest gap of all (with that
    request's sparkline). Sorting, paging and live updates are the source's.

    The source's changes are followed as they come, each costing what it touches: new rows
    (live calls at the top, a page at the bottom) join their turns or become rows of their
    own, removed rows (the trim at the bottom) leave theirs, a turn whose anchor changes
    moves, and a changed row signals its own row and its turn's. Only the source's reset
    (sort, filter, another database) lays out every row again.
    """

    def __init__(self, source: CallListModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self._rows: KeyedRows[_Key] = KeyedRows()
        self._groups: dict[str, Turn] = {}
        self._turn_of: dict[str, str] = {}  # call id -> turn id, for the calls in turns
        self._expanded: set[str] = set()  # always turns that have a row
        #: While a change of the source is followed, a handler of our signals may change the
        #: source again (a view scrolled to the bottom fetches more): the change being
        #: followed is abandoned and every row laid out again once it is over.
        self._following = False
        self._stale = False
        self._reset_when_removed = False
        self._bold = QFont()
        self._bold.setBold(True)
        self._rebuild()
        source.modelAboutToBeReset.connect(self.beginResetModel)
        source.modelReset.connect(self._on_source_model_reset)
        source.rowsInserted.connect(self._on_source_rows_inserted)
        # Removed rows are followed before they go: their ids and the rows of the turns
        # they leave are still there to read.
        source.rowsAboutToBeRemoved.connect(self._on_source_rows_about_to_be_removed)
        source.rowsRemoved.connect(self._on_source_rows_removed)
        source.dataChanged.connect(self._on_source_data_changed)

    # -- Qt model API -------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def canFetchMore(self, parent: ModelIndex) -> bool:
        return not parent.isValid() and self.source.canFetchMore(QModelIndex())

    def fetchMore(self, parent: ModelIndex) -> None:
        if not parent.isValid():
            self.source.fetchMore(QModelIndex())

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        return self.source.headerData(section, orientation, role)

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        return _FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.source.sort(column, order)

    def data(self, index: ModelIndex, role: int = _DISPLAY) -> Any:
        if not index.isValid():
            return None
        kind, key = self._rows[index.row()]
        if kind == "g":
            return self._group_data(self._groups[key], index.column(), role)
        source_row = self.source.row_of(key)
        if source_row is None or role == _TURN:
            return None
        value = self.source.data(self.source.index(source_row, index.column()), role)
        if index.column() == _TIME and key in self._turn_of:
            if role == _DISPLAY:
                return CHILD_INDENT + str(value)
            if role == _CELL and value is not None:
                return (CHILD_INDENT + value[0], *value[1:])
        return value

    def row_cells(self, number: int, columns: list[int]) -> list[Cell | None]:
        """`Role.CELL` of these columns of row `number` in one call (as `data()` answers)."""
        kind, key = self._rows[number]
        if kind == "g":
            expanded = key in self._expanded
            group = self._groups[key]
            return turn_cells(self.source, group, columns, expanded=expanded, dark=theme.is_dark())
        source_row = self.source.row_of(key)
        if source_row is None:
            return [None] * len(columns)
        cells = self.source.row_cells(source_row, columns)
        if key in self._turn_of and _TIME in columns:
            at = columns.index(_TIME)
            cell = cells[at]
            if cell is not None:
                cells[at] = (CHILD_INDENT + cell[0], *cell[1:])
        return cells

    # -- queries ------------------------------------------------------------------------

    def call_id(self, row: int) -> str | None:
        """The call on this row; for a turn's row, its newest call."""
        if not 0 <= row < len(self._rows):
            return None
        kind, key = self._rows[row]
        return self._group(key).newest or None if kind == "g" else key

    def call_ids(self, row: int) -> list[str]:
        """Every loaded call on this row (a turn's row: all its calls)."""
        if not 0 <= row < len(self._rows):
            return []
        kind, key = self._rows[row]
        return [key] if kind == "c" else list(self._groups[key].calls)

    def turn_id(self, row: int) -> str | None:
        """The turn of a turn's row (None for a call's row)."""
        if not 0 <= row < len(self._rows):
            return None
        kind, key = self._rows[row]
        return key if kind == "g" else None

    def row_of(self, call_id: str) -> int | None:
        """The row showing `call_id`: its own, or (in a folded turn) its turn's."""
        row = self._rows.row(("c", call_id))
        if row is None and call_id in self._turn_of:
            row = self._rows.row(("g", self._turn_of[call_id]))
        return row

    def is_expanded(self, turn_id: str) -> bool:
        return turn_id in self._expanded

    def set_expanded(self, turn_id: str, expanded: bool) -> None:
        """Unfold (or fold) a turn's row into its calls."""
        group = self._groups.get(turn_id)
        if group is None or expanded == (turn_id in self._expanded):
            return
        row = self._rows.row(("g", turn_id))
        assert row is not None
        if expanded:
            self._expanded.add(turn_id)
            self._insert_rows(row + 1, [("c", c) for c in group.calls])
        else:
            self._remove_rows(row + 1, row + len(group.calls))
            self._expanded.discard(turn_id)
        group.dirty = True  # the triangle
        self._emit_changed([row], 0, len(COLUMNS) - 1, [])

    def group_count(self) -> int:
        return len(self._groups)

    # -- following the source -----------------------------------------------------------

    def _rebuild(self) -> None:
        """Lay out every loaded row: O(loaded rows), no SQL (a reset of the source)."""
        keys, self._groups, self._turn_of = lay_out(self.source.loaded_values(), self._expanded)
        self._expanded &= set(self._groups)
        self._rows = KeyedRows(keys)

    def _on_source_model_reset(self) -> None:
        self._rebuild()
        self.endResetModel()

    def _on_source_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        if not parent.isValid():
            self._follow(self._attach, first, last)

    def _on_source_rows_about_to_be_removed(
        self, parent: QModelIndex, first: int, last: int
    ) -> None:
        if not parent.isValid():
            source = self.source
            gone = [c for r in range(first, last + 1) if (c := source.call_id(r))]
            self._follow(self._detach, gone, removing=True)

    def _on_source_rows_removed(self, parent: QModelIndex, *_: int) -> None:
        if self._reset_when_removed and not parent.isValid():
            self._reset_when_removed = False
            self._rebuild()
            self.endResetModel()

    def _on_source_data_changed(
        self, top: QModelIndex, bottom: QModelIndex, roles: list[int]
    ) -> None:
        self._follow(self._follow_data_changed, top, bottom, roles)

    def _follow(self, change: Callable[..., None], *args: Any, removing: bool = False) -> None:
        """Follow one change of the source; one that comes while another is being followed
        (from a handler of our signals) makes every row be laid out again instead."""
        if self._following:
            self._stale = True
            return
        self._following = True
        try:
            with contextlib.suppress(_Stale):
                change(*args)
        finally:
            self._following = False
        if self._stale:
            self._stale = False
            self.beginResetModel()
            if removing:  # the source's rows are still there: laid out once they are gone
                self._reset_when_removed = True
                return
            self._rebuild()
            self.endResetModel()

    def _follow_data_changed(self, top: QModelIndex, bottom: QModelIndex, roles: list[int]) -> None:
        """Rows of the source changed: their rows here (a call's own, its turn's) change,
        in one signal for rows a few apart, as the source signals them.

        The source signals the span of its live rows at each tick (their elapsed times and
        spinners, `roles` given): no values changed, so no turn changed and no turn's texts
        are rendered again. Only a change of every role (`roles` empty) can give a call its
        turn late."""
        source = self.source
        first, last = top.row(), bottom.row()
        values_changed = not roles or _TURN in roles or _CALL_ROW in roles
        turn_of = self._turn_of
        changed: list[str] = []
        for source_row in range(first, last + 1):
            call_id = source.call_id(source_row)
            if call_id is None:
                continue
            changed.append(call_id)
            if values_changed and call_turn(source.values_at(source_row)) != turn_of.get(call_id):
                # A call given its turn late (a WebSocket's prewarm): it leaves its place
                # and comes back as a new row would.
                self._detach([call_id])
                self._attach(source_row, source_row)
        row_of = self._rows.row  # (after those: a layout change makes new `_rows`)
        rows: list[int] = []
        turns: set[str] = set()
        for call_id in changed:
            own = row_of(("c", call_id))
            if own is not None:
                rows.append(own)
            turn = turn_of.get(call_id)
            if turn is not None:
                turns.add(turn)
        for turn in turns:
            if values_changed:
                self._groups[turn].dirty = True
            rows.append(row_of(("g", turn)) or 0)
        self._emit_changed(rows, top.column(), bottom.column(), roles, slack=_RUN_SLACK)

    def _attach(self, first: int, last: int) -> None:
        """The source's rows `first`..`last` are new: each joins its turn (whose row may
        move, if it becomes the turn's anchor), starts a turn, or is a row of its own."""
        source = self.source
        entries: list[tuple[int, _Key]] = []  # (source row of the anchor, row to insert)
        joined: dict[str, list[str]] = {}  # a turn shown already -> its new calls
        new_turns: dict[str, Turn] = {}
        for source_row in range(first, last + 1):
            values = source.values_at(source_row)
            call_id, turn = str(values["id"]), call_turn(values)
            if turn is None:
                entries.append((source_row, ("c", call_id)))
                continue
            self._turn_of[call_id] = turn
            if turn in self._groups:
                joined.setdefault(turn, []).append(call_id)
            else:
                new_turns.setdefault(turn, Turn(turn)).calls.append(call_id)
        moves: list[tuple[Turn, str]] = []
        for turn, calls in joined.items():
            self._join(self._groups[turn], calls, moves)
        self._move_turns(moves)
        for turn, group in new_turns.items():
            group.anchor = min(group.calls, key=self._order_of)
            entries.append((self._source_row(group.anchor), ("g", turn)))
        self._groups.update(new_turns)
        # Where each new row goes, all found before any is inserted (inserting from the
        # bottom up keeps them right); those going to the same place are one insert.
        runs: list[tuple[int, list[_Key]]] = []
        low = 0
        for anchor_row, key in sorted(entries):
            low = self._place(anchor_row, low=low)
            if runs and runs[-1][0] == low:
                runs[-1][1].append(key)
            else:
                runs.append((low, [key]))
        for row, keys in reversed(runs):
            self._insert_rows(row, keys)

    def _join(self, group: Turn, calls: list[str], moves: list[tuple[Turn, str]]) -> None:
        """New calls (in the source's order) join a turn that has a row (a turn whose
        anchor changes is added to `moves`)."""
        row_of = self._source_row
        for call_id in calls:
            group.calls.insert(
                bisect.bisect_left(group.calls, row_of(call_id), key=row_of), call_id
            )
        if group.turn_id in self._expanded:
            row = self._rows.row(("g", group.turn_id))
            assert row is not None
            new = set(calls)
            places = [i for i, c in enumerate(group.calls) if c in new]
            for first, last in row_runs(places):  # top down: each run's place is final
                keys = [("c", c) for c in group.calls[first : last + 1]]
                self._insert_rows(row + 1 + first, keys)
        anchor = min([group.anchor, *calls], key=self._order_of)
        if anchor != group.anchor:
            moves.append((group, anchor))
        group.dirty = True
        self._emit_changed([self._rows.row(("g", group.turn_id)) or 0], 0, len(COLUMNS) - 1, [])

    def _detach(self, call_ids: list[str]) -> None:
        """The calls `call_ids` leave (the source still has their rows): their own rows go,
        a turn left empty goes, a turn that lost its anchor moves to its next one."""
        gone: list[_Key] = []
        leaving: dict[str, set[str]] = {}
        for call_id in call_ids:
            turn = self._turn_of.pop(call_id, None)
            if turn is None:
                gone.append(("c", call_id))
                continue
            leaving.setdefault(turn, set()).add(call_id)
            if turn in self._expanded:
                gone.append(("c", call_id))
        emptied: list[str] = []
        for turn, going in leaving.items():
            group = self._groups[turn]
            group.calls = [c for c in group.calls if c not in going]
            group.dirty = True
            if not group.calls:
                gone.append(("g", turn))
                emptied.append(turn)
        places = sorted(r for key in gone if (r := self._rows.row(key)) is not None)
        for first, last in reversed(row_runs(places)):
            self._remove_rows(first, last)
        for turn in emptied:
            del self._groups[turn]
            self._expanded.discard(turn)
        moves: list[tuple[Turn, str]] = []
        changed: list[int] = []
        for turn, going in leaving.items():
            kept = self._groups.get(turn)
            if kept is None:
                continue
            if kept.anchor in going:
                moves.append((kept, min(kept.calls, key=self._order_of)))
            else:
                changed.append(self._rows.row(("g", turn)) or 0)
        self._emit_changed(changed, 0, len(COLUMNS) - 1, [])
        self._move_turns(moves)
        moved = [self._rows.row(("g", group.turn_id)) or 0 for group, _ in moves]
        self._emit_changed(moved, 0, len(COLUMNS) - 1, [])

    def _move_turns(self, moves: list[tuple[Turn, str]]) -> None:
        """Give turns their new anchors and move their rows there: a few one by one, more
        (the trim at the bottom takes the first calls of every turn running across it) in
        one layout change, O(rows), instead of a move signal each."""
        if len(moves) <= _FEW_MOVES:
            for group, anchor in moves:
                self._move_turn(group, anchor)
            return
        self.layoutAboutToBeChanged.emit()
        old = list(self._rows)
        moving = {group.turn_id for group, _ in moves}
        blocks: list[tuple[int, list[_Key]]] = []
        for group, anchor in moves:
            group.anchor = anchor
            keys: list[_Key] = [("g", group.turn_id)]
            if group.turn_id in self._expanded:
                keys += [("c", c) for c in group.calls]
            blocks.append((self._source_row(anchor), keys))
        staying = [
            key
            for key in old
            if not (
                (key[0] == "g" and key[1] in moving)
                or (key[0] == "c" and self._turn_of.get(key[1]) in moving)
            )
        ]
        places = [self._anchor_row(key) for key in staying]
        rows: list[_Key] = []
        done = 0
        for anchor_row, keys in sorted(blocks):
            place = bisect.bisect_left(places, anchor_row, lo=done)
            rows += staying[done:place]
            rows += keys
            done = place
        rows += staying[done:]
        self._rows = KeyedRows(rows)
        persistent = self.persistentIndexList()
        self.changePersistentIndexList(
            persistent,
            [self.index(self._rows.row(old[i.row()]) or 0, i.column()) for i in persistent],
        )
        self.layoutChanged.emit()
        self._check_stale()

    def _move_turn(self, group: Turn, anchor: str) -> None:
        """Give a turn its new anchor and move its rows (the turn's and, unfolded, its
        calls') to the anchor's place: O(rows between the two places)."""
        first = self._rows.row(("g", group.turn_id))
        assert first is not None
        last = first + (len(group.calls) if group.turn_id in self._expanded else 0)
        place = self._place(self._source_row(anchor), skip=(first, last))
        group.anchor = anchor
        if place == first:
            return
        to = place if place < first else place + last - first + 1
        if not self.beginMoveRows(QModelIndex(), first, last, QModelIndex(), to):
            raise AssertionError(f"cannot move rows {first}-{last} to {to}")
        self._rows.move(first, last, to)
        self.endMoveRows()
        self._check_stale()

    # -- the rows' order ----------------------------------------------------------------

    def _source_row(self, call_id: str) -> int:
        row = self.source.row_of(call_id)
        if row is None:
            raise KeyError(f"call {call_id} is not loaded")
        return row

    def _order_of(self, call_id: str) -> tuple[str, int]:
        """What picks a turn's anchor: the earliest started, then the first in the list.

        A call's `started_at` is written when it starts and never changes afterwards, so
        only calls that come or go can change a turn's anchor."""
        row = self._source_row(call_id)
        return (started_of(self.source.values_at(row)), row)

    def _anchor_row(self, key: _Key) -> int:
        """The source row a row of this list is placed by (a turn's calls: the turn's)."""
        kind, name = key
        turn = name if kind == "g" else self._turn_of.get(name)
        return self._source_row(name if turn is None else self._groups[turn].anchor)

    def _place(self, anchor_row: int, low: int = 0, skip: tuple[int, int] | None = None) -> int:
        """Where a row placed by the source row `anchor_row` goes: after every row placed
        higher, found by bisection (numbered as if the rows `skip` were not there)."""
        rows = self._rows
        first, length = (skip[0], skip[1] - skip[0] + 1) if skip else (len(rows), 0)
        high = len(rows) - length
        if low == 0 < high and anchor_row < self._anchor_row(rows[0 if first else length]):
            return 0  # the live case: new calls above every row
        while low < high:
            middle = (low + high) // 2
            real = middle if middle < first else middle + length
            if self._anchor_row(rows[real]) < anchor_row:
                low = middle + 1
            else:
                high = middle
        return low

    def _insert_rows(self, row: int, keys: list[_Key]) -> None:
        self.beginInsertRows(QModelIndex(), row, row + len(keys) - 1)
        self._rows.insert(row, keys)
        self.endInsertRows()
        self._check_stale()

    def _remove_rows(self, first: int, last: int) -> None:
        if last < first:
            return
        self.beginRemoveRows(QModelIndex(), first, last)
        self._rows.remove(first, last)
        self.endRemoveRows()
        self._check_stale()

    def _check_stale(self) -> None:
        if self._stale:
            raise _Stale  # the rest of the change is done by laying out every row

    def _emit_changed(
        self, rows: list[int], left: int, right: int, roles: list[int], slack: int = 0
    ) -> None:
        for first, last in row_runs(sorted(set(rows)), slack=slack):
            self.dataChanged.emit(self.index(first, left), self.index(last, right), roles)

    # -- a turn's row -------------------------------------------------------------------

    def _group(self, turn_id: str) -> Turn:
        group = self._groups[turn_id]
        if group.dirty and group.calls:
            render_turn(group, turn_values(self.source, group), turn_id in self._expanded)
        return group

    def _group_data(self, group: Turn, column: int, role: int) -> Any:
        expanded = group.turn_id in self._expanded
        return turn_data(self.source, group, column, role, expanded=expanded, bold=self._bold)


class _Stale(Exception):
    """The source changed again while one of its changes was being followed."""
