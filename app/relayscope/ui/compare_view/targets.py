"""The targets table of the comparison's setup form: which providers (and models) to send to."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from relayscope.actions.compare import Target
from relayscope.ui.compare_view.columns import table_item


class TargetsTable(QTableWidget):
    """A row per configured provider, and "Route by model" last, each with a tick and an
    optional model of its own. Filling and ticking it emit no signals."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(0, 2, parent)
        self.setHorizontalHeaderLabels(["Provider", "Model (optional)"])
        self.verticalHeader().hide()
        self.horizontalHeader().setStretchLastSection(True)
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)

    def fill(self, providers: Sequence[str]) -> None:
        """One unticked row per provider, then "Route by model"."""
        table = self
        table.blockSignals(True)
        table.setRowCount(0)
        for name in [*providers, ""]:
            row = table.rowCount()
            table.insertRow(row)
            item = QTableWidgetItem(name or "Route by model")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            item.setCheckState(Qt.CheckState.Unchecked)
            table.setItem(row, 0, item)
            model = QTableWidgetItem("")
            model.setToolTip("Another model for this target (empty: the request's own)")
            table.setItem(row, 1, model)
        table.blockSignals(False)

    def tick(self, targets: Sequence[Target]) -> None:
        """Tick exactly these targets (a provider the config lacks gets a row of its own)."""
        table = self
        table.blockSignals(True)
        for row in range(table.rowCount()):
            table_item(table, row, 0).setCheckState(Qt.CheckState.Unchecked)
            table_item(table, row, 1).setText("")
        used: set[int] = set()
        for target in targets:
            row = self._row_for(target.provider or "", used)
            used.add(row)
            table_item(table, row, 0).setCheckState(Qt.CheckState.Checked)
            table_item(table, row, 1).setText(target.model or "")
        table.blockSignals(False)

    def ticked(self) -> list[Target]:
        """The ticked targets, top to bottom."""
        out = []
        table = self
        for row in range(table.rowCount()):
            item = table_item(table, row, 0)
            if item.checkState() != Qt.CheckState.Checked:
                continue
            provider = str(item.data(Qt.ItemDataRole.UserRole) or "") or None
            model = table_item(table, row, 1).text().strip() or None
            out.append(Target(provider, model))
        return out

    def _row_for(self, provider: str, used: set[int]) -> int:
        table = self
        for row in range(table.rowCount()):
            data = str(table_item(table, row, 0).data(Qt.ItemDataRole.UserRole) or "")
            if data == provider and row not in used:
                return row
        row = table.rowCount() - 1  # before "Route by model", which stays last
        table.insertRow(row)
        item = QTableWidgetItem(provider or "Route by model")
        item.setData(Qt.ItemDataRole.UserRole, provider)
        item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
        table.setItem(row, 0, item)
        table.setItem(row, 1, QTableWidgetItem(""))
        return row
