"""SessionListModel: agent sessions (`relayscope.analysis.sessions.list_sessions`) as a sortable table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from relayscope.analysis.sessions import SessionSummary
from relayscope.ui.inspector._format import ms
from relayscope.ui.plain_text import plain_tooltip

ModelIndex = QModelIndex | QPersistentModelIndex
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter

_Text = Callable[[SessionSummary], str]
_Key = Callable[[SessionSummary], object]
#: (title, text of a session, sort key)
_COLUMNS: tuple[tuple[str, _Text, _Key], ...] = (
    ("Started", lambda s: when(s.started_at), lambda s: s.started_at),
    ("Session", lambda s: s.id, lambda s: s.id),
    ("Client", lambda s: s.client or "—", lambda s: s.client),
    ("Turns", lambda s: f"{s.turns:,}", lambda s: s.turns),
    ("Calls", lambda s: f"{s.calls:,}", lambda s: s.calls),
    ("Duration", lambda s: ms(s.duration_ms), lambda s: s.duration_ms),
    ("Input", lambda s: f"{s.tokens.input_tokens:,}", lambda s: s.tokens.input_tokens),
    ("Cache hit", lambda s: percent(s.cache_hit_rate), lambda s: s.cache_hit_rate or -1.0),
    ("Output", lambda s: f"{s.tokens.output_tokens:,}", lambda s: s.tokens.output_tokens),
    ("Cost", lambda s: s.cost.text(), lambda s: (s.cost.priced > 0, s.cost.usd)),
)
COLUMN_TITLES = tuple(c[0] for c in _COLUMNS)
COLUMN = {title.lower(): i for i, title in enumerate(COLUMN_TITLES)}
_NUMERIC = frozenset(range(COLUMN["turns"], len(_COLUMNS)))


def when(started_at: str) -> str:
    """`Mar 02 12:01` in local time."""
    try:
        return datetime.fromisoformat(started_at).astimezone().strftime("%b %d %H:%M")
    except ValueError:
        return started_at or "—"


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


class SessionListModel(QAbstractTableModel):
    """One row per session; sorts by any column (cost, turns, duration, recency…)."""

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self._sessions: list[SessionSummary] = []
        self._sort = (COLUMN["started"], Qt.SortOrder.DescendingOrder)

    def set_sessions(self, sessions: Sequence[SessionSummary]) -> None:
        self.beginResetModel()
        self._sessions = list(sessions)
        self._apply_sort()
        self.endResetModel()

    def session(self, row: int) -> SessionSummary | None:
        return self._sessions[row] if 0 <= row < len(self._sessions) else None

    def row_of(self, session_id: str) -> int | None:
        return next((i for i, s in enumerate(self._sessions) if s.id == session_id), None)

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._sessions)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(_COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return _COLUMNS[section][0]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if section in _NUMERIC else _LEFT
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        session = self.session(index.row()) if index.isValid() else None
        if session is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return _COLUMNS[index.column()][1](session)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if index.column() in _NUMERIC else _LEFT
        if role == Qt.ItemDataRole.ToolTipRole and index.column() in (1, 2):
            return plain_tooltip(_COLUMNS[index.column()][1](session))
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        ids = [self._sessions[i.row()].id for i in before]
        self._sort = (column, order)
        self._apply_sort()
        rows = {s.id: row for row, s in enumerate(self._sessions)}
        after = [self.index(rows[i], old.column()) for i, old in zip(ids, before, strict=True)]
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()

    def _apply_sort(self) -> None:
        column, order = self._sort
        key = _COLUMNS[column][2]
        self._sessions.sort(key=key, reverse=order == Qt.SortOrder.DescendingOrder)  # type: ignore[arg-type]
