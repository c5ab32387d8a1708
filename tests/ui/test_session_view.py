"""The sessions window: the list sorted as asked, a session's turns with their calls, tokens,
cost, context bars and cache-miss explanations; clicking a call shows it; 200 turns load in
the background."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QImage, QKeySequence
from pytestqt.qtbot import QtBot

from relayscope.protocols.prompts import PARTS
from relayscope.store.call_store import CallStore
from relayscope.ui import theme
from relayscope.ui.context_bar import bar_segments
from relayscope.ui.main_window import MainWindow
from relayscope.ui.roles import Role
from relayscope.ui.session_list_model import COLUMN as LIST_COLUMN
from relayscope.ui.session_turns_model import COLUMN
from relayscope.ui.session_view import SessionView
from relayscope.ui.worker_process import WorkerProcess
from tests.ui.conftest import insert_calls
from tests.ui.session_rows import SESSION, codex_session, long_session

SHOTS = os.environ.get("RELAYSCOPE_SCREENSHOTS")


@pytest.fixture
def window(
    store: CallStore, qtbot: QtBot, themed: Any, tmp_path: Path, db_path: Path
) -> Iterator[MainWindow]:
    insert_calls(db_path, codex_session())
    win = MainWindow(store, WorkerProcess(db_path), config_path=tmp_path / "config.toml")
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def open_sessions(window: MainWindow, qtbot: QtBot) -> SessionView:
    with qtbot.waitSignal(window.sessions_action.triggered):
        window.sessions_action.trigger()
    view = window.session_view
    assert view is not None
    qtbot.waitUntil(lambda: view.turns.report is not None, timeout=10_000)
    return view


def text(view: SessionView, row: int, column: str, parent: QModelIndex | None = None) -> str:
    model = view.turns
    return str(model.data(model.index(row, COLUMN[column], parent or QModelIndex())))


def test_the_sessions_window_opens_from_the_menu_with_its_shortcut(
    window: MainWindow, qtbot: QtBot
) -> None:
    assert window.sessions_action in window.tools_menu.actions()
    assert window.sessions_action.shortcut() == QKeySequence("Ctrl+Shift+S")
    view = open_sessions(window, qtbot)
    assert view.isVisible()
    assert view.sessions.rowCount() == 1
    assert view.turns.report is not None and view.turns.report.id == SESSION
    assert view.title.text() == f"Session {SESSION}"
    assert "5 turns · 10 calls" in view.totals.text()
    assert "codex_cli_rs/0.171.0" in view.totals.text()


def test_turns_show_calls_retries_tokens_cost_and_cache_misses(
    window: MainWindow, qtbot: QtBot
) -> None:
    view = open_sessions(window, qtbot)
    model = view.turns
    assert model.rowCount() == 5
    assert [model.rowCount(model.index(t, 0)) for t in range(5)] == [3, 3, 2, 1, 1]
    assert text(view, 0, "turn").startswith("1 ")
    assert "Fix the failing test" in text(view, 0, "turn")
    turn2 = model.index(1, 0)
    assert "retry" in text(view, 1, "turn", turn2)  # the resent request
    assert text(view, 1, "notes") == "1 retry"
    # Tokens and costs per turn and so far, as numbers with units.
    report = model.report
    assert report is not None
    assert text(view, 0, "input") == f"{report.turns[0].tokens.input_tokens:,}"
    assert text(view, 0, "cost").startswith("$")
    assert text(view, 4, "so_far") == report.cost.text()
    # The pause and the changed instructions are explained where the cache missed.
    assert "cache miss: a pause of 7.3 min" in text(view, 2, "notes")
    assert "cache lifetime (5 min)" in text(view, 2, "notes")
    assert "the system/instructions changed" in text(view, 3, "notes")
    assert text(view, 3, "cache") == "0%"
    # The compacted turn says so, and its context shrank.
    assert "context compacted" in text(view, 4, "notes")
    assert "(-" in text(view, 4, "context")
    # The first turn that missed is selected and explained below the turns.
    assert view.turn_tree.currentIndex().row() == 2
    assert "⚠ cache miss: a pause of 7.3 min" in view.detail.text()
    assert "tool outputs" in view.detail.text()


def test_the_context_bar_is_drawn_in_the_part_colours(window: MainWindow, qtbot: QtBot) -> None:
    view = open_sessions(window, qtbot)
    report = view.turns.report
    assert report is not None
    parts = report.turns[0].context
    assert parts["system"] > 0 and parts["tools"] > 0 and parts["tool_output"] > 0
    tree = view.turn_tree
    tree.setColumnWidth(COLUMN["context"], 400)
    rect = tree.visualRect(view.turns.index(0, COLUMN["context"]))
    image: QImage = tree.viewport().grab(rect).toImage()
    y = image.height() // 2
    seen = {image.pixelColor(x, y).name().upper() for x in range(image.width())}
    assert theme.CONTEXT_COLOURS["system"] in seen
    assert theme.CONTEXT_COLOURS["tool_output"] in seen
    # A smaller context draws a shorter bar (growth shows); every part keeps a pixel.
    segments = bar_segments({"system": 10, "images": 1}, 100, 22)
    assert segments[-1][0] == "images" and segments[-1][2] >= 1
    assert sum(w for _, _, w in segments) == 50
    assert set(PARTS) == set(theme.CONTEXT_COLOURS)
    if SHOTS:
        view.resize(1280, 800)
        view.turn_tree.setColumnWidth(COLUMN["context"], 32 * theme.SPACING)
        qtbot.wait(50)
        view.grab().save(str(Path(SHOTS) / "sessions.png"))


def test_clicking_a_call_of_a_turn_selects_it_in_the_list_and_inspector(
    window: MainWindow, qtbot: QtBot
) -> None:
    view = open_sessions(window, qtbot)
    turn = view.turns.index(1, 0)
    call = view.turns.index(1, 0, turn)  # turn 2's retry
    call_id = str(call.data(int(Role.CALL_ID)))
    rect = view.turn_tree.visualRect(call)
    qtbot.mouseClick(view.turn_tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.call_list.current_call_id() == call_id
    assert window.inspector.call_id() == call_id


def test_the_list_sorts_by_cost_turns_duration_and_recency(
    window: MainWindow, qtbot: QtBot, db_path: Path
) -> None:
    insert_calls(db_path, long_session(200))
    view = open_sessions(window, qtbot)
    model = view.sessions
    assert model.rowCount() == 2
    assert model.session(0).id == SESSION  # newest first  # type: ignore[union-attr]
    for column in ("turns", "cost", "duration"):
        view.session_table.sortByColumn(LIST_COLUMN[column], Qt.SortOrder.DescendingOrder)
        assert model.session(0).id == "long-session", column  # type: ignore[union-attr]
    view.session_table.sortByColumn(LIST_COLUMN["turns"], Qt.SortOrder.AscendingOrder)
    assert model.session(0).id == SESSION  # type: ignore[union-attr]
    assert model.data(model.index(1, LIST_COLUMN["turns"])) == "200"


def test_a_200_turn_session_is_read_in_the_background_and_shown_folded(
    window: MainWindow, qtbot: QtBot, db_path: Path
) -> None:
    insert_calls(db_path, long_session(200))
    view = open_sessions(window, qtbot)
    row = view.sessions.row_of("long-session")
    assert row is not None
    view.session_table.selectRow(row)
    # Choosing it starts a job: the window keeps answering while the turns are read.
    assert view.totals.text() == "Reading its turns…"
    with qtbot.waitSignal(view.session_shown, timeout=20_000) as shown:
        pass
    assert shown.args == ["long-session"]
    assert view.turns.rowCount() == 200
    assert not view.turn_tree.isExpanded(view.turns.index(0, 0))  # folded: calls on demand
    assert text(view, 199, "so_far") == view.turns.report.cost.text()  # type: ignore[union-attr]


def test_no_sessions_says_how_to_get_some(
    store: CallStore, qtbot: QtBot, themed: Any, tmp_path: Path, db_path: Path
) -> None:
    view = SessionView(db_path)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.sessions_listed) as listed:
        view.refresh()
    assert listed.args == [0]
    assert view.state.text() == "No sessions yet."
    assert "Point Codex, Claude Code" in view.totals.text()
    assert not view.share_button.isEnabled()
