"""CallGroupModel: the call list with one expandable row per Codex turn (its requests inside)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt
from PySide6.QtGui import QBrush, QFont

from relayscope.analysis.cost import CostTotal
from relayscope.ui import theme
from relayscope.ui.call_list_model import (
    COLUMN,
    COLUMNS,
    CallListModel,
    ModelIndex,
    format_count,
    format_ms,
    format_time,
    format_tokens,
    parse_started,
    row_cost,
    row_runs,
)
from relayscope.ui.plain_text import plain_tooltip
from relayscope.ui.roles import Cell, Role

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
_CALL_ID, _CALL_ROW, _GAPS = int(Role.CALL_ID), int(Role.CALL_ROW), int(Role.GAPS)
_TURN, _CELL = int(Role.TURN), int(Role.CELL)
_TIME, _MODEL, _STATUS = COLUMN["time"], COLUMN["model"], COLUMN["status"]
_STATE, _DURATION, _COST = COLUMN["state"], COLUMN["duration"], COLUMN["cost"]
_GAPS_COLUMN = COLUMN["gaps"]
_COLOURED = (_STATUS, _STATE)
#: A call inside an expanded turn is indented under the turn's disclosure triangle.
CHILD_INDENT = "      "
EXPANDED, COLLAPSED = "▾", "▸"

# An entry of the flat list: a turn's row ("g", turn_id) or a call's row ("c", call_id).
_Key = tuple[str, str]


@dataclass(slots=True)
class _Group:
    """One Codex turn: its loaded calls (source rows, in the list's order) and its row's texts."""

    turn_id: str
    rows: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    kind: str = "idle"
    live: bool = False
    first_started: float = 0.0
    newest: str = ""
    #: The call whose longest gap the row shows (its sparkline is the row's); None: no gaps.
    gappiest: str | None = None
    dirty: bool = True


class CallGroupModel(QAbstractTableModel):
    """`CallListModel`'s loaded rows, with the calls of each Codex turn (`turn_id`) folded
    into one row that expands into its requests and retries. Other calls stay single rows.

    Only the rows the source has loaded are grouped (it pages 200 at a time), so this stays
    as cheap as the list at 100,000 calls: a turn shows the calls loaded so far. A turn's
    row sits where its first request does; it shows that time, the provider and model, the
    number of requests, the last status, the time from the first request to the end of the
    last, the tokens of all, and the longest gap of all (with that request's sparkline).
    Sorting, paging and live updates are the source's.
    """

    def __init__(self, source: CallListModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self._keys: list[_Key] = []
        self._position: dict[_Key, int] = {}
        self._groups: dict[str, _Group] = {}
        self._turn_of: dict[str, str] = {}  # call id -> turn id
        self._expanded: set[str] = set()
        self._bold = QFont()
        self._bold.setBold(True)
        self._rebuild()
        source.modelAboutToBeReset.connect(self.beginResetModel)
        source.modelReset.connect(self._on_source_model_reset)
        source.rowsInserted.connect(self._restructure)
        source.rowsRemoved.connect(self._restructure)
        source.dataChanged.connect(self._on_source_data_changed)

    # -- Qt model API -------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._keys)

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
        kind, key = self._keys[index.row()]
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

    # -- queries ------------------------------------------------------------------------

    def call_id(self, row: int) -> str | None:
        """The call on this row; for a turn's row, its newest call."""
        if not 0 <= row < len(self._keys):
            return None
        kind, key = self._keys[row]
        return self._group(key).newest or None if kind == "g" else key

    def call_ids(self, row: int) -> list[str]:
        """Every loaded call on this row (a turn's row: all its calls)."""
        if not 0 <= row < len(self._keys):
            return []
        kind, key = self._keys[row]
        if kind == "c":
            return [key]
        return [c for r in self._groups[key].rows if (c := self.source.call_id(r))]

    def turn_id(self, row: int) -> str | None:
        """The turn of a turn's row (None for a call's row)."""
        if not 0 <= row < len(self._keys):
            return None
        kind, key = self._keys[row]
        return key if kind == "g" else None

    def row_of(self, call_id: str) -> int | None:
        """The row showing `call_id`: its own, or (in a folded turn) its turn's."""
        row = self._position.get(("c", call_id))
        if row is None and call_id in self._turn_of:
            row = self._position.get(("g", self._turn_of[call_id]))
        return row

    def is_expanded(self, turn_id: str) -> bool:
        return turn_id in self._expanded

    def set_expanded(self, turn_id: str, expanded: bool) -> None:
        """Unfold (or fold) a turn's row into its calls."""
        if turn_id not in self._groups or expanded == (turn_id in self._expanded):
            return
        if expanded:
            self._expanded.add(turn_id)
        else:
            self._expanded.discard(turn_id)
        self._groups[turn_id].dirty = True
        self._restructure()

    def group_count(self) -> int:
        return len(self._groups)

    # -- building -----------------------------------------------------------------------

    def _group(self, turn_id: str) -> _Group:
        group = self._groups[turn_id]
        if group.dirty:
            self._render(group)
        return group

    def _layout(self) -> tuple[list[_Key], dict[str, _Group], dict[str, str]]:
        """The flat list for the source's rows: O(loaded rows), no SQL."""
        source = self.source
        groups: dict[str, _Group] = {}
        turn_of: dict[str, str] = {}
        anchor: dict[str, tuple[str, int]] = {}  # turn -> (earliest started_at, source row)
        loaded = source.loaded_values()  # one list: O(rows) per change, but no call per row
        for row, values in enumerate(loaded):
            turn = values.get("turn_id")
            if not turn:
                continue
            groups.setdefault(turn, _Group(turn)).rows.append(row)
            turn_of[str(values["id"])] = turn
            started = str(values.get("started_at") or "")
            if turn not in anchor or started < anchor[turn][0]:
                anchor[turn] = (started, row)
        keys: list[_Key] = []
        for row, values in enumerate(loaded):
            turn = values.get("turn_id")
            if not turn:
                keys.append(("c", str(values["id"])))
            elif anchor[turn][1] == row:
                keys.append(("g", turn))
                if turn in self._expanded:
                    keys += [("c", str(loaded[r]["id"])) for r in groups[turn].rows]
        return keys, groups, turn_of

    def _rebuild(self) -> None:
        self._keys, self._groups, self._turn_of = self._layout()
        self._expanded &= set(self._groups)
        self._position = {key: i for i, key in enumerate(self._keys)}

    def _restructure(self, *_: object) -> None:
        """The source's rows changed: move to the new list with inserts and removes.

        Rows keep their relative order (the source only adds rows, or resets), so the
        change is a set of removed and inserted rows; anything else resets the model.
        """
        keys, groups, turn_of = self._layout()
        old = self._keys
        new_set, old_set = set(keys), set(old)
        kept_old = [k for k in old if k in new_set]
        kept_new = [k for k in keys if k in old_set]
        if kept_old != kept_new:
            self.beginResetModel()
            self._apply(keys, groups, turn_of)
            self.endResetModel()
            return
        # Rows on their way in or out may be painted meanwhile: both turns' data is at hand.
        self._groups = {**self._groups, **groups}
        self._turn_of = {**self._turn_of, **turn_of}
        for first, last in reversed(row_runs([i for i, k in enumerate(old) if k not in new_set])):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._keys[first : last + 1]
            self.endRemoveRows()
        for first, last in row_runs([i for i, k in enumerate(keys) if k not in old_set]):
            self.beginInsertRows(QModelIndex(), first, last)
            self._keys[first:first] = keys[first : last + 1]
            self.endInsertRows()
        self._apply(keys, groups, turn_of)
        # A turn's row changes in place when a call joins it (count, status, tokens).
        turn_rows = [i for i, (kind, _) in enumerate(keys) if kind == "g"]
        for first, last in row_runs(turn_rows):
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1), [])

    def _apply(self, keys: list[_Key], groups: dict[str, _Group], turn_of: dict[str, str]) -> None:
        self._keys, self._groups, self._turn_of = keys, groups, turn_of
        self._expanded &= set(groups)
        self._position = {key: i for i, key in enumerate(keys)}

    def _on_source_model_reset(self) -> None:
        self._rebuild()
        self.endResetModel()

    def _on_source_data_changed(
        self, top: QModelIndex, bottom: QModelIndex, roles: list[int]
    ) -> None:
        rows: set[int] = set()
        for source_row in range(top.row(), bottom.row() + 1):
            call_id = self.source.call_id(source_row)
            if call_id is None:
                continue
            own = self._position.get(("c", call_id))
            if own is not None:
                rows.add(own)
            turn = self._turn_of.get(call_id)
            if turn is not None:
                self._groups[turn].dirty = True
                group_row = self._position.get(("g", turn))
                if group_row is not None:
                    rows.add(group_row)
        for first, last in row_runs(sorted(rows)):
            self.dataChanged.emit(
                self.index(first, top.column()), self.index(last, bottom.column()), roles
            )

    # -- a turn's row -------------------------------------------------------------------

    def _render(self, group: _Group) -> None:
        calls = [self.source.values_at(r) for r in group.rows]
        by_time = sorted(calls, key=lambda v: str(v.get("started_at") or ""))
        first, last = by_time[0], by_time[-1]
        started = parse_started(first.get("started_at"))
        group.first_started = started.timestamp() if started else time.time()
        group.newest = str(last["id"])
        gapped = [v for v in calls if v.get("max_gap_ms") is not None]
        gappiest = max(gapped, key=lambda v: float(v["max_gap_ms"])) if gapped else None
        group.gappiest = str(gappiest["id"]) if gappiest else None
        group.kind = theme.status_kind(last.get("status"), last.get("state"))
        group.live = any(v.get("state") in theme.LIVE_STATES for v in calls)
        ends = [_end(v) for v in calls]
        known = [e for e in ends if e is not None]
        wall = (max(known) - group.first_started) * 1000 if known else None
        providers = list(dict.fromkeys(str(v.get("provider") or "—") for v in calls))
        models = list(dict.fromkeys(str(v.get("model") or "—") for v in calls))
        count = len(calls)
        status = last.get("status")
        arrow = EXPANDED if group.turn_id in self._expanded else COLLAPSED
        group.texts = [
            f"{arrow} {format_time(started)}",
            ", ".join(providers),
            f"{', '.join(models)}  ·  {count} request{'s' if count != 1 else ''}",
            str(first.get("endpoint") or "—"),
            str(status) if status is not None else ("…" if group.live else "—"),
            str(last.get("state") or "—"),
            "SSE" if any(v.get("stream") for v in calls) else "",
            format_ms(first.get("ttft_ms")),
            format_ms(wall),
            format_tokens(*_token_sums(calls)),
            _chunks_text(calls),
            _longest_gap_text(calls),
            "",  # the cost: priced when painted (_turn_cost_text)
        ]
        group.dirty = False

    def _group_data(self, group: _Group, column: int, role: int) -> Any:
        if group.dirty:
            self._render(group)
        if role == _DISPLAY:
            if group.live and column == _DURATION:
                elapsed = max(0.0, time.time() - group.first_started) * 1000
                return format_ms(elapsed) + " …"
            if column == _COST:
                return _turn_cost_text([self.source.values_at(r) for r in group.rows])
            return group.texts[column]
        if role == _CELL:
            return self._group_cell(group, column)
        if role == _FONT:
            return self._bold if column in (_TIME, _MODEL) else None
        if role == _DECORATION:
            if column != _STATUS:
                return None
            return theme.status_icon(group.kind, 0, theme.is_dark())
        if role in (_FOREGROUND, _BACKGROUND):
            brush = self._brush(group.kind, role == _BACKGROUND)
            if role == _FOREGROUND:
                return brush if column in _COLOURED else None
            return brush if group.kind in ("error", "warning") else None
        if role == _TOOLTIP:
            return plain_tooltip(
                f"Codex turn {group.turn_id}\n{len(group.rows)} requests loaded "
                f"(double-click or → to {'fold' if group.turn_id in self._expanded else 'unfold'})"
            )
        if role == _CALL_ID:
            return group.newest
        if role == _CALL_ROW:
            row = self.source.row_of(group.newest)
            return dict(self.source.values_at(row)) if row is not None else None
        if role == _TURN:
            return group.turn_id
        if role == _GAPS:
            row = self.source.row_of(group.gappiest) if group.gappiest else None
            return None if row is None else self.source.data(self.source.index(row, column), role)
        return self.source.data(self.source.index(group.rows[0], column), role)

    def _group_cell(self, group: _Group, column: int) -> Cell:
        """`Role.CELL` of a turn's row: its display, colours, icon, bold font and Gaps."""
        kind = group.kind
        alert = kind == "error" or kind == "warning"
        return (
            str(self._group_data(group, column, _DISPLAY)),
            self._brush(kind, False).color() if column in _COLOURED else None,
            self._brush(kind, True) if alert else None,
            theme.status_icon(kind, 0, theme.is_dark()) if column == _STATUS else None,
            column in (_TIME, _MODEL),
            self._group_data(group, column, _GAPS) if column == _GAPS_COLUMN else None,
        )

    def _brush(self, kind: str, background: bool) -> QBrush:
        dark = theme.is_dark()
        if background:
            return QBrush(theme.row_alert_background(kind, dark=dark))
        return QBrush(theme.kind_colour(kind, dark=dark))


def _end(values: dict[str, Any]) -> float | None:
    started = parse_started(values.get("started_at"))
    duration = values.get("duration_ms")
    if started is None or duration is None:
        return None
    return started.timestamp() + float(duration) / 1000


def _token_sums(calls: list[dict[str, Any]]) -> tuple[int | None, int | None]:
    prompts = [int(v["prompt_tokens"]) for v in calls if v.get("prompt_tokens") is not None]
    outputs = [int(v["completion_tokens"]) for v in calls if v.get("completion_tokens") is not None]
    return (sum(prompts) if prompts else None, sum(outputs) if outputs else None)


def _turn_cost_text(calls: list[dict[str, Any]]) -> str:
    """The turn's calls' cost summed ("$0.04 + 1 unknown"), "…" while prices load."""
    total = CostTotal()
    for values in calls:
        if values.get("state") in theme.LIVE_STATES:
            continue
        cost = row_cost(values)
        if cost is None:
            return "…"
        total = total.add(cost)
    return total.text() if total.priced or total.unknown else ""


def _chunks_text(calls: list[dict[str, Any]]) -> str:
    """The turn's streamed chunks (blank, like a call's, when nothing streamed)."""
    streamed = [int(v.get("chunk_count") or 0) for v in calls if v.get("stream")]
    return format_count(sum(streamed)) if streamed else ""


def _longest_gap_text(calls: list[dict[str, Any]]) -> str:
    gaps = [float(v["max_gap_ms"]) for v in calls if v.get("max_gap_ms") is not None]
    return format_ms(max(gaps)) if gaps else ""
