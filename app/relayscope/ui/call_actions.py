"""CallActions: what a person can do with recorded calls — replay, edit and resend, diff,
compare providers, share, export and import — as actions for the window's menus and buttons.

It owns the windows those open and the one-click `ReplayRunner`, so `MainWindow` only wires
signals to it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from relayscope.exchange.export import Selection
from relayscope.store.call_store import CallFilter, CallStore
from relayscope.ui.compare_view import CompareView
from relayscope.ui.diff_view import DiffView
from relayscope.ui.export_dialog import ExportDialog, ImportDialog
from relayscope.ui.replay_runner import ReplayRunner, configured_providers
from relayscope.ui.request_editor import RequestEditor
from relayscope.ui.share_dialog import ShareDialog


class CallActions(QObject):
    """Signals:
    call_sent(str): a replay, resend or comparison sent a call; its id (known up front).
    call_link_activated(str): a window asked to show this call in the list.
    message_posted(str): a sentence for the window's status line.
    calls_imported(): calls were imported; the list must reload.
    """

    call_sent = Signal(str)
    call_link_activated = Signal(str)
    message_posted = Signal(str)
    calls_imported = Signal()

    def __init__(self, store: CallStore, config_path: Path, parent: QWidget) -> None:
        super().__init__(parent)
        self.store = store
        self.config_path = config_path
        self.window = parent
        self.base_url = ""
        self.replays = ReplayRunner(store, config_path, parent)
        self.replays.replay_started.connect(self.call_sent)
        self.replays.message_posted.connect(lambda text, _kind: self.message_posted.emit(text))
        #: The call the actions apply to (the window sets it: the list's current call).
        self.current_call: Callable[[], str] = lambda: ""
        self.replay_action = QAction("Replay", self)
        self.replay_action.setToolTip("Send it again, exactly as it was, to the same provider")
        self.replay_action.triggered.connect(lambda: self._replay_current(None))
        self.replay_to_menu = QMenu("Replay to", parent)
        self.replay_to_menu.aboutToShow.connect(self._fill_replay_to_menu)
        self.edit_action = QAction("Edit and resend…", self)
        self.compare_action = QAction("Compare providers…", self)
        self.diff_action = QAction("Diff the two selected calls", self)
        self.export_action = QAction("Export calls…", self)
        self.share_action = QAction("Share…", self)
        self.share_action.setToolTip("Save this call as one redacted, self-contained HTML page")
        self.share_action.triggered.connect(lambda: self.share(self.current_call()))
        self.import_action = QAction("Import HAR…", self)

    def set_base_url(self, url: str) -> None:
        self.base_url = url
        self.replays.set_base_url(url)
        for window in self._windows():
            if isinstance(window, RequestEditor | CompareView):
                window.set_base_url(url)

    def replay(self, call_id: str, provider: str | None = None) -> str | None:
        return self.replays.replay(call_id, provider)

    def _replay_current(self, provider: str | None) -> None:
        call_id = self.current_call()
        if call_id:
            self.replay(call_id, provider)

    def _fill_replay_to_menu(self) -> None:
        self.replay_to_menu.clear()
        for name in configured_providers(self.config_path):
            action = self.replay_to_menu.addAction(name)
            action.triggered.connect(lambda _=False, n=name: self._replay_current(n))

    def edit(self, call_id: str | None) -> RequestEditor:
        editor = RequestEditor(self.store, self.config_path, self.base_url, self.window)
        if call_id:
            editor.load_call(call_id)
        editor.call_sent.connect(self.call_sent)
        editor.call_link_activated.connect(self.call_link_activated)
        return self._show(editor)

    def compare(self, call_id: str | None) -> CompareView:
        view = CompareView(self.store, self.config_path, self.base_url, self.window)
        if call_id:
            view.load_call(call_id)
        view.call_link_activated.connect(self.call_link_activated)
        return self._show(view)

    def diff(self, a: str, b: str) -> DiffView | None:
        view = DiffView(self.store, self.window)
        if not view.set_calls(a, b):
            view.deleteLater()
            self.message_posted.emit("Those calls are no longer in the database.")
            return None
        view.call_link_activated.connect(self.call_link_activated)
        return self._show(view)

    def export(self, ids: list[str], flt: CallFilter) -> ExportDialog:
        if len(ids) > 1:
            selection, what = Selection(ids=tuple(ids)), f"the {len(ids)} selected calls"
        else:
            selection, what = Selection(filter=flt), "the calls the list shows (its filter)"
        dialog = ExportDialog(self.store, selection, what, self.window)
        dialog.exported.connect(lambda result: self.message_posted.emit(result.summary()))
        dialog.open()
        return dialog

    def share(self, call_id: str = "", *, session_id: str = "") -> ShareDialog | None:
        """The review-and-save dialog for a call or (with `session_id`) a session."""
        if not call_id and not session_id:
            return None
        dialog = ShareDialog(
            self.store.path,
            self.config_path,
            call_id=call_id,
            session_id=session_id,
            parent=self.window,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(lambda path: self.message_posted.emit(f"Saved {path}"))
        dialog.open()
        return dialog

    def import_har(self) -> ImportDialog:
        dialog = ImportDialog(self.store.path, self.window)
        dialog.imported.connect(lambda _result: self.calls_imported.emit())
        dialog.open()
        return dialog

    def _show[W: QWidget](self, window: W) -> W:
        # Owned by the main window and deleted by Qt when closed (on the GUI thread, in the
        # event loop): never left for Python's garbage collector to delete at a random time.
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.show()
        window.raise_()
        return window

    def _windows(self) -> list[QWidget]:
        return [
            w
            for kind in (RequestEditor, CompareView, DiffView)
            for w in self.window.findChildren(kind)
        ]

    def shutdown(self) -> None:
        self.replays.shutdown()
        for window in self._windows():
            window.close()
