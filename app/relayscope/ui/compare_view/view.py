"""CompareView: the comparison window, its setup form (targets, request) and its running; the
results below are `CompareResults`'."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from relayscope.actions.compare import (
    CompareResult,
    Group,
    Target,
    compare,
    list_groups,
    load_group,
    match_rows,
    rerun,
)
from relayscope.actions.replay import JsonError, ReplayEvent
from relayscope.store.call_store import CallStore, StoreError
from relayscope.ui import theme
from relayscope.ui.compare_view.columns import TargetColumn
from relayscope.ui.compare_view.groups_dialog import GroupsDialog
from relayscope.ui.compare_view.results import CompareResults
from relayscope.ui.compare_view.targets import TargetsTable
from relayscope.ui.inspector._format import ms
from relayscope.ui.inspector._json_text import as_text
from relayscope.ui.inspector._style import colours
from relayscope.ui.jobs import Job, JobRunner
from relayscope.ui.replay_runner import configured_providers, proxy_headers
from relayscope.ui.request_editor import JsonEditor, error_text, primary_button

SPACING = theme.SPACING
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


class CompareView(CompareResults):
    """Send one request to several providers or models at once and compare the answers.

    Signals:
        call_link_activated(str): a call id in the summary was double-clicked.
        comparison_finished(object): a run ended (its `CompareResult`).
    """

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
        self.targets_table = TargetsTable(self)
        self.targets_table.itemChanged.connect(lambda _: self._update_buttons())
        self.json_editor = JsonEditor(self)
        self.json_editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.json_editor.validity_changed.connect(self._on_json_editor_validity_changed)
        self.json_error = QLabel(self)
        self.json_error.setWordWrap(True)
        self.source = QLabel(self)
        self.source.setWordWrap(True)
        self._build_results()
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
        self.targets_table.fill(providers)
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
        self.targets_table.tick(targets)
        self._update_buttons()

    def targets(self) -> list[Target]:
        """The ticked targets, top to bottom."""
        return self.targets_table.ticked()

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
        rows = self._store.group_calls(group.id)
        summaries = match_rows(group.targets, rows)
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

    def closeEvent(self, event: QCloseEvent) -> None:
        self.runner.shutdown()
        self._job = None
        super().closeEvent(event)


def _heading(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setFont(theme.scaled_font(parent.font(), 1.1, bold=True))
    return label
