"""ProvidersDialog: the Providers settings dialog's window, its list, form, Test row and buttons
(what they do is `ProvidersForm`'s)."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from relayscope.config import Config, Provider
from relayscope.ui.jobs import JobRunner
from relayscope.ui.plain_text import plain_label
from relayscope.ui.providers_dialog.drafts import Draft
from relayscope.ui.providers_dialog.form import ProvidersForm
from relayscope.ui.providers_dialog.widgets import SecondsBox


class ProvidersDialog(ProvidersForm):
    """Edits the providers in the config file, tests them and saves the file.

    Signals:
        saved: the config file was written; the main window restarts the worker on it.
    """

    def __init__(self, config_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = JobRunner(self)
        self.setWindowTitle("Providers")
        self._path = config_path
        self._config: Config | None = None
        self._drafts: list[Draft] = []
        self._removed: list[Provider] = []
        self._loading = False
        self._keyring: bool | None = None  # None until the probe answers
        self._build()
        self._load()
        self._warm_up_keyring()

    # ----------------------------------------------------------------- building

    def _build(self) -> None:
        body = QHBoxLayout()
        body.setSpacing(16)
        body.addLayout(self._build_list(), 0)
        right = QVBoxLayout()
        right.addWidget(self._build_form())
        right.addStretch()
        body.addLayout(right, 1)
        self._problem = QLabel()
        self._problem.setWordWrap(True)
        self._color(self._problem, "error")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 16, 16, 16)
        outer.setSpacing(16)
        outer.addLayout(body, 1)
        outer.addLayout(self._build_otlp_row())
        outer.addWidget(self._problem)
        outer.addWidget(self._build_buttons())
        self._name_widgets()
        self._set_keyboard_order()
        self.resize(880, 600)

    def _build_otlp_row(self) -> QHBoxLayout:
        """Teams: every call as an OpenTelemetry span to their collector (off when empty)."""
        self._otlp = QLineEdit()
        self._otlp.setObjectName("otlp_endpoint")
        self._otlp.setPlaceholderText("off — e.g. http://localhost:4318 (Jaeger, Tempo, Langfuse…)")
        self._otlp.setToolTip("Send every finished call as an OpenTelemetry GenAI span (OTLP/HTTP)")
        self._otlp.textChanged.connect(lambda _text: self._validate())
        self._capture = QCheckBox("Include prompts and &answers")
        self._capture.setObjectName("otlp_capture_content")
        self._capture.setToolTip(
            "Put each call's messages on its span (gen_ai.input.messages, "
            "gen_ai.output.messages): whoever reads the collector reads the conversations"
        )
        row = QHBoxLayout()
        label = QLabel("&OpenTelemetry endpoint")
        label.setBuddy(self._otlp)
        row.addWidget(label)
        row.addWidget(self._otlp, 1)
        row.addWidget(self._capture)
        return row

    def _build_list(self) -> QVBoxLayout:
        self._list = QListWidget()
        self._list.setMinimumWidth(200)
        self._list.setStyleSheet("QListWidget::item { padding: 4px 8px; }")
        self._list.currentRowChanged.connect(self._on_list_current_row_changed)
        self._add = QPushButton("+ Add")
        self._add.clicked.connect(self._on_add_clicked)
        self._remove = QPushButton("− Remove")
        self._remove.clicked.connect(self._on_remove_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self._add)
        buttons.addWidget(self._remove)
        buttons.addStretch()
        column = QVBoxLayout()
        column.addWidget(self._list)
        column.addLayout(buttons)
        return column

    def _build_form(self) -> QWidget:
        self._form = QWidget()
        form = QFormLayout(self._form)
        form.setContentsMargins(0, 0, 0, 0)
        form.setVerticalSpacing(8)
        form.setHorizontalSpacing(16)
        self._builtin_note = QLabel(
            "The built-in demo provider answers inside Relayscope with canned text, "
            "so you can try things without a key. It cannot be changed or removed."
        )
        self._builtin_note.setWordWrap(True)
        form.addRow(self._builtin_note)
        self._name, self._name_note = self._line("e.g. openai"), self._note()
        form.addRow("&Name", self._stack(self._name, self._name_note))
        self._url, self._url_note = self._line("https://api.example.com/v1"), self._note()
        form.addRow("&Base URL", self._stack(self._url, self._url_note))
        form.addRow("API &key", self._build_key_field())
        self._env = self._line("e.g. OPENAI_API_KEY (optional)")
        self._env_note = self._note("hint")
        form.addRow("Key from &env var", self._stack(self._env, self._env_note))
        self._models = self._line("gpt-*, claude-*")
        hint = self._note("hint", "Comma-separated globs; calls for these models come here.")
        form.addRow("&Models", self._stack(self._models, hint))
        self._stream = self._line("gpt-*")
        hint = self._note("hint", "Models this provider serves only as streams; we stream them.")
        form.addRow("Stream &required", self._stack(self._stream, hint))
        self._default = QCheckBox("&Default: gets models no other provider matches")
        self._default.clicked.connect(self._on_default_clicked)
        form.addRow("", self._default)
        self._usage = QCheckBox("Capture &usage (token counts) from streams")
        self._usage.clicked.connect(self._on_usage_clicked)
        form.addRow("", self._usage)
        self._timeout = SecondsBox()
        self._timeout.setFixedWidth(128)
        self._timeout.valueChanged.connect(self._on_timeout_value_changed)
        form.addRow("T&imeout", self._timeout)
        form.addRow("", self._build_test_row())
        self._name.textEdited.connect(self._on_name_text_edited)
        self._url.textEdited.connect(self._on_url_text_edited)
        self._env.textEdited.connect(self._on_env_text_edited)
        self._models.textEdited.connect(self._on_models_text_edited)
        self._stream.textEdited.connect(self._on_stream_text_edited)
        return self._form

    def _build_key_field(self) -> QWidget:
        self._key = self._line("")
        self._key.setEchoMode(QLineEdit.EchoMode.Password)
        self._key.textEdited.connect(self._on_key_text_edited)
        self._forget = QPushButton("Remove key")
        self._forget.setToolTip("Forget the stored key when you save")
        self._forget.clicked.connect(self._on_forget_clicked)
        row = QHBoxLayout()
        row.addWidget(self._key, 1)
        row.addWidget(self._forget)
        self._key_note = self._note("hint")
        return self._stack(row, self._key_note, focus=self._key)

    def _build_test_row(self) -> QWidget:
        self._test = QPushButton("&Test")
        self._test.setToolTip("List the provider's models with this key")
        self._test.clicked.connect(self._on_test_clicked)
        self._busy = QProgressBar()
        self._busy.setRange(0, 0)  # indeterminate: a busy indicator
        self._busy.setFixedWidth(80)
        self._busy.setTextVisible(False)
        self._result = plain_label(QLabel())  # what the provider answered the test
        self._result.setWordWrap(True)
        self._result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._result.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        row = QHBoxLayout()
        row.setSpacing(8)
        row.addWidget(self._test)
        row.addWidget(self._busy)
        row.addStretch()
        return self._stack(row, self._result, focus=self._test)

    def _build_buttons(self) -> QDialogButtonBox:
        self._buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self._save = self._buttons.button(QDialogButtonBox.StandardButton.Save)
        self._buttons.accepted.connect(self._on_save_clicked)
        self._buttons.rejected.connect(self.reject)
        return self._buttons

    def _set_keyboard_order(self) -> None:
        cancel = self._buttons.button(QDialogButtonBox.StandardButton.Cancel)
        for button in (self._add, self._remove, self._forget, self._test, cancel):
            button.setAutoDefault(False)  # so that Enter always means Save
        self._save.setDefault(True)  # (QDialog ignores Enter while Save is disabled)
        chain = [self._list, self._add, self._remove, self._name, self._url, self._key]
        chain += [self._forget, self._env, self._models, self._stream, self._default]
        chain += [self._usage, self._timeout, self._test, self._otlp, self._capture]
        chain += [self._save, cancel]
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _name_widgets(self) -> None:
        """Object names: for tests and accessibility tools, which find widgets by them."""
        for name, widget in {
            "providers": self._list,
            "add": self._add,
            "remove": self._remove,
            "name": self._name,
            "name_problem": self._name_note,
            "base_url": self._url,
            "base_url_problem": self._url_note,
            "api_key": self._key,
            "forget_key": self._forget,
            "api_key_note": self._key_note,
            "api_key_env": self._env,
            "models": self._models,
            "stream_required": self._stream,
            "default": self._default,
            "capture_usage": self._usage,
            "timeout": self._timeout,
            "test": self._test,
            "test_busy": self._busy,
            "test_result": self._result,
            "problem": self._problem,
            "save": self._save,
        }.items():
            widget.setObjectName(name)

    def _line(self, placeholder: str) -> QLineEdit:
        line = QLineEdit()
        line.setPlaceholderText(placeholder)
        return line

    def _note(self, tone: str = "error", text: str = "") -> QLabel:
        """A line under a field: a problem (red, shown when there is one) or a hint."""
        note = QLabel(text)
        # Only problems wrap: wrapped labels make QFormLayout over-estimate row heights.
        note.setWordWrap(tone == "error")
        self._color(note, tone)
        note.setVisible(bool(text))
        return note

    def _stack(self, *parts: QWidget | QHBoxLayout, focus: QWidget | None = None) -> QWidget:
        """A field with its note below; the form's label focuses `focus` (default: the first)."""
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        for part in parts:
            if isinstance(part, QHBoxLayout):
                column.addLayout(part)
            else:
                column.addWidget(part)
                focus = focus or part
        if focus is not None:
            box.setFocusProxy(focus)
        return box
