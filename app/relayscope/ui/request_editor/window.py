"""RequestEditor: the edit-and-resend window's form (quick controls, the conversation list and
the JSON body, kept in sync through `edit_body`); sending is `RequestSender`'s."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from relayscope.actions.replay import (
    JsonError,
    ReplayRequest,
    ReplayResult,
    edit_body,
    parse_json_body,
)
from relayscope.calls.record import CallRecord
from relayscope.store.call_store import CallStore
from relayscope.ui import theme
from relayscope.ui.inspector._json_text import as_text
from relayscope.ui.inspector._style import colours
from relayscope.ui.jobs import Job, JobRunner
from relayscope.ui.plain_text import plain_label
from relayscope.ui.replay_runner import configured_providers
from relayscope.ui.request_editor.json_editor import JsonEditor, error_text
from relayscope.ui.request_editor.messages_editor import MessagesEditor
from relayscope.ui.request_editor.sending import RequestSender

SPACING = theme.SPACING
_MAX_TOKEN_KEYS = ("max_output_tokens", "max_completion_tokens", "max_tokens")
_TEMPERATURE_UNSET = -0.1


def _path_for(body: Mapping[str, Any]) -> str:
    """Where a body goes when it is not a recorded call's (as `new_request` decides)."""
    if "messages" in body:
        return "/v1/chat/completions"
    return "/v1/completions" if "prompt" in body else "/v1/responses"


def primary_button(text: str, parent: QWidget) -> QPushButton:
    """The accent-coloured button of a window (Send, Run)."""
    button = QPushButton(text, parent)
    button.setDefault(True)
    accent = theme.colour(theme.ACCENT, dark=False)  # white text needs the deep blue
    button.setStyleSheet(
        f"QPushButton {{ background: {accent.name()}; color: white; border: none;"
        f" border-radius: 4px; padding: {SPACING // 2}px {SPACING * 2}px; font-weight: 600; }}"
        f" QPushButton:hover {{ background: {accent.darker(110).name()}; }}"
        f" QPushButton:disabled {{ background: {theme.colour(theme.MUTED).name()}; }}"
    )
    return button


class RequestEditor(RequestSender):
    """Edit and resend: a request's body with quick controls, sent through the proxy.

    Opened on a recorded call (`load_call`: the new call is recorded as its replay) or on
    any body (`set_body`). Send streams the answer into the lower pane with its status,
    TTFT and total time, and the new call's id as a link; Cancel stops it.

    Signals:
        call_sent(str): a request went out; the new call's id (known before it is sent).
        call_finished(object): the `ReplayResult` of a send.
        call_link_activated(str): the new call's id was clicked.
    """

    def __init__(
        self,
        store: CallStore,
        config_path: Path | None,
        base_url: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Edit and resend")
        self._store = store
        self._config_path = config_path
        self._base_url = base_url
        self._call: CallRecord | None = None
        self._path: str | None = None
        self._syncing = False
        self._job: Job | None = None
        self._last: tuple[ReplayRequest, ReplayResult] | None = None
        self._started = 0.0
        self.runner = JobRunner(self)
        self._build_controls()
        self._build_response()
        self._layout()
        self._connect()
        self.set_body({"model": "", "messages": [{"role": "user", "content": ""}]})
        self.resize(1280, 800)

    def _build_controls(self) -> None:
        self.endpoint = plain_label(QLabel(self))
        self.endpoint.setFont(theme.monospace_font())
        self.endpoint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.provider = QComboBox(self)
        self.provider.setToolTip("Where the proxy sends it: a provider, or routed by model")
        self.provider.addItem("Route by model", "")
        for name in configured_providers(self._config_path):
            self.provider.addItem(name, name)
        self.model = QLineEdit(self)
        self.model.setPlaceholderText("model")
        self.model.setMinimumWidth(22 * SPACING)
        self.stream = QCheckBox("Stream", self)
        self.temperature = QDoubleSpinBox(self)
        self.temperature.setRange(_TEMPERATURE_UNSET, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setDecimals(2)
        self.temperature.setSpecialValueText("default")
        self.temperature.setValue(_TEMPERATURE_UNSET)
        self.max_tokens = QSpinBox(self)
        self.max_tokens.setRange(0, 10_000_000)
        self.max_tokens.setSingleStep(256)
        self.max_tokens.setSpecialValueText("default")
        self.max_tokens.setGroupSeparatorShown(True)
        self.send_button = primary_button("Send", self)
        self.send_button.setToolTip("Send through Relayscope (Ctrl+Enter)")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.json_editor = JsonEditor(self)
        self.json_error = QLabel(self)
        self.format_button = QToolButton(self)
        self.format_button.setText("Format")
        self.format_button.setToolTip("Indent the JSON (two spaces)")
        self.json_error.setWordWrap(True)
        self.messages = MessagesEditor(self)

    def _layout(self) -> None:
        top = QHBoxLayout()
        top.setSpacing(SPACING)
        top.addWidget(self.endpoint)
        top.addSpacing(SPACING)
        labelled: tuple[tuple[str, QWidget], ...] = (
            ("Provider", self.provider),
            ("Model", self.model),
            ("", self.stream),
            ("Temperature", self.temperature),
            ("Max tokens", self.max_tokens),
        )
        for label, widget in labelled:
            if label:
                top.addWidget(QLabel(label, self))
            top.addWidget(widget)
        top.addStretch(1)
        top.addWidget(self.cancel_button)
        top.addWidget(self.send_button)
        body = QWidget(self)
        body_column = QVBoxLayout(body)
        body_column.setContentsMargins(0, 0, 0, 0)
        body_column.setSpacing(SPACING // 2)
        body_bar = QHBoxLayout()
        body_bar.addWidget(QLabel("Body (JSON)", self), 1)
        body_bar.addWidget(self.format_button)
        body_column.addLayout(body_bar)
        body_column.addWidget(self.json_editor, 1)
        body_column.addWidget(self.json_error)
        middle = QSplitter(Qt.Orientation.Horizontal, self)
        middle.addWidget(self.messages)
        middle.addWidget(body)
        middle.setSizes([440, 800])
        middle.setChildrenCollapsible(False)
        response = QWidget(self)
        response_column = QVBoxLayout(response)
        response_column.setContentsMargins(0, SPACING, 0, 0)
        response_column.setSpacing(SPACING // 2)
        status_row = QHBoxLayout()
        status_row.setSpacing(2 * SPACING)
        status_row.addWidget(self.status)
        status_row.addWidget(self.timing)
        status_row.addWidget(self.call_link)
        status_row.addStretch(1)
        status_row.addWidget(self.retry_button)
        response_column.addLayout(status_row)
        response_column.addWidget(self.answer, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(middle)
        self.splitter.addWidget(response)
        self.splitter.setSizes([470, 260])
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2 * SPACING, 2 * SPACING, 2 * SPACING, 2 * SPACING)
        layout.setSpacing(SPACING)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)

    def _connect(self) -> None:
        self.json_editor.validity_changed.connect(self._on_json_editor_validity_changed)
        self.messages.messages_edited.connect(self._on_messages_messages_edited)
        self.model.textEdited.connect(self._on_model_text_edited)
        self.stream.toggled.connect(self._on_stream_toggled)
        self.temperature.valueChanged.connect(self._on_temperature_value_changed)
        self.max_tokens.valueChanged.connect(self._on_max_tokens_value_changed)
        self.send_button.clicked.connect(self.send)
        self.format_button.clicked.connect(self._on_format_clicked)
        self.cancel_button.clicked.connect(self.cancel)
        self.retry_button.clicked.connect(self.wait_and_retry)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, self.send)
        timer = QTimer(self)
        timer.setInterval(100)
        timer.timeout.connect(self._show_elapsed)
        self._clock = timer

    # -- public API ---------------------------------------------------------------------

    def set_base_url(self, url: str) -> None:
        """The proxy's base URL (empty while it is not listening)."""
        self._base_url = url
        self._update_send()

    def load_call(self, call_id: str) -> bool:
        """Edit a recorded call's request (the send is recorded as its replay)."""
        call = self._store.get_call(call_id)
        if call is None:
            return False
        parsed = parse_json_body(as_text(call.get("request_body")))
        self._call = call
        self._path = str(call.get("path") or "") or None
        self.setWindowTitle(f"Edit and resend — call {call_id}")
        if isinstance(parsed, dict):
            self._set(parsed)
        else:
            self.json_editor.set_text(as_text(call.get("request_body")))
        self._show_endpoint()
        return True

    def set_body(self, body: Mapping[str, Any] | str, *, path: str | None = None) -> None:
        """Edit a body of your own (a new request, not a replay)."""
        self._call = None
        self._path = path
        self.setWindowTitle("New request")
        if isinstance(body, str):
            self.json_editor.set_text(body)
        else:
            self._set(dict(body))
        self._show_endpoint()

    # -- keeping the JSON, the controls and the list in sync ----------------------------

    def _set(self, body: dict[str, Any]) -> None:
        self.json_editor.set_json(body)

    def _edit(self, **changes: Any) -> None:
        body = self.json_editor.body()
        if body is None or self._syncing:
            return
        unset = [key for key, value in changes.items() if value is None]
        edited = edit_body(body, **{k: v for k, v in changes.items() if v is not None})
        for key in unset:
            for name in _MAX_TOKEN_KEYS if key == "max_tokens" else (key,):
                edited.pop(name, None)
        self._syncing = True
        try:
            self.json_editor.set_json(edited)
        finally:
            self._syncing = False

    def _on_format_clicked(self) -> None:
        body = self.json_editor.validate_now()
        if isinstance(body, dict):
            self._set(body)

    def _on_model_text_edited(self, text: str) -> None:
        if text.strip():
            self._edit(model=text.strip())
        else:
            self._edit(model=None)

    def _on_stream_toggled(self, checked: bool) -> None:
        self._edit(stream=checked)

    def _on_temperature_value_changed(self, value: float) -> None:
        self._edit(temperature=None if value <= _TEMPERATURE_UNSET + 1e-9 else round(value, 2))

    def _on_max_tokens_value_changed(self, value: int) -> None:
        self._edit(max_tokens=value or None)

    def _on_messages_messages_edited(self, items: list[Any]) -> None:
        self._edit(messages=items)

    def _on_json_editor_validity_changed(self, result: dict[str, Any] | JsonError) -> None:
        valid = isinstance(result, dict)
        for widget in (self.model, self.stream, self.temperature, self.max_tokens):
            widget.setEnabled(valid)
        self.messages.setEnabled(valid)
        if isinstance(result, JsonError):
            c = colours(self.palette())
            self.json_error.setText(f"⚠ {error_text(result)}")
            self.json_error.setStyleSheet(f"color: {c.error}; font-weight: 600;")
        else:
            self.json_error.setText("")
            self.json_error.setStyleSheet("")
            self._controls_from(result)
        self.json_error.setVisible(not valid)
        self._show_endpoint()
        self._update_send()

    def _controls_from(self, body: dict[str, Any]) -> None:
        widgets = (self.model, self.stream, self.temperature, self.max_tokens)
        for widget in widgets:
            widget.blockSignals(True)
        try:
            model = body.get("model")
            if self.model.text() != (model if isinstance(model, str) else ""):
                self.model.setText(model if isinstance(model, str) else "")
            self.stream.setChecked(body.get("stream") is True)
            temperature = body.get("temperature")
            if isinstance(temperature, int | float) and not isinstance(temperature, bool):
                self.temperature.setValue(float(temperature))
            else:
                self.temperature.setValue(_TEMPERATURE_UNSET)
            limit = next((body[k] for k in _MAX_TOKEN_KEYS if isinstance(body.get(k), int)), 0)
            self.max_tokens.setValue(int(limit))
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self._messages_from(body)  # rebuilt only when it differs (not while typing in it)

    def _messages_from(self, body: dict[str, Any]) -> None:
        responses = "input" in body and "messages" not in body
        items = body.get("input" if responses else "messages")
        if isinstance(items, str):
            items = [{"role": "user", "content": items}]
        if not isinstance(items, list):
            items = []
        if items != self.messages.messages() or responses != self.messages._responses:
            self.messages.set_messages(items, responses=responses)

    def _show_endpoint(self) -> None:
        path = self._path
        if path is None:
            path = _path_for(self.json_editor.body() or {})
        self.endpoint.setText(f"POST {path}")

    def closeEvent(self, event: QCloseEvent) -> None:
        self.runner.shutdown()
        self._job = None
        super().closeEvent(event)
