"""Group by turn: each Codex turn is one row that unfolds into its requests and retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from relayscope.analysis import cost
from relayscope.analysis.cost import Pricer
from relayscope.store.call_store import CallStore
from relayscope.ui import theme
from relayscope.ui.call_group_model import CHILD_INDENT, CallGroupModel
from relayscope.ui.call_list_model import COLUMN, CallListModel
from relayscope.ui.call_list_view import CallListView
from relayscope.ui.roles import Role
from tests.ui.conftest import call_row, insert_calls, seed_calls

NOW = datetime(2025, 6, 3, 10, 0, tzinfo=UTC)


def codex(index: int, turn: str, seconds: float, **fields: Any) -> dict[str, Any]:
    """A Codex request of `turn`, `seconds` after NOW."""
    row = call_row(index, NOW + timedelta(seconds=seconds), **fields)
    row.update(
        session_id="sess-1",
        turn_id=turn,
        endpoint="responses",
        path="/v1/responses",
        provider="openai",
        model="gpt-5.2-codex",
    )
    row.update(fields)
    return row


@pytest.fixture
def seeded(db_path: Path) -> dict[str, list[str]]:
    """Turn A: 429, 429, then 200 (retries); turn B: two tool round trips; 3 plain calls."""
    plain = [call_row(i, NOW + timedelta(seconds=i * 10), state="complete") for i in (1, 2, 4)]
    for row in plain:
        row.update(status=200, error=None)
    turn_a = [
        codex(100, "turn-a", 5, status=429, state="error", duration_ms=200.0, prompt_tokens=None),
        codex(101, "turn-a", 6, status=429, state="error", duration_ms=150.0, prompt_tokens=None),
        codex(102, "turn-a", 8, status=200, state="complete", duration_ms=2000.0),
    ]
    for row in turn_a[:2]:
        row.update(completion_tokens=None, total_tokens=None)
    turn_b = [
        codex(103, "turn-b", 25, status=200, state="complete", duration_ms=1000.0),
        codex(104, "turn-b", 27, status=200, state="complete", duration_ms=3000.0),
    ]
    insert_calls(db_path, [*plain, *turn_a, *turn_b])
    return {
        "plain": [r["id"] for r in plain],
        "turn-a": [r["id"] for r in turn_a],
        "turn-b": [r["id"] for r in turn_b],
    }


@pytest.fixture
def groups(store: CallStore, seeded: dict[str, list[str]]) -> CallGroupModel:
    return CallGroupModel(CallListModel(store))


def texts(model: CallGroupModel, row: int) -> dict[str, str]:
    return {key: str(model.data(model.index(row, c))) for key, c in COLUMN.items()}


def turn_rows(model: CallGroupModel) -> dict[str, int]:
    return {
        str(model.turn_id(r)): r for r in range(model.rowCount()) if model.turn_id(r) is not None
    }


def test_each_turn_is_one_row_and_other_calls_stay_single(
    groups: CallGroupModel, seeded: dict[str, list[str]], qtmodeltester: ModelTester
) -> None:
    qtmodeltester.check(groups)
    assert groups.rowCount() == 3 + 2  # the plain calls and one row per turn
    rows = turn_rows(groups)
    assert set(rows) == {"turn-a", "turn-b"}
    plain = [groups.call_id(r) for r in range(groups.rowCount()) if groups.turn_id(r) is None]
    assert sorted(plain) == sorted(seeded["plain"])  # type: ignore[type-var]
    a = texts(groups, rows["turn-a"])
    first = datetime.fromisoformat("2025-06-03T10:00:05+00:00").astimezone()
    assert a["time"] == "▸ " + first.strftime("%b %d %H:%M:%S")  # the first request's time
    assert a["provider"] == "openai"
    assert a["model"] == "gpt-5.2-codex  ·  3 requests"
    assert a["status"] == "200" and a["state"] == "complete"  # the last one's
    assert a["duration"] == "5.00 s"  # from the first request to the end of the last
    prompt = sum(call_row(i, NOW)["prompt_tokens"] for i in (102,))
    completion = call_row(102, NOW)["completion_tokens"]
    assert a["tokens"] == f"{prompt:,} / {completion:,}"  # the two 429s carried none
    b = texts(groups, rows["turn-b"])
    assert b["model"].endswith("2 requests") and b["duration"] == "5.00 s"
    # Newest first: turn B (first request at +25 s) above turn A (+5 s).
    assert rows["turn-b"] < rows["turn-a"]
    index = groups.index(rows["turn-a"], 0)
    assert groups.data(index, Role.TURN) == "turn-a"
    assert groups.data(index, Role.CALL_ID) == seeded["turn-a"][-1]  # the newest request
    assert groups.call_ids(rows["turn-a"]) == seeded["turn-a"][::-1]
    assert groups.data(index, Qt.ItemDataRole.FontRole).bold()


def test_a_turn_s_cost_sums_its_requests_and_counts_the_unknown(
    groups: CallGroupModel, store: CallStore, seeded: dict[str, list[str]], qtbot: QtBot
) -> None:
    rows = turn_rows(groups)
    assert cost.prices_loaded() or texts(groups, rows["turn-a"])["cost"] == "…"
    cost.load_prices_in_background()
    qtbot.waitUntil(cost.prices_loaded, timeout=10_000)
    calls = [store.get_call(call_id) or {} for call_id in seeded["turn-a"]]
    total = sum((cost.CostTotal().add(Pricer().price(c)) for c in calls), cost.CostTotal())
    assert (total.priced, total.unknown) == (1, 2)  # the two 429s carried no usage
    assert texts(groups, rows["turn-a"])["cost"] == total.text()
    assert total.text().endswith(" + 2 unknown")


def test_a_turn_unfolds_into_its_requests_and_folds_again(
    groups: CallGroupModel, seeded: dict[str, list[str]], qtmodeltester: ModelTester
) -> None:
    qtmodeltester.check(groups)
    row = turn_rows(groups)["turn-a"]
    before = groups.rowCount()
    groups.set_expanded("turn-a", True)
    assert groups.rowCount() == before + 3
    assert texts(groups, row)["time"].startswith("▾ ")
    children = [groups.call_id(r) for r in range(row + 1, row + 4)]
    assert children == seeded["turn-a"][::-1]
    child = texts(groups, row + 1)
    assert child["time"].startswith(CHILD_INDENT) and child["status"] == "200"
    assert texts(groups, row + 3)["status"] == "429"
    assert groups.row_of(seeded["turn-a"][0]) == row + 3
    groups.set_expanded("turn-a", False)
    assert groups.rowCount() == before
    assert groups.row_of(seeded["turn-a"][0]) == row  # folded: the turn's row


def test_a_retry_arriving_live_joins_its_turn(
    groups: CallGroupModel, db_path: Path, qtmodeltester: ModelTester
) -> None:
    qtmodeltester.check(groups)
    groups.set_expanded("turn-b", True)
    before = groups.rowCount()
    retry = codex(105, "turn-b", 40, state="streaming", status=None, duration_ms=None)
    plain = call_row(106, NOW + timedelta(seconds=41))
    insert_calls(db_path, [retry, plain])
    groups.source.on_call_started(retry["id"])
    groups.source.on_call_started(plain["id"])
    groups.source.flush_events()
    assert groups.rowCount() == before + 2
    row = turn_rows(groups)["turn-b"]
    assert texts(groups, row)["model"].endswith("3 requests")
    assert texts(groups, row)["status"] == "…"  # the newest request is still running
    assert texts(groups, row)["duration"].endswith(" …")
    assert groups.call_id(row + 1) == retry["id"]
    assert groups.call_id(0) == plain["id"]


def test_the_view_groups_from_its_menu_and_selects_inside_turns(
    store: CallStore, seeded: dict[str, list[str]], qtbot: QtBot
) -> None:
    view = CallListView(CallListModel(store))
    qtbot.addWidget(view)
    view.resize(1100, 400)
    view.show()
    widths = [view.columnWidth(c) for c in range(len(COLUMN))]
    view.select_call(seeded["turn-a"][1])
    view.group_action.trigger()
    groups = view.group_model
    assert groups is not None and view.model() is groups
    assert [view.columnWidth(c) for c in range(len(COLUMN))] == widths
    # The call shown before stays shown: its turn unfolds around it.
    assert view.current_call_id() == seeded["turn-a"][1]
    assert groups.is_expanded("turn-a")
    row = turn_rows(groups)["turn-a"]
    view.setCurrentIndex(groups.index(row, 0))
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert not groups.is_expanded("turn-a")
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert groups.is_expanded("turn-a")
    view.clearSelection()
    view.setCurrentIndex(groups.index(turn_rows(groups)["turn-b"], 0))
    assert view.selected_call_ids() == seeded["turn-b"][::-1]
    with qtbot.waitSignal(view.playback_requested) as requested:
        view.playback_action.trigger()
    assert requested.args == [seeded["turn-b"][::-1]]
    view.group_action.trigger()
    assert view.model() is view._source and view.group_model is None
    assert view.current_call_id() == seeded["turn-b"][-1]


def test_a_thousand_loaded_calls_without_turns_are_a_thousand_rows(
    store: CallStore, db_path: Path
) -> None:
    # How long laying them out takes is measured in bench/group_bench.py (the reset line).
    rows = seed_calls(db_path, 1000, now=NOW)
    source = CallListModel(store)
    while source.canFetchMore(source.index(0, 0).parent()):
        source.fetchMore(source.index(0, 0).parent())
    assert source.rowCount() == len(rows)
    groups = CallGroupModel(source)
    assert groups.rowCount() == len(rows)  # no turns here: every call is its own row
    assert [groups.call_id(r) for r in range(len(rows))] == [r["id"] for r in rows[::-1]]


def stall_pixels(view: CallListView, shot: QImage, row: int) -> int:
    """Pixels of the Gaps cell on `row` painted in the sparkline's stall colour."""
    rect = view.visualRect(view.model().index(row, COLUMN["gaps"]))
    offset = view.viewport().mapTo(view, rect.topLeft())
    stall = theme.colour(theme.WARNING).rgb()
    return sum(
        shot.pixel(offset.x() + x, offset.y() + y) == stall
        for x in range(rect.width())
        for y in range(rect.height())
    )


def test_the_grouped_view_draws_each_streams_gap_sparkline(
    store: CallStore, seeded: dict[str, list[str]], qtbot: QtBot, tmp_path: Path
) -> None:
    stalled = seeded["turn-a"][2]  # a stream with one 1.5-4 s stall; its turn's other calls: none
    view = CallListView(CallListModel(store))
    qtbot.addWidget(view)
    view.resize(1400, 400)
    view.show()
    view.set_grouped(True)
    groups = view.group_model
    assert groups is not None
    groups.set_expanded("turn-a", True)
    turn = turn_rows(groups)["turn-a"]
    child = groups.row_of(stalled)
    assert child is not None and child != turn
    shot = view.grab().toImage()
    shot.save(str(tmp_path / "grouped.png"))
    # The turn's row shows the sparkline of its stalled request (the one whose longest gap
    # it shows as text), and the request's own row inside the turn shows it too.
    assert stall_pixels(view, shot, turn) > 0
    assert stall_pixels(view, shot, child) > 0
    assert stall_pixels(view, shot, groups.row_of(seeded["turn-a"][0]) or 0) == 0  # a 429
    profile = groups.data(groups.index(turn, COLUMN["gaps"]), Role.GAPS)
    assert profile == groups.data(groups.index(child, COLUMN["gaps"]), Role.GAPS)
    gaps, stall_ms = profile
    assert max(gaps) >= stall_ms == 1000.0


def test_a_codex_websocket_session_is_one_turn_of_complete_requests(
    tmp_path: Path, qtmodeltester: ModelTester
) -> None:
    """Recorded for real (worker, fake provider, a socket with a prewarm and two requests,
    dropped by the client as Codex does): one turn row of three complete requests."""
    from tests.e2e.test_websocket import create, relay, websocket_session
    from tests.fakes.provider import FakeProvider

    meta = {"turn_id": "turn-ws", "session_id": "sess-ws"}
    creates = [
        create("hi", generate=False, client_metadata={**meta, "turn_id": ""}),
        create("hi", client_metadata=meta),
        create("again", client_metadata=meta),
    ]
    with FakeProvider(websocket=True) as fake, relay(tmp_path, fake) as worker:
        websocket_session(worker.base_url, creates, close="drop")
        worker.wait_for_calls(3)
        store = worker.store()
        try:
            groups = CallGroupModel(CallListModel(store))
            qtmodeltester.check(groups)
            rows = turn_rows(groups)
            turn = texts(groups, rows["turn-ws"])
        finally:
            store.close()
    assert groups.rowCount() == 1 and set(rows) == {"turn-ws"}
    assert turn["model"] == "fake-1  ·  3 requests"
    assert (turn["status"], turn["state"]) == ("101", "complete")
