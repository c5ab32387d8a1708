"""SessionTurnsModel: one session's turns as a tree — a row per turn (tokens, cost, cache,
context) unfolding into a row per call (retries and cache misses marked)."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from relayscope.analysis.cost import TokenUsage
from relayscope.analysis.sessions import CallEntry, SessionReport, TurnReport, hit_rate
from relayscope.protocols.prompts import CHARS_PER_TOKEN
from relayscope.ui import theme
from relayscope.ui.inspector._format import one_line
from relayscope.ui.plain_text import plain_tooltip
from relayscope.ui.roles import Role
from relayscope.ui.session_list_model import percent, when

ModelIndex = QModelIndex | QPersistentModelIndex
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_CALL_ID, _CONTEXT = int(Role.CALL_ID), int(Role.CONTEXT)

COLUMN_TITLES = (
    "Turn",
    "Input",
    "Cached",
    "Output",
    "Reasoning",
    "Cost",
    "So far",
    "Cache hit",
    "Context ≈ tokens",
    "Notes",
)
_KEYS = ("turn", "input", "cached", "output", "reasoning", "cost", "so_far", "cache", "context")
COLUMN = {key: i for i, key in enumerate((*_KEYS, "notes"))}
_NUMERIC = frozenset(range(COLUMN["input"], COLUMN["context"] + 1))


def miss_note(reason: str) -> str:
    return f"cache miss: {reason}" if reason else ""


def turn_notes(turn: TurnReport) -> str:
    """What a person should notice about a turn: compaction, retries, cache misses."""
    notes = []
    if turn.compacted:
        notes.append("context compacted")
    sides = {c.side.split(":")[0] for c in turn.calls if c.side}
    agents = len({c.side for c in turn.calls if c.side.startswith("sub-agent")})
    if agents:
        notes.append(f"{agents} sub-agent{'s' if agents != 1 else ''}")
    if "side call" in sides:
        notes.append("side calls")
    retries = sum(1 for c in turn.calls if c.retry)
    if retries:
        notes.append(f"{retries} retr{'y' if retries == 1 else 'ies'}")
    missed = next((c.cache_miss for c in turn.calls if c.cache_miss), "")
    if missed:
        notes.append(miss_note(missed))
    return " · ".join(notes)


def _tokens(usage: TokenUsage | None, column: int) -> str:
    if usage is None:
        return "—"
    value = (
        usage.input_tokens,
        usage.cache_read_tokens,
        usage.output_tokens,
        usage.reasoning_tokens,
    )[column - COLUMN["input"]]
    return f"{value:,}"


class SessionTurnsModel(QAbstractItemModel):
    """Top-level rows are turns; a turn's children are its calls. A call row's internal id is
    its turn's row + 1 (0 marks a turn row), so no Python object is kept per index."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.report: SessionReport | None = None
        self._turns: list[TurnReport] = []

    def set_report(self, report: SessionReport | None) -> None:
        self.beginResetModel()
        self.report = report
        self._turns = list(report.turns) if report is not None else []
        self.endResetModel()

    def turn(self, index: ModelIndex) -> TurnReport | None:
        """The turn of a turn row, or of a call row's turn."""
        if not index.isValid():
            return None
        row = index.internalId() - 1 if index.internalId() else index.row()
        return self._turns[row] if 0 <= row < len(self._turns) else None

    def entry(self, index: ModelIndex) -> CallEntry | None:
        """The call of a call row (None on a turn row)."""
        turn = self.turn(index)
        if turn is None or not index.internalId():
            return None
        return turn.calls[index.row()] if index.row() < len(turn.calls) else None

    def index_of_call(self, call_id: str) -> QModelIndex:
        for t, turn in enumerate(self._turns):
            for c, entry in enumerate(turn.calls):
                if entry.call.get("id") == call_id:
                    return self.index(c, 0, self.index(t, 0))
        return QModelIndex()

    # -- the tree ---------------------------------------------------------------------------

    def index(self, row: int, column: int, parent: ModelIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        if column < 0 or column >= len(COLUMN_TITLES) or row < 0:
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0) if row < len(self._turns) else QModelIndex()
        if parent.internalId():
            return QModelIndex()  # calls have no children
        turn = self._turns[parent.row()]
        if row >= len(turn.calls):
            return QModelIndex()
        return self.createIndex(row, column, parent.row() + 1)

    def parent(self, index: ModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not index.isValid() or not index.internalId():
            return QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, 0)

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        if not parent.isValid():
            return len(self._turns)
        if parent.internalId() or parent.column() != 0:
            return 0
        return len(self._turns[parent.row()].calls)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMN_TITLES)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == _DISPLAY:
            return COLUMN_TITLES[section]
        if role == _ALIGN:
            return _RIGHT if section in _NUMERIC else _LEFT
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        turn = self.turn(index)
        if turn is None:
            return None
        entry = self.entry(index)
        column = index.column()
        if role == _ALIGN:
            return _RIGHT if column in _NUMERIC else _LEFT
        if role == _CALL_ID:
            return str(entry.call.get("id")) if entry is not None else None
        if role == _CONTEXT:
            return dict(turn.context) if entry is None and column == COLUMN["context"] else None
        if entry is not None:
            return self._call_data(entry, column, role)
        return self._turn_data(turn, column, role)

    def _turn_data(self, turn: TurnReport, column: int, role: int) -> object:
        if role == _DISPLAY:
            return self._turn_text(turn, column)
        if role == _TOOLTIP:
            if column == COLUMN["turn"] and turn.new_input:
                return plain_tooltip(turn.new_input)
            if column == COLUMN["notes"]:
                return plain_tooltip(turn_notes(turn))
        if role == _FOREGROUND and column == COLUMN["notes"] and turn_notes(turn):
            return theme.colour(theme.WARNING)
        return None

    def _turn_text(self, turn: TurnReport, column: int) -> str:
        if column == COLUMN["turn"]:
            started = when(str(turn.calls[0].call.get("started_at") or "")) if turn.calls else ""
            said = f" · {one_line(turn.new_input, 80)}" if turn.new_input else ""
            calls = f" · {len(turn.calls)} calls" if len(turn.calls) > 1 else ""
            return f"{turn.index}  {started[7:]}{calls}{said}"
        if COLUMN["input"] <= column <= COLUMN["reasoning"]:
            return _tokens(turn.tokens, column)
        if column == COLUMN["cost"]:
            return turn.cost.text()
        if column == COLUMN["so_far"]:
            return turn.cumulative_cost.text()
        if column == COLUMN["cache"]:
            return percent(turn.cache_hit_rate)
        if column == COLUMN["context"]:
            if not turn.context:
                return "—"
            growth = turn.growth_chars // CHARS_PER_TOKEN
            return f"{turn.context_chars // CHARS_PER_TOKEN:,} ({growth:+,})"
        return turn_notes(turn)

    def _call_data(self, entry: CallEntry, column: int, role: int) -> object:
        call = entry.call
        if role == _DISPLAY:
            if column == COLUMN["turn"]:
                status = call.get("status") or call.get("state") or "—"
                retry = " · retry" if entry.retry else ""
                side = f"{entry.side.split(':')[0]} · " if entry.side else ""
                arrow = "  ⤷" if entry.side else "↳"
                return f"{arrow} {side}{status}{retry} · {call.get('id')}"
            if COLUMN["input"] <= column <= COLUMN["reasoning"]:
                return _tokens(entry.usage, column)
            if column == COLUMN["cost"]:
                return entry.cost.text()
            if column == COLUMN["cache"]:
                return percent(hit_rate([call]))
            if column == COLUMN["notes"]:
                retry = "resends the previous request" if entry.retry else ""
                if retry and entry.retry_after:
                    retry += f" (after {entry.retry_after})"
                return miss_note(entry.cache_miss) or retry or one_line(entry.side)
            return ""
        if role == _TOOLTIP and column == COLUMN["notes"] and (entry.cache_miss or entry.side):
            return plain_tooltip(miss_note(entry.cache_miss) or entry.side)
        if role == _TOOLTIP and column == COLUMN["turn"]:
            beside = (
                f"{entry.side}\nA call beside the main conversation, made during this turn.\n"
                if entry.side
                else ""
            )
            return plain_tooltip(f"{beside}Click to show this call in the list and the inspector")
        if role == _FOREGROUND:
            if column == COLUMN["notes"] and (entry.cache_miss or entry.retry):
                return theme.colour(theme.WARNING)
            if column == COLUMN["turn"]:
                return theme.colour(theme.ACCENT)
        return None
