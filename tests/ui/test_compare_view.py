"""CompareView end to end: the real worker, two fake providers that differ and a dead one."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from relayscope.actions.compare import CompareResult, Target
from relayscope.analysis.cost import Pricer
from relayscope.analysis.stream_stats import output_tokens_per_second
from relayscope.store.call_store import CallFilter, CallStore
from relayscope.ui.compare_view import SUMMARY_COLUMNS, CompareView
from relayscope.ui.inspector._format import DASH, count, ms, rate
from tests.fakes.provider import FakeProvider
from tests.support.worker import WorkerProcess, provider_config

#: `RELAYSCOPE_SCREENSHOTS=docs/screenshots pytest tests/ui` refreshes the screenshots.
SHOTS = os.environ.get("RELAYSCOPE_SCREENSHOTS")
BODY = {
    "model": "gpt-5.2",
    "stream": True,
    "stream_options": {"include_usage": True},
    "messages": [
        {"role": "system", "content": "Answer in one short sentence."},
        {"role": "user", "content": "Which provider answers first?"},
    ],
}


def dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    with (
        FakeProvider(name="fast") as fast,
        FakeProvider(name="slow", chunk_delay=0.04, words=24) as slow,
    ):
        config = provider_config(
            ("fast", fast.base_url),
            ("slow", slow.base_url),
            ("down", f"http://127.0.0.1:{dead_port()}/v1"),
        )
        with WorkerProcess(tmp_path_factory.mktemp("compare"), config) as worker:
            yield worker


@pytest.fixture
def store(proxy: WorkerProcess) -> Iterator[CallStore]:
    opened = proxy.store()
    yield opened
    opened.close()


@pytest.fixture
def view(store: CallStore, proxy: WorkerProcess, qtbot: QtBot, themed: Any) -> CompareView:
    widget = CompareView(store, proxy.config_path, proxy.base_url)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def expected_cells(row: dict[str, Any]) -> list[str]:
    speed = output_tokens_per_second(row["completion_tokens"], row["ttft_ms"], row["duration_ms"])
    return [
        ms(row["ttft_ms"]),
        ms(row["duration_ms"]),
        count(row["prompt_tokens"]),
        count(row["completion_tokens"]),
        rate(speed),
        Pricer().price(row).text(),
        row["finish_reason"] or DASH,
    ]


COST, ERROR, CALL = (SUMMARY_COLUMNS.index(name) for name in ("Cost", "Error", "Call"))


def run(view: CompareView, qtbot: QtBot) -> CompareResult:
    with qtbot.waitSignal(view.comparison_finished, timeout=20_000) as done:
        qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
        assert view.is_running() and not view.run_button.isEnabled()
        # The slow provider's answer is visible while it is still streaming.
        qtbot.waitUntil(lambda: 0 < len(view.columns[1].text().split()) < 24, timeout=5000)
        assert view.is_running()
    result = done.args[0]
    assert isinstance(result, CompareResult)
    return result


def test_three_targets_stream_side_by_side_and_the_summary_is_the_database(
    view: CompareView, store: CallStore, qtbot: QtBot
) -> None:
    view.set_body(BODY)
    view.set_targets([Target("fast"), Target("slow"), Target("down")])
    assert view.targets() == [Target("fast"), Target("slow"), Target("down")]
    result = run(view, qtbot)

    rows = {r["id"]: r for r in store.list_calls(CallFilter(group_id=result.group.id))}
    assert len(rows) == 3
    assert [len(view.columns), view.summary.rowCount()] == [3, 3]
    table = view.summary_rows()
    for column, cells, summary in zip(view.columns, table, result.summaries, strict=True):
        assert summary.recorded
        row = rows[summary.call_id]
        assert column.text() == (row["output_text"] or "")
        assert cells[0] == summary.target.label
        assert cells[2:ERROR] == expected_cells(row)
        assert cells[CALL] == row["id"]
    fast, slow, down = (rows[s.call_id] for s in result.summaries)
    assert view.columns[0].text().startswith("Hello from fast (gpt-5.2).")
    assert view.columns[1].text().startswith("lorem ipsum dolor")
    assert (fast["provider"], slow["provider"], down["provider"]) == ("fast", "slow", "down")
    assert fast["status"] == slow["status"] == 200
    assert down["state"] == "error" and down["status"] >= 500
    assert table[2][1].startswith(str(down["status"]))
    assert table[2][ERROR] != DASH and view.columns[2].error.isVisible()
    # gpt-5.2's list price for the answers; the dead provider's call has no usage: unknown.
    assert table[0][COST].startswith("$") and table[0][COST] != "$0.00"
    assert table[2][COST] == DASH
    assert view.summary.item(2, COST).toolTip() == "no usage recorded"
    assert table[0][COST] in view.columns[0].facts.text()
    assert fast["duration_ms"] < slow["duration_ms"]
    assert view.columns[0].badge.isVisible() and not view.columns[1].badge.isVisible()
    assert view.summary.item(0, 3).font().bold()  # the fastest total stands out
    if SHOTS:
        view.grab().save(str(Path(SHOTS) / "compare.png"))


def test_a_saved_comparison_reopens_and_reruns(
    view: CompareView, store: CallStore, proxy: WorkerProcess, qtbot: QtBot
) -> None:
    view.set_body(BODY)
    view.set_targets([Target("fast"), Target("fast", "gpt-4.1-mini")])
    view.name.setText("fast vs mini")
    with qtbot.waitSignal(view.comparison_finished, timeout=20_000) as done:
        assert view.run()
    first: CompareResult = done.args[0]
    texts = [column.text() for column in view.columns]
    assert texts[1].startswith("Hello from fast (gpt-4.1-mini).")

    again = CompareView(store, proxy.config_path, proxy.base_url)
    qtbot.addWidget(again)
    dialog = again.show_groups()
    names = [dialog.list.item(i).text() for i in range(dialog.list.count())]
    assert names[0].startswith("fast vs mini\n")
    dialog.accept()
    assert again.name.text() == "fast vs mini"
    assert again.targets() == [Target("fast"), Target("fast", "gpt-4.1-mini")]
    assert [column.text() for column in again.columns] == texts
    assert again.summary_rows() == view.summary_rows()
    with qtbot.waitSignal(again.comparison_finished, timeout=20_000) as done:
        assert again.rerun()
    rerun: CompareResult = done.args[0]
    assert rerun.group.id != first.group.id and rerun.group.name == "fast vs mini"
    assert [column.text() for column in again.columns] == texts
