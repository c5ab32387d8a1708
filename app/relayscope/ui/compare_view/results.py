"""The comparison's results: a column per target as its answer streams in, and the summary
table, read from the recorded calls."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from relayscope.actions.compare import Target, TargetSummary
from relayscope.ui import theme
from relayscope.ui.compare_view.columns import (
    SUMMARY_COLUMNS,
    TargetColumn,
    summary_cells,
    table_item,
)
from relayscope.ui.inspector._style import colours

SPACING = theme.SPACING
_RIGHT_ALIGNED = ("TTFT", "Total", "Tokens in", "Tokens out", "Tokens/s", "Cost")


class CompareResults(QWidget):
    """The results half of `CompareView` (which builds on it): the target columns and the
    summary table.

    Signals:
        call_link_activated(str): a call id in the summary was double-clicked.
    """

    call_link_activated = Signal(str)

    columns: list[TargetColumn]  # set by CompareView

    def _build_results(self) -> None:
        self.columns_box = QWidget(self)
        self.columns_row = QHBoxLayout(self.columns_box)
        self.columns_row.setContentsMargins(0, 0, 0, 0)
        self.columns_row.setSpacing(SPACING)
        self.placeholder = QLabel("Tick two or more targets and press Run.", self.columns_box)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setEnabled(False)
        self.columns_row.addWidget(self.placeholder)
        self.summary = QTableWidget(0, len(SUMMARY_COLUMNS), self)
        self.summary.setHorizontalHeaderLabels(list(SUMMARY_COLUMNS))
        self.summary.verticalHeader().hide()
        self.summary.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.summary.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.summary.setAlternatingRowColors(True)
        self.summary.setShowGrid(False)
        self.summary.setWordWrap(False)
        header = self.summary.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(SUMMARY_COLUMNS.index("Error"), QHeaderView.ResizeMode.Stretch)
        self.summary.cellDoubleClicked.connect(self._on_summary_cell_double_clicked)

    def _make_columns(self, targets: Sequence[Target]) -> None:
        for column in self.columns:
            self.columns_row.removeWidget(column)
            column.deleteLater()
        self.columns = [TargetColumn(t, self.columns_box) for t in targets]
        self.placeholder.setVisible(not self.columns)
        for column in self.columns:
            self.columns_row.addWidget(column, 1)

    def _show_summaries(self, summaries: Sequence[TargetSummary | None]) -> None:
        done = [s for s in summaries if s is not None and s.ok and s.duration_ms is not None]
        fastest = min(done, key=lambda s: s.duration_ms or 0.0) if len(done) > 1 else None
        c = colours(self.palette())
        table = self.summary
        table.setRowCount(0)
        for index, summary in enumerate(summaries):
            if summary is None:
                continue
            if index < len(self.columns):
                self.columns[index].finish(summary, fastest=summary is fastest)
            row = table.rowCount()
            table.insertRow(row)
            for column, text in enumerate(summary_cells(summary)):
                item = QTableWidgetItem(text)
                if SUMMARY_COLUMNS[column] in _RIGHT_ALIGNED:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if SUMMARY_COLUMNS[column] == "Cost":
                    item.setToolTip(summary.cost.basis)
                if column == 1 and not summary.ok:
                    item.setForeground(QBrush(QColor(c.error)))
                if column == 3 and summary is fastest:
                    font = QFont(table.font())
                    font.setBold(True)
                    item.setFont(font)
                    item.setToolTip("The fastest answer")
                item.setData(Qt.ItemDataRole.UserRole, summary.call_id)
                table.setItem(row, column, item)

    def summary_rows(self) -> list[list[str]]:
        """The summary table's cells as shown (for tests)."""
        return [
            [table_item(self.summary, r, c).text() for c in range(self.summary.columnCount())]
            for r in range(self.summary.rowCount())
        ]

    def _on_summary_cell_double_clicked(self, row: int, column: int) -> None:
        call_id = table_item(self.summary, row, column).data(Qt.ItemDataRole.UserRole)
        if call_id:
            self.call_link_activated.emit(str(call_id))
