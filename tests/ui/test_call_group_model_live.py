"""Group by turn under live traffic: every batch of the source (new calls at the top, changed
rows, the trim at the bottom, pages, folding) leaves the grouped list exactly as a grouped
list built from scratch over the same rows, and a batch of new calls is a handful of row
inserts at the top, never a reset of the view."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtTest import QAbstractItemModelTester
from pytestqt.qtbot import QtBot

from relayscope.analysis import cost
from relayscope.store.call_store import CallStore
from relayscope.ui import call_group_follow, call_list_live, call_list_model, call_list_view
from relayscope.ui.call_group_model import CallGroupModel
from relayscope.ui.call_list_model import COLUMN, COLUMNS, CallListModel
from relayscope.ui.call_list_view import CallListView
from relayscope.ui.keyed_rows import KeyedRows
from relayscope.ui.roles import Role
from tests.ui.conftest import call_row, insert_calls, update_call

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BATCHES = 120


class Traffic:
    """Calls recorded into the database and announced to the source model, as the worker
    does, with turns: most calls join one of the few turns running, some start a turn,
    some belong to none; now and then a call starts at the same millisecond as another.

    `running` turns at once: a few, or (Codex sessions as bench/live_bench.py records them)
    many, each running across more rows than a page, so a trim or a page reaches into
    most of them."""

    def __init__(
        self, db_path: Path, source: CallListModel, rng: random.Random, running: int = 4
    ) -> None:
        self.db_path, self.source, self.rng = db_path, source, rng
        self.running = running
        self.index = 0
        self.clock = NOW
        self.turns: list[str] = []
        self.live: list[str] = []

    def call(self, *, older: bool = False) -> dict[str, Any]:
        self.index += 1
        if older:  # a call that joins the list below its top (a late one)
            started = self.clock - timedelta(seconds=self.rng.uniform(1, 60))
        elif self.rng.random() < 0.3:  # the same millisecond as the call before
            started = self.clock
        else:
            self.clock += timedelta(milliseconds=self.rng.randint(1, 900))
            started = self.clock
        row = call_row(self.index, started, state="streaming", status=None, duration_ms=None)
        pick = self.rng.random()
        if pick < 1 / self.running or not self.turns:
            self.turns = [*self.turns[1 - self.running :], f"turn-{self.index}"]
        if pick < 0.8:
            row["turn_id"] = self.rng.choice(self.turns)
        return row

    def start(self, count: int, *, older: bool = False) -> list[str]:
        rows = [self.call(older=older) for _ in range(count)]
        insert_calls(self.db_path, rows)
        for row in rows:
            self.source.on_call_started(row["id"])
        self.live += [r["id"] for r in rows]
        self.source.flush_events()
        return [r["id"] for r in rows]

    def progress(self, count: int, *, new_turn: bool = False) -> None:
        """Some live calls stream on, some finish (one may be given its turn late)."""
        for call_id in self.rng.sample(self.live, min(count, len(self.live))):
            if self.rng.random() < 0.5:
                self.source.on_call_updated(call_id, {"chunk_count": self.rng.randint(1, 99)})
                continue
            fields: dict[str, Any] = {
                "state": "complete",
                "status": self.rng.choice((200, 200, 200, 429)),
                "duration_ms": float(self.rng.randint(50, 9000)),
                "completion_tokens": self.rng.randint(1, 500),
            }
            if new_turn:
                fields["turn_id"] = self.rng.choice([*self.turns, None])
                new_turn = False
            update_call(self.db_path, call_id, **fields)
            self.source.on_call_finished(call_id, {})
            self.live.remove(call_id)
        self.source.flush_events()


def layout(model: CallGroupModel) -> list[tuple[Any, ...]]:
    """What a person sees of each row: its kind, call(s), fold state and turn row's texts."""
    rows: list[tuple[Any, ...]] = []
    for row in range(model.rowCount()):
        turn = model.turn_id(row)
        texts = None
        if turn is not None:
            texts = [
                model.data(model.index(row, column))
                for column in range(len(COLUMNS))
                if column != COLUMN["duration"]  # a live turn's elapsed time moves
            ]
        rows.append(
            (
                turn,
                model.call_id(row),
                tuple(model.call_ids(row)),
                turn is not None and model.is_expanded(turn),
                model.data(model.index(row, 0), Role.CALL_ID),
                model.data(model.index(row, 0), Role.TURN),
                str(model.data(model.index(row, COLUMN["time"]))),
                texts,
            )
        )
    return rows


def fresh_layout(live: CallGroupModel) -> list[tuple[Any, ...]]:
    fresh = CallGroupModel(live.source)
    try:
        for row in range(live.rowCount()):
            turn = live.turn_id(row)
            if turn is not None and live.is_expanded(turn):
                fresh.set_expanded(turn, True)
        return layout(fresh)
    finally:
        shiboken6.delete(fresh)  # no longer follows the source


class GroupsUnderTest(CallGroupModel):
    __test__ = False
    """The grouped model, paged only through its source here: `QAbstractItemModelTester`
    fetches more inside its own handlers of our signals (a reset included) and accepts only
    row inserts there, while a page can move a turn's row down to its earliest call."""

    def canFetchMore(self, parent: Any) -> bool:
        return False

    def fetchMore(self, parent: Any) -> None:
        pass  # the tester calls it whatever canFetchMore says


class Signals:
    """The grouped model's structural signals during one batch."""

    def __init__(self, model: CallGroupModel) -> None:
        self.events: list[tuple[Any, ...]] = []
        model.modelAboutToBeReset.connect(lambda: self.events.append(("reset",)))
        model.layoutAboutToBeChanged.connect(lambda *_: self.events.append(("layout",)))
        model.rowsInserted.connect(lambda _, a, b: self.events.append(("insert", a, b)))
        model.rowsRemoved.connect(lambda _, a, b: self.events.append(("remove", a, b)))
        model.rowsMoved.connect(lambda *_: self.events.append(("move",)))
        model.dataChanged.connect(
            lambda top, bottom, _: self.events.append(("changed", top.row(), bottom.row()))
        )

    def take(self) -> list[tuple[Any, ...]]:
        events, self.events = self.events, []
        return events


@pytest.fixture
def tester_failures(qtlog: Any) -> Iterator[list[str]]:
    """What `QAbstractItemModelTester` reported (its warnings), checked at the end."""
    failures: list[str] = []
    yield failures
    failures += [r.message for r in qtlog.records if "FAIL" in r.message]
    assert failures == []


@pytest.mark.parametrize(("seed", "running"), [(17, 4), (2026, 4), (5, 16), (41, 16)])
def test_live_batches_keep_the_grouped_list_as_a_fresh_layout_would(
    store: CallStore,
    db_path: Path,
    qtbot: QtBot,
    seed: int,
    running: int,
    tester_failures: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Small pages keep the list short: the tester walks every row at each of our signals.
    monkeypatch.setattr(call_list_model, "PAGE_SIZE", 25)
    cost.load_prices_in_background()  # a turn's cost reads "…" until they are loaded
    qtbot.waitUntil(cost.prices_loaded, timeout=10_000)
    rng = random.Random(seed)
    source = CallListModel(store)
    traffic = Traffic(db_path, source, rng, running)
    traffic.start(70)  # more than a page: paging brings turns' older calls later
    source.reload()
    source.wait_for_page()  # a reload's page is read on a thread
    groups = GroupsUnderTest(source)
    tester = QAbstractItemModelTester(groups, QAbstractItemModelTester.FailureReportingMode.Warning)
    signals = Signals(groups)
    pure_inserts = trims_into_turns = 0
    ticks: list[int] = []

    def count_tick(*_: object) -> None:
        ticks.append(1)

    for _ in range(BATCHES):
        action = rng.choices(
            ["start", "progress", "trim", "page", "fold", "older", "regroup", "sort", "tick"],
            weights=[10, 6, 3, 2, 3, 1, 1, 1, 2],
        )[0]
        before = groups.rowCount()
        if action == "start" and source.newest_first:
            unfolded = any(groups.is_expanded(t) for r in range(before) if (t := groups.turn_id(r)))
            new = traffic.start(rng.randint(1, 12))
            events = signals.take()
            # New calls are rows inserted at the top (or under an unfolded turn) and
            # their turns' rows changed in place (a call starting at its turn's first
            # millisecond moves the turn up): never a reset or a new layout.
            assert {e[0] for e in events} <= {"insert", "changed", "move"}
            assert unfolded or all(e[1] == 0 for e in events if e[0] == "insert")
            # At most one signal per new call, each spanning its rows and the few between
            # them (signals for rows a few apart are merged, as the source merges them).
            spans = [e[2] - e[1] + 1 for e in events if e[0] == "changed"]
            assert len(spans) <= len(new)
            assert sum(spans) <= len(new) + call_group_follow._RUN_SLACK * (len(new) - 1)
            pure_inserts += 1
        elif action == "start":
            traffic.start(rng.randint(1, 5))  # sorted by something else: not shown live
        elif action == "progress":
            traffic.progress(rng.randint(1, 20))
        elif action == "regroup":
            traffic.progress(3, new_turn=True)
        elif action == "trim" and source.rowCount() > 30:
            unfolded = sum(groups.is_expanded(t) for r in range(before) if (t := groups.turn_id(r)))
            source.trim(rng.randint(15, min(60, source.rowCount() - 1)))
            events = signals.take()
            assert {e[0] for e in events} <= {"remove", "changed", "move", "layout"}
            # Turns whose first calls went move up to their next ones: a few one by one,
            # more (every turn running across the trim) in one new layout.
            assert sum(e[0] == "move" for e in events) <= 4
            assert sum(e[0] == "layout" for e in events) <= 1
            # They move first: the rows that go are then one block at the bottom (and,
            # in an unfolded turn, its calls that go), however many turns stay between.
            assert sum(e[0] == "remove" for e in events) <= 1 + unfolded
            trims_into_turns += any(e[0] == "layout" for e in events)
        elif action == "tick":
            # The live rows' elapsed times move (the source's tick, one signal for the
            # span of its live rows): rows repainted in place, one signal a tick.
            ticks.clear()
            source.dataChanged.connect(count_tick)
            qtbot.wait(call_list_live.TICK_MS + 60)
            source.dataChanged.disconnect(count_tick)
            events = signals.take()
            assert {e[0] for e in events} <= {"changed"}
            assert len(events) <= len(ticks)
        elif action == "page" and source.canFetchMore(QModelIndex()):
            source.fetchMore(QModelIndex())
        elif action == "fold":
            turns = [groups.turn_id(r) for r in range(groups.rowCount())]
            turns = [t for t in turns if t is not None]
            if turns:
                turn = rng.choice(turns)
                groups.set_expanded(turn, not groups.is_expanded(turn))
        elif action == "older" and source.newest_first:
            traffic.start(1, older=True)
        elif action == "sort":
            newest = source.newest_first
            column = COLUMN["time"] if not newest else rng.choice([COLUMN["duration"], 2])
            order = Qt.SortOrder.DescendingOrder if not newest else Qt.SortOrder.AscendingOrder
            source.sort(column, order)
            source.wait_for_page()
        signals.take()
        assert layout(groups) == fresh_layout(groups)
    assert pure_inserts > 10
    assert trims_into_turns > 0 or running < 8
    del tester


def test_keyed_rows_keep_positions_through_inserts_removals_and_moves() -> None:
    rng = random.Random(5)
    rows: KeyedRows[int] = KeyedRows(range(30))
    plain = list(range(30))
    fresh = 1000
    for _ in range(2000):
        op = rng.random()
        if op < 0.4:
            at = rng.randint(0, len(plain))
            keys = list(range(fresh, fresh + rng.randint(1, 4)))
            fresh += len(keys)
            rows.insert(at, keys)
            plain[at:at] = keys
        elif op < 0.7 and len(plain) > 5:
            first = rng.randrange(len(plain))
            last = min(len(plain) - 1, first + rng.randint(0, 3))
            rows.remove(first, last)
            del plain[first : last + 1]
        elif len(plain) > 5:
            first = rng.randrange(len(plain) - 2)
            last = first + rng.randint(0, 1)
            to = rng.choice([t for t in range(len(plain) + 1) if not first <= t <= last + 1])
            rows.move(first, last, to)
            block = plain[first : last + 1]
            rest = plain[:first] + plain[last + 1 :]
            at = to if to < first else to - len(block)
            rest[at:at] = block
            plain = rest
        assert list(rows) == plain
        assert all(rows.row(key) == i for i, key in enumerate(plain))


def test_a_page_fetched_from_a_handler_of_our_signal_is_followed_too(
    store: CallStore, db_path: Path, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A view scrolled to the bottom fetches more as soon as rows come (inside our
    `rowsInserted`): the list is laid out again once, and nothing is lost."""
    monkeypatch.setattr(call_list_model, "PAGE_SIZE", 25)
    source = CallListModel(store)
    traffic = Traffic(db_path, source, random.Random(8))
    traffic.start(70)
    source.reload()
    source.wait_for_page()  # a reload's page is read on a thread
    groups = CallGroupModel(source)
    fetched: list[int] = []

    def fetch_more(*_: object) -> None:
        if not fetched and source.canFetchMore(QModelIndex()):
            fetched.append(source.rowCount())
            source.fetchMore(QModelIndex())

    groups.rowsInserted.connect(fetch_more)
    resets: list[int] = []
    groups.modelReset.connect(lambda: resets.append(groups.rowCount()))
    traffic.start(5)
    assert fetched and source.rowCount() > fetched[0]  # the page came inside our signal
    assert len(resets) == 1
    assert layout(groups) == fresh_layout(groups)
    traffic.start(5)  # and the next batch is followed row by row again
    assert len(resets) == 1
    assert layout(groups) == fresh_layout(groups)


def test_a_selected_turn_stays_selected_through_live_batches_and_the_trim(
    store: CallStore, db_path: Path, qtbot: QtBot
) -> None:
    source = CallListModel(store)
    traffic = Traffic(db_path, source, random.Random(11))
    traffic.start(60)
    view, groups = grouped_view(source, qtbot)
    # A turn with a call of no turn between its first two calls: the trim takes its first
    # call, so its row moves up to its next one, past that call.
    spans = {
        turn: sorted(source.row_of(c) or 0 for c in groups.call_ids(row))
        for row in range(groups.rowCount())
        if (turn := groups.turn_id(row)) is not None and len(groups.call_ids(row)) > 1
    }
    turn = next(
        t
        for t, rows in spans.items()
        if any(not source.values_at(r).get("turn_id") for r in range(rows[-2] + 1, rows[-1]))
    )
    keep = spans[turn][-1]
    view.setCurrentIndex(groups.index(turn_row(groups, turn), 0))
    moves: list[int] = []
    groups.rowsMoved.connect(lambda *_: moves.append(1))
    traffic.start(8)
    source.trim(keep + 8)  # its first call goes, the others stay
    assert moves  # the turn's row moved (not removed and inserted again)
    current = view.currentIndex().row()
    assert groups.turn_id(current) == turn
    assert view.selectionModel().isRowSelected(current)
    assert view.current_call_id() == groups.call_id(current)


def grouped_view(source: CallListModel, qtbot: QtBot) -> tuple[CallListView, CallGroupModel]:
    """A shown list over `source`, grouped by turn, and its grouped model."""
    view = CallListView(source)
    qtbot.addWidget(view)
    view.resize(1200, 500)
    view.show()
    view.set_grouped(True)
    assert view.group_model is not None
    return view, view.group_model


def turn_row(model: CallGroupModel, turn: str) -> int:
    return next(r for r in range(model.rowCount()) if model.turn_id(r) == turn)


def test_a_trim_across_many_turns_takes_the_rows_below_in_one_removal(
    store: CallStore, db_path: Path, qtbot: QtBot
) -> None:
    """Codex sessions run side by side: at the trim's line, many turns have their first
    calls below it and later ones above, among calls of no turn. The turns move up to
    their next calls first, so the rows that go are one block at the bottom (a removal
    per run between them cost a signal each, and the view's work after each)."""
    cost.load_prices_in_background()  # a turn's cost reads "…" until they are loaded
    qtbot.waitUntil(cost.prices_loaded, timeout=10_000)
    rows: list[dict[str, Any]] = []
    clock = NOW
    for index in range(1, 121):  # oldest first: the bottom of the list
        clock += timedelta(milliseconds=10)
        turn = {"turn_id": f"turn-{index}"} if index % 2 else {}
        rows.append(call_row(index, clock, **turn))
    for index in range(121, 181):  # each turn's later call: above the line
        clock += timedelta(milliseconds=10)
        rows.append(call_row(index, clock, turn_id=f"turn-{2 * (index - 121) + 1}"))
    insert_calls(db_path, rows)
    source = CallListModel(store)
    source.reload()
    source.wait_for_page()
    while source.canFetchMore(QModelIndex()):
        source.fetchMore(QModelIndex())
    view, groups = grouped_view(source, qtbot)
    view.setCurrentIndex(groups.index(turn_row(groups, "turn-59"), 0))
    signals = Signals(groups)
    source.trim(60)  # the 60 later calls stay; each turn keeps one, no call of no turn does
    events = signals.take()
    assert sum(e[0] == "remove" for e in events) == 1
    assert groups.rowCount() == 60 and all(groups.turn_id(r) for r in range(60))
    assert layout(groups) == fresh_layout(groups)
    current = view.currentIndex().row()
    assert groups.turn_id(current) == "turn-59"  # the turn read stays selected
    assert view.selectionModel().isRowSelected(current)


def test_a_call_read_stays_in_the_inspector_through_the_trim_after_grouping(
    store: CallStore, db_path: Path, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone reads a call, turns "Group by turn" on and traffic goes on: when the trim
    takes the call's row, the list keeps it as the current call (parked, selected again
    when paged back). The flat list's selection, left to be deleted by the event loop,
    followed the trim too and showed no call in the inspector (and forgot the parked one)."""
    monkeypatch.setattr(call_list_view, "KEEP_ROWS", 20)
    monkeypatch.setattr(call_list_view, "TRIM_SLACK", 5)
    source = CallListModel(store)
    traffic = Traffic(db_path, source, random.Random(11))
    traffic.start(10)
    view = CallListView(source)
    qtbot.addWidget(view)
    view.resize(1200, 500)
    view.show()
    read = next(  # a call of no turn: its own row in either list
        c for r in range(10) if not source.values_at(r).get("turn_id") and (c := source.call_id(r))
    )
    assert view.select_call(read)
    view.set_grouped(True)
    shown: list[str] = []
    view.call_selected.connect(shown.append)
    traffic.start(30)  # the call read moves down, the list stays at its top
    assert (source.row_of(read) or 0) >= 30 and view.verticalScrollBar().value() == 0
    view._trim_rows()  # as after that batch
    assert source.rowCount() == 20 and not source.is_loaded(read)
    assert shown == []  # the inspector keeps the call
    assert view.current_call_id() == read


@pytest.mark.parametrize("same_ms", [False, True])
def test_a_tick_repaints_the_row_of_a_live_turn_whose_first_call_is_over(
    store: CallStore, db_path: Path, qtbot: QtBot, same_ms: bool
) -> None:
    """A turn's row shows its time so far while a call of it streams; its row sits at its
    first call's place, below (or, started in the same millisecond, beside) the live one."""
    first = call_row(2, NOW, turn_id="turn-a")  # over (above the live one when same_ms)
    live = call_row(
        1,
        NOW if same_ms else NOW + timedelta(seconds=1),
        turn_id="turn-a",
        state="streaming",
        status=None,
        duration_ms=None,
    )
    others = [call_row(i, NOW + timedelta(seconds=i)) for i in range(3, 9)]  # newer, over
    insert_calls(db_path, [live, first, *others])  # same ms: the first above the live one
    source = CallListModel(store)
    source.reload()
    source.wait_for_page()
    _view, groups = grouped_view(source, qtbot)
    row = turn_row(groups, "turn-a")
    changed: list[tuple[int, int]] = []
    groups.dataChanged.connect(lambda top, bottom, _: changed.append((top.row(), bottom.row())))
    qtbot.waitUntil(lambda: bool(changed), timeout=2000)  # the source's tick
    assert any(top <= row <= bottom for top, bottom in changed)
