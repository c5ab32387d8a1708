"""CallInspector: the detail pane for the selected call (Overview, Request, Response, Stream)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from relayscope.analysis.stream_stats import sse_fields
from relayscope.calls import facts as call_facts
from relayscope.calls.record import CallRecord
from relayscope.protocols.openai_format import StreamAssembler
from relayscope.store.call_store import CallStore
from relayscope.store.schema import CALL_COLUMNS
from relayscope.ui.inspector._json_text import as_text
from relayscope.ui.inspector._style import SPACING, colours
from relayscope.ui.inspector.body_tab import BodyTab
from relayscope.ui.inspector.overview_html import Answer
from relayscope.ui.inspector.overview_tab import OverviewTab
from relayscope.ui.inspector.stream_tab import StreamTab

# What refresh_call re-reads: everything but the bodies and headers, which do not change
# while a stream runs (reading 16 MiB bodies every 50 ms would not be cheap).
_HEAVY = frozenset(
    {
        "request_body",
        "response_body",
        "upstream_request_body",
        "request_headers",
        "response_headers",
    }
)
_LIGHT_COLUMNS = tuple(c for c in CALL_COLUMNS if c not in _HEAVY)
OVERVIEW, REQUEST, RESPONSE, STREAM = range(4)


class CallInspector(QWidget):
    """Shows one recorded call; follows it live while it streams.

    Signals:
        replay_requested(str): Replay was clicked for this call id.
        edit_requested(str): Edit was clicked for this call id.
        diff_requested(str): Diff was clicked for this call id.
        share_requested(str): Share was clicked for this call id.
        call_link_activated(str): a link to another call (replay_of) was clicked.
        message_posted(str): something worth a status-bar line happened (e.g. a copy).
    """

    replay_requested = Signal(str)
    edit_requested = Signal(str)
    diff_requested = Signal(str)
    share_requested = Signal(str)
    call_link_activated = Signal(str)
    message_posted = Signal(str)

    def __init__(self, store: CallStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._call_id: str | None = None
        self._row: CallRecord = {}
        self._assembler: StreamAssembler | None = None

        self.placeholder = QLabel("Select a call to see its conversation, request and response.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setEnabled(False)  # drawn in the palette's quiet (disabled) text colour
        self.overview = OverviewTab()
        self.overview.call_link_activated.connect(self.call_link_activated)
        self.request_tab = BodyTab("request")
        self.request_tab.copied.connect(self.message_posted)
        self.response_tab = BodyTab("response")
        self.response_tab.stream_tab_requested.connect(self._on_response_tab_stream_requested)
        self.stream_tab = StreamTab()
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        for widget, title in (
            (self.overview, "Overview"),
            (self.request_tab, "Request"),
            (self.response_tab, "Response"),
            (self.stream_tab, "Stream"),
        ):
            self.tabs.addTab(widget, title)
        self.tabs.setCornerWidget(self._actions(), Qt.Corner.TopRightCorner)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.tabs)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

    def _actions(self) -> QWidget:
        box = QWidget(self)
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, SPACING, 0)
        row.setSpacing(SPACING)
        self.replay_button = QPushButton("Replay")
        self.replay_button.setToolTip("Send this request again through Relayscope")
        self.edit_button = QPushButton("Edit")
        self.edit_button.setToolTip("Edit this request and send it")
        self.diff_button = QPushButton("Diff")
        self.diff_button.setToolTip("Compare this call with another")
        self.share_button = QPushButton("Share…")
        self.share_button.setToolTip("Save this call as one redacted, self-contained HTML page")
        for button, signal in (
            (self.replay_button, self.replay_requested),
            (self.edit_button, self.edit_requested),
            (self.diff_button, self.diff_requested),
            (self.share_button, self.share_requested),
        ):
            button.clicked.connect(lambda _=False, s=signal: self._emit_for_call(s))
            row.addWidget(button)
        return box

    def _emit_for_call(self, signal: Any) -> None:
        if self._call_id is not None:
            signal.emit(self._call_id)

    # -- public API ---------------------------------------------------------------------------

    def call_id(self) -> str | None:
        return self._call_id

    def set_base_url(self, base_url: str) -> None:
        """Relayscope's address, for the "Copy as curl/Python" snippets."""
        self.request_tab.set_base_url(base_url)

    def show_call(self, call_id: str | None) -> None:
        """Show a call (None, or a call that no longer exists: the quiet placeholder)."""
        row = self._store.get_call(call_id) if call_id is not None else None
        if call_id is None or row is None:
            self._call_id, self._row, self._assembler = None, {}, None
            self.stack.setCurrentWidget(self.placeholder)
            return
        if call_id != self._call_id:
            self.tabs.setCurrentIndex(OVERVIEW)
        self._call_id, self._row = call_id, row
        chunks = (
            self._store.chunks(call_id) if (row.get("stream") or row.get("chunk_count")) else []
        )
        self._assembler = None
        if call_facts.is_live(row):
            self._assembler = StreamAssembler(str(row.get("endpoint") or "other"))
            self._feed(chunks)
        self.stream_tab.set_call(row, chunks)  # first: the others read its chunk count
        self.overview.set_call(row, self._live_answer())
        self.request_tab.set_call(row)
        self.response_tab.set_call(row, self.stream_tab.model.raw_text)
        self._update_tab_titles()
        self.stack.setCurrentWidget(self.tabs)

    def refresh_call(self, call_id: str) -> None:
        """The shown call changed (new chunks, new state): read only what is new."""
        if call_id != self._call_id:
            return
        fields = self._store.call_fields(call_id, _LIGHT_COLUMNS)
        if fields is None:
            return
        # Through the store: the chunks of a call that just ended are already packed.
        chunks = self._store.chunks(call_id, after=self.stream_tab.model.last_seq())
        if not chunks and all(self._row.get(k) == v for k, v in fields.items()):
            return  # polled while nothing happened: no redraws
        was_live = call_facts.is_live(self._row)
        self._row = {**self._row, **fields}
        self._feed(chunks)
        self.stream_tab.append_chunks(fields, chunks)
        if was_live and not call_facts.is_live(fields):
            self._finish()
        else:
            self.overview.update_live(fields, self._live_answer())
        self._update_tab_titles()

    # -- live streams -------------------------------------------------------------------------

    def _feed(self, chunks: list[dict[str, Any]]) -> None:
        if self._assembler is None:
            return
        for chunk in chunks:
            event, data, _ = sse_fields(as_text(chunk["data"]))
            self._assembler.feed(data, event)

    def _live_answer(self) -> Answer | None:
        if self._assembler is None:
            return None
        result = self._assembler.result()
        return Answer(
            output_text=result.output_text,
            reasoning_text=result.reasoning_text,
            refusal=result.refusal,
            tool_calls=result.tool_calls,
            live=True,
            chunks=self.stream_tab.model.rowCount(),
        )

    def _finish(self) -> None:
        """The live call ended: its answer, usage and response are now recorded."""
        row = self._store.get_call(self._call_id or "")
        if row is None:
            return
        self._row, self._assembler = row, None
        self.overview.set_call(row)
        self.request_tab.set_call(row)
        self.response_tab.set_call(row, self.stream_tab.model.raw_text)
        self.stream_tab.append_chunks(row, [])

    # -- tabs -----------------------------------------------------------------------------------

    def _update_tab_titles(self) -> None:
        row = self._row
        count = self.stream_tab.model.rowCount()
        is_stream = bool(row.get("stream")) or count > 0
        self.tabs.setTabVisible(STREAM, is_stream)
        self.tabs.setTabText(STREAM, f"Stream {count:,}" if is_stream else "Stream")
        status = row.get("status")
        self.tabs.setTabText(RESPONSE, f"Response {status}" if status else "Response")
        bar = self.tabs.tabBar()
        failed = call_facts.is_failed(row)
        colour = colours(self.palette()).error if failed else None
        bar.setTabTextColor(
            RESPONSE, QColor(colour) if colour else bar.palette().windowText().color()
        )

    def _on_response_tab_stream_requested(self) -> None:
        self.tabs.setCurrentWidget(self.stream_tab)
