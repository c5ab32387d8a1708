"""BodyTab: a request or response body (pretty JSON or raw) beside its headers.

Used twice: the Request tab (with "Copy as curl/Python" and, when the proxy changed the body,
"Client sent" / "Provider received") and the Response tab (for a stream: the assembled answer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QButtonGroup,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from relayscope.calls import facts as call_facts
from relayscope.calls.record import CallRecord
from relayscope.exchange.code_export import as_curl, as_python
from relayscope.protocols import multipart
from relayscope.ui.inspector import _format as fmt
from relayscope.ui.inspector._json_text import (
    BodyText,
    body_text,
    changed_keys,
    header_pairs,
    json_list,
    pretty_json,
)
from relayscope.ui.inspector._style import SPACING, colours, monospace_font
from relayscope.ui.inspector.headers_model import HeadersModel
from relayscope.ui.inspector.json_highlighter import JsonHighlighter

#: Above this many characters the body is shown without colours (highlighting is the slow part).
HIGHLIGHT_LIMIT = 2 * 1024 * 1024
#: How long a copy button says "Copied ✓" (ms).
COPIED_MS = 1500

Kind = Literal["request", "response"]


class BodyTab(QWidget):
    """Body and headers of one side of a call.

    Signals:
        stream_tab_requested(): the person wants the stream's events (Response tab of a stream).
        copied(str): a snippet was put on the clipboard; the text says which.
    """

    stream_tab_requested = Signal()
    copied = Signal(str)

    def __init__(self, kind: Kind, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self._row: CallRecord = {}
        self._stream_raw: Callable[[], str] | None = None
        self._base_url = "http://127.0.0.1:8787/v1"
        self._show_all = False
        self._dirty = False
        self.shown: BodyText = BodyText("", False, 0, False)

        self.client_button = self._segment("Client sent")
        self.upstream_button = self._segment("Provider received")
        self.client_button.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.client_button)
        group.addButton(self.upstream_button)
        group.buttonToggled.connect(self._on_source_toggled)
        self.note = QLabel()
        self.note.setTextFormat(Qt.TextFormat.RichText)
        self.note.linkActivated.connect(self._on_note_link_activated)
        self.show_all_button = QPushButton("Show all")
        self.show_all_button.clicked.connect(self._on_show_all_clicked)
        self.raw_button = QPushButton("Raw")
        self.raw_button.setCheckable(True)
        self.raw_button.setToolTip("The body exactly as recorded")
        self.raw_button.toggled.connect(lambda _: self._render())
        self.curl_button = QPushButton("Copy as curl")
        self.curl_button.clicked.connect(self._on_curl_clicked)
        self.python_button = QPushButton("Copy as Python")
        self.python_button.clicked.connect(self._on_python_clicked)

        self.editor = QPlainTextEdit(self)
        self.editor.setReadOnly(True)
        self.editor.setFont(monospace_font())
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.editor.document().setDocumentMargin(SPACING)
        self._highlighter: JsonHighlighter | None = None
        self.headers_model = HeadersModel(self)
        self.headers_title = QLabel(f"{kind.capitalize()} headers")
        self.headers_view = self._headers_table()
        self._build_layout()

    def _segment(self, text: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setCheckable(True)
        button.setAutoRaise(False)
        return button

    def _headers_table(self) -> QTableView:
        view = QTableView(self)
        view.setModel(self.headers_model)
        view.verticalHeader().hide()
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setWordWrap(False)
        view.setAlternatingRowColors(True)
        view.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        view.horizontalHeader().setStretchLastSection(True)
        view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + SPACING)
        return view

    def _build_layout(self) -> None:
        bar = QHBoxLayout()
        bar.setContentsMargins(SPACING, 0, SPACING, 0)
        bar.setSpacing(SPACING)
        bar.addWidget(self.client_button)
        bar.addWidget(self.upstream_button)
        bar.addWidget(self.note, 1)
        for button in (self.show_all_button, self.raw_button):
            bar.addWidget(button)
        if self.kind == "request":
            bar.addWidget(self.curl_button)
            bar.addWidget(self.python_button)
        else:
            self.curl_button.hide()
            self.python_button.hide()
        side = QWidget(self)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.setSpacing(SPACING // 2)
        side_layout.addWidget(self.headers_title)
        side_layout.addWidget(self.headers_view, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.editor)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([880, 360])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, SPACING, 0, 0)
        layout.setSpacing(SPACING)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)

    # -- feeding --------------------------------------------------------------------------

    def set_base_url(self, base_url: str) -> None:
        self._base_url = base_url

    def set_call(self, row: CallRecord, stream_raw: Callable[[], str] | None = None) -> None:
        """Show this side of `row`; `stream_raw` gives a stream's events as received."""
        if row.get("id") != self._row.get("id"):
            self._show_all = False
            self.client_button.setChecked(True)
        self._row = row
        self._stream_raw = stream_raw
        has_upstream = self.kind == "request" and bool(row.get("upstream_request_body"))
        self.client_button.setVisible(has_upstream)
        self.upstream_button.setVisible(has_upstream)
        self.headers_model.set_pairs(header_pairs(row.get(f"{self.kind}_headers")))
        self._dirty = True
        if self.isVisible():
            self._render()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._dirty:
            self._render()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self._highlighter is not None:
            self._highlighter.set_palette(self.palette())

    # -- snippets -----------------------------------------------------------------------------

    def curl_text(self) -> str:
        return as_curl(self._row, self._base_url)

    def python_text(self) -> str:
        return as_python(self._row, self._base_url)

    def _on_curl_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.curl_text())
        self._confirm(self.curl_button, "Copy as curl")
        self.copied.emit("Copied a curl command that sends this request through Relayscope.")

    def _on_python_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.python_text())
        self._confirm(self.python_button, "Copy as Python")
        self.copied.emit("Copied Python (openai SDK) that sends this request through Relayscope.")

    def _confirm(self, button: QPushButton, text: str) -> None:
        """Say "Copied" on the button itself for a moment: the eyes are there."""
        button.setText("Copied ✓")
        QTimer.singleShot(COPIED_MS, button, lambda: button.setText(text))

    # -- drawing ----------------------------------------------------------------------------

    def _on_source_toggled(self, _button: object, checked: bool) -> None:
        if checked:
            self._show_all = False
            self._render()

    def _on_show_all_clicked(self) -> None:
        self._show_all = True
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self._render()
        finally:
            QApplication.restoreOverrideCursor()

    def _on_note_link_activated(self, link: str) -> None:
        if link == "stream":
            self.stream_tab_requested.emit()

    def _render(self) -> None:
        self._dirty = False
        text, placeholder, note = self._content()
        self.shown = text
        self.show_all_button.setVisible(text.cut)
        if text.cut:
            note = (
                f"Showing the first {fmt.size(len(text.text))} of "
                f"{fmt.size(text.total_chars)}. " + note
            )
        self.note.setText(note)
        self._set_highlighting(text.is_json and len(text.text) <= HIGHLIGHT_LIMIT)
        self.editor.setPlaceholderText(placeholder)
        self.editor.setPlainText(text.text)

    def _set_highlighting(self, on: bool) -> None:
        if on and self._highlighter is None:
            self._highlighter = JsonHighlighter(self.editor.document(), self.palette())
        elif not on and self._highlighter is not None:
            self._highlighter.setDocument(None)
            self._highlighter = None

    def _content(self) -> tuple[BodyText, str, str]:
        """(text, placeholder when empty, note above) for the current choices."""
        raw = self.raw_button.isChecked()
        limit = None if self._show_all else 1024 * 1024
        row = self._row
        c = colours(self.palette())
        if self.kind == "request":
            return self._request_content(raw, limit, c.warning)
        if row.get("stream") and row.get("response_body") is None:
            return self._stream_content(raw, limit, c.accent)
        body = body_text(row.get("response_body"), pretty=not raw, limit=limit)
        if call_facts.is_live(row) and not body.text:
            return body, "Waiting for the response…", ""
        note = ""
        if row.get("truncated") == 2:
            note = "The body was longer than the recording limit; this is its start."
        return body, "No response body was recorded.", note

    def _request_content(
        self, raw: bool, limit: int | None, warning: str
    ) -> tuple[BodyText, str, str]:
        row = self._row
        upstream = self.upstream_button.isChecked() and bool(row.get("upstream_request_body"))
        source = row.get("upstream_request_body" if upstream else "request_body")
        note = ""
        if row.get("upstream_request_body"):
            changed = changed_keys(row.get("request_body"), row.get("upstream_request_body"))
            what = ", ".join(changed) if changed else "the body's bytes"
            note = f'<span style="color:{warning}">Relayscope changed: {what}</span>'
        if row.get("truncated") == 1:
            note += " The body was longer than the recording limit; this is its start."
        form = None if raw or upstream else multipart.call_form(row)
        if form is not None:  # a file's bytes would show as replacement characters
            text = pretty_json(form)
            note += " A multipart form, one entry per part; a file shows its name, type and size."
            return BodyText(text, True, len(text), False), "No request body.", note.strip()
        return body_text(source, pretty=not raw, limit=limit), "No request body.", note

    def _stream_content(
        self, raw: bool, limit: int | None, accent: str
    ) -> tuple[BodyText, str, str]:
        row = self._row
        count = row.get("chunk_count") or 0
        link = f'<a href="stream" style="color:{accent}">Stream tab</a>'
        if raw:
            events = self._stream_raw() if self._stream_raw is not None else ""
            note = f"The {count:,} events exactly as received; each with its time in the {link}."
            return body_text(events, pretty=False, limit=limit), "No events yet.", note
        if call_facts.is_live(row):
            note = f"Streaming: {count:,} chunks so far, live in the {link}."
            return BodyText("", False, 0, False), "The answer is assembled when it ends.", note
        note = f"Assembled from {count:,} chunks; each event with its time is in the {link}."
        text = pretty_json(assembled(row))
        return BodyText(text, True, len(text), False), "", note


def assembled(row: CallRecord) -> dict[str, Any]:
    """A streamed answer in one object: what the chunks added up to."""
    out: dict[str, Any] = {}
    for key in ("response_model", "output_text", "reasoning_text", "finish_reason"):
        if row.get(key):
            out["model" if key == "response_model" else key] = row[key]
    tool_calls = json_list(row.get("tool_calls"))
    if tool_calls:
        out["tool_calls"] = tool_calls
    usage = {
        k: row[k]
        for k in (
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "cached_tokens",
            "reasoning_tokens",
        )
        if row.get(k) is not None
    }
    if usage:
        out["usage"] = usage
    if row.get("error"):
        out["error"] = row["error"]
    return out
