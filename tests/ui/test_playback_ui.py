"""Playback from the window: recorded calls served by a second worker, its calls listed live —
the real workers, a fake provider on a socket, and the real openai SDK."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from relayscope.store.call_store import CallStore
from relayscope.ui.call_list_model import COLUMN
from relayscope.ui.main_window import MainWindow
from relayscope.ui.playback_panel import PlaybackOptionsDialog, PlaybackPanel, playback_args
from relayscope.ui.worker_process import WorkerProcess
from tests.fakes.provider import FakeProvider
from tests.support.worker import provider_config

MESSAGES: Any = [{"role": "user", "content": "Play this back, please."}]


@pytest.fixture
def window(tmp_path: Path, qtbot: QtBot, themed: Any) -> Iterator[MainWindow]:
    with FakeProvider(name="fake") as fake:
        config = tmp_path / "config.toml"
        config.write_text(provider_config(("fake", fake.base_url)))
        store = CallStore(tmp_path / "relayscope.db")
        worker = WorkerProcess(store.path, config)
        win = MainWindow(store, worker, config_path=config)
        qtbot.addWidget(win)
        win.show()
        with qtbot.waitSignal(worker.listening, timeout=60_000):
            worker.start(0)
        yield win
        win.close()
        store.close()


def ask(base_url: str) -> str:
    with openai.OpenAI(base_url=base_url, api_key="x", max_retries=0) as client:
        pieces = [
            chunk.choices[0].delta.content or ""
            for chunk in client.chat.completions.create(
                model="fake-1", messages=MESSAGES, stream=True
            )
            if chunk.choices
        ]
    return "".join(pieces)


def in_thread(qtbot: QtBot, target: Callable[[], str]) -> str:
    """Run a blocking client call off the GUI thread; the window keeps taking events."""
    answers: list[str] = []
    thread = threading.Thread(target=lambda: answers.append(target()), daemon=True)
    thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=15_000)
    assert answers, "the client call failed (see the thread's exception)"
    return answers[0]


def providers_listed(window: MainWindow) -> list[str]:
    model = window.model
    return [
        str(model.data(model.index(row, COLUMN["provider"]))) for row in range(model.rowCount())
    ]


def test_a_recorded_call_is_served_again_and_the_replay_is_listed(
    window: MainWindow, qtbot: QtBot
) -> None:
    original = in_thread(qtbot, lambda: ask(window.worker.url))
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5000)
    recorded = window.model.call_id(0) or ""
    qtbot.waitUntil(lambda: window.model.values_at(0)["state"] == "complete", timeout=5000)
    assert window.call_list.select_call(recorded)
    qtbot.waitUntil(lambda: window.call_list.selected_call_ids() == [recorded], timeout=5000)

    window.call_list.playback_action.trigger()  # the list's context menu entry
    dialog = window.findChild(PlaybackOptionsDialog)
    assert isinstance(dialog, PlaybackOptionsDialog) and dialog.call_ids == [recorded]
    assert dialog.match_mode() == "messages"  # the default: same model and conversation
    dialog.match.setCurrentIndex(dialog.match.findData("last"))
    dialog.speed.setValue(4.0)
    panel = window.playback
    with qtbot.waitSignal(panel.worker.listening, timeout=60_000) as listening:
        dialog.accept()
    url = str(listening.args[0])
    assert panel.isVisible()
    assert panel.label.text() == f"<b>Playback:</b> 1 call at <b>{url}</b>"
    command = panel.worker.command(0)
    assert command[command.index("relayscope") + 1] == "playback" and command[-6:] == [
        "--call",
        recorded,
        "--match",
        "last",
        "--speed",
        "4",
    ]

    assert in_thread(qtbot, lambda: ask(url)) == original
    qtbot.waitUntil(lambda: "playback" in providers_listed(window), timeout=5000)
    assert sorted(providers_listed(window)) == ["fake", "playback"]
    # The list takes events in batches: the replay's row may come a tick after the menu.
    qtbot.waitUntil(lambda: window.model.values_at(0)["provider"] == "playback", timeout=5000)
    replay = window.model.call_id(0) or ""
    qtbot.waitUntil(lambda: window.model.values_at(0)["state"] == "complete", timeout=5000)
    row = window.store.get_call(replay)
    assert row is not None and row["provider"] == "playback" and row["output_text"] == original

    qtbot.mouseClick(panel.copy_button, Qt.MouseButton.LeftButton)
    assert window.header.copied_label.text() == "Copied playback URL"
    with qtbot.waitSignal(panel.worker.state_changed, timeout=10_000):
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.isVisible(), timeout=5000)


def test_a_playback_that_cannot_start_says_why(tmp_path: Path, qtbot: QtBot) -> None:
    CallStore(tmp_path / "relayscope.db").close()
    panel = PlaybackPanel(tmp_path / "relayscope.db")
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.worker.failed, timeout=60_000):
        panel.start(["no-such-call"])
    assert panel.isVisibleTo(panel.parentWidget() or panel) or not panel.isHidden()
    assert panel.label.text().startswith("<b>Playback failed:</b> No recorded call")
    assert panel.stop_button.text() == "Close"
    panel.stop_button.click()
    assert panel.isHidden()


def test_playback_options() -> None:
    assert playback_args(["a", "b"], "last", 2.5) == [
        "--call",
        "a",
        "--call",
        "b",
        "--match",
        "last",
        "--speed",
        "2.5",
    ]
    with pytest.raises(ValueError, match="match must be one of"):
        playback_args(["a"], "fuzzy", 1.0)
