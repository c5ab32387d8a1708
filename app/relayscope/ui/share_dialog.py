"""ShareDialog: review what redaction will remove from a call or a session, choose the
optional patterns (e-mail addresses, a regular expression), then save one self-contained
HTML page (`relayscope.exchange.share`)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from relayscope.analysis import cost
from relayscope.analysis.sessions import load_session
from relayscope.calls import formatting
from relayscope.config import ConfigError, load_config
from relayscope.exchange import share
from relayscope.exchange.redaction import Redactor
from relayscope.store.call_store import CallStore
from relayscope.ui import theme
from relayscope.ui.jobs import JobRunner
from relayscope.ui.plain_text import plain_label

#: Typing in the pattern box re-checks the page this long after the last key.
RECHECK_MS = 300
ALWAYS = (
    "Always removed: credential headers (Authorization, api-key, x-api-key, cookies), API keys "
    "(sk-…, sk-ant-…, AIza…, ghp_…, hf_…), bearer and basic credentials, query-string secrets "
    "(?key=, ?api_key=, ?token=, ?sig=…) and the keys of your configured providers."
)


@dataclass(frozen=True, slots=True)
class Options:
    emails: bool = False
    pattern: str = ""


@dataclass(frozen=True, slots=True)
class Rendered:
    options: Options
    page: str
    removed: Counter[str]


def kind_title(kind: str, pattern: str = "") -> str:
    """A redaction's kind as the dialog lists it (the CLI words the pattern as its option)."""
    if pattern and kind == f"match of --redact-pattern {pattern!r}":
        return f"text matching {pattern}"
    return kind


def render(
    db_path: Path,
    config_path: Path | None,
    options: Options,
    *,
    call_id: str = "",
    session_id: str = "",
) -> Rendered:
    """The page for a call or a session with these options, and what it removed."""
    try:
        secrets = tuple(load_config(config_path).secrets()) if config_path else ()
    except ConfigError:
        secrets = ()
    patterns = (re.compile(options.pattern),) if options.pattern else ()
    redactor = Redactor(secrets=secrets, patterns=patterns, emails=options.emails)
    pricer = cost.default_pricer()
    store = CallStore(db_path, create=False)
    try:
        if session_id:
            report = load_session(store, session_id, pricer)
            if report is None:
                raise LookupError(f"the session {session_id} is no longer recorded")
            chunks = {str(e.call["id"]): store.chunks(str(e.call["id"])) for e in report.calls}
            page = share.session_page(report, chunks, redactor)
        else:
            call = store.get_call(call_id)
            if call is None:
                raise LookupError(f"the call {call_id} is no longer recorded")
            page = share.call_page(call, store.chunks(call_id), pricer, redactor)
    finally:
        store.close()
    return Rendered(options, page, Counter(redactor.removed))


class ShareDialog(QDialog):
    """Shows what will be removed, then writes the page where the person chooses.

    Signals:
        checked(): what will be removed was worked out for the current options.
        saved(str): the page was written (its path).
    """

    checked = Signal()
    saved = Signal(str)

    def __init__(
        self,
        db_path: Path,
        config_path: Path | None,
        *,
        call_id: str = "",
        session_id: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.db_path, self.config_path = Path(db_path), config_path
        self.call_id, self.session_id = call_id, session_id
        self.rendered: Rendered | None = None
        self.jobs = JobRunner(self)
        what = f"session {session_id}" if session_id else f"call {call_id}"
        self.setWindowTitle("Share — Relayscope")
        self.title = plain_label(QLabel(f"Share {what}", self))
        self.title.setFont(theme.scaled_font(self.font(), 1.1, bold=True))
        intro = QLabel(
            "One HTML file that opens offline and loads nothing: the conversation, the stream "
            "timeline and findings, tokens and cost. Before it is written, this is removed:",
            self,
        )
        intro.setWordWrap(True)
        self.removed_list = QListWidget(self)
        self.removed_list.setMinimumHeight(10 * theme.SPACING)
        always = QLabel(ALWAYS, self)
        always.setWordWrap(True)
        always.setEnabled(False)
        self.emails_box = QCheckBox("Also remove e-mail addresses", self)
        self.pattern_box = QCheckBox("Also remove text matching", self)
        self.pattern_edit = QLineEdit(self)
        self.pattern_edit.setPlaceholderText(r"a regular expression, e.g. acme-internal-\w+")
        self.pattern_edit.setFont(theme.monospace_font())
        self.state = plain_label(QLabel(self))
        self.state.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.save_button = QPushButton("Save HTML…", self)
        self.save_button.setDefault(True)
        self.buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self._recheck = QTimer(self)
        self._recheck.setSingleShot(True)
        self._recheck.setInterval(RECHECK_MS)
        self._recheck.timeout.connect(self.check)
        self._layout(intro, always)
        self._connect()
        self.resize(640, 460)
        self.check()

    def _layout(self, intro: QLabel, always: QLabel) -> None:
        s = theme.SPACING
        pattern = QHBoxLayout()
        pattern.addWidget(self.pattern_box)
        pattern.addWidget(self.pattern_edit, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2 * s, 2 * s, 2 * s, 2 * s)
        layout.setSpacing(s)
        layout.addWidget(self.title)
        layout.addWidget(intro)
        layout.addWidget(self.removed_list, 1)
        layout.addWidget(always)
        layout.addWidget(self.emails_box)
        layout.addLayout(pattern)
        layout.addWidget(self.state)
        layout.addWidget(self.buttons)

    def _connect(self) -> None:
        self.emails_box.toggled.connect(self.check)
        self.pattern_box.toggled.connect(self.check)
        self.pattern_edit.textChanged.connect(self._on_pattern_edit_text_changed)
        self.buttons.rejected.connect(self.reject)
        self.save_button.clicked.connect(self._on_save_button_clicked)

    # -- public API ---------------------------------------------------------------------

    def options(self) -> Options:
        pattern = self.pattern_edit.text() if self.pattern_box.isChecked() else ""
        return Options(emails=self.emails_box.isChecked(), pattern=pattern)

    def check(self) -> None:
        """Work out (in the background) what the current options remove."""
        options = self.options()
        self.save_button.setEnabled(False)
        if options.pattern:
            try:
                re.compile(options.pattern)
            except re.error as exc:
                self.state.setText(f"The pattern is not a valid regular expression: {exc}.")
                return
        self.state.setText("Checking what to remove…")
        self.jobs.start(
            lambda _job: render(
                self.db_path,
                self.config_path,
                options,
                call_id=self.call_id,
                session_id=self.session_id,
            ),
            on_success=self._on_rendered,
            on_failure=self._on_render_failed,
        )

    def removed_items(self) -> list[str]:
        return [self.removed_list.item(i).text() for i in range(self.removed_list.count())]

    def save(self, path: Path) -> bool:
        """Write the checked page to `path`; False (and a sentence) if it could not be."""
        if self.rendered is None or self.rendered.options != self.options():
            self.state.setText("Still checking what to remove; save again in a moment.")
            return False
        try:
            Path(path).write_text(self.rendered.page, encoding="utf-8")
        except OSError as exc:
            self.state.setText(f"Could not write {path}: {exc.strerror or exc}.")
            return False
        self.saved.emit(str(path))
        return True

    def closeEvent(self, event: QCloseEvent) -> None:
        self.jobs.cancel_all()
        super().closeEvent(event)

    def done(self, result: int) -> None:
        self.jobs.cancel_all()
        super().done(result)

    # -- slots --------------------------------------------------------------------------

    def _on_rendered(self, rendered: object) -> None:
        if not isinstance(rendered, Rendered) or rendered.options != self.options():
            return  # the options changed meanwhile: a newer check is on its way
        self.rendered = rendered
        self.removed_list.clear()
        for kind, count in sorted(rendered.removed.items()):
            title = kind_title(kind, rendered.options.pattern)
            self.removed_list.addItem(f"{count:,} × {title}")
        if not rendered.removed:
            self.removed_list.addItem("Nothing found: no keys, credentials or patterns.")
        self.state.setText(f"Ready to save: {formatting.size(len(rendered.page.encode()))}.")
        self.save_button.setEnabled(True)
        self.checked.emit()

    def _on_render_failed(self, exc: Exception) -> None:
        self.state.setText(f"Cannot build the page: {exc}.")

    def _on_pattern_edit_text_changed(self, _text: str) -> None:
        if not self.pattern_box.isChecked() and self.pattern_edit.text():
            self.pattern_box.setChecked(True)  # typing a pattern means using it
        self._recheck.start()

    def _on_save_button_clicked(self) -> None:
        name = f"relayscope-{(self.session_id or self.call_id)[:24]}.html"
        path, _ = QFileDialog.getSaveFileName(
            self, "Save shared page", str(Path.home() / name), "HTML page (*.html)"
        )
        if not path:
            return
        target = Path(path) if Path(path).suffix else Path(path).with_suffix(".html")
        if self.save(target):
            self.accept()
