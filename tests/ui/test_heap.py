"""The app's start-up freezes its long-lived objects once the window has shown and the price
list is in (application.settle_after_start_up); the call list's view leaves that alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from relayscope.analysis.cost import load_prices_in_background, prices_loaded
from relayscope.store.call_store import CallStore
from relayscope.ui import heap
from relayscope.ui.application import settle_after_start_up
from relayscope.ui.call_list_model import CallListModel
from relayscope.ui.call_list_view import CallListView


@pytest.fixture
def unfrozen(monkeypatch: pytest.MonkeyPatch, qtbot: QtBot) -> Iterator[None]:
    """A process that has not settled yet (and is thawed again after the test)."""
    load_prices_in_background()
    qtbot.waitUntil(prices_loaded, timeout=30_000)
    gc.unfreeze()
    monkeypatch.setattr(heap, "_settled", False)
    yield
    gc.unfreeze()


def test_start_up_freezes_once_the_window_has_shown(unfrozen: None, qtbot: QtBot) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    timer = settle_after_start_up(app, window)
    qtbot.wait(500)
    assert gc.get_freeze_count() == 0  # prices are in, but the window has not shown
    window.show()
    qtbot.waitUntil(lambda: gc.get_freeze_count() > 0, timeout=5_000)
    assert not timer.isActive()


def test_the_call_list_does_not_freeze_the_process_itself(
    unfrozen: None, qtbot: QtBot, tmp_path: Path
) -> None:
    store = CallStore(tmp_path / "calls.db")
    model = CallListModel(store)
    view = CallListView(model)
    qtbot.addWidget(view)
    view.show()
    qtbot.wait(500)
    assert gc.get_freeze_count() == 0
    model.deleteLater()
    store.close()
