"""The window end to end: the real worker, a fake provider on a socket, the real openai SDK."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from relayscope.ui.call_list_model import COLUMN
from relayscope.ui.main_window import MainWindow
from tests.fakes.provider import FakeProvider
from tests.ui.conftest import live_window

MESSAGES: Any = [{"role": "user", "content": "What does Relayscope record?"}]


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(name="fake") as provider:
        yield provider


@pytest.fixture
def window(tmp_path: Path, fake: FakeProvider, qtbot: QtBot, themed: Any) -> Iterator[MainWindow]:
    # The demo kept beside the fake provider: the first-run button sends to it.
    extra = "\n[demo]\nenabled = true\n"
    with live_window(tmp_path, qtbot, ("fake", fake.base_url), extra=extra) as win:
        yield win


def in_thread(target: Callable[[], object]) -> threading.Thread:
    def run() -> None:
        with contextlib.suppress(openai.APIStatusError):  # the failing call: its row matters
            target()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def cell(window: MainWindow, call_id: str, column: str) -> str:
    model = window.model
    row = model.row_of(call_id)
    return "" if row is None else str(model.data(model.index(row, COLUMN[column])))


def rows_with(window: MainWindow, model_name: str) -> list[str]:
    model = window.model
    return [
        model.call_id(r) or ""
        for r in range(model.rowCount())
        if model.data(model.index(r, COLUMN["model"])) == model_name
    ]


def test_traffic_appears_live_and_errors_stand_out(
    window: MainWindow, qtbot: QtBot, closing: Any
) -> None:
    assert window.showing_welcome()
    client = closing(
        openai.OpenAI(base_url=window.worker.url, api_key="sk-any-client-key", max_retries=0)
    )
    sent: dict[str, float] = {}
    appeared: dict[str, float] = {}

    def on_inserted(*_: object) -> None:
        call_id = window.model.call_id(0) or ""
        appeared.setdefault(call_id, time.monotonic())

    window.model.rowsInserted.connect(on_inserted)
    # The list applies events in batches (one per ~30 ms): every started call gets its row.
    started: list[str] = []
    window.worker.call_started.connect(started.append)

    def stream() -> None:
        sent["slow"] = time.monotonic()
        for _ in client.chat.completions.create(model="slow", messages=MESSAGES, stream=True):
            pass

    streaming = in_thread(stream)
    qtbot.waitUntil(lambda: bool(rows_with(window, "slow")), timeout=5000)
    (slow,) = rows_with(window, "slow")
    # Request sent → row on screen within the list's promise (issue 17: within 1 s of the
    # database), long before the slow stream ends; 0.3 s failed on a loaded 2-core machine.
    assert appeared[slow] - sent["slow"] < 1.0
    assert not window.showing_welcome()
    assert window.call_list.current_call_id() == slow  # the first call is shown at once
    # The stream is visible while it flows: state, a growing chunk count, a running clock.
    qtbot.waitUntil(lambda: cell(window, slow, "state") == "streaming", timeout=3000)
    qtbot.waitUntil(lambda: int(cell(window, slow, "chunks") or 0) >= 2, timeout=3000)
    first = int(cell(window, slow, "chunks"))
    assert cell(window, slow, "duration").endswith("…")
    qtbot.waitUntil(lambda: int(cell(window, slow, "chunks") or 0) > first + 1, timeout=3000)
    assert cell(window, slow, "state") == "streaming"

    plain = in_thread(lambda: client.chat.completions.create(model="fake-1", messages=MESSAGES))
    failing = in_thread(lambda: client.chat.completions.create(model="fail-500", messages=MESSAGES))
    for thread in (streaming, plain, failing):
        thread.join(10)
    qtbot.waitUntil(lambda: all(rows_with(window, m) for m in ("fake-1", "fail-500")), timeout=3000)
    (ok,) = rows_with(window, "fake-1")
    (failed,) = rows_with(window, "fail-500")
    qtbot.waitUntil(lambda: cell(window, slow, "state") == "complete", timeout=3000)
    qtbot.waitUntil(lambda: cell(window, failed, "state") == "error", timeout=3000)
    qtbot.waitUntil(lambda: cell(window, ok, "state") == "complete", timeout=3000)

    assert [cell(window, ok, c) for c in ("provider", "model", "status", "stream")] == [
        "fake",
        "fake-1",
        "200",
        "",
    ]
    assert cell(window, ok, "tokens") != "—"
    assert not cell(window, slow, "duration").endswith("…")
    assert cell(window, slow, "stream") == "SSE" and int(cell(window, slow, "chunks")) > first
    assert cell(window, failed, "status") == "500"
    model = window.model
    background = Qt.ItemDataRole.BackgroundRole
    failed_row, ok_row = model.row_of(failed), model.row_of(ok)
    assert failed_row is not None and ok_row is not None
    assert model.data(model.index(failed_row, 0), background) is not None  # stands out
    assert model.data(model.index(ok_row, 0), background) is None
    assert window.filter_bar.count.text() == "3 calls"
    assert len(started) == 3 and all(model.row_of(call_id) is not None for call_id in started)
    assert model.call_id(0) == failed or model.call_id(0) == ok  # newest first

    port = window.worker.port
    window.close()
    assert not window.worker.is_running()
    client.close()
    with socket.socket() as probe:  # closing the window freed the port for a new listener
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


def test_first_run_demo_button_produces_a_live_row(window: MainWindow, qtbot: QtBot) -> None:
    assert window.showing_welcome()
    welcome = window.welcome
    assert welcome.demo.isEnabled()
    assert window.worker.url in welcome.sdk.code.toPlainText()
    with qtbot.waitSignal(welcome.test_call_finished, timeout=10_000) as done:
        qtbot.mouseClick(welcome.demo, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=2000)
        assert not window.showing_welcome()
        call_id = window.model.call_id(0) or ""
        assert cell(window, call_id, "provider") == "demo"
        assert cell(window, call_id, "model") == "demo-1"
    assert done.args == [""]
    qtbot.waitUntil(lambda: cell(window, call_id, "state") == "complete", timeout=3000)
    assert int(cell(window, call_id, "chunks")) > 5


def test_first_run_agent_session_button_records_a_session(window: MainWindow, qtbot: QtBot) -> None:
    welcome = window.welcome
    assert welcome.agent.isEnabled()
    with qtbot.waitSignal(welcome.agent_session_finished, timeout=30_000) as done:
        qtbot.mouseClick(welcome.agent, Qt.MouseButton.LeftButton)
        assert not welcome.demo.isEnabled()  # one demo at a time
    session_id, error = done.args
    assert error == "" and session_id
    assert welcome.demo.isEnabled() and welcome.agent.isEnabled()
    assert f"session {session_id} is recorded" in welcome.demo_status.text()
    # The sessions window opens on it: three turns, cache reads.
    view = window.session_view
    assert view is not None and view.isVisible()
    qtbot.waitUntil(lambda: view.current_session_id() == session_id, timeout=10_000)
    qtbot.waitUntil(lambda: view.turns.report is not None, timeout=10_000)
    report = view.turns.report
    assert report is not None and report.id == session_id and len(report.turns) == 3
    assert all((t.cache_hit_rate or 0) > 0 for t in report.turns[1:])
    qtbot.waitUntil(lambda: len(rows_with(window, "demo-agent")) == 5, timeout=5000)
    store = window.store

    def recorded() -> list[dict[str, Any]]:
        return [store.get_call(call_id) or {} for call_id in rows_with(window, "demo-agent")]

    qtbot.waitUntil(lambda: all(c.get("state") == "complete" for c in recorded()), timeout=5000)
    calls = recorded()
    assert {c["session_id"] for c in calls} == {session_id}
    assert sum(1 for c in calls if c["tool_calls"]) == 2
    assert sum(1 for c in calls if c["cached_tokens"]) == 4  # every request after the first
