"""ExportDialog and ImportDialog: calls out to HAR/JSONL/fine-tuning files, HAR files in.

Both run the core's streaming writers on a job thread, with a progress bar that appears for
anything slower than a moment and a Cancel that leaves no half-written file behind.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from relayscope.exchange.export import ExportCancelled, ExportResult, Selection, export_to_path
from relayscope.exchange.har_import import HarImportError, ImportResult, import_har
from relayscope.store.call_store import CallStore
from relayscope.ui import theme
from relayscope.ui.jobs import Job, JobRunner

FORMATS = (
    ("har", "HAR 1.2 — browser dev tools, Charles, Proxyman, HTTP Toolkit", ".har"),
    ("jsonl", "JSONL — one call per line with its chunks", ".jsonl"),
    ("finetune", "Fine-tuning JSONL — OpenAI chat format conversations", ".jsonl"),
)
#: Below this, work finishes before a progress bar would be worth showing.
PROGRESS_AFTER_MS = 300


class JobDialog(QDialog):
    """What both dialogs share: a progress bar shown for slow work, Cancel, a result line."""

    def __init__(self, title: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.runner = JobRunner(self)
        self.job: Job | None = None
        self.progress = QProgressBar(self)
        self.progress.setVisible(False)
        self.progress.setTextVisible(True)
        self.result_label = QLabel(self)
        self.result_label.setWordWrap(True)
        self.go_button = QPushButton(title.rstrip("…"), self)
        self.go_button.setDefault(True)
        self.cancel_button = QPushButton("Close", self)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self._show_progress = QTimer(self)
        self._show_progress.setSingleShot(True)
        self._show_progress.setInterval(PROGRESS_AFTER_MS)
        self._show_progress.timeout.connect(lambda: self.progress.setVisible(True))

    def _lay_out(self, *parts: QWidget | QLayout) -> None:
        """The dialog's layout: `parts` top down, the result line, then the progress bar
        and the buttons at the bottom."""
        layout = QVBoxLayout(self)
        margin = 2 * theme.SPACING
        layout.setContentsMargins(margin, margin, margin, margin)
        layout.setSpacing(theme.SPACING)
        for part in parts:
            if isinstance(part, QLayout):
                layout.addLayout(part)
            else:
                layout.addWidget(part)
        layout.addWidget(self.result_label)
        layout.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addStretch(0)
        row.addWidget(self.cancel_button)
        row.addWidget(self.go_button)
        layout.addLayout(row)

    def _run(self, work: Callable[[Job], object]) -> Job:
        """Start `work` as this dialog's job: progress, result and end come back here."""
        job = self.runner.start(
            work,
            on_event=self._on_progress,
            on_success=self._on_success,
            on_failure=self._on_failure,
            on_end=self._ended,
        )
        self._started(job)
        return job

    def _on_success(self, result: Any) -> None:
        raise NotImplementedError

    def _on_failure(self, error: Exception) -> None:
        raise NotImplementedError

    def _started(self, job: Job) -> None:
        self.job = job
        self.go_button.setEnabled(False)
        self.cancel_button.setText("Cancel")
        self.progress.setRange(0, 0)
        self._show_progress.start()
        self.result_label.setText("")

    def _on_progress(self, value: Any) -> None:
        done, total = value
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done:,} of {total:,} calls")

    def _ended(self) -> None:
        self.job = None
        self._show_progress.stop()
        self.progress.setVisible(False)
        self.go_button.setEnabled(True)
        self.cancel_button.setText("Close")

    def _say(self, text: str, kind: str = "ok") -> None:
        colour = {"ok": theme.OK, "error": theme.ERROR, "warning": theme.WARNING}[kind]
        self.result_label.setStyleSheet(f"color: {colour};")
        self.result_label.setText(text)

    def _on_cancel_button_clicked(self) -> None:
        if self.job is not None:
            self.job.cancel()
        else:
            self.reject()

    def done(self, result: int) -> None:
        self.runner.shutdown()
        super().done(result)


class ExportDialog(JobDialog):
    """Export the selected calls, or the ones the list's filter shows.

    Signals:
        exported(object): the `ExportResult` of a finished export.
    """

    exported = Signal(object)

    def __init__(
        self,
        store: CallStore,
        selection: Selection,
        description: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Export calls…", parent)
        self.store = store
        self.selection = selection
        self.what = QLabel(f"Export {description}.", self)
        self.format = QComboBox(self)
        for key, label, _ in FORMATS:
            self.format.addItem(label, key)
        self.path = QLineEdit(self)
        self.path.setPlaceholderText("File to write")
        self.browse = QPushButton("Choose…", self)
        self.browse.clicked.connect(self._on_browse_clicked)
        self.format.currentIndexChanged.connect(self._on_format_changed)
        self.path.textChanged.connect(self._update_go)
        self.go_button.clicked.connect(self.start_export)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(self.browse)
        self._lay_out(self.what, self.format, path_row)
        self.resize(640, 240)
        self._update_go()

    def chosen_format(self) -> str:
        return str(self.format.currentData())

    def _suffix(self) -> str:
        return FORMATS[self.format.currentIndex()][2]

    def _on_format_changed(self) -> None:
        text = self.path.text().strip()
        if text:
            self.path.setText(str(Path(text).with_suffix(self._suffix())))

    def _on_browse_clicked(self) -> None:
        start = self.path.text() or str(Path.home() / f"relayscope{self._suffix()}")
        path, _ = QFileDialog.getSaveFileName(self, "Export to", start)
        if path:
            self.path.setText(path)

    def _update_go(self) -> None:
        self.go_button.setEnabled(self.job is None and bool(self.path.text().strip()))

    def start_export(self) -> Job | None:
        target = Path(self.path.text().strip()).expanduser()
        if not target.parent.is_dir():
            self._say(f"The folder {target.parent} does not exist; choose another file.", "error")
            return None
        fmt, selection, db_path = self.chosen_format(), self.selection, self.store.path

        def work(job: Job) -> ExportResult:
            store = CallStore(db_path, create=False)  # this thread's own connection
            try:
                return export_to_path(
                    store,
                    fmt,
                    target,
                    selection,
                    on_progress=lambda done, total: job.post((done, total)),
                    cancel=job.cancel_event,
                )
            finally:
                store.close()

        return self._run(work)

    def _on_success(self, result: Any) -> None:
        self._say(f"{result.summary()} → {result.path}")
        self.exported.emit(result)

    def _on_failure(self, error: Exception) -> None:
        if isinstance(error, ExportCancelled):
            self._say("Cancelled; no file was written.", "warning")
        else:
            self._say(f"The export failed: {error}", "error")


class ImportDialog(JobDialog):
    """Import a HAR file recorded elsewhere; its API calls become calls here.

    Signals:
        imported(object): the `ImportResult` of a finished import.
    """

    imported = Signal(object)

    def __init__(self, db_path: Path, parent: QWidget | None = None) -> None:
        super().__init__("Import HAR…", parent)
        self.db_path = db_path
        self.path = QLineEdit(self)
        self.path.setPlaceholderText("A .har file from browser dev tools, Charles, Proxyman…")
        self.browse = QPushButton("Choose…", self)
        self.browse.clicked.connect(self._on_browse_clicked)
        self.path.textChanged.connect(
            lambda text: self.go_button.setEnabled(self.job is None and bool(text.strip()))
        )
        self.go_button.clicked.connect(self.start_import)
        self.go_button.setEnabled(False)
        what = QLabel(
            "OpenAI-format API calls in the file are imported; keys are never imported.", self
        )
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(self.browse)
        self._lay_out(what, row)
        self.resize(640, 200)

    def _on_browse_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import HAR", str(Path.home()), "HAR files (*.har *.json)"
        )
        if path:
            self.path.setText(path)

    def start_import(self) -> Job | None:
        source = Path(self.path.text().strip()).expanduser()
        db_path = self.db_path

        def work(job: Job) -> ImportResult:
            return import_har(
                source,
                db_path,
                on_progress=lambda done, total: job.post((done, total)),
                cancel=job.cancel_event,
            )

        return self._run(work)

    def _on_success(self, result: Any) -> None:
        self._say(result.summary(), "warning" if result.cancelled else "ok")
        self.imported.emit(result)

    def _on_failure(self, error: Exception) -> None:
        if isinstance(error, HarImportError):
            self._say(str(error), "error")
        else:
            self._say(f"The import failed: {error}", "error")
