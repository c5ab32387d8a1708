"""Starts the desktop app: the QApplication, its theme, the proxy worker and the window."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from relayscope.analysis import cost
from relayscope.config import Config
from relayscope.store.call_store import CallStore, StoreError
from relayscope.ui import heap, theme
from relayscope.ui.main_window import MainWindow
from relayscope.ui.window_state import restore_window_state, save_window_state
from relayscope.ui.worker_process import WorkerProcess


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with Relayscope's name, icon and light/dark theme (reused if one exists)."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv or sys.argv)
    app.setApplicationName("Relayscope")
    app.setApplicationDisplayName("Relayscope")
    app.setOrganizationName("Relayscope")
    app.setDesktopFileName("relayscope")
    app.setWindowIcon(theme.app_icon())
    theme.apply_theme(app)
    return app


def show_startup_error(message: str) -> None:
    """A start-up mistake (a config error, say) as a dialog: a desktop launcher shows no
    terminal, so the sentence the CLI prints must reach the person another way."""
    create_application()
    box = QMessageBox(QMessageBox.Icon.Critical, "Relayscope", message)
    box.setTextFormat(Qt.TextFormat.PlainText)  # the message quotes the user's file
    box.setObjectName("startup_error")
    box.exec()


def _quit_on_ctrl_c(app: QApplication, window: MainWindow) -> None:
    """Ctrl+C in the terminal closes the window cleanly (stopping the worker first)."""
    signal.signal(signal.SIGINT, lambda *_: window.close())
    # Python only sees the signal when it runs: wake it up a few times a second.
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(250)


def settle_after_start_up(app: QApplication, window: QWidget) -> QTimer:
    """Once `window` has shown and the price list has loaded (started here if it has not),
    freeze the start-up objects (`heap.settle_start_up_objects`): the process's long-lived
    objects are all there then, and later full collections skip them. Checked every 200 ms."""
    cost.load_prices_in_background()
    timer = QTimer(app)
    timer.setInterval(200)

    def check() -> None:
        if window.isVisible() and cost.prices_loaded():
            timer.stop()
            heap.settle_start_up_objects()

    timer.timeout.connect(check)
    timer.start()
    return timer


def run_app(*, config: Config, config_path: Path, db_path: Path) -> int:
    """Open the window, start the worker on the configured port, run until the window closes."""
    app = create_application()
    try:
        # Opened (and migrated) before the worker starts, so the two never race to create it.
        store = CallStore(db_path)
    except StoreError as exc:
        QMessageBox.critical(None, "Relayscope", str(exc))
        return 1
    cost.use_config(config)  # the inspector prices calls with the providers' overrides
    worker = WorkerProcess(db_path, config_path)
    window = MainWindow(
        store,
        worker,
        config_path=config_path,
        host=config.proxy.host,
        port=config.proxy.port,
    )
    settings = QSettings()  # the platform's place for it, named after the application
    restore_window_state(window, window.splitter, settings)
    worker.start(config.proxy.port)
    window.show()
    settle_after_start_up(app, window)
    _quit_on_ctrl_c(app, window)
    try:
        return app.exec()
    finally:
        save_window_state(window, window.splitter, settings)
        worker.stop_and_wait()
        store.close()
