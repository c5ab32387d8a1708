"""How the grouped call list follows its source's changes, each costing what it touches.

`FollowedRows` keeps the grouped list's rows (`KeyedRows` of turn and call keys) in step with
the `CallListModel` under it: new rows (live calls at the top, a page at the bottom) join
their turns or become rows of their own, removed rows (the trim at the bottom) leave theirs,
a turn whose anchor changes moves (a few one by one, many in one layout change), and a
changed row signals its own row and its turn's. Only the source's reset (sort, filter,
another database) lays out every row again. `CallGroupModel` (call_group_model.py) is the
Qt model on top: what each row shows, folding and unfolding.
"""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject

from relayscope.ui.call_group_turn import Key as _Key
from relayscope.ui.call_group_turn import Turn, call_turn, lay_out, started_of
from relayscope.ui.call_list_model import COLUMNS, CallListModel, row_runs
from relayscope.ui.keyed_rows import KeyedRows
from relayscope.ui.roles import Role

_TURN, _CALL_ROW = int(Role.TURN), int(Role.CALL_ROW)
#: Changed rows at most this many apart are one signal (the source's `_RUN_SLACK`): each
#: signal costs more than repainting a row, and the view repaints only the rows it shows.
_RUN_SLACK = 8
#: Turns moved one signal each; more are moved in one layout change.
_FEW_MOVES = 4


class FollowedRows(QAbstractTableModel):
    """The grouped rows of `source`'s loaded calls, following its signals (see the module)."""

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
        self._rebuild()
        source.modelAboutToBeReset.connect(self.beginResetModel)
        source.modelReset.connect(self._on_source_model_reset)
        source.rowsInserted.connect(self._on_source_rows_inserted)
        # Removed rows are followed before they go: their ids and the rows of the turns
        # they leave are still there to read.
        source.rowsAboutToBeRemoved.connect(self._on_source_rows_about_to_be_removed)
        source.rowsRemoved.connect(self._on_source_rows_removed)
        source.dataChanged.connect(self._on_source_data_changed)

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
        turn late.

        Newest first (how the list is read live), the rows of the calls from `top` down and
        of their turns are the rows from where `top`'s row goes to the end (a turn's row is
        placed by its earliest call, below its others, or beside those started in the same
        millisecond): a tick signals those in one, found by bisection, rather than looking up
        each row of its span."""
        source = self.source
        first, last = top.row(), bottom.row()
        values_changed = not roles or _TURN in roles or _CALL_ROW in roles
        if not values_changed and source.newest_first and self._rows:
            started = started_of(source.values_at(first))
            while first > 0 and started_of(source.values_at(first - 1)) == started:
                first -= 1  # a turn's earliest call may be above, started in the same ms
            low = self._place(first)
            if low < len(self._rows):
                self.dataChanged.emit(
                    self.index(low, top.column()),
                    self.index(len(self._rows) - 1, bottom.column()),
                    roles,
                )
            return
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
        # The turns joined changed (counts, tokens, times): signalled once for all of them.
        changed = [self._rows.row(("g", turn)) for turn in joined]
        self._emit_changed(
            [r for r in changed if r is not None], 0, len(COLUMNS) - 1, [], slack=_RUN_SLACK
        )
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
        anchor changes is added to `moves`; the caller signals the turn's row changed)."""
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

    def _detach(self, call_ids: list[str]) -> None:
        """The calls `call_ids` leave (the source still has their rows): their own rows go,
        a turn left empty goes, a turn that lost its anchor moves to its next one.

        The turns move first, while every row is still there (each still placed by its
        anchor): the rows that go are then together at the bottom when the trim takes the
        bottom calls, one removal rather than one for each run between turns that stay."""
        leaving: dict[str, set[str]] = {}
        for call_id in call_ids:
            turn = self._turn_of.get(call_id)
            if turn is not None:
                leaving.setdefault(turn, set()).add(call_id)
        moves: list[tuple[Turn, str]] = []
        for turn, going in leaving.items():
            group = self._groups[turn]
            if group.anchor in going and (kept := [c for c in group.calls if c not in going]):
                moves.append((group, min(kept, key=self._order_of)))
        self._move_turns(moves)
        gone: list[_Key] = []
        for call_id in call_ids:
            turn = self._turn_of.pop(call_id, None)
            if turn is None or turn in self._expanded:
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
        changed = [self._rows.row(("g", t)) for t in leaving if t in self._groups]
        self._emit_changed([r for r in changed if r is not None], 0, len(COLUMNS) - 1, [])

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


class _Stale(Exception):
    """The source changed again while one of its changes was being followed."""
