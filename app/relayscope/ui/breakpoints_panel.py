"""BreakpointsPanel: the rules that hold calls for editing, and the header's Breakpoints button."""

from __future__ import annotations

import itertools
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from relayscope.actions.breakpoints import DEFAULT_HOLD_SECONDS, STAGES, Rule
from relayscope.recording.messages import SetBreakpoints
from relayscope.ui import theme

#: Edits are sent to the proxy once typing pauses this long.
SEND_AFTER_MS = 300
ENDPOINTS = ("", "chat.completions", "responses", "completions", "embeddings")
_STAGE_TEXT = {"request": "Request (before the provider)", "response": "Answer (before the client)"}
_COLUMNS = ("On", "Hold", "Provider", "Model", "Endpoint", "Request text contains", "")


class _RuleRow:
    """The editors of one rule, laid out on one line of the panel's grid."""

    def __init__(self, rule: Rule, parent: QWidget) -> None:
        self.id = rule.id
        self.enabled = QCheckBox(parent)
        self.enabled.setChecked(rule.enabled)
        self.enabled.setToolTip("Hold calls that match this rule")
        self.stage = QComboBox(parent)
        for stage in STAGES:
            self.stage.addItem(_STAGE_TEXT[stage], stage)
        self.stage.setCurrentIndex(max(0, self.stage.findData(rule.stage)))
        self.stage.setToolTip("Only answers that are not streamed can be held")
        self.provider = _edit(parent, rule.provider, "any provider", "A name or glob: open*")
        self.model = _edit(parent, rule.model, "any model", "A name or glob: gpt-*")
        self.endpoint = QComboBox(parent)
        for endpoint in ENDPOINTS:
            self.endpoint.addItem(endpoint or "any endpoint", endpoint)
        self.endpoint.setCurrentIndex(max(0, self.endpoint.findData(rule.endpoint)))
        self.text = _edit(parent, rule.text, "any request", "Text the request body contains")
        self.remove = QToolButton(parent)
        self.remove.setText("✕")
        self.remove.setAutoRaise(True)
        self.remove.setToolTip("Remove this rule")

    def widgets(self) -> list[QWidget]:
        return [
            self.enabled,
            self.stage,
            self.provider,
            self.model,
            self.endpoint,
            self.text,
            self.remove,
        ]

    def rule(self) -> Rule:
        return Rule(
            id=self.id,
            stage=str(self.stage.currentData()),
            provider=self.provider.text().strip(),
            model=self.model.text().strip(),
            endpoint=str(self.endpoint.currentData() or ""),
            text=self.text.text(),
            enabled=self.enabled.isChecked(),
        )


def _edit(parent: QWidget, text: str, placeholder: str, tip: str) -> QLineEdit:
    edit = QLineEdit(text, parent)
    edit.setPlaceholderText(placeholder)
    edit.setToolTip(tip)
    edit.setClearButtonEnabled(True)
    return edit


def rule_json(rule: Rule) -> dict[str, Any]:
    """A rule as the worker's `set_breakpoints` command takes it."""
    return {
        "id": rule.id,
        "stage": rule.stage,
        "provider": rule.provider,
        "model": rule.model,
        "endpoint": rule.endpoint,
        "text": rule.text,
        "enabled": rule.enabled,
    }


class BreakpointsPanel(QDialog):
    """Add, edit, switch off and remove breakpoint rules, and set the hold timeout.

    Empty fields match anything, so a new rule holds every request until narrowed. Changes
    are announced once typing pauses (`rules_changed`); the window sends `command()` to the
    worker, and again whenever the worker (re)starts.

    Signals:
        rules_changed(): the rules or the timeout changed.
    """

    rules_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Breakpoints")
        self.setModal(False)
        self._ids = itertools.count(1)
        self._rows: list[_RuleRow] = []
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEND_AFTER_MS)
        self._debounce.timeout.connect(self.rules_changed)
        self.intro = QLabel(
            "Hold matching calls so you can edit them, let them go, or fail them with an error "
            "of your choice. Empty fields match anything; provider and model take globs "
            "(<code>gpt-*</code>).",
            self,
        )
        self.intro.setWordWrap(True)
        self.grid_box = QWidget(self)
        self.grid = QGridLayout(self.grid_box)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(theme.SPACING)
        self.grid.setColumnStretch(2, 2)
        self.grid.setColumnStretch(3, 2)
        self.grid.setColumnStretch(5, 3)
        for column, title in enumerate(_COLUMNS):
            label = QLabel(title, self.grid_box)
            label.setEnabled(False)  # the quiet colour: headings, not content
            self.grid.addWidget(label, 0, column)
        self.empty = QLabel("No rules: every call goes straight through.", self.grid_box)
        self.empty.setEnabled(False)
        self.add_button = QPushButton("Add rule", self)
        self.add_button.setToolTip("A new rule holds every request until you narrow it")
        self.add_button.clicked.connect(lambda: self.add_rule())
        self.timeout = QSpinBox(self)
        self.timeout.setRange(1, 3600)
        self.timeout.setSuffix(" s")
        self.timeout.setValue(int(DEFAULT_HOLD_SECONDS))
        self.timeout.setToolTip("A held call nobody decides on continues unchanged after this")
        self.timeout.valueChanged.connect(self._changed)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self._layout()
        self._refresh_grid()
        self.resize(960, 320)

    def _layout(self) -> None:
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        holder = QWidget(scroll)
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.grid_box)
        column.addWidget(self.empty)
        column.addStretch(1)
        scroll.setWidget(holder)
        controls = QHBoxLayout()
        controls.addWidget(self.add_button)
        controls.addStretch(1)
        controls.addWidget(QLabel("Continue unchanged after", self))
        controls.addWidget(self.timeout)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.hide)
        layout = QVBoxLayout(self)
        margin = 2 * theme.SPACING
        layout.setContentsMargins(margin, margin, margin, margin)
        layout.setSpacing(theme.SPACING)
        layout.addWidget(self.intro)
        layout.addWidget(scroll, 1)
        layout.addLayout(controls)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(buttons)
        layout.addLayout(bottom)

    # -- public API ---------------------------------------------------------------------

    def add_rule(
        self,
        *,
        stage: str = "request",
        provider: str = "",
        model: str = "",
        endpoint: str = "",
        text: str = "",
        enabled: bool = True,
    ) -> str:
        """Add a rule (announced like any edit); returns its id (`r1`, `r2`, …)."""
        rule = Rule(f"r{next(self._ids)}", stage, provider, model, endpoint, text, enabled)
        row = _RuleRow(rule, self.grid_box)
        row.enabled.toggled.connect(self._changed)
        row.stage.currentIndexChanged.connect(self._changed)
        row.endpoint.currentIndexChanged.connect(self._changed)
        for edit in (row.provider, row.model, row.text):
            edit.textChanged.connect(self._changed)
        row.remove.clicked.connect(lambda: self.remove_rule(rule.id))
        self._rows.append(row)
        self._refresh_grid()
        row.provider.setFocus()
        self._changed()
        return rule.id

    def remove_rule(self, rule_id: str) -> None:
        for row in [r for r in self._rows if r.id == rule_id]:
            self._rows.remove(row)
            for widget in row.widgets():
                widget.deleteLater()
        self._refresh_grid()
        self._changed()

    def rules(self) -> list[Rule]:
        return [row.rule() for row in self._rows]

    def active_count(self) -> int:
        return sum(1 for rule in self.rules() if rule.enabled)

    def hold_seconds(self) -> float:
        return float(self.timeout.value())

    def command(self) -> SetBreakpoints:
        """The `set_breakpoints` command for the worker."""
        return {
            "cmd": "set_breakpoints",
            "rules": [rule_json(rule) for rule in self.rules()],
            "timeout": self.hold_seconds(),
        }

    def flush(self) -> None:
        """Announce pending edits now (instead of after the typing pause)."""
        if self._debounce.isActive():
            self._debounce.stop()
            self.rules_changed.emit()

    def show_applied(self, count: int) -> None:
        """The worker took the rules (its `breakpoints_set` event)."""
        active = self.active_count()
        if count == 0 or active == 0:
            self._set_status("No rule is on: every call goes straight through.", theme.MUTED)
        else:
            rules = "rule is" if active == 1 else "rules are"
            self._set_status(f"✓ {active} {rules} holding matching calls.", theme.OK)

    def show_error(self, message: str) -> None:
        """The worker refused a command (its `command_error` event)."""
        self._set_status(f"The proxy did not take the rules: {message}", theme.ERROR)

    def show_not_running(self) -> None:
        self._set_status("The proxy is not running; the rules apply once it starts.", theme.MUTED)

    # -- internals ----------------------------------------------------------------------

    def _set_status(self, text: str, colour: str) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {theme.colour(colour).name()};")

    def _refresh_grid(self) -> None:
        for row_number, row in enumerate(self._rows, start=1):
            for column, widget in enumerate(row.widgets()):
                self.grid.addWidget(widget, row_number, column)
        self.empty.setVisible(not self._rows)
        for column in range(self.grid.columnCount()):
            item = self.grid.itemAtPosition(0, column)
            heading = item.widget() if item is not None else None
            if heading is not None:
                heading.setVisible(bool(self._rows))

    def _changed(self, *_: object) -> None:
        self._debounce.start()


class BreakpointsButton(QWidget):
    """ "Breakpoints" for the header, with "2 held" beside it while calls wait for you.

    Signals:
        panel_requested(): the Breakpoints button was pressed.
        held_requested(): the "N held" button was pressed (show the held call).
    """

    panel_requested = Signal()
    held_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.button = QPushButton("Breakpoints", self)
        self.button.setToolTip("Hold calls that match rules, to edit, continue or fail them")
        self.button.clicked.connect(self.panel_requested)
        self.held = QPushButton(self)
        self.held.setToolTip("Calls held at a breakpoint, waiting for you")
        self.held.clicked.connect(self.held_requested)
        self.held.hide()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(theme.SPACING // 2)
        row.addWidget(self.button)
        row.addWidget(self.held)

    def set_active_rules(self, count: int) -> None:
        self.button.setText(f"Breakpoints ({count})" if count else "Breakpoints")

    def set_held(self, count: int) -> None:
        """`count` calls wait for a decision (0 hides the count)."""
        self.held.setText(f"● {count} held")
        self.held.setStyleSheet(f"color: {theme.colour(theme.WARNING).name()}; font-weight: 600;")
        self.held.setVisible(count > 0)


__all__ = ["BreakpointsButton", "BreakpointsPanel", "rule_json"]
