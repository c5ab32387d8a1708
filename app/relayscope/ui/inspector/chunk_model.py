"""ChunkTableModel: one row per recorded stream chunk (seq, time, gap, event, delta, raw)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from relayscope.analysis.stream_stats import event_label
from relayscope.ui.inspector._format import one_line
from relayscope.ui.inspector._json_text import as_text
from relayscope.ui.plain_text import plain_tooltip

# Roles as ints, compared without enum lookups: data() runs for every visible cell.
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

SEQ, TIME, GAP, EVENT, DELTA, RAW = range(6)
HEADERS = ("#", "t (ms)", "+gap (ms)", "Event", "Delta", "Raw")
_NUMERIC = frozenset({SEQ, TIME, GAP})

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class ChunkRow:
    seq: int
    t_ms: float
    gap_ms: float
    event_type: str
    delta: str
    raw: str
    invalid: bool


def _gap_text(gap: float) -> str:
    return f"{gap:.1f}" if gap < 10 else f"{gap:,.0f}"


class ChunkTableModel(QAbstractTableModel):
    """The chunks of one stream; `append_chunks` adds rows without resetting the model."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[ChunkRow] = []
        self._cells: list[tuple[str, str, str, str, str, str]] = []
        self._times: list[float] = []  # kept alongside the rows: read on every live update
        self._invalid: list[int] = []
        self._stall_ms = float("inf")
        self._mono = QFont()
        self._error: QBrush | None = None
        self._error_bg: QBrush | None = None
        self._warning_bg: QBrush | None = None
        self._warning: QBrush | None = None
        self._bold = QFont()
        self._bold.setBold(True)

    # -- feeding --------------------------------------------------------------------------

    def set_chunks(self, chunks: Iterable[Mapping[str, Any]]) -> None:
        self.beginResetModel()
        self._rows, self._cells, self._times, self._invalid = [], [], [], []
        self._add(chunks)
        self.endResetModel()

    def append_chunks(self, chunks: Iterable[Mapping[str, Any]]) -> int:
        """Add chunks after the last one shown (older or repeated seqs are skipped)."""
        last = self._rows[-1].seq if self._rows else -1
        fresh = [c for c in chunks if int(c["seq"]) > last]
        if fresh:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
            self._add(fresh)
            self.endInsertRows()
        return len(fresh)

    def _add(self, chunks: Iterable[Mapping[str, Any]]) -> None:
        previous = self._rows[-1].t_ms if self._rows else 0.0
        for chunk in chunks:
            raw = as_text(chunk["data"])
            t_ms = float(chunk["t_ms"] or 0.0)
            label = event_label(raw)
            row = ChunkRow(
                int(chunk["seq"]),
                t_ms,
                max(0.0, t_ms - previous),
                label.event_type,
                label.delta_text,
                raw,
                label.invalid,
            )
            previous = t_ms
            if row.invalid:
                self._invalid.append(len(self._rows))
            self._rows.append(row)
            self._times.append(t_ms)
            self._cells.append(
                (
                    str(row.seq),
                    f"{t_ms:,.0f}",
                    _gap_text(row.gap_ms),
                    ("⚠ " if row.invalid else "") + row.event_type,
                    one_line(row.delta),
                    one_line(raw.rstrip("\r\n"), 500),
                )
            )

    # -- looks ------------------------------------------------------------------------------

    def set_looks(
        self, mono: QFont, error: str, error_bg: str, warning: str, warning_bg: str
    ) -> None:
        self._mono = mono
        self._error = QBrush(QColor(error))
        self._error_bg = QBrush(QColor(error_bg))
        self._warning = QBrush(QColor(warning))
        self._warning_bg = QBrush(QColor(warning_bg))
        self._changed_all()

    def set_stall_threshold(self, threshold_ms: float) -> None:
        """Gaps at least this long are marked as stalls."""
        if threshold_ms != self._stall_ms:
            self._stall_ms = threshold_ms
            self._changed_all()

    def _changed_all(self) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, RAW))

    # -- reading ----------------------------------------------------------------------------

    def row_at(self, row: int) -> ChunkRow:
        return self._rows[row]

    def times(self) -> Sequence[float]:
        """Each row's arrival time in ms (a live view: do not change it)."""
        return self._times

    def seqs(self) -> list[int]:
        return [r.seq for r in self._rows]

    def last_seq(self) -> int:
        return self._rows[-1].seq if self._rows else -1

    def raw_text(self) -> str:
        """The stream exactly as received (every chunk's raw event, in order)."""
        return "".join(r.raw for r in self._rows)

    def invalid_rows(self) -> list[int]:
        return list(self._invalid)

    def row_of_seq(self, seq: int) -> int:
        """The row showing chunk `seq` (seqs are dense, so usually the same number)."""
        if 0 <= seq < len(self._rows) and self._rows[seq].seq == seq:
            return seq
        return next((i for i, r in enumerate(self._rows) if r.seq == seq), -1)

    # -- Qt model ---------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def data(self, index: Index, role: int = _DISPLAY) -> object:
        if not index.isValid():
            return None
        role = int(role)
        row, column = index.row(), index.column()
        if role == _DISPLAY:
            return self._cells[row][column]
        if role == _ALIGN:
            return _RIGHT if column in _NUMERIC else None
        chunk = self._rows[row]
        if role == _BACKGROUND:
            if chunk.invalid:
                return self._error_bg
            if column == GAP and self._is_stall(row):
                return self._warning_bg
            return None
        if role == _FOREGROUND:
            if chunk.invalid and column == EVENT:
                return self._error
            return self._warning if column == GAP and self._is_stall(row) else None
        if role == _FONT:
            if column == RAW:
                return self._mono
            return self._bold if column == GAP and self._is_stall(row) else None
        if role == _TOOLTIP:
            tip = self._tooltip(chunk, column)
            return plain_tooltip(tip) if tip else None
        return None

    def _is_stall(self, row: int) -> bool:
        return row > 0 and self._rows[row].gap_ms >= self._stall_ms

    def _tooltip(self, chunk: ChunkRow, column: int) -> str | None:
        if chunk.invalid:
            return "This chunk's data is not valid JSON:\n" + chunk.raw[:2000]
        if column == GAP and chunk.gap_ms >= self._stall_ms:
            return f"Stall: nothing arrived for {chunk.gap_ms / 1000:.1f} s before this chunk."
        if column == RAW:
            return chunk.raw[:2000]
        if column == DELTA and len(chunk.delta) > 60:
            return chunk.delta[:2000]
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> object:
        role = int(role)
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(HEADERS):
            return None
        if role == _DISPLAY:
            return HEADERS[section]
        if role == _ALIGN:
            return _RIGHT if section in _NUMERIC else None
        return None
