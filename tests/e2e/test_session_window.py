"""The sessions window on sessions recorded through the real worker (the fake provider's
prompt cache): the Codex session's turns, its retry, and the changed system prompt's miss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex
from pytestqt.qtbot import QtBot

from relayscope.ui.session_turns_model import COLUMN
from relayscope.ui.session_view import SessionView
from tests.e2e.test_sessions import SESSION, recorded

__all__ = ["recorded"]  # the module's recording, shared with the CLI's tests


def test_the_window_shows_the_recorded_session_turn_by_turn(
    recorded: Path,
    qtbot: QtBot,
    qapp: Any,
) -> None:
    view = SessionView(recorded)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.sessions_listed, timeout=20_000) as listed:
        view.refresh()
    assert listed.args == [2]  # the Codex session and the chat agent's chain
    view.show_session(SESSION)
    qtbot.waitUntil(
        lambda: view.turns.report is not None and view.turns.report.id == SESSION,
        timeout=20_000,
    )
    model = view.turns
    assert model.rowCount() == 3
    assert [model.rowCount(model.index(t, 0)) for t in range(3)] == [2, 3, 1]
    retry = model.index(1, COLUMN["turn"], model.index(1, 0))
    assert "retry" in str(retry.data())
    notes = str(model.index(2, COLUMN["notes"], QModelIndex()).data())
    assert notes.startswith("cache miss: the prompt diverged from the previous call's")
    assert float(str(model.index(1, COLUMN["cache"]).data()).rstrip("%")) > 90
