"""The window comes back at the size and split the person left it with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from relayscope.store.call_store import CallStore
from relayscope.ui.main_window import MainWindow
from relayscope.ui.window_state import restore_window_state, save_window_state
from relayscope.ui.worker_process import WorkerProcess


def new_window(store: CallStore, tmp_path: Path, qtbot: QtBot) -> MainWindow:
    window = MainWindow(
        store, WorkerProcess(tmp_path / "relayscope.db"), config_path=tmp_path / "c.toml"
    )
    qtbot.addWidget(window)
    return window


def test_size_and_split_are_restored(
    store: CallStore, tmp_path: Path, qtbot: QtBot, themed: Any
) -> None:
    settings = QSettings(str(tmp_path / "state.ini"), QSettings.Format.IniFormat)
    first = new_window(store, tmp_path, qtbot)
    assert not restore_window_state(first, first.splitter, settings)  # first run: defaults
    assert (first.width(), first.height()) == (1280, 800)
    first.show()
    # The offscreen screen is 800 pixels wide: the narrowest window fits it best.
    size = (first.minimumSizeHint().width(), 700)
    first.resize(*size)
    first.splitter.setSizes([420, 150])
    qtbot.waitUntil(lambda: (first.width(), first.height()) == size)
    sizes = first.splitter.sizes()
    save_window_state(first, first.splitter, settings)
    first.close()

    second = new_window(store, tmp_path, qtbot)
    assert restore_window_state(second, second.splitter, settings)
    second.show()
    qtbot.waitUntil(lambda: (second.width(), second.height()) == size)
    assert second.splitter.sizes() == sizes
    second.close()


def test_garbage_in_the_settings_file_is_ignored(
    store: CallStore, tmp_path: Path, qtbot: QtBot, themed: Any
) -> None:
    path = tmp_path / "state.ini"
    path.write_text("[window]\ngeometry=not a geometry\nsplitter=@ByteArray(xx)\n")
    window = new_window(store, tmp_path, qtbot)
    assert not restore_window_state(
        window, window.splitter, QSettings(str(path), QSettings.Format.IniFormat)
    )
    assert (window.width(), window.height()) == (1280, 800)
