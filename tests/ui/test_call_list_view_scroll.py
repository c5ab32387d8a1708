"""The reading place in the call list while new calls arrive at its top: someone reading
further down keeps the rows they read where they were (flat or grouped by turn, scrolled
to the middle, near or at the bottom of the loaded rows); at the very top the list follows
the newest calls."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, QPoint
from pytestqt.qtbot import QtBot

from relayscope.store.call_store import CallStore
from relayscope.ui import call_list_model
from relayscope.ui.call_group_model import CallGroupModel
from relayscope.ui.call_list_model import CallListModel
from relayscope.ui.call_list_view import CallListView
from tests.ui.conftest import insert_calls
from tests.ui.test_call_group_model_live import Traffic


def shown_at_top(view: CallListView) -> tuple[str, int]:
    """The row at the top of the viewport (its turn or its call) and where its top is."""
    index = view.indexAt(QPoint(5, 5))
    assert index.isValid()
    model = view.model()
    assert isinstance(model, CallListModel | CallGroupModel)
    turn = model.turn_id(index.row()) if isinstance(model, CallGroupModel) else None
    key = turn or model.call_id(index.row()) or ""
    return key, view.visualRect(index).top()


def shown_list(
    store: CallStore, db_path: Path, qtbot: QtBot, *, grouped: bool, running: int = 4
) -> tuple[CallListView, Traffic]:
    """A list of 400 calls (pages of 120: a few screens, grouped too) on a real database,
    shown at a realistic size, and the traffic that records more (`running` turns at once)."""
    source = CallListModel(store)
    traffic = Traffic(db_path, source, random.Random(3), running=running)
    traffic.start(400)
    source.reload()
    source.wait_for_page()
    view = CallListView(source)
    qtbot.addWidget(view)
    view.resize(1200, 500)
    view.show()
    view.set_grouped(grouped)
    qtbot.wait(20)  # laid out
    return view, traffic


@pytest.mark.parametrize("grouped", [False, True], ids=["flat", "grouped"])
@pytest.mark.parametrize("place", ["top", "middle", "near-bottom", "bottom"])
def test_new_calls_at_the_top_leave_the_rows_read_where_they_were(
    store: CallStore,
    db_path: Path,
    qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
    grouped: bool,
    place: str,
) -> None:
    monkeypatch.setattr(call_list_model, "PAGE_SIZE", 120)
    view, traffic = shown_list(store, db_path, qtbot, grouped=grouped)
    model = view.model()
    if place == "bottom":  # every call loaded, scrolled to the last one
        while model.canFetchMore(QModelIndex()):
            model.fetchMore(QModelIndex())
        qtbot.wait(20)
    bar = view.verticalScrollBar()
    value = {"top": 0, "middle": bar.maximum() // 2, "near-bottom": bar.maximum() - 7}
    bar.setValue(value.get(place, bar.maximum()))
    qtbot.wait(20)
    assert 0 < bar.value() < bar.maximum() or place in ("top", "bottom")
    assert bar.maximum() - bar.value() == 7 or place != "near-bottom"  # no page came
    loaded = model.rowCount()
    before = shown_at_top(view)
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    traffic.start(8)  # one batch of new calls
    qtbot.wait(20)  # laid out again
    if place == "top":  # the list follows the newest calls
        assert bar.value() == 0
        assert view.indexAt(QPoint(5, 5)).row() == 0
    else:
        assert shown_at_top(view) == before
    assert model.rowCount() > loaded
    # Near the bottom, a place clamped to the old maximum made the view fetch a page inside
    # the grouped list's signal, and the grouped list was laid out again from scratch.
    assert resets == []


def test_new_calls_of_an_unfolded_turn_above_leave_the_rows_read_where_they_were(
    store: CallStore, db_path: Path, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(call_list_model, "PAGE_SIZE", 120)
    view, traffic = shown_list(store, db_path, qtbot, grouped=True)
    groups = view.group_model
    assert groups is not None
    for turn in traffic.turns:  # the turns running, near the top: their new calls come there
        groups.set_expanded(turn, True)
    qtbot.wait(20)
    bar = view.verticalScrollBar()
    bar.setValue(bar.maximum() // 2)
    qtbot.wait(20)
    before = shown_at_top(view)
    inserted: list[int] = []
    groups.rowsInserted.connect(lambda _, first, last: inserted.append(first))
    traffic.start(8)
    qtbot.wait(20)
    assert any(first > 0 for first in inserted)  # calls put under their unfolded turns
    assert shown_at_top(view) == before


@pytest.mark.parametrize("grouped", [False, True], ids=["flat", "grouped"])
def test_late_calls_placed_above_leave_the_rows_read_where_they_were(
    store: CallStore,
    db_path: Path,
    qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
    grouped: bool,
) -> None:
    """Calls that started a while ago (a filter took them in when they finished) go where
    they belong, above the place being read. Grouped, a turn whose first call came late
    moves down to it (`rowsMoved`), from above that place to below it."""
    monkeypatch.setattr(call_list_model, "PAGE_SIZE", 120)
    view, traffic = shown_list(store, db_path, qtbot, grouped=grouped)
    bar = view.verticalScrollBar()
    bar.setValue(bar.maximum() // 3)
    qtbot.wait(20)
    moved: list[int] = []
    view.model().rowsMoved.connect(lambda *args: moved.append(args[1]))
    for _ in range(6):
        before = shown_at_top(view)
        traffic.start(4, older=True)
        qtbot.wait(20)
        assert shown_at_top(view) == before
    assert moved or not grouped  # turns moved, not only rows inserted


def test_a_page_that_moves_many_turns_leaves_the_rows_read_where_they_were(
    store: CallStore, db_path: Path, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Grouped, with many turns running across the pages (Codex sessions), the next page
    brings the first calls of turns shown above: they move down to them, many in one
    layout change, while the list is read near the bottom of what was loaded."""
    monkeypatch.setattr(call_list_model, "PAGE_SIZE", 120)
    view, _ = shown_list(store, db_path, qtbot, grouped=True, running=24)
    model = view.model()
    bar = view.verticalScrollBar()
    bar.setValue(bar.maximum() - 7)
    qtbot.wait(20)
    before = shown_at_top(view)
    changes: list[int] = []
    model.layoutChanged.connect(lambda *_: changes.append(1))
    model.fetchMore(QModelIndex())  # as the view does when the reader reaches the bottom
    qtbot.wait(20)
    assert changes  # many turns moved at once
    assert shown_at_top(view) == before


def shown_rows(view: CallListView) -> dict[str, int]:
    """Each row on screen (its turn or its call) and where its top is."""
    model = view.model()
    assert isinstance(model, CallGroupModel)
    shown: dict[str, int] = {}
    row = view.indexAt(QPoint(5, 5)).row()
    while 0 <= row < model.rowCount():
        top = view.visualRect(model.index(row, 0)).top()
        if top >= view.viewport().height():
            break
        shown[model.turn_id(row) or model.call_id(row) or ""] = top
        row += 1
    return shown


def test_the_turn_at_the_top_moving_away_leaves_the_other_rows_read_where_they_were(
    store: CallStore, db_path: Path, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The turn at the top of the screen gets a call that started before its first one:
    its row moves down to that call, out of sight. The view does not follow it there; the
    rows under it stay where they were on screen."""
    monkeypatch.setattr(call_list_model, "PAGE_SIZE", 120)
    view, traffic = shown_list(store, db_path, qtbot, grouped=True)
    groups, source = view.group_model, traffic.source
    assert groups is not None
    bar = view.verticalScrollBar()
    bar.setValue(bar.maximum() // 4)
    height = view.verticalHeader().defaultSectionSize()
    while groups.turn_id(view.indexAt(QPoint(5, 5)).row()) is None:
        bar.setValue(bar.value() + height)  # down to a turn at the top
    qtbot.wait(20)
    turn = groups.turn_id(view.indexAt(QPoint(5, 5)).row())
    late = traffic.call()
    late["turn_id"] = turn
    # As old as the oldest call loaded: the turn's row goes down there, out of sight.
    late["started_at"] = source.values_at(source.rowCount() - 1)["started_at"]
    before = shown_rows(view)
    insert_calls(db_path, [late])
    source.on_call_started(late["id"])
    source.flush_events()
    qtbot.wait(20)
    after = shown_rows(view)
    assert turn not in after  # it went down to its first call
    below = {key: top for key, top in before.items() if key != turn}
    assert {key: after.get(key) for key in below} == below
