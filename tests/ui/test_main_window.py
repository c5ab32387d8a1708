"""MainWindow without a worker process: composition, keyboard, copy, banners, welcome page."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from relayscope.recording.messages import Event, encode
from relayscope.store.call_store import CallStore
from relayscope.ui.call_list_model import COLUMN
from relayscope.ui.main_window import MainWindow
from relayscope.ui.providers_dialog import ProvidersDialog
from relayscope.ui.worker_process import WorkerProcess
from tests.ui.conftest import call_row, insert_calls, seed_calls

#: `RELAYSCOPE_SCREENSHOTS=docs/screenshots pytest tests/ui` refreshes the screenshots.
SHOTS = os.environ.get("RELAYSCOPE_SCREENSHOTS")


@pytest.fixture
def worker(tmp_path: Path) -> WorkerProcess:
    return WorkerProcess(tmp_path / "relayscope.db")


@pytest.fixture
def window(
    store: CallStore, worker: WorkerProcess, qtbot: QtBot, themed: Any, tmp_path: Path
) -> Iterator[MainWindow]:
    win = MainWindow(store, worker, config_path=tmp_path / "config.toml")
    qtbot.addWidget(win)
    with qtbot.waitActive(win):
        win.show()
        win.activateWindow()
    yield win
    win.close()


def shown(window: MainWindow) -> str | None:
    """The call the (real) inspector shows."""
    return window.inspector.call_id()


def cell(window: MainWindow, row: int, column: str) -> str:
    model = window.model
    return str(model.data(model.index(row, COLUMN[column])))


def tell(worker: WorkerProcess, *events: Event) -> None:
    """The worker prints `events` (its stdout, as the window reads it)."""
    worker._feed_stdout("".join(encode(event) for event in events).encode())


def test_window_basics(window: MainWindow) -> None:
    assert window.windowTitle() == "Relayscope"
    assert not window.windowIcon().isNull()
    assert (window.width(), window.height()) == (1280, 800)
    assert window.header.status.text() == "Stopped"


def test_empty_database_shows_the_welcome_page_until_a_call_arrives(
    window: MainWindow, db_path: Path, worker: WorkerProcess, qtbot: QtBot
) -> None:
    assert window.showing_welcome()
    assert not window.welcome.demo.isEnabled()  # nothing to send it to yet
    worker.listening.emit("http://127.0.0.1:8787/v1")
    assert window.welcome.demo.isEnabled()
    assert "http://127.0.0.1:8787/v1" in window.welcome.codex.code.toPlainText()
    # Claude Code adds /v1/messages itself: its base URL is given without /v1.
    claude = window.welcome.claude_code.code.toPlainText()
    assert "ANTHROPIC_BASE_URL=http://127.0.0.1:8787 " in claude and claude.rstrip().endswith(
        "claude"
    )
    row = call_row(0, datetime.now(UTC), state="pending", status=None)
    insert_calls(db_path, [row])
    tell(worker, {"event": "call_started", "id": row["id"]})
    qtbot.waitUntil(lambda: not window.showing_welcome(), timeout=1000)  # the next batch
    assert window.call_list.current_call_id() == row["id"]  # the first call is shown at once
    assert shown(window) == row["id"]
    assert window.filter_bar.count.text() == "1 call"


def test_the_demo_button_says_why_when_the_config_leaves_the_demo_off(
    store: CallStore,
    worker: WorkerProcess,
    qtbot: QtBot,
    themed: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    restarts: list[int] = []
    monkeypatch.setattr(worker, "restart", restarts.append)  # no real worker on port 8787
    config = tmp_path / "config.toml"
    config.write_text('[[providers]]\nname = "acme"\nbase_url = "https://acme.test/v1"\n')
    win = MainWindow(store, worker, config_path=config)
    qtbot.addWidget(win)
    worker.listening.emit("http://127.0.0.1:8787/v1")
    assert not win.welcome.demo.isEnabled()
    assert "[demo] enabled = true" in win.welcome.demo_status.text()
    config.write_text(config.read_text() + "\n[demo]\nenabled = true\n")
    win._on_providers_dialog_saved()  # as after a save in the Providers dialog
    assert restarts and win.welcome.demo.isEnabled() and not win.welcome.demo_status.text()
    win.close()


def test_keyboard_moves_filters_clears_and_copies(
    db_path: Path,
    store: CallStore,
    worker: WorkerProcess,
    qtbot: QtBot,
    themed: Any,
    tmp_path: Path,
) -> None:
    rows = seed_calls(db_path, 40)
    win = MainWindow(store, worker, config_path=tmp_path / "c.toml")
    qtbot.addWidget(win)
    with qtbot.waitActive(win):
        win.show()
        win.activateWindow()
    assert not win.showing_welcome()
    assert win.filter_bar.count.text() == "40 calls"
    view = win.call_list
    view.setFocus()  # focus alone selects the newest call
    newest_first = [r["id"] for r in reversed(rows)]
    assert shown(win) == newest_first[0]
    qtbot.keyClick(view, Qt.Key.Key_Down)
    qtbot.keyClick(view, Qt.Key.Key_Down)
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert shown(win) == newest_first[1]
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == newest_first[1]

    qtbot.keyClick(view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert win.filter_bar.search.hasFocus()
    qtbot.keyClicks(win.filter_bar.search, "recipe")
    assert win.model.rowCount() == 40  # debounced: not yet
    qtbot.waitUntil(lambda: win.model.rowCount() < 40, timeout=1000)
    matching = [r for r in rows if "recipe" in r["request_body"]]
    assert win.model.rowCount() == len(matching)
    qtbot.waitUntil(lambda: win.filter_bar.count.text() == f"{len(matching)} of 40 calls")

    qtbot.keyClick(win.filter_bar.search, Qt.Key.Key_Escape)
    assert win.filter_bar.search.text() == ""
    qtbot.waitUntil(lambda: win.model.rowCount() == 40, timeout=1000)  # read on a thread
    assert view.hasFocus()
    win.close()


def test_errors_toggle_and_provider_choice(window: MainWindow, db_path: Path, qtbot: QtBot) -> None:
    rows = seed_calls(db_path, 30)
    window.model.reload()
    window.model.wait_for_page()
    window._refresh_providers()
    assert [window.filter_bar.provider.itemText(i) for i in range(4)] == [
        "All providers",
        "demo",
        "gateway",
        "openai",
    ]
    qtbot.mouseClick(window.filter_bar.errors, Qt.MouseButton.LeftButton)
    failed = [r for r in rows if r["state"] in ("error", "interrupted")]
    qtbot.waitUntil(lambda: window.model.rowCount() == len(failed), timeout=1000)
    assert {cell(window, r, "state") for r in range(len(failed))} <= {"error", "interrupted"}
    window.filter_bar.provider.setCurrentIndex(window.filter_bar.provider.findText("openai"))
    window.model.wait_for_page()
    assert {cell(window, r, "provider") for r in range(window.model.rowCount())} == {"openai"}


def test_model_choice(window: MainWindow, db_path: Path, qtbot: QtBot) -> None:
    rows = seed_calls(db_path, 30)
    window.model.reload()
    window.model.wait_for_page()
    window._refresh_providers()
    models = window.filter_bar.model_name
    assert models.itemText(0) == "All models"
    assert [models.itemText(i) for i in range(1, models.count())] == sorted(
        {r["model"] for r in rows}
    )
    models.setCurrentIndex(models.findText("gpt-5.2"))
    window.model.wait_for_page()
    wanted = [r for r in rows if r["model"] == "gpt-5.2"]
    assert 0 < len(wanted) < len(rows)
    assert window.model.rowCount() == len(wanted)
    assert {cell(window, r, "model") for r in range(len(wanted))} == {"gpt-5.2"}
    # The filtered count runs on its own thread ("…" until it is done).
    qtbot.waitUntil(lambda: window.filter_bar.count.text() == f"{len(wanted)} of 30 calls")
    window._refresh_providers()  # a refresh keeps the choice
    assert models.currentText() == "gpt-5.2"
    window.filter_bar.clear()
    assert models.currentIndex() == 0
    qtbot.waitUntil(lambda: window.model.rowCount() == 30, timeout=1000)


def test_worker_states_show_in_the_header(window: MainWindow, worker: WorkerProcess) -> None:
    header = window.header
    worker.state_changed.emit("starting")
    assert header.status.text() == "Starting…" and header.start_stop.text() == "Stop"
    worker.listening.emit("http://127.0.0.1:9123/v1")
    worker.state_changed.emit("listening")
    assert header.status.text() == "Listening"
    assert header.url_label.text() == "http://127.0.0.1:9123/v1"
    worker.state_changed.emit("failed")
    worker.failed.emit("Port 8787 is in use by another program — choose another port.")
    assert header.status.text().startswith("Failed: Port 8787 is in use")
    assert header.start_stop.text() == "Start"
    assert "Port 8787" in window.welcome.demo_status.text()


def test_record_error_shows_a_banner_until_recording_recovers(
    window: MainWindow, worker: WorkerProcess
) -> None:
    worker.record_error.emit("Recording to /x.db failed (disk I/O error); retrying.")
    banner = window.header.banner
    assert banner.isVisible()
    assert banner.label.text().startswith("Recording failed: Recording to /x.db failed")
    assert banner.label.text().endswith("traffic still flows.")
    worker.record_error.emit("")
    assert not banner.isVisible()


def test_snippet_buttons_copy_ready_to_paste_text(
    window: MainWindow, worker: WorkerProcess, qtbot: QtBot
) -> None:
    worker.listening.emit("http://127.0.0.1:9123/v1")
    worker.state_changed.emit("listening")
    header = window.header
    qtbot.mouseClick(header.codex, Qt.MouseButton.LeftButton)
    codex = QGuiApplication.clipboard().text()
    assert 'base_url = "http://127.0.0.1:9123/v1"' in codex
    assert 'wire_api = "responses"' in codex and 'env_key = "RELAYSCOPE_KEY"' in codex
    assert header.copied_label.text() == "Copied Codex config"
    qtbot.mouseClick(header.sdk, Qt.MouseButton.LeftButton)
    sdk = QGuiApplication.clipboard().text()
    assert 'OpenAI(base_url="http://127.0.0.1:9123/v1", api_key="any")' in sdk
    compile(sdk, "snippet.py", "exec")
    header._copied_timer.timeout.emit()  # the message is transient
    assert header.copied_label.text() == ""


def test_live_updates_of_the_shown_call_refresh_the_inspector(
    window: MainWindow, db_path: Path, worker: WorkerProcess, qtbot: QtBot
) -> None:
    row = call_row(0, datetime.now(UTC), state="streaming", status=200, stream=1)
    insert_calls(db_path, [row])
    refreshed: list[str] = []
    original = window.inspector.refresh_call

    def spy(call_id: str) -> None:  # observes the real inspector; it still does its work
        refreshed.append(call_id)
        original(call_id)

    window.inspector.refresh_call = spy  # type: ignore[method-assign]
    tell(worker, {"event": "call_started", "id": row["id"]})
    qtbot.waitUntil(lambda: shown(window) == row["id"], timeout=1000)
    tell(
        worker,
        *(
            {"event": "call_updated", "id": row["id"], "chunk_count": count, "state": "streaming"}
            for count in range(1, 6)
        ),
    )
    qtbot.waitUntil(lambda: cell(window, 0, "chunks") == "5", timeout=1000)  # one batch
    qtbot.waitUntil(lambda: refreshed == [row["id"]], timeout=1000)
    tell(worker, {"event": "call_finished", "id": row["id"], "state": "complete"})
    assert refreshed == [row["id"], row["id"]]


def test_port_apply_and_start_stop_drive_the_worker(
    window: MainWindow, worker: WorkerProcess, monkeypatch: pytest.MonkeyPatch, qtbot: QtBot
) -> None:
    calls: list[tuple[str, int | None]] = []
    monkeypatch.setattr(worker, "restart", lambda port: calls.append(("restart", port)))
    monkeypatch.setattr(worker, "start", lambda port: calls.append(("start", port)))
    monkeypatch.setattr(worker, "stop", lambda: calls.append(("stop", None)))
    window.header.port_applied.disconnect()
    window.header.start_requested.disconnect()
    window.header.stop_requested.disconnect()
    window.header.port_applied.connect(worker.restart)
    window.header.start_requested.connect(worker.start)
    window.header.stop_requested.connect(worker.stop)
    window.header.port.setValue(9001)
    qtbot.mouseClick(window.header.apply, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.header.start_stop, Qt.MouseButton.LeftButton)
    worker.state_changed.emit("listening")
    qtbot.mouseClick(window.header.start_stop, Qt.MouseButton.LeftButton)
    assert calls == [("restart", 9001), ("start", 9001), ("stop", None)]


def test_providers_dialog_saves_restart_the_worker(
    window: MainWindow, worker: WorkerProcess, monkeypatch: pytest.MonkeyPatch, qtbot: QtBot
) -> None:
    restarts: list[int] = []
    monkeypatch.setattr(worker, "restart", restarts.append)  # not running here: just observe
    qtbot.mouseClick(window.header.providers, Qt.MouseButton.LeftButton)
    dialog = window.findChild(ProvidersDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.saved.emit()  # what a successful Save announces
    dialog.close()
    assert restarts == [8787]


def test_a_narrow_window_folds_the_copy_buttons_into_one_menu(
    window: MainWindow, qtbot: QtBot, db_path: Path
) -> None:
    seed_calls(db_path, 40)
    window.model.reload()
    header = window.header
    assert header.codex.isVisible() and not header.snippets.isVisible()
    window.resize(600, 700)
    qtbot.waitUntil(lambda: header.snippets.isVisible() and window.width() < 1000)
    qtbot.wait(50)  # let the layout settle
    assert window.width() < 960  # tiles to half of a 1920-pixel screen
    assert not (header.codex.isVisible() or header.sdk.isVisible() or header.copy_url.isVisible())
    assert header.url_label.width() >= header.url_label.sizeHint().width()  # nothing clipped
    if SHOTS:
        window.call_list.selectRow(2)
        qtbot.wait(100)
        window.grab().save(str(Path(SHOTS) / "narrow.png"))
    actions = header.snippets.menu().actions()
    assert [a.text() for a in actions] == [
        "Base URL",
        "Codex CLI config.toml block",
        "Python example (openai package)",
    ]
    actions[1].trigger()
    assert 'base_url = "http://127.0.0.1:8787/v1"' in QGuiApplication.clipboard().text()
    assert header.copied_label.text() == "Copied Codex config"
    window.resize(1280, 800)
    qtbot.waitUntil(header.codex.isVisible)
    assert not header.snippets.isVisible() and header.copy_url.isVisible()


def test_ctrl_q_closes_the_window(window: MainWindow, qtbot: QtBot) -> None:
    assert window.isVisible()
    qtbot.keyClick(window.call_list, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=2000)
    assert "Ctrl+Q" in [k.toString() for k in window.quit_action.shortcuts()]
