"""The Stream tab's findings: from the stream analysis, each a jump to its chunk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from relayscope.analysis.stream_analysis import analyse
from relayscope.store.call_store import CallStore, open_database
from relayscope.ui.inspector import CallInspector
from relayscope.ui.inspector.findings_list import FindingsList, plain_message
from relayscope.ui.inspector.stream_tab import StreamTab
from tests.ui.inspector import samples

BROKEN_ID = "0199a3f2c5b7-broken01"
#: `RELAYSCOPE_SCREENSHOTS=docs/screenshots pytest tests/ui` refreshes the screenshots.
SHOTS = os.environ.get("RELAYSCOPE_SCREENSHOTS")


@pytest.fixture
def broken(inspector: CallInspector, samples_path: Path, qtbot: QtBot) -> StreamTab:
    """A stream with a 1.5 s stall, a malformed chunk, and no `[DONE]` at the end."""
    chunks = samples.stream_chunks(BROKEN_ID)[:-1]
    row, _ = samples.stream_call(BROKEN_ID, chunks)
    db = open_database(samples_path)
    samples.insert(db, row, chunks)
    db.conn.commit()
    db.conn.close()
    inspector.show_call(BROKEN_ID)
    inspector.tabs.setCurrentWidget(inspector.stream_tab)
    qtbot.waitExposed(inspector.stream_tab.findings)
    return inspector.stream_tab


def test_findings_are_the_analysis_findings_most_severe_first(
    broken: StreamTab, sample_store: CallStore
) -> None:
    row = sample_store.get_call(BROKEN_ID)
    assert row is not None
    expected = analyse(row, sample_store.chunks(BROKEN_ID)).findings
    findings = broken.findings
    assert findings.findings() == expected
    assert [(f.code, f.seq) for f in expected] == [
        ("invalid_json", samples.MALFORMED_AT),
        ("missing_done", samples.STREAM_CHUNKS - 2),
        ("stall", samples.STALL_AT),
    ]
    assert findings.severities() == ["error", "error", "warning"]
    messages = findings.messages()
    assert messages[1].startswith(f"#{samples.STREAM_CHUNKS - 2}   The stream ended without")
    assert "“data: [DONE]”" in messages[1] and "`" not in messages[1]
    assert "Nothing arrived for 1.50 s" in messages[2]
    assert findings.isVisible() and findings.height() >= 3 * findings.sizeHintForRow(0)


def test_clicking_a_finding_selects_its_chunk_in_the_table_and_timeline(
    broken: StreamTab, qtbot: QtBot
) -> None:
    findings = broken.findings
    for code, seq in (("missing_done", samples.STREAM_CHUNKS - 2), ("stall", samples.STALL_AT)):
        item = findings.item(findings.row_of_code(code))
        rect = findings.visualItemRect(item)
        with qtbot.waitSignal(findings.finding_activated) as activated:
            qtbot.mouseClick(findings.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        assert activated.args == [seq]
        assert broken.selected_row() == seq
        assert broken.timeline.selected_row() == seq
        assert broken.table.rowAt(broken.table.viewport().height() // 2) in range(seq - 8, seq + 9)


def test_summary_uses_the_analysis_figures(broken: StreamTab) -> None:
    analysis = broken.analysis
    text = broken.summary.text()
    assert analysis.ttft_ms is not None and round(analysis.ttft_ms) == 440  # the first text
    assert "<b>299 chunks</b>" in text and "<b>TTFT 440 ms</b>" in text
    assert "total 8.96 s" in text
    assert "gaps: median 24 ms · p95 33 ms" in text
    assert f'max 1.50 s before <a href="row:{samples.STALL_AT}"' in text
    assert f"{analysis.output_tokens_per_s:,.1f} tok/s" in text
    broken.summary.linkActivated.emit(f"row:{samples.STALL_AT}")
    assert broken.selected_row() == samples.STALL_AT
    if SHOTS:
        broken.findings.activate_row(0)
        broken.window().grab().save(str(Path(SHOTS) / "stream-findings.png"))


def test_a_healthy_stream_says_so(inspector: CallInspector, samples_path: Path) -> None:
    chunks = samples.stream_chunks("healthy", stall_at=None, malformed_at=None)
    row, _ = samples.stream_call("healthy", chunks)
    db = open_database(samples_path)
    samples.insert(db, row, chunks)
    db.conn.commit()
    db.conn.close()
    inspector.show_call("healthy")
    findings = inspector.stream_tab.findings
    assert findings.findings() == []
    assert findings.messages() == [
        "No findings: the stream ended properly, without stalls or broken chunks."
    ]


def test_a_live_stream_is_not_blamed_for_its_missing_end(
    inspector: CallInspector, samples_path: Path
) -> None:
    chunks = samples.stream_chunks("live-1", count=40, stall_at=None, malformed_at=None)[:20]
    row, _ = samples.stream_call("live-1", chunks)
    row.update(state="streaming", duration_ms=None, completion_tokens=None)
    db = open_database(samples_path)
    samples.insert(db, row, chunks)
    db.conn.commit()
    db.conn.close()
    inspector.show_call("live-1")
    tab = inspector.stream_tab
    assert tab.findings.findings() == []
    assert tab.findings.messages()[0].startswith("No findings so far")
    assert "● live" in tab.summary.text()


def test_messages_read_without_markdown() -> None:
    assert plain_message("ended without `data: [DONE]` (last: 3)") == (
        "ended without “data: [DONE]” (last: 3)"
    )


def test_findings_list_alone(qtbot: QtBot) -> None:
    widget = FindingsList()
    qtbot.addWidget(widget)
    widget.set_findings([])
    assert widget.count() == 1 and widget.findings() == []
