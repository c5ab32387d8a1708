"""GroupsDialog: "Open comparison…", the saved comparison groups to pick one from."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from relayscope.actions.compare import Group


class GroupsDialog(QDialog):
    """ "Open comparison…": the saved groups, newest first."""

    def __init__(self, groups: Sequence[Group], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open comparison")
        self.list = QListWidget(self)
        for group in groups:
            when = group.created_at.replace("T", " ")[:19]
            targets = ", ".join(t.label for t in group.targets)
            item = QListWidgetItem(f"{group.name}\n{when} · {targets}")
            item.setData(Qt.ItemDataRole.UserRole, group.id)
            self.list.addItem(item)
        if groups:
            self.list.setCurrentRow(0)
        else:
            self.list.addItem("No comparisons yet: run one first.")
            self.list.setEnabled(False)
        self.list.itemDoubleClicked.connect(lambda _: self.accept())
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(bool(groups))
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addWidget(buttons)
        self.resize(560, 420)

    def group_id(self) -> str:
        item = self.list.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole) or "") if item is not None else ""
