"""The main window's debugging tools: the tools corner (breakpoints button, the "⋯" menu),
breakpoints and held calls and their commands to the worker, provider diagnostics, the
Sessions window, playback of chosen calls, and freeing up the database's space.

`ToolsWindow` is `MainWindow`'s base class: the window stays one object (its attributes are
what tests and the other windows reach), and these parts are read in a file of their own.
`MainWindow` sets the attributes declared below before it calls `_create_tools`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolButton

from relayscope.config import ConfigError, load_config
from relayscope.config.schema import StorageSettings
from relayscope.store.call_store import CallStore
from relayscope.ui.breakpoints_panel import BreakpointsButton, BreakpointsPanel
from relayscope.ui.call_actions import CallActions
from relayscope.ui.call_list_model import CallListModel
from relayscope.ui.call_list_view import CallListView
from relayscope.ui.filter_bar import FilterBar
from relayscope.ui.header_bar import HeaderBar
from relayscope.ui.held_call_dialog import HeldCalls
from relayscope.ui.inspector.call_inspector import CallInspector
from relayscope.ui.playback_panel import PlaybackOptionsDialog, PlaybackPanel
from relayscope.ui.provider_page import ProviderPage
from relayscope.ui.session_view import SessionView
from relayscope.ui.storage_dialog import StorageDialog
from relayscope.ui.welcome_panel import WelcomePanel
from relayscope.ui.worker_process import WorkerProcess


class ToolsWindow(QMainWindow):
    """Breakpoints, provider diagnostics, sessions, playback and freeing up space, wired
    into the window."""

    store: CallStore
    config_path: Path
    model: CallListModel
    worker: WorkerProcess
    header: HeaderBar
    filter_bar: FilterBar
    call_list: CallListView
    inspector: CallInspector
    welcome: WelcomePanel
    call_actions: CallActions

    def _create_tools(self) -> None:
        self.breakpoints_button = BreakpointsButton(self)
        self.diagnostics_action = QAction("Provider diagnostics…", self)
        self.diagnostics_action.setToolTip(
            "Error rates, speed over time, and signs that a provider substitutes models"
        )
        self.breakpoints_action = QAction("Breakpoints…", self)
        self.sessions_action = QAction("Sessions…", self)
        self.sessions_action.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.sessions_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.sessions_action.setToolTip(
            "Agent sessions turn by turn: tokens, cost, what fills the context, the prompt cache"
        )
        self.addAction(self.sessions_action)
        self.storage_action = QAction("Free up space…", self)
        self.storage_action.setToolTip(
            "How big the recording database is; delete its oldest calls, by age or size"
        )
        self.tools_button = QToolButton(self)
        self.tools_button.setText("⋯")
        self.tools_button.setToolTip(
            "More: sessions, provider diagnostics, breakpoints, grouping, space"
        )
        self.tools_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.tools_button.setStyleSheet("QToolButton::menu-indicator { image: none; }")
        menu = QMenu(self.tools_button)
        menu.addActions([self.sessions_action, self.diagnostics_action, self.breakpoints_action])
        menu.addSeparator()
        menu.addAction(self.call_list.group_action)
        menu.addSeparator()
        menu.addAction(self.storage_action)
        self.tools_menu = menu
        self.tools_button.setMenu(menu)
        self.breakpoints = BreakpointsPanel(self)
        self.held_calls = HeldCalls(self)
        self.playback = PlaybackPanel(self.store.path, self)
        self.provider_page: ProviderPage | None = None
        self.session_view: SessionView | None = None

    def _connect_tools(self) -> None:
        worker = self.worker
        worker.listening.connect(self._on_worker_listening_send_breakpoints)
        worker.state_changed.connect(self._on_worker_state_changed_release_held)
        worker.breakpoints_set.connect(self.breakpoints.show_applied)
        worker.command_error.connect(self._on_worker_command_error)
        worker.call_held.connect(self.held_calls.on_call_held)
        worker.call_released.connect(self.held_calls.on_call_released)
        self.breakpoints_button.panel_requested.connect(self.show_breakpoints)
        self.breakpoints_button.held_requested.connect(self.held_calls.show_current)
        self.breakpoints.rules_changed.connect(self.send_breakpoints)
        self.held_calls.command_ready.connect(self.worker.send_command)
        self.held_calls.count_changed.connect(self.breakpoints_button.set_held)
        self.held_calls.note_posted.connect(self._on_held_calls_note_posted)
        self.diagnostics_action.triggered.connect(lambda: self.show_provider_page())
        self.breakpoints_action.triggered.connect(self.show_breakpoints)
        self.sessions_action.triggered.connect(lambda: self.show_sessions())
        self.storage_action.triggered.connect(lambda: self.show_storage())
        self.welcome.agent_session_finished.connect(self._on_welcome_agent_session_finished)
        self.call_list.diagnostics_requested.connect(self.show_provider_page)
        self.call_list.playback_requested.connect(self._on_call_list_playback_requested)
        self.playback.copied.connect(lambda what: self.header.flash(f"Copied {what}"))

    def show_breakpoints(self) -> None:
        self.breakpoints.show()
        self.breakpoints.raise_()
        self.breakpoints.activateWindow()

    def send_breakpoints(self) -> None:
        """Send the rules to the worker (it keeps none across restarts)."""
        self.breakpoints_button.set_active_rules(self.breakpoints.active_count())
        if not self.worker.send_command(self.breakpoints.command()):
            self.breakpoints.show_not_running()

    def show_provider_page(self, provider: str = "") -> ProviderPage:
        """Provider diagnostics, for `provider` (default: the one the list is filtered to)."""
        provider = provider or self.filter_bar.current_filter().provider
        if self.provider_page is None:
            self.provider_page = ProviderPage(
                self.store.path, self.store.providers(), provider, self
            )
            self.provider_page.call_link_activated.connect(self._on_provider_page_call_link)
        else:
            self.provider_page.set_providers(self.store.providers(), provider)
            self.provider_page.refresh()
        self.provider_page.show()
        self.provider_page.raise_()
        return self.provider_page

    def show_storage(self) -> StorageDialog:
        """Free up space, starting from the config's `[storage]` limits."""
        try:
            settings = load_config(self.config_path).storage
        except ConfigError:
            settings = StorageSettings()  # a broken config: the worker says what is wrong
        dialog = StorageDialog(self.store.path, settings, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.pruned.connect(self._on_storage_dialog_pruned)
        dialog.open()
        return dialog

    def _on_storage_dialog_pruned(self, _result: object) -> None:
        self.model.reload()  # the selected call, if it was deleted, is no longer shown
        if self.session_view is not None and self.session_view.isVisible():
            self.session_view.refresh()

    def _on_welcome_agent_session_finished(self, session_id: str, error: str) -> None:
        if session_id and not error:
            self.show_sessions(session_id)  # the demo session, turn by turn

    def show_sessions(self, session_id: str = "") -> SessionView:
        """The sessions window (read again each time it is opened)."""
        if self.session_view is None:
            self.session_view = SessionView(self.store.path, self)
            self.session_view.call_link_activated.connect(self._on_session_view_call_link)
            self.session_view.share_requested.connect(
                lambda sid: self.call_actions.share(session_id=sid)
            )
            for worker in (self.worker, self.playback.worker):  # live: new calls appear
                worker.calls_changed.connect(self.session_view.calls_changed)
        if session_id:
            self.session_view.show_session(session_id)
        self.session_view.refresh()
        self.session_view.show()
        self.session_view.raise_()
        return self.session_view

    def _on_session_view_call_link(self, call_id: str) -> None:
        if not self.call_list.select_call(call_id):
            self.inspector.show_call(call_id)  # not loaded in the list: show it all the same

    def _on_worker_listening_send_breakpoints(self, _url: str) -> None:
        if self.breakpoints.rules():
            self.send_breakpoints()

    def _on_worker_state_changed_release_held(self, state: str) -> None:
        if state not in ("starting", "listening"):
            self.held_calls.clear()  # a stopped worker took its held calls with it

    def _on_worker_command_error(self, message: str) -> None:
        self.breakpoints.show_error(message)
        self.header.banner.show_message(f"The proxy refused a command: {message}", "warning")

    def _on_held_calls_note_posted(self, note: str) -> None:
        self.header.banner.show_message(note, "warning")

    def _on_provider_page_call_link(self, call_id: str) -> None:
        if not self.call_list.select_call(call_id):
            self.inspector.show_call(call_id)  # not loaded in the list: show it all the same
        self.activateWindow()

    def _on_call_list_playback_requested(self, call_ids: list[str]) -> None:
        dialog = PlaybackOptionsDialog(call_ids, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(
            lambda: self.playback.start(dialog.call_ids, dialog.match_mode(), dialog.speed_factor())
        )
        dialog.open()
