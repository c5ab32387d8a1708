"""OverviewTab: the call as a person reads it — conversation, answer, facts, and any error."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QSplitter, QTextBrowser, QVBoxLayout, QWidget

from relayscope.analysis.cost import prices_loaded
from relayscope.calls import facts as call_facts
from relayscope.calls.record import CallRecord
from relayscope.protocols.conversation import Turn, turns
from relayscope.ui.inspector._hints import error_summary, has_error
from relayscope.ui.inspector._style import SPACING, colours, monospace_font
from relayscope.ui.inspector.error_banner import ErrorBanner
from relayscope.ui.inspector.overview_html import (
    Answer,
    OverviewState,
    answer_of,
    facts_html,
    overview_html,
)

#: While a stream is live, the overview is redrawn at most this often (ms).
LIVE_RENDER_MS = 300
#: How often the tab looks whether the price list has loaded (while it shows "Loading prices…").
PRICES_POLL_MS = 200


class OverviewTab(QWidget):
    """Conversation and answer on the left, facts on the right, an error banner on top.

    Signals:
        call_link_activated(str): the person clicked a link to another call (replay_of).
    """

    call_link_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._row: CallRecord = {}
        self._turns: list[Turn] = []
        self._answer: Answer | None = None
        self._state = OverviewState()
        self._dirty = False
        self._render_timer = QTimer(self, singleShot=True, interval=LIVE_RENDER_MS)
        self._render_timer.timeout.connect(self._render_if_visible)
        # While genai-prices loads on its thread the Cost fact says so; then it is drawn.
        self._prices_timer = QTimer(self, interval=PRICES_POLL_MS)
        self._prices_timer.timeout.connect(self._on_prices_timer_timeout)

        self.banner = ErrorBanner(self)
        self.banner.hide()
        self.conversation = self._browser()
        self.facts = self._browser()
        self.facts.setMinimumWidth(240)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.conversation)
        splitter.addWidget(self.facts)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([900, 340])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, SPACING, 0, 0)
        layout.setSpacing(SPACING)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)

    def _browser(self) -> QTextBrowser:
        browser = QTextBrowser(self)
        browser.setOpenLinks(False)
        browser.anchorClicked.connect(self._on_browser_anchor_clicked)
        browser.document().setDocumentMargin(SPACING)
        return browser

    # -- feeding --------------------------------------------------------------------------

    def set_call(self, row: CallRecord, live_answer: Answer | None = None) -> None:
        """Show a call from scratch; a live one passes its answer assembled so far."""
        if row.get("id") != self._row.get("id"):
            self._state = OverviewState()
        self._row = row
        self._turns = turns(str(row.get("endpoint") or "other"), row.get("request_body"))
        if live_answer is not None:
            self._answer = live_answer
        else:
            self._answer = answer_of(row) if _answered(row) else None
        self._render_now(keep_scroll=False)

    def update_live(self, row: CallRecord, answer: Answer | None) -> None:
        """The shown call moved on (new chunks or state): redraw soon, not on every chunk."""
        self._row = {**self._row, **row}
        self._answer = answer
        self._dirty = True
        if not self._render_timer.isActive():
            self._render_timer.start()

    # -- reading (tests, accessibility) -----------------------------------------------------

    def conversation_text(self) -> str:
        return self.conversation.toPlainText()

    def facts_text(self) -> str:
        return self.facts.toPlainText()

    def error_text(self) -> str:
        return self.banner.text() if not self.banner.isHidden() else ""

    # -- drawing ----------------------------------------------------------------------------

    def _render_if_visible(self) -> None:
        if self._dirty and self.isVisible():
            self._render_now(keep_scroll=True)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._dirty:
            self._render_now(keep_scroll=True)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self._row:
            self._render_now(keep_scroll=True)

    def _render_now(self, *, keep_scroll: bool) -> None:
        self._dirty = False
        c = colours(self.palette())
        mono = monospace_font().family()
        bar = self.conversation.verticalScrollBar()
        position, at_end = bar.value(), bar.value() >= bar.maximum() - 4
        html = overview_html(
            self._turns, self._answer, c, mono, self._state, failed=has_error(self._row)
        )
        self.conversation.setHtml(html)
        if keep_scroll:
            live = self._answer is not None and self._answer.live
            bar.setValue(bar.maximum() if live and at_end and position > 0 else position)
        fact_bar = self.facts.verticalScrollBar()
        facts_position = fact_bar.value()
        self.facts.setHtml(f'<body style="color:{c.text}">{facts_html(self._row, c)}</body>')
        if not prices_loaded():
            self._prices_timer.start()
        fact_bar.setValue(facts_position if keep_scroll else 0)
        if has_error(self._row):
            self.banner.set_summary(error_summary(self._row))
            self.banner.show()
        else:
            self.banner.hide()

    def _on_prices_timer_timeout(self) -> None:
        if prices_loaded():
            self._prices_timer.stop()
            self._dirty = True
            self._render_if_visible()

    # -- links ------------------------------------------------------------------------------

    def _on_browser_anchor_clicked(self, url: QUrl) -> None:
        target = url.toString()
        kind, _, value = target.partition(":")
        if target.startswith("#"):
            self.conversation.scrollToAnchor(target[1:])
        elif kind == "call":
            self.call_link_activated.emit(value)
        elif kind == "toggle" and value == "reasoning":
            self._state.show_reasoning = not self._state.show_reasoning
            self._render_now(keep_scroll=True)
        elif kind == "expand":
            if value == "all-turns":
                self._state.all_turns = True
            else:
                self._state.expanded.add(value)
            self._render_now(keep_scroll=True)


def _answered(row: CallRecord) -> bool:
    """Whether the call has (or may get) an answer to show."""
    if call_facts.is_live(row):
        return True
    if row.get("output_text") or row.get("tool_calls") or row.get("reasoning_text"):
        return True
    return not has_error(row)
