"""StorageDialog: how big the recording database is, and deleting its oldest calls to free space.

What `relayscope prune` does, from the window: calls older than some days, then the oldest
until the database fits in a size, each choice previewed (a dry run on a job thread) before
the button deletes anything. The config's `[storage] keep_days` and `max_size_mb` are the
starting values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from relayscope.config.schema import StorageSettings
from relayscope.store.retention import PruneResult, database_size, mib, prune
from relayscope.ui import theme
from relayscope.ui.export_dialog import JobDialog
from relayscope.ui.jobs import Job

#: A choice is previewed this long after the last change (typing a number).
PREVIEW_AFTER_MS = 250
_DEFAULT_DAYS = 30


class StorageDialog(JobDialog):
    """Free up space: delete the oldest finished calls (by age, or to cap the size).

    Signals:
        pruned(object): the `PruneResult` of a prune that deleted calls, or None when it
        failed part way (some may be gone): the list reloads.
    """

    pruned = Signal(object)

    def __init__(
        self, db_path: Path, settings: StorageSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__("Free up space…", parent)
        self.db_path = db_path
        self.preview: PruneResult | None = None
        self._previews = 0  # the latest preview asked for: older answers are dropped
        self.size_label = QLabel(self)
        self.size_label.setWordWrap(True)
        self.by_age = QCheckBox("Delete calls older than", self)
        self.days = QSpinBox(self)
        self.days.setRange(1, 36_500)
        self.days.setSuffix(" days")
        self.by_age.setChecked(settings.keep_days is not None)
        self.days.setValue(round(settings.keep_days or _DEFAULT_DAYS))
        self.by_size = QCheckBox("Delete the oldest until the database fits in", self)
        self.megabytes = QDoubleSpinBox(self)
        self.megabytes.setRange(1, 10_000_000)
        self.megabytes.setDecimals(0)
        self.megabytes.setSuffix(" MB")
        size_mb = self._show_size() / 1024 / 1024
        self.by_size.setChecked(settings.max_size_mb is not None)
        self.megabytes.setValue(settings.max_size_mb or max(1.0, round(size_mb / 2)))
        self.preview_label = QLabel(self)
        self.preview_label.setWordWrap(True)
        note = QLabel(
            "Calls still running are never deleted, and every call kept stays whole. The "
            "space goes back to the disk afterwards (VACUUM): on a large database that takes "
            "a while, and the proxy keeps recording meanwhile without losing a call.",
            self,
        )
        note.setWordWrap(True)
        note.setStyleSheet(f"color: {theme.MUTED};")
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_AFTER_MS)
        self._preview_timer.timeout.connect(self.refresh_preview)
        for box in (self.by_age, self.by_size):
            box.toggled.connect(self._on_choice_changed)
        self.days.valueChanged.connect(self._on_choice_changed)
        self.megabytes.valueChanged.connect(self._on_choice_changed)
        self.go_button.clicked.connect(self.start_prune)
        # It deletes: Enter does not press it (Close is the default).
        self.go_button.setDefault(False)
        self.go_button.setAutoDefault(False)
        self.cancel_button.setDefault(True)
        choices = QGridLayout()
        choices.setHorizontalSpacing(theme.SPACING)
        choices.addWidget(self.by_age, 0, 0)
        choices.addWidget(self.days, 0, 1)
        choices.addWidget(self.by_size, 1, 0)
        choices.addWidget(self.megabytes, 1, 1)
        choices.setColumnStretch(2, 1)
        self._lay_out(self.size_label, choices, self.preview_label, note)
        self.resize(640, 270)
        self._on_choice_changed()

    # -- the preview --------------------------------------------------------------------

    def limits(self) -> tuple[float | None, float | None]:
        """The days and the size (MB) chosen; None where that box is not ticked."""
        days = float(self.days.value()) if self.by_age.isChecked() else None
        size = self.megabytes.value() if self.by_size.isChecked() else None
        return days, size

    def _on_choice_changed(self) -> None:
        self.days.setEnabled(self.by_age.isChecked())
        self.megabytes.setEnabled(self.by_size.isChecked())
        self.preview = None
        self._previews += 1
        self._update_go()
        if self.limits() == (None, None):
            self._preview_timer.stop()
            self._set_preview("Tick what to delete by: age, size or both.")
            return
        self._set_preview("Counting what would go…")
        self._preview_timer.start()

    def refresh_preview(self) -> Job:
        """Ask what the choice would delete (a dry run, on a job thread)."""
        self._preview_timer.stop()
        days, size = self.limits()
        asked, db_path = self._previews, self.db_path

        def work(_: Job) -> PruneResult:
            return prune(db_path, older_than_days=days, max_size_mb=size, dry_run=True)

        return self.runner.start(
            work,
            on_success=lambda result: self._on_preview(asked, result),
            on_failure=lambda error: self._on_preview_failed(asked, error),
        )

    def _on_preview(self, asked: int, result: PruneResult) -> None:
        if asked != self._previews:
            return  # the choice changed meanwhile; its own preview follows
        self.preview = result
        if result.calls:
            self._set_preview(result.sentence())
        else:
            self._set_preview(
                "Nothing would be deleted: every finished call is within these limits."
            )
        self._update_go()

    def _on_preview_failed(self, asked: int, error: Exception) -> None:
        if asked == self._previews:
            self._set_preview(f"The database could not be read: {error}", "error")

    def _set_preview(self, text: str, kind: str = "") -> None:
        self.preview_label.setStyleSheet(f"color: {theme.ERROR};" if kind == "error" else "")
        self.preview_label.setText(text)

    def _update_go(self) -> None:
        calls = self.preview.calls if self.preview is not None else 0
        self.go_button.setText(f"Delete {calls:,} calls" if calls else "Delete")
        self.go_button.setEnabled(self.job is None and calls > 0)

    def _show_size(self) -> int:
        """Show the database's size now, and return it (bytes)."""
        size = database_size(self.db_path)
        self.size_label.setText(f"The recording database takes {mib(size)}.")
        self.size_label.setToolTip(str(self.db_path))
        return size

    # -- pruning ------------------------------------------------------------------------

    def start_prune(self) -> Job | None:
        if self.preview is None or not self.preview.calls:
            return None
        days, size = self.limits()
        db_path = self.db_path

        def work(_: Job) -> PruneResult:
            return prune(db_path, older_than_days=days, max_size_mb=size)

        job = self._run(work)
        # It cannot be stopped half way (one transaction, then VACUUM): it runs to its end.
        self.cancel_button.setEnabled(False)
        for widget in (self.by_age, self.by_size, self.days, self.megabytes):
            widget.setEnabled(False)
        self._set_preview("Deleting, then giving the space back to the disk…")
        return job

    def _on_success(self, result: Any) -> None:
        self._say(result.sentence())
        self._show_size()
        if result.calls:
            self.pruned.emit(result)

    def _on_failure(self, error: Exception) -> None:
        # The deletion is one transaction; VACUUM comes after it, so calls may be gone.
        self._say(f"Pruning failed: {error}", "error")
        self._show_size()
        self.pruned.emit(None)

    def reject(self) -> None:
        if self.job is None:  # a prune under way runs to its end, with the dialog open
            super().reject()

    def _ended(self) -> None:
        super()._ended()
        self.cancel_button.setEnabled(True)
        for box in (self.by_age, self.by_size):
            box.setEnabled(True)
        self._on_choice_changed()  # what is left to delete now
