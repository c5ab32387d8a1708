"""MainWindow: composes the header, filter bar, call list, inspector and first-run panel."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import cast

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeyEvent, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from relayscope.analysis import cost
from relayscope.config import ConfigError, load_config
from relayscope.recording.messages import CallEvent
from relayscope.store.call_store import CallFilter, CallStore
from relayscope.ui import theme
from relayscope.ui.call_actions import CallActions
from relayscope.ui.call_list_model import CallListModel
from relayscope.ui.call_list_view import CallListView
from relayscope.ui.filter_bar import FilterBar
from relayscope.ui.header_bar import HeaderBar
from relayscope.ui.inspector.call_inspector import CallInspector
from relayscope.ui.providers_dialog import ProvidersDialog
from relayscope.ui.welcome_panel import WelcomePanel
from relayscope.ui.window_tools import ToolsWindow
from relayscope.ui.worker_process import WorkerProcess

#: A shown call that streams is redrawn in the inspector at most this often.
INSPECTOR_REFRESH_MS = 150
#: New providers in the filter's list are looked up at most this often.
PROVIDERS_REFRESH_MS = 1000


class MainWindow(ToolsWindow):
    """The Relayscope window. It only composes widgets and wires their signals."""

    def __init__(
        self,
        store: CallStore,
        worker: WorkerProcess,
        *,
        config_path: Path,
        host: str = "127.0.0.1",
        port: int = 8787,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.worker = worker
        self.config_path = config_path
        self.setWindowTitle("Relayscope")
        self.setWindowIcon(theme.app_icon())
        self.header = HeaderBar(host, port, self)
        self.filter_bar = FilterBar(self)
        self.model = CallListModel(store, self)
        self.call_list = CallListView(self.model, self)
        self.inspector = CallInspector(store, self)
        self.welcome = WelcomePanel(self)
        self.welcome.db_path = store.path
        self.welcome.set_demo_available(_demo_enabled(config_path))
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.pages = QStackedWidget(self)
        self._shown_call = ""
        self._inspector_timer = self._timer(INSPECTOR_REFRESH_MS, self._refresh_inspector)
        self._providers_timer = self._timer(PROVIDERS_REFRESH_MS, self._refresh_providers)
        self._create_tools()
        self.call_actions = CallActions(store, config_path, self)
        self._select_when_started = ""
        self._previous_call = ""
        self._layout()
        self._connect_worker()
        self._connect_widgets()
        self._connect_tools()
        self._connect_call_actions()
        self._add_shortcuts()
        self._refresh_providers()
        self._on_model_counts_changed(self.model.shown_count, self.model.total_count)
        self.resize(1280, 800)

    def _timer(self, ms: int, slot: Callable[[], None]) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(ms)
        timer.timeout.connect(slot)
        return timer

    def _layout(self) -> None:
        self.splitter.addWidget(self.call_list)
        self.splitter.addWidget(self.inspector)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setHandleWidth(theme.SPACING // 2 + 1)
        list_page = QWidget(self)
        column = QVBoxLayout(list_page)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.filter_bar)
        column.addWidget(self.playback)
        column.addWidget(self.splitter, 1)
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(list_page)
        line = QFrame(self)
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Plain)
        line.setForegroundRole(QPalette.ColorRole.Mid)
        central = QWidget(self)
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addLayout(self._top_row())
        outer.addWidget(line)
        outer.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        self.splitter.setSizes([440, 300])

    def _connect_worker(self) -> None:
        worker = self.worker
        worker.state_changed.connect(self._on_worker_state_changed)
        worker.listening.connect(self._on_worker_listening)
        worker.failed.connect(self._on_worker_failed)
        worker.calls_changed.connect(self._on_worker_calls_changed)
        worker.record_error.connect(self.header.show_record_error)
        player = self.playback.worker  # the calls it serves are recorded and listed too
        player.calls_changed.connect(self._on_worker_calls_changed)
        self._on_worker_state_changed(worker.state)
        if worker.url:
            self._on_worker_listening(worker.url)

    def _connect_widgets(self) -> None:
        self.model.counts_changed.connect(self._on_model_counts_changed)
        self.filter_bar.filter_changed.connect(self._on_filter_bar_filter_changed)
        self.call_list.call_selected.connect(self._on_call_list_call_selected)
        self.header.start_requested.connect(self.worker.start)
        self.header.stop_requested.connect(self.worker.stop)
        self.header.port_applied.connect(self.worker.restart)
        self.header.providers_requested.connect(self._on_header_providers_requested)
        self.filter_bar.search.installEventFilter(self)
        self.inspector.call_link_activated.connect(self.call_list.select_call)
        self.inspector.message_posted.connect(self.header.flash)

    def _add_shortcuts(self) -> None:
        find = QAction("Filter calls", self)
        find.setShortcut(QKeySequence.StandardKey.Find)
        find.triggered.connect(self.filter_bar.focus_search)
        clear = QAction("Clear filter", self)
        clear.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        clear.triggered.connect(self.clear_filter)
        # Ctrl+Q on Linux and Windows, Cmd+Q on macOS (the platform's own binding), and
        # Ctrl+Q everywhere, as the README promises.
        self.quit_action = QAction("Quit Relayscope", self)
        quit_keys = [QKeySequence(QKeySequence.StandardKey.Quit), QKeySequence("Ctrl+Q")]
        self.quit_action.setShortcuts([k for k in dict.fromkeys(quit_keys) if not k.isEmpty()])
        self.quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)
        self.addActions([find, clear, self.quit_action])

    # -- public API ---------------------------------------------------------------------

    def clear_filter(self) -> None:
        """Esc: show every call again and put the keyboard back on the list."""
        self.filter_bar.clear()
        if self.pages.currentIndex() == 1:
            self.call_list.setFocus()

    def showing_welcome(self) -> bool:
        return self.pages.currentWidget() is self.welcome

    # -- events -------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Down in the filter box moves to the list, as in a browser's address bar.
        if watched is self.filter_bar.search and event.type() == QEvent.Type.KeyPress:
            key = cast(QKeyEvent, event).key()
            if key == Qt.Key.Key_Down and self.model.rowCount() > 0:
                self.call_list.setFocus()
                if not self.call_list.currentIndex().isValid():
                    self.call_list.select_first_row()
                return True
        return super().eventFilter(watched, event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.hide()  # the worker takes a moment to flush and exit; the window need not wait
        self.call_actions.shutdown()
        self.model.close()  # the list's reads on threads stop and their connections close
        for timer in self.findChildren(QTimer):
            timer.stop()  # nothing may read the database after the window is closed
        self.worker.stop_and_wait()
        self.playback.stop_and_wait()
        super().closeEvent(event)

    # -- slots --------------------------------------------------------------------------

    def _on_worker_state_changed(self, state: str) -> None:
        self.header.set_state(state)
        if state != "listening":
            self.welcome.set_base_url(self.header.base_url, listening=False)

    def _on_worker_listening(self, url: str) -> None:
        self.header.set_url(url)
        self.inspector.set_base_url(url)
        self.welcome.set_base_url(url, listening=True)

    def _on_worker_failed(self, message: str) -> None:
        self.header.set_state("failed", message)
        self.welcome.demo_status.setText(f"The proxy is not running: {message}")

    def _on_worker_calls_changed(self, events: list[CallEvent]) -> None:
        if self.model.on_call_events(events) and not self._providers_timer.isActive():
            self._providers_timer.start()
        if not (self._select_when_started or self._shown_call):
            return  # as it mostly is while traffic flows: nothing more to look for
        for event in events:
            call_id, kind = event["id"], event["event"]
            if kind == "call_started" and call_id == self._select_when_started:
                self._select_when_started = ""  # a replay or resend: show it as it arrives
                self.model.flush_events()  # events wait for the next batch otherwise
                self.call_list.select_call(call_id)
            elif kind == "call_updated" and call_id == self._shown_call:
                if not self._inspector_timer.isActive():
                    self._inspector_timer.start()
            elif kind == "call_finished" and call_id == self._shown_call:
                self._inspector_timer.stop()
                self.inspector.refresh_call(call_id)

    def _refresh_inspector(self) -> None:
        if self._shown_call:
            self.inspector.refresh_call(self._shown_call)

    def _refresh_providers(self) -> None:
        self.filter_bar.set_providers(self.store.providers())
        self.filter_bar.set_models(self.store.models())

    def _on_model_counts_changed(self, shown: int, total: int) -> None:
        self.filter_bar.set_counts(shown, total)
        welcome = total == 0 and not self.filter_bar.is_filtering()
        if welcome != self.showing_welcome():
            self.pages.setCurrentIndex(0 if welcome else 1)
            if not welcome and self.model.rowCount() > 0:
                # The first call: show it at once, so its stream is visible as it arrives.
                self.call_list.select_first_row()
                self.call_list.setFocus()

    def _on_filter_bar_filter_changed(self, flt: CallFilter) -> None:
        self.model.set_filter(flt)

    def _on_call_list_call_selected(self, call_id: str) -> None:
        if self._shown_call and self._shown_call != call_id:
            self._previous_call = self._shown_call
        self._shown_call = call_id
        self._inspector_timer.stop()
        self.inspector.show_call(call_id or None)

    def _on_header_providers_requested(self) -> None:
        dialog = ProvidersDialog(self.config_path, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._on_providers_dialog_saved)
        dialog.open()

    def _on_providers_dialog_saved(self) -> None:
        self.welcome.set_demo_available(_demo_enabled(self.config_path))
        self.worker.restart(self.header.port.value())
        with contextlib.suppress(ConfigError):  # the dialog only saves a config that loads
            cost.use_config(load_config(self.config_path))

    def _top_row(self) -> QHBoxLayout:
        """The header, with the tools at its right end (aligned with the header's row)."""
        tools = QWidget(self)
        row = QHBoxLayout(tools)
        row.setContentsMargins(0, theme.SPACING, 2 * theme.SPACING, theme.SPACING)
        row.setSpacing(theme.SPACING)
        row.addWidget(self.breakpoints_button)
        row.addWidget(self.tools_button)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.setSpacing(0)
        top.addWidget(self.header, 1)
        top.addWidget(tools, 0, Qt.AlignmentFlag.AlignTop)
        return top

    # -- replay, edit and resend, diff, compare, export --------------------------------

    def _connect_call_actions(self) -> None:
        actions = self.call_actions
        self.worker.listening.connect(actions.set_base_url)
        if self.worker.url:
            actions.set_base_url(self.worker.url)
        self.inspector.replay_requested.connect(actions.replay)
        self.inspector.edit_requested.connect(actions.edit)
        self.inspector.diff_requested.connect(self._on_inspector_diff_requested)
        self.inspector.share_requested.connect(actions.share)
        actions.call_sent.connect(self._on_actions_call_sent)
        actions.call_link_activated.connect(self.call_list.select_call)
        actions.message_posted.connect(self.header.flash)
        actions.calls_imported.connect(self.model.reload)
        actions.edit_action.triggered.connect(lambda: actions.edit(self._shown_call or None))
        actions.compare_action.triggered.connect(lambda: actions.compare(self._shown_call or None))
        actions.diff_action.triggered.connect(self._on_diff_action_triggered)
        actions.export_action.triggered.connect(
            lambda: actions.export(
                self.call_list.selected_call_ids(), self.filter_bar.current_filter()
            )
        )
        actions.import_action.triggered.connect(actions.import_har)
        self.tools_menu.insertActions(
            self.tools_menu.actions()[0],
            [actions.compare_action, actions.export_action, actions.import_action],
        )
        self.tools_menu.insertSeparator(self.tools_menu.actions()[3])
        self.call_list.extra_actions = [
            actions.replay_action,
            actions.replay_to_menu.menuAction(),
            actions.edit_action,
            actions.compare_action,
            actions.diff_action,
            actions.share_action,
            actions.export_action,
        ]
        actions.current_call = lambda: self._shown_call

    def _on_actions_call_sent(self, call_id: str) -> None:
        self._select_when_started = call_id

    def _on_inspector_diff_requested(self, call_id: str) -> None:
        selected = self.call_list.selected_call_ids()
        if len(selected) == 2:
            self.call_actions.diff(*selected)
        elif self._previous_call:
            self.call_actions.diff(self._previous_call, call_id)
        else:
            self.header.flash("Select two calls (Ctrl+click) to diff them.")

    def _on_diff_action_triggered(self) -> None:
        selected = self.call_list.selected_call_ids()
        if len(selected) == 2:
            self.call_actions.diff(*selected)
        else:
            self.header.flash("Select exactly two calls (Ctrl+click) to diff them.")


def _demo_enabled(config_path: Path) -> bool:
    """Whether the worker will run the demo provider (a broken config: the worker says so)."""
    try:
        return load_config(config_path).provider("demo") is not None
    except ConfigError:
        return True
