"""What the Providers dialog does: load the file, show and edit the selected provider, add and
remove providers, validate, test and save. `ProvidersDialog` builds the widgets."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QWidget,
)

from relayscope.actions.provider_check import ProviderCheck
from relayscope.config import Config, ConfigError, Provider, load_config, parse_config, secrets
from relayscope.config.writer import ConfigWriteError, save_config
from relayscope.ui.jobs import JobRunner
from relayscope.ui.plain_text import plain_tooltip
from relayscope.ui.providers_dialog.check_job import describe, keyring_available, run_check
from relayscope.ui.providers_dialog.drafts import Draft, field_problems, globs, is_http_url
from relayscope.ui.providers_dialog.widgets import SecondsBox, tone_color

_tokens = count(1)


class ProvidersForm(QDialog):
    """The Providers dialog's behaviour, below the widgets `ProvidersDialog` builds.

    Signals:
        saved: see ProvidersDialog.
    """

    jobs: JobRunner  # made by the dialog before anything runs

    saved = Signal()

    # Set by ProvidersDialog (its __init__ and the widgets it builds).
    _path: Path
    _config: Config | None
    _drafts: list[Draft]
    _removed: list[Provider]
    _loading: bool
    _keyring: bool | None
    _problem: QLabel
    _otlp: QLineEdit
    _capture: QCheckBox
    _list: QListWidget
    _add: QPushButton
    _remove: QPushButton
    _form: QWidget
    _builtin_note: QLabel
    _name: QLineEdit
    _name_note: QLabel
    _url: QLineEdit
    _url_note: QLabel
    _key: QLineEdit
    _forget: QPushButton
    _key_note: QLabel
    _env: QLineEdit
    _env_note: QLabel
    _models: QLineEdit
    _stream: QLineEdit
    _default: QCheckBox
    _usage: QCheckBox
    _timeout: SecondsBox
    _test: QPushButton
    _busy: QProgressBar
    _result: QLabel
    _save: QPushButton

    def _color(self, label: QLabel, tone: str) -> None:
        palette = label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, tone_color(self.palette(), tone))
        label.setPalette(palette)

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
        self._drafts = [Draft.of(p) for p in self._config.providers]
        for draft in self._drafts:
            self._list.addItem(QListWidgetItem())
            self._refresh_item(draft)
        user = [i for i, d in enumerate(self._drafts) if not d.builtin]
        self._list.setCurrentRow(user[0] if user else 0)
        self._validate()

    def _warm_up_keyring(self) -> None:
        """Learn early whether new keys can go to the system keyring (Save needs to know)."""
        self.jobs.start(lambda _job: keyring_available(), on_success=self._on_keyring_answer)

    def _on_keyring_answer(self, available: object) -> None:
        self._keyring = bool(available)
        self._show_key_note()

    # ----------------------------------------------------------------- the form

    @property
    def _current(self) -> Draft | None:
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

    def _edited(self, update: Callable[[Draft], None], *, retest: bool = False) -> None:
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
        self._edited(lambda d: setattr(d, "models", globs(text)))

    def _on_stream_text_edited(self, text: str) -> None:
        self._edited(lambda d: setattr(d, "stream_required", globs(text)))

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
        draft = Draft(original=None)
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

    def _refresh_item(self, draft: Draft) -> None:
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
        if draft is None or not is_http_url(draft.base_url.strip()):
            return
        provider = Provider(
            name=draft.name.strip() or "new",
            base_url=draft.base_url.strip().rstrip("/"),
        )
        if draft.builtin and draft.original is not None:
            provider = draft.original
        draft.check_token = next(_tokens)
        draft.check = None
        token, key = draft.check_token, draft.key_for_test()
        self.jobs.start(
            lambda _job: run_check(provider, key),
            on_success=lambda result: self._on_check_finished(token, result),
        )
        self._show_check()

    def _on_check_finished(self, token: int, result: object) -> None:
        for draft in self._drafts:
            if draft.check_token == token and isinstance(result, ProviderCheck):
                draft.check, draft.check_token = describe(result), 0
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
