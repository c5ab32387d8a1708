"""The window's size, position and splitter where the person left them (QSettings)."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow, QSplitter

GEOMETRY = "window/geometry"
SPLITTER = "window/splitter"


def restore_window_state(window: QMainWindow, splitter: QSplitter, settings: QSettings) -> bool:
    """Put the window back as it was saved; False (and nothing changed) on a first run."""
    geometry = settings.value(GEOMETRY)
    if not isinstance(geometry, QByteArray) or not window.restoreGeometry(geometry):
        return False
    sizes = settings.value(SPLITTER)
    if isinstance(sizes, QByteArray):
        splitter.restoreState(sizes)
    return True


def save_window_state(window: QMainWindow, splitter: QSplitter, settings: QSettings) -> None:
    settings.setValue(GEOMETRY, window.saveGeometry())
    settings.setValue(SPLITTER, splitter.saveState())
    settings.sync()
