"""CompareView: one request sent to several providers or models at once, answers side by side.

A face on `actions.compare`: tick targets, Run, and watch one column per target stream in;
the summary table below is read from the recorded calls (`CompareResult.summaries`), so its
figures are the ones the call list shows. Every run is saved as a group to reopen and rerun.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QCloseEvent, QColor, QFont, QTextCursor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from relayscope.actions.compare import (
    CompareResult,
    Group,
    Target,
    TargetSummary,
    compare,
    list_groups,
    load_group,
    rerun,
)
from relayscope.actions.replay import JsonError, ReplayEvent
from relayscope.store.call_store import CallStore, StoreError
from relayscope.ui import theme
from relayscope.ui.inspector._format import DASH, count, ms, one_line, rate
from relayscope.ui.inspector._json_text import as_text
from relayscope.ui.inspector._style import colours
from relayscope.ui.plain_text import plain_label
from relayscope.ui.replay_runner import Job, JobRunner, configured_providers, proxy_headers
from relayscope.ui.request_editor import JsonEditor, error_text, primary_button

__all__ = ["SUMMARY_COLUMNS", "CompareView", "GroupsDialog", "TargetColumn"]

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
_RIGHT_ALIGNED = ("TTFT", "Total", "Tokens in", "Tokens out", "Tokens/s", "Cost")
#: How a run is started on the job's thread: (job, store, headers, on_event, base_url).
_Run = Callable[
    [Job, CallStore, list[tuple[str, str]], Callable[[int, ReplayEvent], None], str],
    CompareResult,
]
_DEFAULT_BODY = {
    "model": "",
    "stream": True,
    "messages": [{"role": "user", "content": "Say hello in five words."}],
}


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


_KIND_COLOUR = {"ok": theme.OK, "error": theme.ERROR, "warning": theme.WARNING}


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


class CompareView(QWidget):
    """Send one request to several providers or models at once and compare the answers.

    Signals:
        call_link_activated(str): a call id in the summary was double-clicked.
        comparison_finished(object): a run ended (its `CompareResult`).
    """

    call_link_activated = Signal(str)
    comparison_finished = Signal(object)

    def __init__(
        self,
        store: CallStore,
        config_path: Path | None,
        base_url: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Compare")
        self._store = store
        self._config_path = config_path
        self._base_url = base_url
        self._path: str | None = None
        self._source: str | None = None
        self._group: Group | None = None
        self._job: Job | None = None
        self.result: CompareResult | None = None
        self.columns: list[TargetColumn] = []
        self.runner = JobRunner(self)
        self._build()
        self._layout()
        self.set_body(_DEFAULT_BODY)
        self._fill_targets(configured_providers(config_path))
        self.resize(1280, 800)

    # -- building -----------------------------------------------------------------------

    def _build(self) -> None:
        self.open_button = QPushButton("Open comparison…", self)
        self.open_button.clicked.connect(self.show_groups)
        self.name = QLineEdit(self)
        self.name.setPlaceholderText("Name (default: the targets)")
        self.rerun_button = QPushButton("Rerun", self)
        self.rerun_button.setToolTip("Run the opened comparison again, as a new group")
        self.rerun_button.setEnabled(False)
        self.rerun_button.clicked.connect(self.rerun)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.run_button = primary_button("Run", self)
        self.run_button.clicked.connect(self.run)
        self.targets_table = QTableWidget(0, 2, self)
        self.targets_table.setHorizontalHeaderLabels(["Provider", "Model (optional)"])
        self.targets_table.verticalHeader().hide()
        self.targets_table.horizontalHeader().setStretchLastSection(True)
        self.targets_table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents
        )
        self.targets_table.itemChanged.connect(lambda _: self._update_buttons())
        self.json_editor = JsonEditor(self)
        self.json_editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.json_editor.validity_changed.connect(self._on_json_editor_validity_changed)
        self.json_error = QLabel(self)
        self.json_error.setWordWrap(True)
        self.source = QLabel(self)
        self.source.setWordWrap(True)
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
        self.elapsed = QLabel(self)
        self._clock = QTimer(self)
        self._clock.setInterval(100)
        self._clock.timeout.connect(self._tick)

    def _layout(self) -> None:
        top = QHBoxLayout()
        top.setSpacing(SPACING)
        top.addWidget(self.open_button)
        top.addWidget(self.rerun_button)
        top.addWidget(self.name, 1)
        top.addWidget(self.elapsed)
        top.addWidget(self.cancel_button)
        top.addWidget(self.run_button)
        left = QWidget(self)
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 0, 0)
        left_column.setSpacing(SPACING // 2)
        left_column.addWidget(_heading("Targets", self))
        left_column.addWidget(self.targets_table, 1)
        left_column.addWidget(_heading("Request", self))
        left_column.addWidget(self.source)
        left_column.addWidget(self.json_editor, 2)
        left_column.addWidget(self.json_error)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.columns_box)
        right = QSplitter(Qt.Orientation.Vertical, self)
        right.addWidget(scroll)
        summary = QWidget(self)
        summary_column = QVBoxLayout(summary)
        summary_column.setContentsMargins(0, SPACING, 0, 0)
        summary_column.setSpacing(SPACING // 2)
        summary_column.addWidget(_heading("Summary (from the recorded calls)", self))
        summary_column.addWidget(self.summary, 1)
        right.addWidget(summary)
        right.setSizes([520, 190])
        main = QSplitter(Qt.Orientation.Horizontal, self)
        main.addWidget(left)
        main.addWidget(right)
        main.setSizes([380, 860])
        for splitter in (right, main):
            splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2 * SPACING, 2 * SPACING, 2 * SPACING, 2 * SPACING)
        layout.setSpacing(SPACING)
        layout.addLayout(top)
        layout.addWidget(main, 1)

    def _fill_targets(self, providers: Sequence[str]) -> None:
        table = self.targets_table
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
        self._update_buttons()

    # -- public API ---------------------------------------------------------------------

    def set_base_url(self, url: str) -> None:
        self._base_url = url
        self._update_buttons()

    def set_body(
        self,
        body: Mapping[str, Any] | str,
        *,
        path: str | None = None,
        source_call_id: str | None = None,
    ) -> None:
        """The request to send (typed, or a recorded call's: then the calls link to it)."""
        self._path = path
        self._source = source_call_id
        if isinstance(body, str):
            self.json_editor.set_text(body)
        else:
            self.json_editor.set_json(body)
        self.source.setText(f"From call {source_call_id}" if source_call_id else "")
        self.source.setVisible(bool(source_call_id))

    def load_call(self, call_id: str) -> bool:
        call = self._store.get_call(call_id)
        if call is None:
            return False
        text = as_text(call.get("request_body"))
        try:
            body: dict[str, Any] | str = json.loads(text)
        except ValueError:
            body = text
        self.set_body(
            body if isinstance(body, dict) else text,
            path=str(call.get("path") or "") or None,
            source_call_id=call_id,
        )
        self.setWindowTitle(f"Compare — call {call_id}")
        return True

    def set_targets(self, targets: Sequence[Target]) -> None:
        """Tick exactly these targets (a provider the config lacks gets a row of its own)."""
        table = self.targets_table
        table.blockSignals(True)
        for row in range(table.rowCount()):
            _item(table, row, 0).setCheckState(Qt.CheckState.Unchecked)
            _item(table, row, 1).setText("")
        used: set[int] = set()
        for target in targets:
            row = self._row_for(target.provider or "", used)
            used.add(row)
            _item(table, row, 0).setCheckState(Qt.CheckState.Checked)
            _item(table, row, 1).setText(target.model or "")
        table.blockSignals(False)
        self._update_buttons()

    def targets(self) -> list[Target]:
        """The ticked targets, top to bottom."""
        out = []
        table = self.targets_table
        for row in range(table.rowCount()):
            item = _item(table, row, 0)
            if item.checkState() != Qt.CheckState.Checked:
                continue
            provider = str(item.data(Qt.ItemDataRole.UserRole) or "") or None
            model = _item(table, row, 1).text().strip() or None
            out.append(Target(provider, model))
        return out

    def is_running(self) -> bool:
        return self._job is not None

    def run(self) -> bool:
        """Send the request to every ticked target at once; False if it cannot start."""
        body = self.json_editor.validate_now()
        targets = self.targets()
        if isinstance(body, JsonError) or not targets or self._job is not None:
            return False
        raw = self.json_editor.toPlainText().encode()
        name = self.name.text().strip() or None
        path, source = self._path, self._source
        return self._start(
            targets,
            lambda job, store, headers, on_event, base_url: compare(
                raw,
                targets,
                base_url,
                on_event=on_event,
                cancel=job.cancel_event,
                store=store,
                name=name,
                path=path,
                headers=headers,
                source_call_id=source,
            ),
        )

    def rerun(self) -> bool:
        """Run the opened group again (a new group, with the same name, body and targets)."""
        group = self._group
        if group is None or self._job is not None:
            return False
        self.set_targets(group.targets)
        return self._start(
            list(group.targets),
            lambda job, store, headers, on_event, base_url: rerun(
                group,
                base_url,
                on_event=on_event,
                cancel=job.cancel_event,
                store=store,
                headers=headers,
            ),
        )

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.elapsed.setText("Cancelling…")

    def show_groups(self) -> GroupsDialog:
        """ "Open comparison…": pick a saved group to reopen."""
        dialog = GroupsDialog(list_groups(self._store), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.open_group(dialog.group_id()))
        dialog.open()
        return dialog

    def open_group(self, group_id: str) -> bool:
        """Show a saved comparison: its request, targets and recorded answers."""
        try:
            group = load_group(self._store, group_id)
        except StoreError as exc:
            self.elapsed.setText(str(exc))
            return False
        self._group = group
        self.name.setText(group.name)
        try:
            body: dict[str, Any] | str = group.body()
        except (StoreError, ValueError):
            body = group.request_body
        self.set_body(body, path=group.path or None, source_call_id=group.source_call_id)
        self.set_targets(group.targets)
        self.setWindowTitle(f"Compare — {group.name}")
        self._make_columns(list(group.targets))
        rows = self._store.query_calls(
            "SELECT * FROM calls WHERE group_id = ? ORDER BY started_at", [group.id]
        )
        summaries = _match_rows(group.targets, rows)
        self._show_summaries(summaries)
        self._update_buttons()
        return True

    # -- running ------------------------------------------------------------------------

    def _start(self, targets: list[Target], call: _Run) -> bool:
        if not self._base_url:
            self.elapsed.setText("The proxy is not running; start it to compare.")
            return False
        db_path, base_url = self._store.path, self._base_url
        headers = proxy_headers(self._config_path)

        def work(job: Job) -> CompareResult:
            store = CallStore(db_path)  # a connection of this thread's own
            try:
                return call(
                    job, store, headers, lambda index, event: job.post((index, event)), base_url
                )
            finally:
                store.close()

        self._make_columns(targets)
        for column in self.columns:
            column.start()
        self.summary.setRowCount(0)
        self.result = None
        self._started = time.monotonic()
        self._job = self.runner.start(
            work,
            on_event=self._on_job_event,
            on_success=self._on_job_succeeded,
            on_failure=self._on_job_failed,
            on_end=self._on_job_ended,
        )
        self._clock.start()
        self._update_buttons()
        return True

    def _on_job_event(self, value: tuple[int, ReplayEvent]) -> None:
        index, event = value
        if 0 <= index < len(self.columns):
            self.columns[index].on_event(event)

    def _on_job_succeeded(self, result: CompareResult) -> None:
        self.result = result
        self._group = result.group
        self._show_summaries(list(result.summaries))
        took = ms(result.elapsed_ms)
        self.elapsed.setText(f"Cancelled after {took}" if result.cancelled else f"All in {took}")
        self.comparison_finished.emit(result)

    def _on_job_failed(self, exc: Exception) -> None:
        self.elapsed.setText(f"The comparison failed: {exc}")

    def _on_job_ended(self) -> None:
        self._job = None
        self._clock.stop()
        self._update_buttons()

    def _tick(self) -> None:
        for column in self.columns:
            column.tick()
        self.elapsed.setText(f"Running… {ms((time.monotonic() - self._started) * 1000)}")

    # -- showing ------------------------------------------------------------------------

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
            [_item(self.summary, r, c).text() for c in range(self.summary.columnCount())]
            for r in range(self.summary.rowCount())
        ]

    def _row_for(self, provider: str, used: set[int]) -> int:
        table = self.targets_table
        for row in range(table.rowCount()):
            data = str(_item(table, row, 0).data(Qt.ItemDataRole.UserRole) or "")
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

    def _update_buttons(self) -> None:
        running = self._job is not None
        valid = self.json_editor.error() is None
        ready = valid and bool(self.targets()) and bool(self._base_url)
        self.run_button.setEnabled(ready and not running)
        self.rerun_button.setEnabled(self._group is not None and not running)
        self.cancel_button.setEnabled(running)
        if not self._base_url:
            self.run_button.setToolTip("The proxy is not running; start it to compare.")
        elif not valid:
            self.run_button.setToolTip("Fix the JSON first.")
        elif not self.targets():
            self.run_button.setToolTip("Tick at least one target.")
        else:
            self.run_button.setToolTip("Send the request to every ticked target at once")

    def _on_json_editor_validity_changed(self, result: object) -> None:
        if isinstance(result, JsonError):
            c = colours(self.palette())
            self.json_error.setText(f"⚠ {error_text(result)}")
            self.json_error.setStyleSheet(f"color: {c.error}; font-weight: 600;")
        self.json_error.setVisible(isinstance(result, JsonError))
        self._update_buttons()

    def _on_summary_cell_double_clicked(self, row: int, column: int) -> None:
        call_id = _item(self.summary, row, column).data(Qt.ItemDataRole.UserRole)
        if call_id:
            self.call_link_activated.emit(str(call_id))

    def closeEvent(self, event: QCloseEvent) -> None:
        self.runner.shutdown()
        self._job = None
        super().closeEvent(event)


def _heading(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setFont(theme.scaled_font(parent.font(), 1.1, bold=True))
    return label


def _item(table: QTableWidget, row: int, column: int) -> QTableWidgetItem:
    item = table.item(row, column)
    if item is None:
        item = QTableWidgetItem("")
        table.setItem(row, column, item)
    return item


def _match_rows(
    targets: Sequence[Target], rows: Sequence[dict[str, Any]]
) -> list[TargetSummary | None]:
    """A reopened group's recorded calls, matched to its targets by provider and model."""
    left = list(rows)
    out: list[TargetSummary | None] = []
    for index, target in enumerate(targets):
        match = next(
            (
                r
                for r in left
                if (target.provider is None or r.get("provider") == target.provider)
                and (target.model is None or r.get("model") == target.model)
            ),
            None,
        )
        if match is not None:
            left.remove(match)
            out.append(TargetSummary.from_row(index, target, match))
        else:
            out.append(None)
    return out
