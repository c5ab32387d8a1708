"""The diff view's two tables (outcome and usage, timing): a row per figure with A, B and the
change, the change in bold, and whether B is better said in colour and in its tooltip."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from relayscope.actions.diff import CallDiff, FieldChange, NumberChange
from relayscope.ui import theme
from relayscope.ui.diff_view.text import (
    LOWER_IS_BETTER,
    NUMBER_TITLES,
    OUTCOME_TITLES,
    format_delta,
    format_number,
    value_text,
)
from relayscope.ui.inspector._style import Colours, colours


class ChangeTable(QTableWidget):
    """Rows of (title, A, B, Δ); a heading row spans the four columns."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 4, parent)
        self.setHorizontalHeaderLabels(["", "A", "B", "Δ (B − A)"])
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setShowGrid(False)
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + theme.SPACING)

    def rows_by_title(self) -> dict[str, tuple[str, str, str]]:
        """The figures as shown, by row title: (A, B, delta); headings left out."""
        rows = {}
        for r in range(self.rowCount()):
            cells = [self.item(r, c) for c in range(4)]
            if cells[1] is None:
                continue  # a section heading
            title, a, b, d = (cell.text() if cell is not None else "" for cell in cells)
            rows[title] = (a, b, d)
        return rows

    def heading_row(self, title: str) -> None:
        row = self.rowCount()
        self.insertRow(row)
        item = QTableWidgetItem(title)
        font = QFont(self.font())
        font.setBold(True)
        item.setFont(font)
        self.setItem(row, 0, item)
        self.setSpan(row, 0, 1, 4)

    def add_row(self, cells: Sequence[str]) -> list[QTableWidgetItem]:
        row = self.rowCount()
        self.insertRow(row)
        items = []
        bold = QFont(self.font())
        bold.setBold(True)
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if column:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if column == 3 and text == "same":
                item.setForeground(QBrush(QColor(colours(self.palette()).muted)))
            elif column == 3:
                item.setFont(bold)  # what changed is what this view is for
            self.setItem(row, column, item)
            items.append(item)
        return items

    def outcome_row(self, field: FieldChange, c: Colours) -> None:
        title = OUTCOME_TITLES.get(field.name, field.name.replace("_", " ").capitalize())
        old, new = value_text(field.old), value_text(field.new)
        if field.name == "stream":
            old, new = ("yes" if v else "no" for v in (field.old, field.new))
        items = self.add_row([title, old, new, "changed" if field.changed else "same"])
        if field.changed:
            items[3].setForeground(QBrush(QColor(c.warning)))

    def number_row(self, change: NumberChange, c: Colours) -> None:
        title = NUMBER_TITLES.get(change.name, change.name)
        items = self.add_row(
            [
                title,
                format_number(change.name, change.old),
                format_number(change.name, change.new),
                format_delta(change),
            ]
        )
        delta = change.delta
        if delta and change.name in LOWER_IS_BETTER | {"tokens_per_s"}:
            better = (delta < 0) == (change.name in LOWER_IS_BETTER)
            items[3].setForeground(QBrush(QColor(c.ok if better else c.error)))
            items[3].setToolTip("B is better" if better else "B is worse")


def show_numbers(numbers: ChangeTable, timing: ChangeTable, diff: CallDiff, c: Colours) -> None:
    """Fill the outcome-and-usage table and the timing table from a diff."""
    numbers.setRowCount(0)
    timing.setRowCount(0)
    outcome = [f for f in diff.outcome if f.changed or f.name in ("status", "state")]
    for field in outcome:
        numbers.outcome_row(field, c)
    usage = [n for n in diff.usage if n.old is not None or n.new is not None]
    if usage:
        numbers.heading_row("Usage")
    for change in usage:
        numbers.number_row(change, c)
    for change in diff.timing:
        if change.old is not None or change.new is not None:
            timing.number_row(change, c)
