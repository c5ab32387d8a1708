"""The Providers settings dialog: add, edit, test and remove the upstreams in the config file."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count, pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from relayscope.actions.provider_check import ProviderCheck, check_provider
from relayscope.config import (
    DEFAULT_UPSTREAM_TIMEOUT,
    DEMO_PROVIDER,
    Config,
    ConfigError,
    Provider,
    load_config,
    parse_config,
    secrets,
)
from relayscope.config.writer import ConfigWriteError, save_config
from relayscope.ui import theme
from relayscope.ui.plain_text import plain_label, plain_tooltip

SHOWN_MODELS = 6
_tokens = count(1)


@dataclass(eq=False)
class _Draft:
    """One provider as being edited; `original` is what the file had (None when added here)."""

    original: Provider | None
    name: str = ""
    base_url: str = ""
    new_key: str = ""
    forget_key: bool = False
    api_key_env: str = ""
    models: tuple[str, ...] = ()
    stream_required: tuple[str, ...] = ()
    default: bool = False
    capture_usage: bool = True
    timeout: float = DEFAULT_UPSTREAM_TIMEOUT
    check: tuple[str, str, str] | None = None  # (tone, text, tooltip) of the last Test
    check_token: int = 0  # the Test whose answer is awaited; 0 = none

    @classmethod
    def of(cls, provider: Provider) -> _Draft:
        return cls(
            original=provider,
            name=provider.name,
            base_url=provider.base_url,
            api_key_env=provider.api_key_env or "",
            models=provider.models,
            stream_required=provider.stream_required,
            default=provider.default,
            capture_usage=provider.capture_usage,
            timeout=provider.timeout,
        )

    @property
    def builtin(self) -> bool:
        return self.original is not None and self.original.name == DEMO_PROVIDER

    def keeps_stored_key(self) -> bool:
        return not self.new_key and not self.forget_key and self.original is not None

    def table(self) -> dict[str, Any]:
        """This provider as the loader would read it from a [[providers]] table."""
        table: dict[str, Any] = {
            "name": self.name,
            "base_url": self.base_url.strip(),
            "models": list(self.models),
            "stream_required": list(self.stream_required),
            "default": self.default,
            "capture_usage": self.capture_usage,
            "timeout": self.timeout,
        }
        if self.api_key_env.strip():
            table["api_key_env"] = self.api_key_env.strip()
        if self.keeps_stored_key() and self.original is not None:
            if self.original.api_key:
                table["api_key"] = self.original.api_key
            if self.original.api_key_keyring:
                table["api_key_keyring"] = True
        return table

    def key_status(self) -> str:
        """What the key field says while empty; never the key itself."""
        stored = self.original if self.keeps_stored_key() else None
        if stored is not None and stored.api_key_keyring:
            return "•••• stored in system keyring — type to replace"
        if stored is not None and stored.api_key:
            return "•••• stored in config file — type to replace"
        env = self.api_key_env.strip()
        if env:
            return f"from ${env} — or type a key"
        if self.forget_key:
            return "no key — the stored one is removed on Save"
        return "paste the API key (optional)"

    def key_for_test(self) -> Callable[[], str | None]:
        """A function giving the key a Test sends; it may read the keyring, so call it off
        the GUI thread."""
        typed = self.new_key.strip()
        env = self.api_key_env.strip() or None
        stored = self.original if self.keeps_stored_key() else None

        def key() -> str | None:
            if typed:
                return typed
            if stored is not None:
                return dataclasses.replace(stored, api_key_env=env).key()
            return (os.environ.get(env) or None) if env else None

        return key


def field_problems(draft: _Draft, others: list[_Draft]) -> dict[str, str]:
    """A sentence per field that is wrong, as the person types."""
    problems: dict[str, str] = {}
    name = draft.name
    if not name.strip():
        problems["name"] = "Give the provider a name; it is used to route calls to it."
    elif "/" in name:
        problems["name"] = "A name cannot contain “/”: clients write “name/model” to pick it."
    elif name != name.strip():
        problems["name"] = "Remove the spaces at the start or end of the name."
    elif any(other.name == name for other in others):
        problems["name"] = f"Another provider is already named “{name}”; pick another name."
    url = draft.base_url.strip()
    if not url:
        problems["base_url"] = "Enter the base URL, like https://api.example.com/v1."
    elif not _is_http_url(url):
        problems["base_url"] = (
            "This is not an http(s) URL; write it like https://api.example.com/v1."
        )
    return problems


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def _globs(text: str) -> tuple[str, ...]:
    return tuple(glob for part in text.split(",") if (glob := part.strip()))


def _tone_color(palette: QPalette, tone: str) -> QColor:
    """The shared status colours ("ok", "error", "warning"; anything else is muted)."""
    return theme.kind_colour(
        tone if tone in ("ok", "error", "warning") else "idle", dark=theme.is_dark(palette)
    )


def _describe(result: ProviderCheck) -> tuple[str, str, str]:
    if result.ok and result.models:
        shown = ", ".join(result.models[:SHOWN_MODELS])
        more = ", …" if len(result.models) > SHOWN_MODELS else ""
        n = len(result.models)
        text = f"✓ {n} model{'s' if n != 1 else ''}: {shown}{more}"
        return "ok", text, "\n".join(result.models)
    if result.ok:
        return "ok", f"✓ {result.message}", ""
    if result.warning:
        return "warning", f"⚠ {result.message}", ""
    return "error", f"✗ {result.message}", ""


class _SecondsBox(QDoubleSpinBox):
    """A timeout in seconds, shown as short as it can be ("600 s", "2.5 s")."""

    def __init__(self) -> None:
        super().__init__()
        self.setRange(0.001, 86400.0)
        self.setDecimals(3)
        self.setSuffix(" s")

    def textFromValue(self, value: float) -> str:
        text = super().textFromValue(value)  # the locale's digits and decimal point
        point = self.locale().decimalPoint()
        return text.rstrip("0").removesuffix(point) if point in text else text


class _CheckSignals(QObject):
    finished = Signal(int, object)  # token, ProviderCheck


class _CheckJob(QRunnable):
    """Runs one provider check on a pool thread; the answer comes back as a queued signal."""

    def __init__(self, token: int, provider: Provider, key: Callable[[], str | None]) -> None:
        super().__init__()
        self.token, self.provider, self.key = token, provider, key
        self.signals = _CheckSignals()

    def run(self) -> None:
        try:
            result = check_provider(self.provider, self.key())
        except Exception as exc:  # a bug, shown as one rather than lost in a thread
            result = ProviderCheck(False, [], f"the check failed unexpectedly ({exc!r}).")
        self.signals.finished.emit(self.token, result)


class _KeyringProbe(QRunnable):
    """Asks (on a pool thread: it can take seconds) whether the system keyring answers."""

    def __init__(self) -> None:
        super().__init__()
        self.signals = _CheckSignals()

    def run(self) -> None:
        self.signals.finished.emit(0, secrets.key_store() is not None)


class ProvidersDialog(QDialog):
    """Edits the providers in the config file, tests them and saves the file.

    Signals:
        saved: the config file was written; the main window restarts the worker on it.
    """

    saved = Signal()

    def __init__(self, config_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Providers")
        self._path = config_path
        self._config: Config | None = None
        self._drafts: list[_Draft] = []
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
        self._timeout = _SecondsBox()
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

    def _color(self, label: QLabel, tone: str) -> None:
        palette = label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, _tone_color(self.palette(), tone))
        label.setPalette(palette)

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

    # ----------------------------------------------------------------- loading

    def _load(self) -> None:
        try:
            self._config = load_config(self._path)
        except ConfigError as exc:
            # Editing a file we could not read would drop what we did not understand.
            self._problem.setText(f"{exc} Fix it in a text editor, then open this again.")
            for widget in (self._list, self._add, self._remove, self._form, self._save):
                widget.setEnabled(False)
            return
        self._otlp.setText(self._config.otlp.endpoint)
        self._capture.setChecked(self._config.otlp.capture_content)
        self._drafts = [_Draft.of(p) for p in self._config.providers]
        for draft in self._drafts:
            self._list.addItem(QListWidgetItem())
            self._refresh_item(draft)
        user = [i for i, d in enumerate(self._drafts) if not d.builtin]
        self._list.setCurrentRow(user[0] if user else 0)
        self._validate()

    def _warm_up_keyring(self) -> None:
        """Learn early whether new keys can go to the system keyring (Save needs to know)."""
        probe = _KeyringProbe()
        probe.signals.finished.connect(self._on_keyring_probe_finished)
        QThreadPool.globalInstance().start(probe)

    def _on_keyring_probe_finished(self, _token: int, available: object) -> None:
        self._keyring = bool(available)
        self._show_key_note()

    # ----------------------------------------------------------------- the form

    @property
    def _current(self) -> _Draft | None:
        row = self._list.currentRow()
        return self._drafts[row] if 0 <= row < len(self._drafts) else None

    def _on_list_current_row_changed(self, _row: int) -> None:
        self._show_draft()

    def _show_draft(self) -> None:
        draft = self._current
        self._loading = True
        try:
            self._form.setEnabled(draft is not None and not draft.builtin)
            self._builtin_note.setVisible(draft is not None and draft.builtin)
            self._remove.setEnabled(draft is not None and not draft.builtin)
            if draft is None:
                return
            self._name.setText(draft.name)
            self._url.setText(draft.base_url)
            self._key.setText(draft.new_key)
            self._env.setText(draft.api_key_env)
            self._models.setText(", ".join(draft.models))
            self._stream.setText(", ".join(draft.stream_required))
            self._default.setChecked(draft.default)
            self._usage.setChecked(draft.capture_usage)
            self._timeout.setValue(draft.timeout)
        finally:
            self._loading = False
        self._show_key_state()
        self._show_check()
        self._validate()

    def _show_key_state(self) -> None:
        draft = self._current
        if draft is None:
            return
        self._key.setPlaceholderText(draft.key_status())
        original = draft.original
        has_stored = original is not None and bool(original.api_key or original.api_key_keyring)
        self._forget.setEnabled(has_stored and draft.keeps_stored_key() and not draft.builtin)
        env = draft.api_key_env.strip()
        if env:
            state = "is set here" if os.environ.get(env) else "is not set in this environment"
            self._env_note.setText(f"${env} {state}.")
        self._env_note.setVisible(bool(env))
        self._show_key_note()

    def _show_key_note(self) -> None:
        draft = self._current
        if draft is None or not draft.new_key.strip() or self._keyring is None:
            self._key_note.hide()
            return
        where = "the system keyring" if self._keyring else "the config file, readable only by you"
        self._key_note.setText(f"Will be kept in {where}.")
        self._key_note.show()

    def _edited(self, update: Callable[[_Draft], None], *, retest: bool = False) -> None:
        draft = self._current
        if self._loading or draft is None:
            return
        update(draft)
        if retest:  # an answer about the old URL or key would mislead
            draft.check, draft.check_token = None, 0
            self._show_check()
        self._refresh_item(draft)
        self._validate()

    def _on_name_text_edited(self, text: str) -> None:
        self._edited(lambda d: setattr(d, "name", text))

    def _on_url_text_edited(self, text: str) -> None:
        self._edited(lambda d: setattr(d, "base_url", text), retest=True)

    def _on_key_text_edited(self, text: str) -> None:
        self._edited(lambda d: setattr(d, "new_key", text), retest=True)
        self._show_key_state()

    def _on_env_text_edited(self, text: str) -> None:
        self._edited(lambda d: setattr(d, "api_key_env", text), retest=True)
        self._show_key_state()

    def _on_forget_clicked(self) -> None:
        self._edited(lambda d: setattr(d, "forget_key", True), retest=True)
        self._show_key_state()

    def _on_models_text_edited(self, text: str) -> None:
        self._edited(lambda d: setattr(d, "models", _globs(text)))

    def _on_stream_text_edited(self, text: str) -> None:
        self._edited(lambda d: setattr(d, "stream_required", _globs(text)))

    def _on_usage_clicked(self, checked: bool) -> None:
        self._edited(lambda d: setattr(d, "capture_usage", checked))

    def _on_timeout_value_changed(self, value: float) -> None:
        self._edited(lambda d: setattr(d, "timeout", value))

    def _on_default_clicked(self, checked: bool) -> None:
        if checked:  # only one default: the others let go
            for other in self._drafts:
                if other.default and other is not self._current:
                    other.default = False
                    self._refresh_item(other)
        self._edited(lambda d: setattr(d, "default", checked))

    # ----------------------------------------------------------------- the list

    def _on_add_clicked(self) -> None:
        draft = _Draft(original=None)
        row = len(self._drafts)
        if self._drafts and self._drafts[-1].builtin:
            row -= 1  # above the demo, which the loader keeps last
        self._drafts.insert(row, draft)
        self._list.insertItem(row, QListWidgetItem())
        self._refresh_item(draft)
        self._list.setCurrentRow(row)
        self._name.setFocus()

    def _on_remove_clicked(self) -> None:
        draft = self._current
        if draft is None or draft.builtin:
            return
        row = self._list.currentRow()
        if draft.original is not None:
            self._removed.append(draft.original)
        del self._drafts[row]
        self._list.takeItem(row)
        self._list.setCurrentRow(min(row, len(self._drafts) - 1))
        self._validate()

    def _refresh_item(self, draft: _Draft) -> None:
        item = self._list.item(self._drafts.index(draft))
        others = [d for d in self._drafts if d is not draft]
        flag = "⚠ " if field_problems(draft, others) else ""
        tags = [tag for tag, on in (("built-in", draft.builtin), ("default", draft.default)) if on]
        suffix = f"  · {' · '.join(tags)}" if tags else ""
        item.setText(f"{flag}{draft.name or 'new provider'}{suffix}")
        item.setToolTip(draft.base_url)
        if draft.builtin:
            disabled = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
            item.setForeground(disabled)

    # ----------------------------------------------------------------- validation

    def _validate(self) -> Config | None:
        """Show what is wrong and enable Save when nothing is; the loader has the last word."""
        draft = self._current
        others = [d for d in self._drafts if d is not draft]
        problems = field_problems(draft, others) if draft and not draft.builtin else {}
        for key, note in (("name", self._name_note), ("base_url", self._url_note)):
            note.setText(problems.get(key, ""))
            note.setVisible(key in problems)
        self._test.setEnabled("base_url" not in problems and draft is not None)
        config, message = self._checked_config()
        self._problem.setText("" if problems else message)
        self._save.setEnabled(config is not None)
        return config

    def _checked_config(self) -> tuple[Config | None, str]:
        if self._config is None:
            return None, self._problem.text()
        for draft in self._drafts:
            others = [d for d in self._drafts if d is not draft]
            if problems := field_problems(draft, others):
                label = draft.name.strip() or "the new provider"
                return None, f"{label}: {next(iter(problems.values()))}"
        proxy = dataclasses.asdict(self._config.proxy)
        proxy = {key: value for key, value in proxy.items() if value is not None}
        data: dict[str, Any] = {"proxy": proxy, "providers": [d.table() for d in self._drafts]}
        endpoint = self._otlp.text().strip()
        capture = self._capture.isChecked()
        if endpoint or capture or self._config.otlp.headers:  # never drop what the file had
            data["otlp"] = {"endpoint": endpoint, "headers": dict(self._config.otlp.headers)}
            data["otlp"]["capture_content"] = capture
        try:
            return parse_config(data, self._path), ""
        except ConfigError as exc:
            return None, str(exc).removeprefix(f"{self._path}: ")

    # ----------------------------------------------------------------- Test

    def _on_test_clicked(self) -> None:
        draft = self._current
        if draft is None or not _is_http_url(draft.base_url.strip()):
            return
        provider = Provider(
            name=draft.name.strip() or "new",
            base_url=draft.base_url.strip().rstrip("/"),
        )
        if draft.builtin and draft.original is not None:
            provider = draft.original
        draft.check_token = next(_tokens)
        draft.check = None
        job = _CheckJob(draft.check_token, provider, draft.key_for_test())
        job.signals.finished.connect(self._on_check_finished)
        QThreadPool.globalInstance().start(job)
        self._show_check()

    def _on_check_finished(self, token: int, result: object) -> None:
        for draft in self._drafts:
            if draft.check_token == token and isinstance(result, ProviderCheck):
                draft.check, draft.check_token = _describe(result), 0
                if draft is self._current:
                    self._show_check()

    def _show_check(self) -> None:
        draft = self._current
        busy = draft is not None and draft.check_token != 0
        self._busy.setVisible(busy)
        self._test.setText("Testing…" if busy else "&Test")
        if busy:
            tone, text, tip = "hint", "", ""
        elif draft is not None and draft.check is not None:
            tone, text, tip = draft.check
        else:
            tone, text, tip = "hint", "", ""
        self._color(self._result, tone)
        self._result.setText(text)
        self._result.setToolTip(plain_tooltip(tip))

    # ----------------------------------------------------------------- Save

    def _on_save_clicked(self) -> None:
        config = self._validate()
        if config is None:
            return
        try:
            save_config(config, self._path, self._changed_keys())
        except (ConfigWriteError, secrets.KeyStoreError) as exc:
            self._problem.setText(str(exc))
            return
        self.saved.emit()
        self.accept()

    def _changed_keys(self) -> dict[str, str | None]:
        """New keys by provider name, None for keys to forget (removed or renamed providers)."""
        keys: dict[str, str | None] = {}
        names = {d.name for d in self._drafts}
        stale: list[str] = [p.name for p in self._removed if p.api_key_keyring]
        for draft in self._drafts:
            original = draft.original
            if draft.builtin:
                continue
            # The keyring holds keys by provider name: a renamed provider's key must move.
            keyring_name = original.name if original and original.api_key_keyring else draft.name
            if draft.new_key.strip():
                keys[draft.name] = draft.new_key.strip()
            elif draft.forget_key:
                keys[draft.name] = None
            elif keyring_name != draft.name and (moved := secrets.stored_key(keyring_name)):
                keys[draft.name] = moved
            if keyring_name != draft.name:
                stale.append(keyring_name)
        for name in stale:
            if name not in names:
                keys.setdefault(name, None)
        return keys
