"""StreamTab, StreamTimeline and ChunkTableModel: what a person sees of a recorded stream."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QBrush
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from relayscope.store.call_store import open_database
from relayscope.ui.inspector import CallInspector
from relayscope.ui.inspector.chunk_model import EVENT, GAP, SEQ, TIME, ChunkTableModel
from relayscope.ui.inspector.stream_tab import StreamTab
from tests.ui.inspector import samples


@pytest.fixture
def stream_tab(inspector: CallInspector, qtbot: QtBot) -> StreamTab:
    inspector.show_call(samples.STREAM_ID)
    inspector.tabs.setCurrentWidget(inspector.stream_tab)
    qtbot.waitExposed(inspector.stream_tab.timeline)
    return inspector.stream_tab


def cell(model: ChunkTableModel, row: int, column: int) -> object:
    return model.data(model.index(row, column))


def test_table_has_one_row_per_chunk_with_times_and_gaps(stream_tab: StreamTab) -> None:
    chunks = samples.stream_chunks()
    model = stream_tab.model
    assert model.rowCount() == samples.STREAM_CHUNKS
    assert cell(model, 0, SEQ) == "0"
    assert cell(model, 0, TIME) == "420"
    assert cell(model, 0, EVENT) == "role"
    assert cell(model, 1, EVENT) == "content"
    assert cell(model, samples.STALL_AT, GAP) == "1,500"  # ms, in a column titled "+gap (ms)"
    ordinary = chunks[10]["t_ms"] - chunks[9]["t_ms"]
    assert 14 <= ordinary <= 34
    assert cell(model, 10, GAP) == f"{ordinary:,.0f}"
    assert cell(model, 10, TIME) == f"{chunks[10]['t_ms']:,.0f}"
    assert cell(model, samples.STREAM_CHUNKS - 1, EVENT) == "[DONE]"


def test_the_stall_is_labelled_on_the_timeline_and_marked_in_the_table(
    stream_tab: StreamTab,
) -> None:
    timeline = stream_tab.timeline
    assert timeline.stall_labels() == ["stall 1.5 s"]
    (stall,) = timeline.stalls()
    assert stall.at_seq == samples.STALL_AT
    stall_x = (timeline.tick_x(stall.after_seq) + timeline.tick_x(stall.at_seq)) / 2
    assert timeline.tooltip_at(stall_x).startswith("Stall: nothing arrived for 1.5 s")
    gap = stream_tab.model.index(samples.STALL_AT, GAP)
    assert isinstance(gap.data(Qt.ItemDataRole.BackgroundRole), QBrush)
    assert "Stall" in gap.data(Qt.ItemDataRole.ToolTipRole)
    summary = stream_tab.summary.text()
    assert "max 1.50 s before" in summary and f"#{samples.STALL_AT}" in summary
    stalls = [f for f in stream_tab.findings.findings() if f.code == "stall"]
    assert [f.seq for f in stalls] == [samples.STALL_AT]


def test_the_malformed_chunk_is_flagged(stream_tab: StreamTab) -> None:
    model = stream_tab.model
    row = samples.MALFORMED_AT
    assert cell(model, row, EVENT) == "⚠ invalid JSON"
    assert isinstance(model.index(row, SEQ).data(Qt.ItemDataRole.BackgroundRole), QBrush)
    assert (
        model.index(row, SEQ)
        .data(Qt.ItemDataRole.ToolTipRole)
        .startswith("This chunk's data is not valid JSON")
    )
    assert model.invalid_rows() == [row]
    assert stream_tab.findings.messages()[0].startswith(f"#{row}   Chunk {row} is not valid JSON")
    assert "not valid JSON" in stream_tab.timeline.tooltip_at(stream_tab.timeline.tick_x(row))


def test_summary_states_counts_and_timings_with_units(stream_tab: StreamTab) -> None:
    text = stream_tab.summary.text()
    assert "300 chunks" in text
    assert "TTFT 440 ms" in text  # the first text (chunk 0 at 420 ms only names the role)
    assert "gaps: median" in text and "p95" in text
    assert "tok/s" in text


def test_clicking_a_table_row_selects_its_tick(stream_tab: StreamTab, qtbot: QtBot) -> None:
    table = stream_tab.table
    table.scrollToTop()
    rect = table.visualRect(stream_tab.model.index(5, TIME))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert stream_tab.selected_row() == 5
    assert stream_tab.timeline.selected_row() == 5


def test_clicking_a_tick_selects_its_row(stream_tab: StreamTab, qtbot: QtBot) -> None:
    timeline = stream_tab.timeline
    x = round(timeline.tick_x(200))
    with qtbot.waitSignal(timeline.chunk_clicked) as clicked:
        qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=QPoint(x, timeline.height() // 2))
    assert clicked.args == [200]
    assert stream_tab.selected_row() == 200
    assert timeline.selected_row() == 200
    assert stream_tab.table.rowAt(stream_tab.table.viewport().height() // 2) in range(190, 211)


def test_clicking_inside_the_stall_selects_the_chunk_that_ended_it(
    stream_tab: StreamTab, qtbot: QtBot
) -> None:
    timeline = stream_tab.timeline
    (stall,) = timeline.stalls()
    x = round((timeline.tick_x(stall.after_seq) + timeline.tick_x(stall.at_seq)) / 2)
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=QPoint(x, timeline.height() // 2))
    assert stream_tab.selected_row() == samples.STALL_AT


def test_summary_findings_jump_to_their_chunk(stream_tab: StreamTab) -> None:
    stream_tab.summary.linkActivated.emit(f"row:{samples.MALFORMED_AT}")
    assert stream_tab.selected_row() == samples.MALFORMED_AT


def test_chunk_model_passes_the_model_tester(
    stream_tab: StreamTab, qtmodeltester: ModelTester
) -> None:
    qtmodeltester.check(stream_tab.model)


def test_empty_chunk_model_passes_the_model_tester(qtmodeltester: ModelTester) -> None:
    model = ChunkTableModel()
    qtmodeltester.check(model)
    model.append_chunks(samples.stream_chunks(count=20, stall_at=None, malformed_at=None))
    qtmodeltester.check(model)


def test_a_5000_chunk_stream_shows_every_chunk_and_its_stall(
    qtbot: QtBot, inspector: CallInspector, samples_path: Path
) -> None:
    chunks = samples.stream_chunks("big", 5000, stall_at=2500, malformed_at=4000)
    row, _ = samples.stream_call("big", chunks)
    db = open_database(samples_path)
    samples.insert(db, row, chunks)
    db.conn.commit()
    db.conn.close()
    inspector.show_call("big")
    inspector.tabs.setCurrentWidget(inspector.stream_tab)
    qtbot.waitExposed(inspector.stream_tab)
    assert not inspector.stream_tab.timeline.grab().isNull()
    assert not inspector.stream_tab.table.grab().isNull()
    assert inspector.stream_tab.model.rowCount() == 5000
    assert inspector.tabs.tabText(3) == "Stream 5,000"
    assert inspector.stream_tab.timeline.stall_labels() == ["stall 1.5 s"]
    # How fast (about 0.07 s to show, 0.01 s to paint) is bench/ui_bench.py's business:
    # a wall-clock bound here failed whenever the machine was busy.
