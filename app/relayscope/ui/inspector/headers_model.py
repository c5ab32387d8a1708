"""HeadersModel: a call's recorded request or response headers as a two-column table."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from relayscope.ui.plain_text import plain_tooltip

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_HEADERS = ("Name", "Value")

Index = QModelIndex | QPersistentModelIndex


class HeadersModel(QAbstractTableModel):
    """Name / value pairs, in the order recorded (secrets arrive already redacted)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pairs: list[tuple[str, str]] = []

    def set_pairs(self, pairs: list[tuple[str, str]]) -> None:
        self.beginResetModel()
        self._pairs = list(pairs)
        self.endResetModel()

    def pairs(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._pairs)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 2

    def data(self, index: Index, role: int = _DISPLAY) -> object:
        if not index.isValid():
            return None
        role = int(role)
        if role == _DISPLAY:
            return self._pairs[index.row()][index.column()]
        if role == _TOOLTIP:
            return plain_tooltip(self._pairs[index.row()][index.column()])
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> object:
        if int(role) == _DISPLAY and orientation == Qt.Orientation.Horizontal and 0 <= section < 2:
            return _HEADERS[section]
        return None
