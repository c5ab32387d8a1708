"""CallGroupModel: the call list with one expandable row per Codex turn (its requests inside)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt
from PySide6.QtGui import QFont

from relayscope.ui import theme
from relayscope.ui.call_group_follow import FollowedRows
from relayscope.ui.call_group_turn import (
    COLLAPSED,
    EXPANDED,
    Turn,
    render_turn,
    turn_cells,
    turn_data,
    turn_values,
)
from relayscope.ui.call_list_model import (
    COLUMN,
    COLUMNS,
    CallListModel,
    ModelIndex,
)
from relayscope.ui.roles import Cell, Role

__all__ = ["CHILD_INDENT", "COLLAPSED", "EXPANDED", "CallGroupModel"]

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
_TURN, _CELL = int(Role.TURN), int(Role.CELL)
_TIME = COLUMN["time"]
#: A call inside an expanded turn is indented under the turn's disclosure triangle.
CHILD_INDENT = "      "


class CallGroupModel(FollowedRows):
    """`CallListModel`'s loaded rows, with the calls of each Codex turn (`turn_id`) folded
    into one row that expands into its requests and retries. Other calls stay single rows.

    Only the rows the source has loaded are grouped (it pages 200 at a time): a turn shows
    the calls loaded so far. A turn's row sits where its first request does (its anchor:
    the earliest started, the first in the list among equals); it shows that time, the
    provider and model, the number of requests, the last status, the time from the first
    request to the end of the last, the tokens of all, and the longest gap of all (with that
    request's sparkline). Sorting, paging and live updates are the source's.

    How the rows follow the source's changes is `FollowedRows` (call_group_follow.py).
    """

    def __init__(self, source: CallListModel, parent: QObject | None = None) -> None:
        super().__init__(source, parent)
        self._bold = QFont()
        self._bold.setBold(True)

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

    # -- a turn's row -------------------------------------------------------------------

    def _group(self, turn_id: str) -> Turn:
        group = self._groups[turn_id]
        if group.dirty and group.calls:
            render_turn(group, turn_values(self.source, group), turn_id in self._expanded)
        return group

    def _group_data(self, group: Turn, column: int, role: int) -> Any:
        expanded = group.turn_id in self._expanded
        return turn_data(self.source, group, column, role, expanded=expanded, bold=self._bold)
