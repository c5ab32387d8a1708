"""One column per compared target, its answer streaming in, and the summary table's columns."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from relayscope.actions.compare import Target, TargetSummary
from relayscope.actions.replay import ReplayEvent
from relayscope.ui import theme
from relayscope.ui.inspector._format import DASH, count, ms, one_line, rate
from relayscope.ui.inspector._style import colours
from relayscope.ui.plain_text import plain_label

SPACING = theme.SPACING
SUMMARY_COLUMNS = (
    "Target",
    "Status",
    "TTFT",
    "Total",
    "Tokens in",
    "Tokens out",
    "Tokens/s",
    "Cost",
    "Finish",
    "Error",
    "Call",
)
_KIND_COLOUR = {"ok": theme.OK, "error": theme.ERROR, "warning": theme.WARNING}


def summary_cells(summary: TargetSummary) -> list[str]:
    """One summary row as the table shows it."""
    status = "—" if summary.status is None else str(summary.status)
    if summary.state and summary.state != "complete":
        status += f" {summary.state}"
    return [
        summary.target.label,
        status,
        ms(summary.ttft_ms),
        ms(summary.duration_ms),
        count(summary.prompt_tokens),
        count(summary.completion_tokens),
        rate(summary.tokens_per_s),
        summary.cost.text(),  # "—" when unknown, never $0
        summary.finish_reason or DASH,
        one_line(summary.error or "", 200) or DASH,
        summary.call_id,
    ]


class TargetColumn(QFrame):
    """One target's answer as it streams in, under its name and outcome."""

    def __init__(self, target: Target, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.target = target
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(32 * SPACING)
        self.title = plain_label(QLabel(target.provider or "route by model", self))
        self.title.setFont(theme.scaled_font(self.font(), 1.2, bold=True))
        self.subtitle = plain_label(QLabel(target.model or "model as in the request", self))
        self.subtitle.setEnabled(target.model is None)  # quiet when it says nothing new
        self.total = QLabel(DASH, self)
        self.total.setFont(theme.scaled_font(self.font(), 1.6, bold=True))
        self.total.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.status = plain_label(QLabel("Waiting to run", self))
        self.facts = plain_label(QLabel(self))
        self.badge = QLabel("Fastest", self)
        accent = theme.colour(theme.ACCENT, dark=False)
        self.badge.setStyleSheet(
            f"background: {accent.name()}; color: white; border-radius: 3px;"
            f" padding: 1px {SPACING // 2}px; font-weight: 600;"
        )
        self.badge.hide()
        self.error = plain_label(QLabel(self))  # the provider's own words
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        self.answer = QPlainTextEdit(self)
        self.answer.setReadOnly(True)
        self.answer.setFrameShape(QFrame.Shape.NoFrame)
        self.answer.document().setDocumentMargin(SPACING)
        self.call_id = ""
        self._started = 0.0
        self._running = False
        head = QHBoxLayout()
        names = QVBoxLayout()
        names.setSpacing(0)
        title_row = QHBoxLayout()
        title_row.setSpacing(SPACING)
        title_row.addWidget(self.title)
        title_row.addWidget(self.badge)
        title_row.addStretch(1)
        names.addLayout(title_row)
        names.addWidget(self.subtitle)
        head.addLayout(names, 1)
        head.addWidget(self.total)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(SPACING, SPACING, SPACING, SPACING)
        layout.setSpacing(SPACING // 2)
        layout.addLayout(head)
        layout.addWidget(self.status)
        layout.addWidget(self.facts)
        layout.addWidget(self.error)
        layout.addWidget(self.answer, 1)

    def text(self) -> str:
        return self.answer.toPlainText()

    def start(self) -> None:
        self.answer.clear()
        self.error.hide()
        self.badge.hide()
        self.facts.setText("")
        self.call_id = ""
        self._started = time.monotonic()
        self._running = True
        self.total.setText("…")
        self._set_status("Sending…", theme.ACCENT)

    def tick(self) -> None:
        if self._running:
            self.total.setText(f"{ms((time.monotonic() - self._started) * 1000)}")

    def on_event(self, event: ReplayEvent) -> None:
        self.call_id = event.call_id or self.call_id
        if event.kind == "response":
            self._set_status(f"{event.status} · answering…", theme.ACCENT)
        elif event.kind in ("chunk", "body") and event.text:
            cursor = self.answer.textCursor()
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.insertText(event.text)
        elif event.kind == "retry_wait":
            self._set_status(f"Waiting {ms((event.retry_after or 0) * 1000)} (Retry-After)…")
        elif event.kind == "done":
            self._running = False
            result = event.result
            if result is not None:
                self.total.setText(ms(result.elapsed_ms))

    def finish(self, summary: TargetSummary, *, fastest: bool) -> None:
        """The recorded outcome (from the database once the proxy has finished the call)."""
        self._running = False
        self.call_id = summary.call_id
        self.total.setText(ms(summary.duration_ms))
        facts = [f"TTFT {ms(summary.ttft_ms)}"]
        if summary.completion_tokens is not None:
            facts.append(f"{count(summary.completion_tokens)} tokens out")
        if summary.tokens_per_s is not None:
            facts.append(rate(summary.tokens_per_s))
        if summary.cost.known:
            facts.append(summary.cost.text())
        self.facts.setText(" · ".join(facts))
        kind = theme.status_kind(summary.status, summary.state)
        sign = {"ok": "✓", "error": "✕", "warning": "⚠"}.get(kind, "")
        status = f"{sign} {summary.status or 'no answer'} {summary.state or ''}".strip()
        self._set_status(status, _KIND_COLOUR.get(kind, theme.MUTED))
        self.badge.setVisible(fastest)
        if summary.error:
            c = colours(self.palette())
            self.error.setText(summary.error)
            self.error.setStyleSheet(f"color: {c.error};")
            self.error.show()
        if not self.text() and summary.output_text:
            self.answer.setPlainText(summary.output_text)  # a reopened group

    def _set_status(self, text: str, colour: str = theme.MUTED) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {theme.colour(colour).name()};")


def table_item(table: QTableWidget, row: int, column: int) -> QTableWidgetItem:
    item = table.item(row, column)
    if item is None:
        item = QTableWidgetItem("")
        table.setItem(row, column, item)
    return item
