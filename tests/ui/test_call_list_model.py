"""CallListModel: paging, sort and filter in SQL, live rows, units, errors that stand out."""

from __future__ import annotations

import itertools
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, QPoint, Qt
from pytestqt.qtbot import QtBot

from relayscope.analysis.cost import Pricer
from relayscope.calls import formatting
from relayscope.store.call_reader import CallReader
from relayscope.store.call_store import CallFilter, CallStore
from relayscope.ui import call_list_live
from relayscope.ui import call_list_model as clm
from relayscope.ui.call_list_model import COLUMN, PAGE_SIZE, CallListModel, format_ms
from relayscope.ui.call_list_paint import sparkline_bars
from relayscope.ui.call_list_view import CallListView
from relayscope.ui.roles import Role
from tests.ui.conftest import call_row, insert_calls, seed_calls, update_call

DISPLAY = Qt.ItemDataRole.DisplayRole
BACKGROUND = Qt.ItemDataRole.BackgroundRole
FOREGROUND = Qt.ItemDataRole.ForegroundRole


def text(model: CallListModel, row: int, column: str) -> str:
    return str(model.data(model.index(row, COLUMN[column]), DISPLAY))


def ids(model: CallListModel) -> list[str]:
    return [model.call_id(row) or "" for row in range(model.rowCount())]


@pytest.fixture
def model(store: CallStore, qtbot: QtBot) -> CallListModel:
    return CallListModel(store)


def fetch_all(model: CallListModel) -> None:
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())


def test_model_passes_qt_model_tester(
    db_path: Path, store: CallStore, themed: Any, qtmodeltester: Any
) -> None:
    seed_calls(db_path, 230)
    live = call_row(999, datetime.now(UTC), state="streaming", status=200, stream=1)
    insert_calls(db_path, [live])
    model = CallListModel(store)
    model.on_call_started(live["id"])
    model.flush_events()
    qtmodeltester.check(model)


def test_rows_are_paged_from_sql_never_loaded_all_at_once(
    db_path: Path, store: CallStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_calls(db_path, 1000)
    limits: list[int] = []
    list_calls = store.list_calls

    def spy(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        limits.append(kwargs["limit"])
        assert "request_body" not in kwargs["columns"]  # pages never carry bodies
        return list_calls(*args, **kwargs)

    monkeypatch.setattr(store, "list_calls", spy)
    model = CallListModel(store)
    assert model.rowCount() == PAGE_SIZE == 200
    # More than a page: the first page is shown at once, the calls are counted on a thread.
    assert (model.shown_count, model.total_count) == (-1, -1)
    model.wait_for_counts()
    assert (model.shown_count, model.total_count) == (1000, 1000)
    counts = []
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
        counts.append(model.rowCount())
    assert counts == [400, 600, 800, 1000, 1000]
    assert max(limits) == PAGE_SIZE
    assert len(set(ids(model))) == 1000


def test_newest_first_with_time_and_units(db_path: Path, store: CallStore) -> None:
    now = datetime.now(UTC).replace(hour=12, minute=1, second=3)
    rows = [
        call_row(
            0,
            now,
            ttft_ms=412.0,
            first_byte_ms=5.0,
            hold_ms=2000.0,
            duration_ms=3140.0,
            prompt_tokens=9,
            completion_tokens=812,
            chunk_count=814,
        ),
        call_row(1, now - timedelta(seconds=5), duration_ms=125_000.0, prompt_tokens=1204),
    ]
    insert_calls(db_path, rows)
    model = CallListModel(store)
    assert ids(model) == [rows[0]["id"], rows[1]["id"]]
    assert text(model, 0, "ttft") == "412 ms"  # the first token; the first byte is beside it
    tooltip = model.data(model.index(0, COLUMN["ttft"]), Qt.ItemDataRole.ToolTipRole)
    assert "First token 412 ms · first byte 5 ms" in tooltip
    assert "Held 2.00 s at a breakpoint (in Duration)" in tooltip
    assert text(model, 0, "duration") == "3.14 s"
    assert text(model, 0, "tokens") == "9 / 812"
    assert text(model, 1, "duration") == "2 min 05 s"
    assert text(model, 1, "tokens").startswith("1,204 / ")
    assert text(model, 0, "stream") == "SSE" and text(model, 0, "chunks") == "814"
    assert text(model, 1, "stream") == "" and text(model, 1, "chunks") == ""
    local = now.astimezone()
    assert text(model, 0, "time") == local.strftime(
        "%H:%M:%S" if local.date() == datetime.now().astimezone().date() else "%b %d %H:%M:%S"
    )
    right = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    for column in ("ttft", "duration", "tokens", "chunks"):
        assert (
            model.data(model.index(0, COLUMN[column]), Qt.ItemDataRole.TextAlignmentRole) == right
        )


def test_the_cost_column_prices_each_row_and_says_unknown(
    db_path: Path, store: CallStore, qtbot: QtBot
) -> None:
    now = datetime.now(UTC)
    usage = {"prompt_tokens": 2000, "completion_tokens": 100}
    rows = [
        call_row(1, now, model="gpt-5.2", status=200, state="complete", **usage),
        call_row(2, now - timedelta(seconds=1), model="gpt-5.2", status=200, state="complete",
                 cached_tokens=1900, **usage),
        call_row(3, now - timedelta(seconds=2), model="own-model", status=200, state="complete",
                 **usage),
        call_row(4, now - timedelta(seconds=3), model="gpt-5.2", status=200, state="streaming",
                 prompt_tokens=None, completion_tokens=None),
    ]  # fmt: skip
    insert_calls(db_path, rows)
    model = CallListModel(store)
    # The first paint starts loading the price list on its own thread and shows "…" till then.
    assert clm.prices_loaded() or text(model, 0, "cost") == "…"
    qtbot.waitUntil(clm.prices_loaded, timeout=10_000)
    full, cached = (Pricer().price(store.get_call(r["id"]) or {}) for r in rows[:2])
    assert full.usd is not None and cached.usd is not None and cached.usd < full.usd
    assert [text(model, r, "cost") for r in range(4)] == [full.text(), cached.text(), "—", ""]
    tip = model.data(model.index(2, COLUMN["cost"]), Qt.ItemDataRole.ToolTipRole)
    assert tip == "no price known for model 'own-model'"
    right = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    assert model.data(model.index(0, COLUMN["cost"]), Qt.ItemDataRole.TextAlignmentRole) == right


def test_clicking_cost_keeps_the_list_in_its_order_and_says_so(
    db_path: Path, store: CallStore, qtbot: QtBot, themed: Any
) -> None:
    seed_calls(db_path, 20)
    view = CallListView(CallListModel(store))
    qtbot.addWidget(view)
    view.resize(2400, 400)
    view.show()
    header = view.horizontalHeader()

    def click(key: str) -> None:
        x = header.sectionViewportPosition(COLUMN[key]) + 5
        qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))

    click("duration")
    by_duration = ids(view.model())  # type: ignore[arg-type]
    assert header.sortIndicatorSection() == COLUMN["duration"]
    click("cost")
    assert header.sortIndicatorSection() == COLUMN["duration"]  # the indicator tells the truth
    assert ids(view.model()) == by_duration  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ms", "shown"),
    [(None, "—"), (0.4, "0.4 ms"), (412, "412 ms"), (999.4, "999 ms"), (3140, "3.14 s"),
     (42_000, "42.0 s"), (125_000, "2 min 05 s")],
)  # fmt: skip
def test_durations_read_with_units(ms: float | None, shown: str) -> None:
    # The list's durations are the inspector's and the CLI's (one formatter, issue 16).
    assert clm.format_ms is formatting.duration_ms
    assert clm.format_ms(ms) == shown


def test_tokens_and_counts_read_with_separators() -> None:
    assert clm.format_tokens(9, 812) == "9 / 812"
    assert clm.format_tokens(12_345, None) == "12,345 / —"
    assert clm.format_tokens(None, None) == "—"
    assert clm.format_count(1204) == "1,204"


def test_sort_runs_in_sql(db_path: Path, store: CallStore) -> None:
    rows = seed_calls(db_path, 450)
    model = CallListModel(store)
    model.sort(COLUMN["duration"], Qt.SortOrder.DescendingOrder)
    model.wait_for_page()
    assert model.rowCount() == PAGE_SIZE
    longest = max(rows, key=lambda r: (r["duration_ms"], r["id"]))
    assert model.call_id(0) == longest["id"]
    model.sort(COLUMN["duration"], Qt.SortOrder.AscendingOrder)
    model.wait_for_page()
    fetch_all(model)
    durations = [model.data(model.index(r, 0), Role.CALL_ROW)["duration_ms"] for r in range(450)]
    assert durations == sorted(durations)
    model.sort(COLUMN["provider"], Qt.SortOrder.AscendingOrder)
    model.wait_for_page()
    assert text(model, 0, "provider") == "demo"


def test_filters_run_in_sql(db_path: Path, store: CallStore) -> None:
    rows = seed_calls(db_path, 300)
    model = CallListModel(store)
    counts: list[tuple[int, int]] = []
    model.counts_changed.connect(lambda shown, total: counts.append((shown, total)))

    model.set_filter(CallFilter(errors_only=True))
    model.wait_for_page()
    model.wait_for_counts()
    fetch_all(model)
    failed = [r for r in rows if r["state"] in ("error", "interrupted")]
    assert counts[-1] == (len(failed), 300)
    assert sorted(ids(model)) == sorted(r["id"] for r in failed)

    model.set_filter(CallFilter(text="kubernetes"))  # in prompts only: found by FTS
    model.wait_for_page()
    model.wait_for_counts()
    fetch_all(model)
    wanted = {r["id"] for r in rows if "kubernetes" in r["request_body"]}
    assert set(ids(model)) == wanted and counts[-1] == (len(wanted), 300)

    model.set_filter(CallFilter(provider="openai", streams_only=True))
    model.wait_for_page()
    assert {text(model, r, "provider") for r in range(model.rowCount())} == {"openai"}
    assert {text(model, r, "stream") for r in range(model.rowCount())} == {"SSE"}

    model.set_filter(CallFilter(text="poem"))
    model.set_filter(CallFilter(text="recipe"))  # typed over: the newest filter's count wins
    model.wait_for_page()
    model.wait_for_counts()
    assert counts[-1] == (len([r for r in rows if "recipe" in r["request_body"]]), 300)

    model.set_filter(CallFilter(text="no such thing anywhere"))
    model.wait_for_page()
    model.wait_for_counts()
    assert model.rowCount() == 0 and counts[-1] == (0, 300)


def test_a_started_call_is_inserted_at_the_top_and_updated_in_place(
    db_path: Path, store: CallStore, qtbot: QtBot
) -> None:
    seed_calls(db_path, 250)
    model = CallListModel(store)
    model.wait_for_counts()  # more than a page: counted on a thread at start
    live = call_row(
        1000, datetime.now(UTC), state="pending", status=None, stream=1, chunk_count=0,
        duration_ms=None, ttft_ms=None, prompt_tokens=None, completion_tokens=None,
    )  # fmt: skip
    insert_calls(db_path, [live])
    with qtbot.waitSignal(model.rowsInserted) as inserted:
        model.on_call_started(live["id"])
    assert inserted.args[1:] == [0, 0]
    assert model.call_id(0) == live["id"] and model.row_of(live["id"]) == 0
    assert (model.shown_count, model.total_count) == (251, 251)
    assert text(model, 0, "status") == "…" and text(model, 0, "state") == "pending"

    with qtbot.waitSignal(model.dataChanged):
        model.on_call_updated(live["id"], {"chunk_count": 17, "state": "streaming"})
    assert (text(model, 0, "chunks"), text(model, 0, "state")) == ("17", "streaming")
    # The recording process sends a live stream's gap profile (at most twice a second).
    profile = {"max": [12.0, 11.0, 2500.0], "stall": 1000.0}
    model.on_call_updated(live["id"], {"max_gap_ms": 2500.0, "gap_profile": json.dumps(profile)})
    model.flush_events()
    assert text(model, 0, "gaps") == format_ms(2500.0)
    assert model.data(model.index(0, COLUMN["gaps"]), Role.GAPS) == ([12.0, 11.0, 2500.0], 1000.0)
    first = text(model, 0, "duration")
    assert first.endswith("…")  # a live elapsed time
    qtbot.waitUntil(lambda: text(model, 0, "duration") != first, timeout=1000)

    update_call(
        db_path, live["id"], state="complete", status=200, duration_ms=2400.0,
        ttft_ms=310.0, chunk_count=40, prompt_tokens=12, completion_tokens=38,
    )  # fmt: skip
    model.on_call_finished(live["id"], {"state": "complete"})
    model.flush_events()
    assert [text(model, 0, c) for c in ("status", "state", "duration", "tokens", "chunks")] == [
        "200",
        "complete",
        "2.40 s",
        "12 / 38",
        "40",
    ]
    qtbot.waitUntil(lambda: not model._tick.isActive(), timeout=500)  # ticks only while live
    fetch_all(model)
    assert len(set(ids(model))) == model.rowCount() == 251  # paging after an insert: no repeats


def test_a_started_call_outside_the_filter_only_counts(db_path: Path, store: CallStore) -> None:
    seed_calls(db_path, 20)
    model = CallListModel(store)
    model.set_filter(CallFilter(errors_only=True))
    model.wait_for_page()
    before = model.rowCount()
    live = call_row(500, datetime.now(UTC), state="pending", status=None, error=None)
    insert_calls(db_path, [live])
    model.on_call_started(live["id"])
    model.flush_events()
    assert model.rowCount() == before and model.total_count == 21
    # It fails: now it belongs in "errors only".
    update_call(db_path, live["id"], state="error", status=502, error="upstream unreachable")
    model.on_call_finished(live["id"], {"state": "error"})
    model.flush_events()
    assert model.call_id(0) == live["id"] and text(model, 0, "status") == "502"


def test_sorted_by_something_else_a_new_call_does_not_jump_in(
    db_path: Path, store: CallStore
) -> None:
    seed_calls(db_path, 20)
    model = CallListModel(store)
    model.sort(COLUMN["duration"], Qt.SortOrder.DescendingOrder)
    model.wait_for_page()
    live = call_row(500, datetime.now(UTC), state="pending", duration_ms=None)
    insert_calls(db_path, [live])
    model.on_call_started(live["id"])
    model.flush_events()
    assert live["id"] not in ids(model) and model.total_count == 21


def test_errors_and_interruptions_stand_out_and_read_without_colour(
    db_path: Path, store: CallStore, themed: Any
) -> None:
    now = datetime.now(UTC)
    rows = [
        call_row(0, now, state="complete", status=200),
        call_row(1, now - timedelta(seconds=1), state="error", status=429, error="slow down"),
        call_row(2, now - timedelta(seconds=2), state="interrupted", status=200, error="cut"),
    ]
    insert_calls(db_path, rows)
    model = CallListModel(store)
    ok, failed, cut = (model.index(r, COLUMN["status"]) for r in range(3))
    assert model.data(ok, BACKGROUND) is None
    assert model.data(failed, BACKGROUND) is not None and model.data(cut, BACKGROUND) is not None
    red = model.data(failed, FOREGROUND).color()
    assert red.red() > 2 * red.green()
    assert [text(model, r, "status") + " " + text(model, r, "state") for r in range(3)] == [
        "200 complete",
        "429 error",
        "200 interrupted",
    ]
    icons = [model.data(i, Qt.ItemDataRole.DecorationRole).cacheKey() for i in (ok, failed, cut)]
    assert len(set(icons)) == 3  # a different shape for each outcome
    assert "slow down" in model.data(failed, Qt.ItemDataRole.ToolTipRole)


def test_gaps_column_shows_the_longest_gap_and_hands_the_profile_to_the_view(
    db_path: Path, store: CallStore
) -> None:
    rows = seed_calls(db_path, 12)
    model = CallListModel(store)
    stalled = next(r for r in rows if r.get("max_gap_ms", 0) >= 1000)
    position = model.row_of(stalled["id"])
    assert position is not None
    index = model.index(position, COLUMN["gaps"])
    assert model.data(index) == format_ms(stalled["max_gap_ms"])
    gaps, stall = model.data(index, Role.GAPS)
    assert len(gaps) == 24 and max(gaps) == stalled["max_gap_ms"] and stall == 1000.0
    plain = next(r for r in rows if not r["stream"])
    plain_index = model.index(model.row_of(plain["id"]) or 0, COLUMN["gaps"])
    assert model.data(plain_index) == "" and model.data(plain_index, Role.GAPS) is None


def test_sparkline_bars_scale_to_the_tallest_gap_and_mark_stalls() -> None:
    bars = sparkline_bars([10.0, 20.0, 2000.0, 10.0], 1000.0, 40, 20)
    assert [b[2] for b in bars] == [1, 1, 20, 1]  # a steady stream still shows a baseline
    assert [b[3] for b in bars] == [False, False, True, False]
    assert [b[0] for b in bars] == [0, 4, 8, 12]
    assert sparkline_bars([10.0] * 30, 1000.0, 20, 20) == []  # no room: nothing drawn


def test_every_column_sorts(db_path: Path, store: CallStore) -> None:
    """Clicking any column header works (the store only sorts by columns it allows); Cost,
    priced when shown and never stored, cannot be sorted in SQL and says so by not sorting."""
    seed_calls(db_path, 30)
    model = CallListModel(store)
    for column in range(model.columnCount()):
        for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
            model.sort(COLUMN["time"], Qt.SortOrder.DescendingOrder)
            model.wait_for_page()
            newest_first = ids(model)
            model.sort(column, order)
            model.wait_for_page()
            assert model.rowCount() == 30
            if not clm.COLUMNS[column].sortable:
                assert ids(model) == newest_first  # the order stays; nothing pretends
    assert [c.key for c in clm.COLUMNS if not c.sortable] == ["cost"]
    model.sort(COLUMN["gaps"], Qt.SortOrder.DescendingOrder)
    model.wait_for_page()
    longest = [model.values_at(r).get("max_gap_ms") for r in range(3)]
    assert longest[0] is not None and longest == sorted(longest, reverse=True)


def trimming_view(
    db_path: Path,
    store: CallStore,
    qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
    *,
    keep: int,
    seeded: int,
) -> tuple[CallListModel, CallListView]:
    """A shown list over `seeded` calls whose view trims it to `keep` rows once 5 more
    have arrived."""
    from relayscope.ui import call_list_view

    monkeypatch.setattr(call_list_view, "KEEP_ROWS", keep)
    monkeypatch.setattr(call_list_view, "TRIM_SLACK", 5)
    seed_calls(db_path, seeded)
    model = CallListModel(store)
    view = CallListView(model)
    qtbot.addWidget(view)
    view.resize(900, 300)
    view.show()
    return model, view


def test_a_backlog_reaches_the_list_in_slices_oldest_first(
    db_path: Path, store: CallStore, qtbot: QtBot
) -> None:
    # A recorder that committed late sends hundreds of calls at once. On a machine where a
    # call's row costs 1 ms, applying them whole would freeze the window for half a second:
    # they come in slices instead, half a tick apart (the window paints and takes input
    # between them), oldest first, a call's later events with it.
    seed_calls(db_path, 10)
    model = CallListModel(store)
    model._ms_per_read = 1.0  # measured on a slow machine (it learns from each batch)
    now = datetime.now(UTC)
    backlog = [call_row(2000 + i, now + timedelta(milliseconds=i)) for i in range(450)]
    insert_calls(db_path, backlog)
    last = backlog[-1]["id"]
    update_call(db_path, last, state="complete", status=500)
    slices: list[tuple[float, int]] = []
    model.rowsInserted.connect(
        lambda _, first, end: slices.append((time.perf_counter(), end - first + 1))
    )
    model.on_call_events(
        [{"event": "call_started", "id": row["id"]} for row in backlog]
        + [{"event": "call_finished", "id": last, "state": "complete"}]
    )
    qtbot.waitUntil(lambda: bool(slices), timeout=1000)
    # Between BATCH_MS and MAX_BATCH_MS of work at a time (1 ms a row, as measured so far).
    assert call_list_live.BATCH_MS <= slices[0][1] <= call_list_live.MAX_BATCH_MS
    assert model.row_of(last) is None  # its end waits with it
    qtbot.waitUntil(lambda: not model.has_pending_events(), timeout=3000)
    assert sum(n for _, n in slices) == 450 and len(slices) >= 3
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(slices)]
    assert min(gaps) >= 0.4 * call_list_live.TICK_MS / 1000  # the event loop ran between
    assert ids(model)[:450] == [row["id"] for row in reversed(backlog)]
    assert text(model, 0, "status") == "500" and model.total_count == 460


def test_a_slow_repaint_makes_the_slices_of_a_backlog_smaller(
    db_path: Path, store: CallStore, qtbot: QtBot
) -> None:
    # A slice and the repaint after it run in one pass of the event loop: when the list
    # paints slowly (Group by turn, a big window), the slices leave it room.
    seed_calls(db_path, 10)
    model = CallListModel(store)
    per_read = 0.5  # ms a row: the room the repaint leaves is fewer rows than the usual most
    model._ms_per_read = per_read
    for _ in range(30):
        model.note_paint_ms(16.0)  # as the view reports each repaint
    now = datetime.now(UTC)
    backlog = [call_row(3000 + i, now + timedelta(milliseconds=i)) for i in range(450)]
    insert_calls(db_path, backlog)
    slices: list[int] = []
    model.rowsInserted.connect(lambda _, first, end: slices.append(end - first + 1))
    model.on_call_events([{"event": "call_started", "id": row["id"]} for row in backlog])
    qtbot.waitUntil(lambda: bool(slices), timeout=1000)
    room = call_list_live.PASS_MS - 16  # what the 16 ms repaint leaves of a pass
    assert call_list_live.BATCH_MS / per_read <= slices[0] <= room / per_read + 1
    assert slices[0] < call_list_live.MAX_BATCH_MS / per_read - 10
    qtbot.waitUntil(lambda: not model.has_pending_events(), timeout=5000)
    assert sum(slices) == 450


def test_a_backlog_is_applied_to_the_end_when_the_last_live_call_ends_meanwhile(
    db_path: Path, store: CallStore, qtbot: QtBot
) -> None:
    # The tick applies a backlog while calls are live and stops when none is live any more:
    # what the slices have left must still be applied, not wait for the next event.
    seed_calls(db_path, 10)
    model = CallListModel(store)
    now = datetime.now(UTC)
    live = call_row(4000, now, state="streaming", status=200, stream=1)
    insert_calls(db_path, [live])
    model.on_call_started(live["id"])
    model.flush_events()
    assert model._tick.isActive()
    model._ms_per_read = 1.0
    backlog = [call_row(4001 + i, now + timedelta(milliseconds=1 + i)) for i in range(300)]
    insert_calls(db_path, backlog)
    update_call(db_path, live["id"], state="complete")
    model.on_call_events(
        [{"event": "call_started", "id": row["id"]} for row in backlog]
        + [{"event": "call_updated", "id": live["id"], "state": "complete"}]
    )
    qtbot.waitUntil(lambda: not model._tick.isActive(), timeout=2000)
    qtbot.waitUntil(lambda: not model.has_pending_events(), timeout=2000)
    assert ids(model)[:301] == [row["id"] for row in reversed([live, *backlog])]


def test_deferred_work_due_at_once_runs_in_separate_passes_of_the_event_loop(
    db_path: Path, store: CallStore, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Timers due together fire in one pass of the event loop, with no paint or input
    # between them: a slice's follow-up and the tick, or a slice and the view's trim, would
    # add up into one long pause. Each waits until WORK_GAP_MS after the last one ended.
    model, view = trimming_view(db_path, store, qtbot, monkeypatch, keep=10, seeded=10)
    model._ms_per_read = 1.0  # so that a backlog comes in slices
    now = datetime.now(UTC)
    backlog = [call_row(5000 + i, now + timedelta(milliseconds=i)) for i in range(120)]
    insert_calls(db_path, backlog)
    model.on_call_events([{"event": "call_started", "id": row["id"]} for row in backlog])
    slices: list[int] = []
    model.rowsInserted.connect(  # at the top (the view may page back what the trim took)
        lambda _, first, last: slices.append(last - first + 1) if first == 0 else None
    )
    removed: list[int] = []
    model.rowsRemoved.connect(lambda _, first, last: removed.append(last - first + 1))
    model._flush_paced()  # a slice...
    model._on_tick_timeout()  # ... and the tick, due in the same pass: no second slice
    view._on_trim_timer_timeout()  # ... nor the trim of the rows the slice brought
    assert len(slices) == 1 and removed == [] and model.has_pending_events()
    qtbot.waitUntil(lambda: not model.has_pending_events(), timeout=3000)
    qtbot.waitUntil(lambda: bool(removed), timeout=1000)  # the trim came a pass later
    assert ids(model)[:10] == [row["id"] for row in reversed(backlog)][:10]
    model.trim(10)
    model._flush_paced()  # nothing waits, and nothing is applied in the trim's pass
    assert model.rowCount() == 10


def test_a_burst_of_events_is_applied_as_one_batch_with_one_query(
    db_path: Path, store: CallStore, qtbot: QtBot
) -> None:
    seed_calls(db_path, 250)
    model = CallListModel(store)
    model.wait_for_counts()  # counted before the burst is recorded, not with it
    assert model.total_count == 250
    old = {call_id: model.row_of(call_id) for call_id in ids(model)}
    stamps = dict(model._index)
    now = datetime.now(UTC)
    burst = [
        call_row(1000 + i, now + timedelta(milliseconds=i), state="streaming", status=None)
        for i in range(60)
    ]
    insert_calls(db_path, burst)
    inserted: list[tuple[int, int]] = []
    resets: list[bool] = []
    model.rowsInserted.connect(lambda _, first, last: inserted.append((first, last)))
    model.modelReset.connect(lambda: resets.append(True))
    queries = model.batch_queries
    for row in burst:
        model.on_call_started(row["id"])
        model.on_call_updated(row["id"], {"chunk_count": 3, "state": "streaming"})
    model.on_call_finished(burst[0]["id"], {"state": "complete"})
    assert model.rowCount() == PAGE_SIZE and model.has_pending_events()  # until the batch
    qtbot.waitUntil(lambda: not model.has_pending_events(), timeout=1000)  # the timer's tick
    assert model.batch_queries - queries == 1
    assert inserted == [(0, 59)] and resets == []
    assert ids(model)[:60] == [row["id"] for row in reversed(burst)]  # newest first
    assert (model.shown_count, model.total_count) == (310, 310)
    # Rows that were loaded only moved down; none of them was renumbered on the way.
    assert all(model.row_of(call_id) == row + 60 for call_id, row in old.items() if row is not None)
    assert all(model._index[call_id] == stamp for call_id, stamp in stamps.items())
    # Updates of a loaded row wait for the batch too, merged: one dataChanged per run.
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda top, bottom, _: changed.append((top.row(), bottom.row())))
    for count in range(4, 9):
        for row in burst[-3:]:
            model.on_call_updated(row["id"], {"chunk_count": count})
    model.flush_events()
    assert changed == [(0, 2)] and text(model, 0, "chunks") == "8"
    assert model.batch_queries - queries == 1  # updates carry their fields: no SQL


def test_paging_after_live_batches_brings_no_repeats_and_keeps_order(
    db_path: Path, store: CallStore
) -> None:
    seed_calls(db_path, 450)
    model = CallListModel(store)
    now = datetime.now(UTC)
    for batch in range(3):
        rows = [call_row(2000 + 10 * batch + i, now + timedelta(seconds=batch, milliseconds=i))
                for i in range(10)]  # fmt: skip
        insert_calls(db_path, rows)
        for row in rows:
            model.on_call_started(row["id"])
        model.flush_events()
    fetch_all(model)
    everything = [row[0] for row in store.db.conn.execute(
        "SELECT id FROM calls ORDER BY started_at DESC").fetchall()]  # fmt: skip
    assert ids(model) == everything
    assert all(model.row_of(call_id) == row for row, call_id in enumerate(everything))


def test_a_late_call_is_placed_by_its_start_time(db_path: Path, store: CallStore) -> None:
    seed_calls(db_path, 20)
    model = CallListModel(store)
    model.set_filter(CallFilter(errors_only=True))
    model.wait_for_page()
    now = datetime.now(UTC)
    fresh = call_row(3003, now, state="error", status=500)
    insert_calls(db_path, [fresh])
    model.on_call_started(fresh["id"])
    model.flush_events()
    # A call that started earlier fails now: it joins the filter below the newer one.
    late = call_row(3000, now - timedelta(milliseconds=1500), state="pending", status=None)
    insert_calls(db_path, [late])
    update_call(db_path, late["id"], state="error", status=502, error="upstream unreachable")
    model.on_call_finished(late["id"], {"state": "error"})
    model.flush_events()
    assert ids(model)[:2] == [fresh["id"], late["id"]]
    assert all(model.row_of(call_id) == row for row, call_id in enumerate(ids(model)))


def test_the_view_keeps_selection_and_place_while_batches_arrive(
    db_path: Path, store: CallStore, qtbot: QtBot
) -> None:
    from relayscope.ui.call_list_view import CallListView

    seed_calls(db_path, 300)
    model = CallListModel(store)
    view = CallListView(model)
    qtbot.addWidget(view)
    view.resize(900, 400)
    view.show()
    chosen = model.call_id(40) or ""
    assert view.select_call(chosen)
    bar = view.verticalScrollBar()
    bar.setValue(bar.value() + 5)  # reading further down
    qtbot.wait(10)
    top_before = model.call_id(view.rowAt(0))
    now = datetime.now(UTC)
    rows = [call_row(4000 + i, now + timedelta(milliseconds=i)) for i in range(25)]
    insert_calls(db_path, rows)
    for row in rows:
        model.on_call_started(row["id"])
    model.flush_events()
    assert view.current_call_id() == chosen
    assert view.selected_call_ids() == [chosen]
    assert model.call_id(view.rowAt(0)) == top_before  # the rows read stay where they were


def test_events_waiting_when_the_filter_changes_are_counted_once(
    db_path: Path, store: CallStore
) -> None:
    seed_calls(db_path, 20)
    model = CallListModel(store)
    live = call_row(600, datetime.now(UTC), state="complete", status=200, error=None)
    insert_calls(db_path, [live])
    model.on_call_started(live["id"])
    model.set_filter(CallFilter(errors_only=True))  # before the batch's tick
    model.wait_for_page()
    model.flush_events()
    assert model.total_count == 21 and live["id"] not in ids(model)
    model.set_filter(CallFilter())
    model.wait_for_page()
    assert (model.shown_count, model.total_count) == (21, 21) and model.call_id(0) == live["id"]


def test_trimming_drops_the_bottom_rows_and_paging_brings_them_back(
    db_path: Path, store: CallStore
) -> None:
    seed_calls(db_path, 300)
    model = CallListModel(store)
    fetch_all(model)
    now = datetime.now(UTC)
    live = [call_row(5000 + i, now + timedelta(milliseconds=i)) for i in range(40)]
    insert_calls(db_path, live)
    for row in live:
        model.on_call_started(row["id"])
    model.flush_events()
    assert model.rowCount() == 340
    removed: list[tuple[int, int]] = []
    model.rowsRemoved.connect(lambda _, first, last: removed.append((first, last)))
    # Every paged row and the 10 oldest live ones go: the live rows' stamps stay valid.
    assert model.trim(30) == 310 and removed == [(30, 339)] and model.rowCount() == 30
    assert ids(model) == [row["id"] for row in reversed(live)][:30]
    assert all(model.row_of(call_id) == row for row, call_id in enumerate(ids(model)))
    assert not model.is_loaded(live[0]["id"]) and model.canFetchMore(QModelIndex())
    more = [call_row(6000 + i, now + timedelta(seconds=1, milliseconds=i)) for i in range(5)]
    insert_calls(db_path, more)
    for row in more:
        model.on_call_started(row["id"])
    model.flush_events()
    fetch_all(model)
    everything = [row[0] for row in store.db.conn.execute(
        "SELECT id FROM calls ORDER BY started_at DESC").fetchall()]  # fmt: skip
    assert ids(model) == everything
    assert all(model.row_of(call_id) == row for row, call_id in enumerate(everything))


def test_a_page_asked_for_inside_the_trim_does_not_change_what_it_drops(
    db_path: Path, store: CallStore
) -> None:
    """A view shrinking with the rows may fetch more from inside the trim's signal (the
    grouped list's view did, in bench/group_bench.py): a page read there was dropped by the
    trim in place of the rows it announced, and the grouped list kept turns of calls gone."""
    seed_calls(db_path, 500)
    model = CallListModel(store)
    model.fetchMore(QModelIndex())
    assert model.rowCount() == 400 and model.canFetchMore(QModelIndex())
    kept = ids(model)[:30]
    model.rowsAboutToBeRemoved.connect(lambda *_: model.fetchMore(QModelIndex()))
    assert model.trim(30) == 370
    assert ids(model) == kept
    assert all(model.row_of(call_id) == row for row, call_id in enumerate(kept))
    assert model.canFetchMore(QModelIndex())  # and the rows dropped are paged back


def test_the_view_trims_the_list_read_at_its_top_but_not_one_read_further_down(
    db_path: Path, store: CallStore, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, view = trimming_view(db_path, store, qtbot, monkeypatch, keep=50, seeded=20)
    view.select_first_row()
    chosen = model.call_id(0) or ""
    now = datetime.now(UTC)

    def arrive(first: int, count: int) -> None:
        rows = [call_row(first + i, now + timedelta(seconds=first, milliseconds=i))
                for i in range(count)]  # fmt: skip
        insert_calls(db_path, rows)
        for row in rows:
            model.on_call_started(row["id"])
        model.flush_events()

    selected: list[str] = []
    view.call_selected.connect(selected.append)
    arrive(7000, 60)
    qtbot.waitUntil(lambda: model.rowCount() < 80, timeout=1000)
    # The selected call (row 60) went with the rows below 50, but it is still the current
    # call for the window (no signal: the inspector goes on showing it).
    assert model.rowCount() == 50 and not model.is_loaded(chosen)
    assert view.current_call_id() == chosen and view.selected_call_ids() == [chosen]
    assert selected == []
    view.verticalScrollBar().setValue(40)  # someone reads further down
    arrive(8000, 60)
    qtbot.wait(50)
    assert model.rowCount() >= 110  # nothing dropped
    while not model.is_loaded(chosen):
        model.fetchMore(QModelIndex())
    qtbot.wait(10)
    assert view.currentIndex().row() == model.row_of(chosen) and selected == []


def test_while_calls_are_live_the_tick_applies_the_events(
    db_path: Path, store: CallStore, qtbot: QtBot
) -> None:
    seed_calls(db_path, 10)
    model = CallListModel(store)
    live = call_row(9000, datetime.now(UTC), state="streaming", status=200, stream=1)
    insert_calls(db_path, [live])
    model.on_call_started(live["id"])
    model.flush_events()
    assert model._tick.isActive()
    nxt = call_row(9001, datetime.now(UTC) + timedelta(milliseconds=5), state="pending")
    insert_calls(db_path, [nxt])
    model.on_call_started(nxt["id"])
    model.on_call_updated(live["id"], {"chunk_count": 9})
    assert not model._flush_timer.isActive()  # one repaint per tick, not one per batch too
    with qtbot.waitSignal(model.rowsInserted, timeout=1000):
        pass
    assert model.call_id(0) == nxt["id"] and text(model, 1, "chunks") == "9"


def test_a_just_finished_call_paints_its_cost_in_the_live_list(
    db_path: Path, store: CallStore, qtbot: QtBot, themed: Any
) -> None:
    """Issue 19: the Cost cell of a call that finished while the list was live must be
    painted with its price (what the delegate paints, not only what data() says)."""
    from relayscope.ui import call_list_paint

    painted: dict[tuple[str, int], str] = {}

    class Recording(call_list_paint.RowDelegate):
        def paint(self, painter: Any, option: Any, index: Any) -> None:
            painted[(index.data(Role.CALL_ID), index.column())] = str(index.data())
            super().paint(painter, option, index)

    clm.load_prices_in_background()
    qtbot.waitUntil(clm.prices_loaded, timeout=10_000)
    seed_calls(db_path, 30)
    model = CallListModel(store)
    view = CallListView(model)
    view.setItemDelegate(Recording(view))
    qtbot.addWidget(view)
    view.resize(1600, 500)
    view.show()
    view.select_first_row()
    cost = COLUMN["cost"]
    covered: list[tuple[int, int, int, int]] = []
    model.dataChanged.connect(
        lambda top, bottom, _: covered.append(
            (top.row(), bottom.row(), top.column(), bottom.column())
        )
    )
    now = datetime.now(UTC)
    usage = {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500}
    stream = call_row(100, now, model="gpt-5.2", state="streaming", status=200, stream=1,
                      prompt_tokens=None, completion_tokens=None)  # fmt: skip
    plain = call_row(101, now + timedelta(milliseconds=5), model="gpt-5.2", state="pending",
                     status=None, stream=0, prompt_tokens=None, completion_tokens=None,
                     duration_ms=None)  # fmt: skip
    insert_calls(db_path, [stream, plain])
    model.on_call_started(stream["id"])
    model.on_call_started(plain["id"])
    qtbot.waitUntil(lambda: not model.has_pending_events(), timeout=1000)
    qtbot.waitUntil(lambda: (plain["id"], cost) in painted, timeout=1000)
    assert painted[(plain["id"], cost)] == ""  # live: priced once its usage has come
    # It ends while the stream goes on and another call arrives in the same batch.
    update_call(db_path, plain["id"], state="complete", status=200, duration_ms=310.0, **usage)
    later = call_row(102, now + timedelta(milliseconds=9), state="pending", status=None)
    insert_calls(db_path, [later])
    model.on_call_finished(plain["id"], {"state": "complete", "status": 200})
    model.on_call_updated(stream["id"], {"chunk_count": 12})
    model.on_call_started(later["id"])
    covered.clear()
    qtbot.waitUntil(lambda: not model.has_pending_events(), timeout=1000)
    price = text(model, model.row_of(plain["id"]) or 0, "cost")
    assert price.startswith("$")
    row = model.row_of(plain["id"])
    assert any(t <= row <= b and left <= cost <= right for t, b, left, right in covered)
    qtbot.waitUntil(lambda: painted.get((plain["id"], cost)) == price, timeout=1000)
    # And it stays painted while the tick repaints the live rows around it.
    qtbot.wait(250)
    assert painted[(plain["id"], cost)] == price
    view.grab()  # a fresh paint of everything agrees
    assert painted[(plain["id"], cost)] == price


def test_typing_never_waits_for_the_page_and_an_older_page_never_replaces_a_newer_one(
    db_path: Path, store: CallStore, monkeypatch: pytest.MonkeyPatch, qtbot: QtBot
) -> None:
    rows = seed_calls(db_path, 60)
    model = CallListModel(store)
    # The first keystroke's read is held back until the second one's page is shown.
    real_page = CallReader.page
    release = threading.Event()

    def gated(reader: CallReader, flt: CallFilter, *args: Any, **kwargs: Any) -> Any:
        if flt.text == "poem":
            release.wait(5)
            kwargs["cancelled"] = None  # it runs to the end: its result arrives, late
        return real_page(reader, flt, *args, **kwargs)

    monkeypatch.setattr(CallReader, "page", gated)
    model.set_filter(CallFilter(text="poem"))
    assert model.loading and model.rowCount() == 60  # the old rows stay while it reads
    model.set_filter(CallFilter(text="recipe"))
    model.wait_for_page()
    recipe = [r["id"] for r in reversed(rows) if "recipe" in r["request_body"]]
    assert ids(model) == recipe and not model.loading
    release.set()
    qtbot.wait(300)  # the "poem" page arrives late, and is dropped
    assert ids(model) == recipe
    model.wait_for_counts()
    assert model.shown_count == len(recipe)


def test_a_new_filters_count_waits_for_its_page_to_be_painted(
    db_path: Path, store: CallStore, qtbot: QtBot
) -> None:
    """The rows are what a person waits for: a new filter's count (a read of its own, which
    slowed the page's paint beside it) starts once the page is on screen; without a view
    painting it, it starts anyway, a moment later."""
    seed_calls(db_path, 250)
    model = CallListModel(store)
    view = CallListView(model)
    qtbot.addWidget(view)
    view.resize(900, 400)
    view.show()
    model.wait_for_counts()
    qtbot.wait(20)
    counted: list[tuple[int, int]] = []
    model.counts_changed.connect(lambda shown, total: counted.append((shown, total)))
    model.set_filter(CallFilter(errors_only=True))
    model.wait_for_page()  # the page is in, not painted yet: nothing counts meanwhile
    assert model.shown_count == -1 and counted == [(-1, 250)]
    assert not model._reads.pending("count")
    qtbot.waitUntil(lambda: model.shown_count >= 0, timeout=5000)  # painted, then counted
    failed = [c for c in range(250) if c % 7 == 3 or c % 11 == 5]
    assert counted[-1] == (len(failed), 250) and model.rowCount() == len(failed)
    # A model no view paints still counts its filter.
    alone = CallListModel(store)
    alone.wait_for_counts()
    alone.set_filter(CallFilter(errors_only=True))
    alone.wait_for_page()
    qtbot.waitUntil(lambda: alone.shown_count == len(failed), timeout=5000)
    alone.close()
