"""SessionView: agent sessions — the list (sortable by cost, turns, duration, recency) and the
chosen session turn by turn: calls, tokens, cost, what fills the context, the prompt cache.

Sessions are read and analysed off the GUI thread (`JobRunner`), each job on its own
connection, so a long session (hundreds of turns) never freezes the window.

The window is live: `calls_changed()` (the worker's batches of call events reach it; one in
which a call started or finished counts) reads the list and the open session again, at most
every `LIVE_MS` and never two reads at once, keeping the chosen session, the current turn or
call, the unfolded turns and the scroll positions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from relayscope.analysis import cost
from relayscope.analysis.sessions import (
    SessionReport,
    SessionSummary,
    list_sessions,
    load_session,
)
from relayscope.store.call_store import CallStore
from relayscope.ui import theme
from relayscope.ui.context_bar import ContextBarDelegate, ContextLegend
from relayscope.ui.jobs import Job, JobRunner
from relayscope.ui.plain_text import plain_label
from relayscope.ui.roles import Role
from relayscope.ui.session_list_model import COLUMN as LIST_COLUMN
from relayscope.ui.session_list_model import SessionListModel
from relayscope.ui.session_text import totals_text, turn_detail_html
from relayscope.ui.session_turns_model import COLUMN, SessionTurnsModel

#: Sessions with at most this many turns open with every turn unfolded into its calls.
UNFOLD_TURNS = 20
#: New calls are shown at most this often (ms) while the window is open.
LIVE_MS = 500
NO_SESSIONS = (
    "No sessions yet. Point Codex, Claude Code, Aider or any agent at Relayscope: each of its "
    "conversations appears here, turn by turn, with what every turn cost and why the prompt "
    "cache missed."
)


def _read_sessions(path: Path, _job: Job) -> list[SessionSummary]:
    store = CallStore(path, create=False)
    try:
        return list_sessions(store, cost.default_pricer())
    finally:
        store.close()


def _read_session(path: Path, session_id: str, _job: Job) -> SessionReport | None:
    store = CallStore(path, create=False)
    try:
        return load_session(store, session_id, cost.default_pricer())
    finally:
        store.close()


class SessionView(QWidget):
    """A window of its own (like provider diagnostics), so the call list stays in view.

    Signals:
        call_link_activated(str): a call of a turn was clicked (its id).
        share_requested(str): "Share session…" was clicked (the session's id).
        session_shown(str): a session's turns are shown (its id).
        sessions_listed(int): the list was (re)read (how many sessions).
    """

    call_link_activated = Signal(str)
    share_requested = Signal(str)
    session_shown = Signal(str)
    sessions_listed = Signal(int)

    def __init__(self, db_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.db_path = Path(db_path)
        self.setWindowTitle("Sessions — Relayscope")
        self.jobs = JobRunner(self)
        self._generation = 0
        self._wanted = ""
        self._reading = False  # a read of the list is under way
        self._again = False  # calls changed during that read: read once more after it
        self._stale = False  # calls changed while the window was hidden
        self._quiet = False  # the read under way is a live update: no "Reading…" texts
        self._live = QTimer(self)
        self._live.setSingleShot(True)
        self._live.setInterval(LIVE_MS)
        self.sessions = SessionListModel(self)
        self.turns = SessionTurnsModel(self)
        self.state = plain_label(QLabel(self))
        self.state.setEnabled(False)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.setToolTip("Read the sessions again (new calls since)")
        self.share_button = QPushButton("Share session…", self)
        self.share_button.setToolTip("Save this session as one redacted, self-contained HTML page")
        self.share_button.setEnabled(False)
        self.session_table = QTableView(self)
        self.title = plain_label(QLabel(self))
        self.title.setFont(theme.scaled_font(self.font(), 1.1, bold=True))
        self.totals = plain_label(QLabel(self))
        self.totals.setWordWrap(True)
        self.legend = ContextLegend(self)
        self.turn_tree = QTreeView(self)
        self.bar_delegate = ContextBarDelegate(self.turn_tree)
        self.detail = QLabel(self)
        self.detail.setTextFormat(Qt.TextFormat.RichText)  # built with html.escape
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._configure_views()
        self._layout()
        self._connect()
        self.resize(1240, 780)

    def _configure_views(self) -> None:
        table = self.session_table
        table.setModel(self.sessions)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setShowGrid(False)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        table.verticalHeader().hide()
        table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + theme.SPACING)
        header = table.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(LIST_COLUMN["session"], QHeaderView.ResizeMode.Stretch)
        header.resizeSection(LIST_COLUMN["client"], 24 * theme.SPACING)
        header.setSortIndicator(LIST_COLUMN["started"], Qt.SortOrder.DescendingOrder)
        table.setSortingEnabled(True)
        tree = self.turn_tree
        tree.setModel(self.turns)
        tree.setAlternatingRowColors(True)
        tree.setUniformRowHeights(True)  # a 200-turn session lays out without measuring rows
        tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        tree.setItemDelegateForColumn(COLUMN["context"], self.bar_delegate)
        tree.setAllColumnsShowFocus(True)
        tree.setExpandsOnDoubleClick(True)
        columns = tree.header()
        columns.setStretchLastSection(True)
        metrics = self.fontMetrics()
        number = metrics.horizontalAdvance("999,999") + 2 * theme.SPACING
        widths = {
            "reasoning": metrics.horizontalAdvance("Reasoning") + 2 * theme.SPACING,
            "cache": metrics.horizontalAdvance("Cache hit") + 2 * theme.SPACING,
            "turn": metrics.horizontalAdvance("12  07:18 · 3 calls · Fix the failing test") + 40,
            "cost": metrics.horizontalAdvance("$0.00000") + 2 * theme.SPACING,
            "so_far": metrics.horizontalAdvance("$0.00000") + 2 * theme.SPACING,
            "context": 32 * theme.SPACING,
        }
        for key, index in COLUMN.items():
            columns.resizeSection(index, widths.get(key, number))
        for view in (table, tree):  # the call list's soft row selection
            view.setPalette(theme.soft_selection(QGuiApplication.palette()))

    def _layout(self) -> None:
        s = theme.SPACING
        top = QHBoxLayout()
        top.addWidget(self.state, 1)
        top.addWidget(self.refresh_button)
        lower = QWidget(self)
        column = QVBoxLayout(lower)
        column.setContentsMargins(0, s, 0, 0)
        column.setSpacing(s)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.share_button)
        column.addLayout(head)
        column.addWidget(self.totals)
        column.addWidget(self.legend)
        column.addWidget(self.turn_tree, 1)
        column.addWidget(self.detail)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(self.session_table)
        self.splitter.addWidget(lower)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([150, 630])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2 * s, 2 * s, 2 * s, 2 * s)
        layout.setSpacing(s)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)
        self._show_report(None)

    def _connect(self) -> None:
        self._live.timeout.connect(self._on_live_timeout)
        self.refresh_button.clicked.connect(self.refresh)
        self.share_button.clicked.connect(self._on_share_button_clicked)
        self.session_table.selectionModel().currentRowChanged.connect(
            self._on_session_table_current_row_changed
        )
        self.turn_tree.clicked.connect(self._on_turn_tree_clicked)
        self.turn_tree.activated.connect(self._on_turn_tree_clicked)  # Enter on a call
        self.turn_tree.selectionModel().currentChanged.connect(self._on_turn_tree_current_changed)

    # -- public API ---------------------------------------------------------------------

    def refresh(self, *, quiet: bool = False) -> None:
        """Read the list of sessions again (in the background); the chosen one stays chosen.
        A quiet refresh (a live update) changes no text until the new figures are there."""
        if self._reading:
            self._again = True
            return
        current = self.current_session_id()
        self._wanted = self._wanted or current
        self._reading, self._stale, self._quiet = True, False, quiet
        if not quiet:
            self.state.setText("Reading sessions…")
        self.refresh_button.setEnabled(False)
        self.jobs.start(
            lambda job: _read_sessions(self.db_path, job),
            on_success=self._on_sessions_read,
            on_failure=self._on_read_failed,
            on_end=self._on_read_ended,
        )

    def calls_changed(self, events: Iterable[Mapping[str, object]]) -> None:
        """The worker's call events (`WorkerProcess.calls_changed`): if a call was recorded
        or ended among them, show it soon (coalesced, at most every LIVE_MS)."""
        if all(event["event"] == "call_updated" for event in events):
            return  # a live call's chunks change nothing the sessions show until it ends
        if not self.isVisible():
            self._stale = True  # read when the window is shown again
        elif self._reading:
            self._again = True
        elif not self._live.isActive():
            self._live.start()

    def show_session(self, session_id: str) -> None:
        """Choose this session (once the list has it) and read its turns."""
        row = self.sessions.row_of(session_id)
        if row is None:
            self._wanted = session_id
            return
        self.session_table.selectRow(row)
        if self.turns.report is None or self.turns.report.id != session_id:
            self._load(session_id)

    def current_session_id(self) -> str:
        index = self.session_table.currentIndex()
        session = self.sessions.session(index.row()) if index.isValid() else None
        return session.id if session is not None else ""

    def closeEvent(self, event: QCloseEvent) -> None:
        self.jobs.cancel_all()
        self._live.stop()
        super().closeEvent(event)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale and not self._reading:
            self.refresh(quiet=True)

    # -- reading ------------------------------------------------------------------------

    def _load(self, session_id: str, *, quiet: bool = False) -> None:
        self._generation += 1
        generation = self._generation
        if not quiet:
            self.title.setText(f"Session {session_id}")
            self.totals.setText("Reading its turns…")
        self.jobs.start(
            lambda job: _read_session(self.db_path, session_id, job),
            on_success=lambda report: self._on_session_read(generation, report),
            on_failure=self._on_read_failed,
        )

    def _on_read_ended(self) -> None:
        self._reading = False
        self.refresh_button.setEnabled(True)
        if self._again:
            self._again = False
            self._live.start()

    def _on_live_timeout(self) -> None:
        if self.isVisible():
            self.refresh(quiet=True)
        else:
            self._stale = True

    def _on_sessions_read(self, sessions: list[SessionSummary]) -> None:
        wanted, self._wanted = self._wanted, ""
        scrolled = self.session_table.verticalScrollBar().value()
        self.sessions.set_sessions(sessions)
        if not sessions:
            self.state.setText("No sessions yet.")
            self.totals.setText(NO_SESSIONS)
        else:
            count = len(sessions)
            self.state.setText(
                f"{count:,} session{'s' if count != 1 else ''} · click a column to sort by "
                "cost, turns, duration or recency"
            )
        self.sessions_listed.emit(len(sessions))
        row = self.sessions.row_of(wanted) if wanted else None
        if row is None and sessions:
            row = 0
        if row is not None:
            shown = self.turns.report.id if self.turns.report is not None else None
            self.session_table.selectRow(row)
            session = self.sessions.session(row)
            if session is not None and session.id == shown:
                self._load(session.id, quiet=True)  # the same session: read its new calls
        if self._quiet:
            self.session_table.verticalScrollBar().setValue(scrolled)

    def _on_session_read(self, generation: int, report: object) -> None:
        if generation != self._generation:
            return  # another session was chosen meanwhile
        self._show_report(report if isinstance(report, SessionReport) else None)

    def _on_read_failed(self, exc: Exception) -> None:
        self.state.setText(f"Could not read the recordings: {exc}")

    # -- showing ------------------------------------------------------------------------

    def _show_report(self, report: SessionReport | None) -> None:
        shown = self.turns.report
        if report is not None and shown is not None and report.id == shown.id:
            self._update_report(report)
            return
        self.bar_delegate.largest = (
            max((t.context_chars for t in report.turns), default=1) if report else 1
        )
        self.turns.set_report(report)
        self.share_button.setEnabled(report is not None)
        self.legend.setVisible(report is not None)
        self.detail.setText("")
        if report is None:
            self.title.setText("")
            self.totals.setText("Choose a session above to see its turns.")
            return
        self.title.setText(f"Session {report.id}")
        self.totals.setText(totals_text(report))
        if len(report.turns) <= UNFOLD_TURNS:
            self.turn_tree.expandAll()
        first_miss = next(
            (i for i, t in enumerate(report.turns) if any(c.cache_miss for c in t.calls)), None
        )
        if first_miss is not None:  # the most useful turn to read first
            self.turn_tree.setCurrentIndex(self.turns.index(first_miss, 0))
        self.session_shown.emit(report.id)

    def _update_report(self, report: SessionReport) -> None:
        """The open session read again: its new turns and calls, with the same turns unfolded,
        the same turn or call current and the same scroll position."""
        tree = self.turn_tree
        unfolded = {
            row for row in range(self.turns.rowCount()) if tree.isExpanded(self.turns.index(row, 0))
        }
        current = tree.currentIndex()
        call_id = current.data(int(Role.CALL_ID)) if current.isValid() else None
        turn_row = (
            (current.parent().row() if call_id else current.row()) if current.isValid() else -1
        )
        scrolled = tree.verticalScrollBar().value(), tree.horizontalScrollBar().value()
        self.bar_delegate.largest = max((t.context_chars for t in report.turns), default=1)
        self.turns.set_report(report)
        if len(report.turns) <= UNFOLD_TURNS:
            tree.expandAll()
        else:
            for row in unfolded:
                tree.setExpanded(self.turns.index(row, 0), True)
        if call_id:
            index = self.turns.index_of_call(str(call_id))
            if index.isValid():
                tree.setCurrentIndex(index)
        elif turn_row >= 0:
            tree.setCurrentIndex(self.turns.index(turn_row, 0))
        tree.verticalScrollBar().setValue(scrolled[0])
        tree.horizontalScrollBar().setValue(scrolled[1])
        self.title.setText(f"Session {report.id}")
        self.totals.setText(totals_text(report))
        self.session_shown.emit(report.id)

    def _show_detail(self, index: QModelIndex) -> None:
        turn = self.turns.turn(index)
        self.detail.setText(turn_detail_html(turn) if turn is not None else "")

    # -- slots --------------------------------------------------------------------------

    def _on_session_table_current_row_changed(self, current: QModelIndex, _: QModelIndex) -> None:
        session = self.sessions.session(current.row()) if current.isValid() else None
        shown = self.turns.report.id if self.turns.report is not None else None
        if session is not None and session.id != shown:
            self._load(session.id)

    def _on_turn_tree_clicked(self, index: QModelIndex) -> None:
        call_id = index.data(int(Role.CALL_ID))
        if call_id:
            self.call_link_activated.emit(str(call_id))

    def _on_turn_tree_current_changed(self, current: QModelIndex, _: QModelIndex) -> None:
        self._show_detail(current)

    def _on_share_button_clicked(self) -> None:
        if self.turns.report is not None:
            self.share_requested.emit(self.turns.report.id)
