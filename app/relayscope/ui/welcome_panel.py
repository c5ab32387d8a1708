"""WelcomePanel: the first-run "how to connect" page shown while nothing is recorded yet."""

from __future__ import annotations

import contextlib
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from relayscope.actions.demo_call import DEMO_PROMPT, send_demo_call
from relayscope.routing.snippets import (
    DEMO_MODEL,
    claude_code_snippet,
    codex_snippet,
    curl_snippet,
    sdk_snippet,
)
from relayscope.ui import theme
from relayscope.ui.jobs import JobRunner

__all__ = ["DEMO_PROMPT", "WelcomePanel", "play_demo_session", "send_demo_call"]


def _confirm(button: QPushButton) -> None:
    """Show "Copied" on the button for a moment."""
    button.setText("Copied")
    QTimer.singleShot(1500, button, lambda: button.setText("Copy"))


class SnippetCard(QFrame):
    """A titled, read-only code block with a Copy button."""

    copied = Signal(str)

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("snippetCard")
        self.title = title
        heading = QLabel(title, self)
        heading.setFont(theme.scaled_font(self.font(), 1.0, bold=True))
        self.copy = QPushButton("Copy", self)
        self.copy.clicked.connect(self._on_copy_clicked)
        self.code = QPlainTextEdit(self)
        self.code.setReadOnly(True)
        self.code.setFont(theme.monospace_font())
        self.code.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.code.setFrameShape(QFrame.Shape.NoFrame)
        self.code.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        top = QHBoxLayout()
        top.addWidget(heading, 1)
        top.addWidget(self.copy)
        column = QVBoxLayout(self)
        column.setContentsMargins(*(2 * [theme.SPACING * 2]), *(2 * [theme.SPACING * 2]))
        column.setSpacing(theme.SPACING)
        column.addLayout(top)
        column.addWidget(self.code)
        column.addStretch(1)  # a shorter card beside a taller one keeps its code at the top

    def set_text(self, text: str) -> None:
        self.code.setPlainText(text)
        lines = text.rstrip("\n").count("\n") + 1
        margin = self.code.document().documentMargin()
        height = self.code.fontMetrics().lineSpacing() * lines + 2 * margin + 4
        self.code.setFixedHeight(int(height))
        self._restyle()

    def _restyle(self) -> None:
        palette = self.palette()
        border = palette.color(palette.ColorRole.Mid).name()
        base = palette.color(palette.ColorRole.Base).name()
        self.setStyleSheet(
            f"QFrame#snippetCard {{ background: {base}; border: 1px solid {border};"
            " border-radius: 6px; }"
        )

    def _on_copy_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.code.toPlainText())
        _confirm(self.copy)
        self.copied.emit(self.title)


def play_demo_session(base_url: str, db_path: Path | None = None) -> tuple[str, str]:
    """A 3-turn agent session with `demo-agent` through the proxy (blocking): (session id,
    "") on success, else ("", a sentence saying what went wrong). With `db_path`, it returns
    once the proxy has recorded the last call, so the session reads whole."""
    from relayscope.actions.demo_session import DemoSessionError, play
    from relayscope.actions.replay import wait_until_recorded
    from relayscope.store.call_store import READ_ERRORS, CallStore

    try:
        result = play(base_url)
    except DemoSessionError as exc:
        return "", f"The agent session stopped: {exc}."
    if db_path is not None and result.call_ids:
        with contextlib.suppress(*READ_ERRORS):
            store = CallStore(db_path, create=False)
            try:
                wait_until_recorded(store, result.call_ids[-1], timeout=5.0)
            finally:
                store.close()
    return result.session_id, ""


class WelcomePanel(QWidget):
    """How to connect: the base URL, Codex, Claude Code, SDK and curl snippets, a demo call
    button and a demo agent session button.

    Signals:
        test_call_finished(str): the demo call ended (empty string, or what went wrong).
        agent_session_finished(str, str): the demo agent session ended (its session id, and
            an empty string or what went wrong).
    """

    test_call_finished = Signal(str)
    agent_session_finished = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = JobRunner(self)
        self._base_url = ""
        self._listening = False
        self._sending = False
        self._demo_available = True
        #: The database the proxy records to: the agent session waits for its last call.
        self.db_path: Path | None = None
        self.heading = QLabel("Point your client at Relayscope", self)
        self.heading.setFont(theme.scaled_font(self.font(), 1.6, bold=True))
        self.intro = QLabel(
            "Every call sent to this address is forwarded to your provider and recorded: "
            "the request, each streamed chunk with its arrival time, usage and errors. "
            "Calls appear here as they happen.",
            self,
        )
        self.intro.setWordWrap(True)
        self.intro.setMaximumWidth(96 * theme.SPACING)
        self.url = QLabel(self)
        self.url.setFont(theme.monospace_font(3))
        self.url.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_url = QPushButton("Copy", self)
        self.copy_url.clicked.connect(self._on_copy_url_clicked)
        self.codex = SnippetCard("Codex CLI", self)
        self.claude_code = SnippetCard("Claude Code", self)
        self.sdk = SnippetCard("Python (openai SDK)", self)
        self.curl = SnippetCard("curl", self)
        self.demo = QPushButton("Send a test call to the demo provider", self)
        self.demo.setDefault(True)
        accent = theme.colour(theme.ACCENT, dark=False)  # white text needs the deep blue
        self.demo.setStyleSheet(
            f"QPushButton {{ background: {accent.name()}; color: white; border: none;"
            f" border-radius: 4px; padding: {theme.SPACING}px {theme.SPACING * 2}px; }}"
            f" QPushButton:hover {{ background: {accent.darker(110).name()}; }}"
            f" QPushButton:disabled {{ background: {theme.colour(theme.MUTED).name()}; }}"
        )
        self.demo.clicked.connect(self.send_test_call)
        self.agent = QPushButton("Play an agent session", self)
        self.agent.setToolTip(
            "Three turns with demo-agent, like a coding agent: tool calls and prompt-cache "
            "reads, recorded as one session"
        )
        self.agent.clicked.connect(self.play_agent_session)
        self.demo_status = QLabel(self)
        self.demo_status.setWordWrap(True)
        self._layout()
        self.set_base_url("http://127.0.0.1:8787/v1", listening=False)

    def _layout(self) -> None:
        content = QWidget(self)
        content.setMaximumWidth(135 * theme.SPACING)
        grid = QGridLayout(content)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(theme.SPACING * 2)
        grid.setVerticalSpacing(theme.SPACING * 2)
        grid.addWidget(self.heading, 0, 0, 1, 2)
        grid.addWidget(self.intro, 1, 0, 1, 2)
        url_row = QHBoxLayout()
        url_row.setSpacing(theme.SPACING)
        url_caption = QLabel("Base URL", self)
        url_caption.setStyleSheet(f"color: {theme.colour(theme.MUTED).name()};")
        url_row.addWidget(url_caption)
        url_row.addWidget(self.url)
        url_row.addWidget(self.copy_url)
        url_row.addStretch(1)
        grid.addLayout(url_row, 2, 0, 1, 2)
        grid.addWidget(self.codex, 3, 0)
        grid.addWidget(self.sdk, 3, 1)
        grid.addWidget(self.claude_code, 4, 0)
        grid.addWidget(self.curl, 4, 1)
        demo_row = QHBoxLayout()
        demo_row.setSpacing(theme.SPACING * 2)
        demo_row.addWidget(self.demo)
        demo_row.addWidget(self.agent)
        demo_row.addWidget(self.demo_status, 1)
        grid.addLayout(demo_row, 5, 0, 1, 2)
        hint = QLabel(
            "demo-1 and demo-agent answer with no keys and no network. To reach your own "
            "providers, add them "
            "with ⚙ Providers; calls are routed by model name.",
            self,
        )
        hint.setWordWrap(True)
        hint.setStyleSheet(f"color: {theme.colour(theme.MUTED).name()};")
        grid.addWidget(hint, 6, 0, 1, 2)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(content, 100)
        row.addStretch(1)
        outer = QVBoxLayout(self)
        margin = theme.SPACING * 4
        outer.setContentsMargins(margin, margin, margin, margin)
        outer.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)

    # -- public API ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._base_url

    def set_base_url(self, url: str, *, listening: bool) -> None:
        """The address to show (and to send the demo call to, once listening)."""
        self._base_url = url
        self._listening = listening
        self.url.setText(url)
        self.codex.set_text(codex_snippet(url))
        self.claude_code.set_text(claude_code_snippet(url))
        self.sdk.set_text(sdk_snippet(url))
        self.curl.set_text(curl_snippet(url))
        self._enable_demo_buttons()
        self.demo.setToolTip("" if listening else "Waiting for the proxy to listen…")

    def set_demo_available(self, available: bool) -> None:
        """Whether the config runs the demo provider (off by default beside one's own)."""
        self._demo_available = available
        self._enable_demo_buttons()
        self.demo_status.setText(
            ""
            if available
            else "The demo provider is off because your config defines providers of its own; "
            "add [demo] enabled = true to the config to keep it."
        )

    def send_test_call(self) -> None:
        """Send a streaming `demo-1` request through the proxy, off the GUI thread."""
        if self._sending or not self._listening or not self._demo_available:
            return
        self._sending = True
        self._enable_demo_buttons()
        self.demo_status.setText(f"Streaming a reply from {DEMO_MODEL}…")
        base_url = self._base_url
        self.jobs.start(
            lambda _job: send_demo_call(base_url),
            on_success=self._on_test_call_done,
            on_failure=lambda exc: self._on_test_call_done(f"The demo call failed: {exc}"),
        )

    def play_agent_session(self) -> None:
        """Play a 3-turn `demo-agent` session through the proxy, off the GUI thread."""
        if self._sending or not self._listening or not self._demo_available:
            return
        self._sending = True
        self._enable_demo_buttons()
        self.demo_status.setText("Playing three turns with demo-agent: tool calls, cache reads…")
        base_url, db_path = self._base_url, self.db_path
        self.jobs.start(
            lambda _job: play_demo_session(base_url, db_path),
            on_success=lambda result: self._on_agent_session_done(*result),
            on_failure=lambda exc: self._on_agent_session_done(
                "", f"The demo session failed: {exc}"
            ),
        )

    def _enable_demo_buttons(self) -> None:
        enabled = self._listening and not self._sending and self._demo_available
        self.demo.setEnabled(enabled)
        self.agent.setEnabled(enabled)

    # -- slots --------------------------------------------------------------------------

    def _on_agent_session_done(self, session_id: str, error: str) -> None:
        self._sending = False
        self._enable_demo_buttons()
        self.demo_status.setText(
            error
            or f"Done: session {session_id} is recorded; Sessions… (Ctrl+Shift+S) reads it "
            "turn by turn."
        )
        self.agent_session_finished.emit(session_id, error)

    def _on_test_call_done(self, error: str) -> None:
        self._sending = False
        self._enable_demo_buttons()
        self.demo_status.setText(error or "Done: the call is in the list.")
        self.test_call_finished.emit(error)

    def _on_copy_url_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self._base_url)
        _confirm(self.copy_url)
