"""CallInspector: showing a call, following a live stream, and the Replay/Edit/Diff actions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from relayscope.store.call_store import open_database
from relayscope.ui.inspector import CallInspector
from relayscope.ui.inspector.call_inspector import OVERVIEW, REQUEST, RESPONSE, STREAM
from relayscope.ui.inspector.overview_tab import LIVE_RENDER_MS
from relayscope.ui.theme import ERROR, colour
from tests.ui.inspector import samples


def test_no_call_shows_a_quiet_placeholder(inspector: CallInspector) -> None:
    inspector.show_call(None)
    assert inspector.stack.currentWidget() is inspector.placeholder
    assert inspector.placeholder.text().startswith("Select a call")
    assert inspector.call_id() is None


def test_a_call_that_is_gone_shows_the_placeholder(inspector: CallInspector) -> None:
    inspector.show_call(samples.CHAT_ID)
    inspector.show_call("no-such-call")
    assert inspector.stack.currentWidget() is inspector.placeholder


@pytest.mark.parametrize(
    ("button", "signal"),
    [
        ("replay_button", "replay_requested"),
        ("edit_button", "edit_requested"),
        ("diff_button", "diff_requested"),
    ],
)
def test_actions_emit_the_shown_call(
    inspector: CallInspector, qtbot: QtBot, button: str, signal: str
) -> None:
    inspector.show_call(samples.ERROR_ID)
    widget = getattr(inspector, button)
    assert widget.isVisible() and widget.isEnabled()
    with qtbot.waitSignal(getattr(inspector, signal)) as emitted:
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)
    assert emitted.args == [samples.ERROR_ID]


def test_tabs_for_a_stream_and_for_a_plain_call(inspector: CallInspector) -> None:
    tabs = inspector.tabs
    inspector.show_call(samples.STREAM_ID)
    assert [tabs.tabText(i) for i in range(4)] == [
        "Overview",
        "Request",
        "Response 200",
        "Stream 300",
    ]
    assert tabs.isTabVisible(STREAM)
    inspector.show_call(samples.CHAT_ID)
    assert not tabs.isTabVisible(STREAM)


def test_a_failed_call_has_its_response_tab_in_red(inspector: CallInspector) -> None:
    inspector.show_call(samples.ERROR_ID)
    bar = inspector.tabs.tabBar()
    dark = inspector.palette().color(inspector.palette().ColorRole.Base).lightness() < 128
    assert bar.tabTextColor(RESPONSE) == colour(ERROR, dark=dark)
    inspector.show_call(samples.CHAT_ID)
    assert bar.tabTextColor(RESPONSE) != colour(ERROR, dark=dark)


def test_the_tab_stays_while_the_same_call_is_shown_again(inspector: CallInspector) -> None:
    inspector.show_call(samples.STREAM_ID)
    inspector.tabs.setCurrentIndex(REQUEST)
    inspector.show_call(samples.STREAM_ID)
    assert inspector.tabs.currentIndex() == REQUEST
    inspector.show_call(samples.CHAT_ID)
    assert inspector.tabs.currentIndex() == OVERVIEW


# --- a live stream -----------------------------------------------------------------------------


class Recorder:
    """Writes a live call the way the worker does: a row, then chunks, then the end."""

    def __init__(self, path: Path) -> None:
        self.db = open_database(path)
        self.chunks = samples.stream_chunks(samples.LIVE_ID)
        row, _ = samples.stream_call(samples.LIVE_ID, self.chunks)
        self.final = dict(row)
        for column in (
            "output_text",
            "finish_reason",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "response_model",
            "duration_ms",
        ):
            row[column] = None
        row.update(state="streaming", chunk_count=0)
        samples.insert(self.db, row)
        self.db.conn.commit()
        self.sent = 0

    def send(self, count: int) -> None:
        batch = self.chunks[self.sent : self.sent + count]
        self.db["chunks"].insert_all(batch)
        self.sent += len(batch)
        self.db.execute(
            "UPDATE calls SET chunk_count = ? WHERE id = ?", [self.sent, samples.LIVE_ID]
        )
        self.db.conn.commit()

    def finish(self) -> None:
        fields = {k: v for k, v in self.final.items() if k not in ("id", "request_body")}
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(
            f"UPDATE calls SET {sets} WHERE id = ?", [*fields.values(), samples.LIVE_ID]
        )
        self.db.conn.commit()


@pytest.fixture
def recorder(samples_path: Path, sample_store: object) -> Recorder:
    return Recorder(samples_path)


def test_refresh_appends_new_chunks_without_resetting_the_table(
    inspector: CallInspector, recorder: Recorder, qtbot: QtBot
) -> None:
    recorder.send(100)
    inspector.show_call(samples.LIVE_ID)
    inspector.tabs.setCurrentWidget(inspector.stream_tab)
    model = inspector.stream_tab.model
    assert model.rowCount() == 100
    inspector.stream_tab.select_row(42)
    inserted: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _parent, first, last: inserted.append((first, last)))
    with qtbot.assertNotEmitted(model.modelReset):
        recorder.send(60)
        inspector.refresh_call(samples.LIVE_ID)
        inspector.refresh_call(samples.LIVE_ID)  # nothing new: nothing added
    assert inserted == [(100, 159)]
    inspector.tabs.setCurrentWidget(inspector.overview)
    qtbot.wait(LIVE_RENDER_MS + 100)  # let the overview catch up
    document = inspector.overview.conversation.document()
    with qtbot.assertNotEmitted(document.contentsChange, wait=LIVE_RENDER_MS + 100):
        inspector.refresh_call(samples.LIVE_ID)  # polled with nothing new: nothing redrawn
    assert model.rowCount() == 160
    assert inspector.stream_tab.selected_row() == 42
    assert inspector.tabs.tabText(STREAM) == "Stream 160"
    assert inspector.stream_tab.timeline.stall_labels() == ["stall 1.5 s"]  # the stall at 151
    assert "● live" in inspector.stream_tab.summary.text()


def test_the_overview_follows_the_stream_and_shows_the_end(
    inspector: CallInspector, recorder: Recorder, qtbot: QtBot
) -> None:
    recorder.send(10)
    inspector.show_call(samples.LIVE_ID)
    overview = inspector.overview
    assert "streaming · 10 chunks so far" in overview.conversation_text()
    words = samples.STREAM_TEXT.split(" ")
    recorder.send(30)
    inspector.refresh_call(samples.LIVE_ID)
    partial = "".join(w + " " for w in words[:39]).strip()
    qtbot.waitUntil(lambda: partial in overview.conversation_text(), timeout=2000)
    recorder.send(samples.STREAM_CHUNKS)
    recorder.finish()
    with qtbot.assertNotEmitted(inspector.stream_tab.model.modelReset):
        inspector.refresh_call(samples.LIVE_ID)
    text = overview.conversation_text()
    assert "streaming" not in text
    assert recorder.final["output_text"] in text
    assert "296" in overview.facts_text()  # usage arrived with the end
    assert inspector.stream_tab.model.rowCount() == samples.STREAM_CHUNKS
    assert "● live" not in inspector.stream_tab.summary.text()
    inspector.tabs.setCurrentWidget(inspector.response_tab)
    assert json.loads(inspector.response_tab.editor.toPlainText())["finish_reason"] == "stop"


def test_refresh_of_another_call_changes_nothing(
    inspector: CallInspector, recorder: Recorder
) -> None:
    inspector.show_call(samples.STREAM_ID)
    recorder.send(5)
    inspector.refresh_call(samples.LIVE_ID)
    assert inspector.call_id() == samples.STREAM_ID
    assert inspector.stream_tab.model.rowCount() == samples.STREAM_CHUNKS


def test_refresh_is_cheap_on_a_long_stream(
    inspector: CallInspector, samples_path: Path, qtbot: QtBot
) -> None:
    db = open_database(samples_path)
    chunks = samples.stream_chunks("long", 5000, stall_at=2500, malformed_at=None)
    row, _ = samples.stream_call("long", chunks)
    row["state"] = "streaming"
    samples.insert(db, row, chunks[:4800])
    db.conn.commit()
    inspector.show_call("long")
    inspector.tabs.setCurrentWidget(inspector.stream_tab)
    model = inspector.stream_tab.model
    resets: list[None] = []
    inserted: list[int] = []
    model.modelReset.connect(lambda: resets.append(None))
    model.rowsInserted.connect(lambda _parent, first, last: inserted.append(last - first + 1))
    for start in range(4800, 5000, 5):  # 5 chunks per refresh: ~50 ms of a fast stream
        db["chunks"].insert_all(chunks[start : start + 5])
        db.conn.commit()
        inspector.refresh_call("long")
        inspector.stream_tab.timeline.repaint()
    db.conn.close()
    assert model.rowCount() == 5000
    # Cheap means incremental: each refresh appends its 5 new chunks and never reloads the
    # 4,800 already shown (how fast that is, bench/ measures; wall-clock bounds here failed
    # whenever the machine was busy).
    assert resets == []
    assert inserted == [5] * 40
