"""Breakpoints from the window: rules in the panel, held calls edited, failed or timed out —
with the real worker, a fake provider on a socket, and httpx in a thread."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from relayscope.ui.breakpoints_panel import BreakpointsPanel
from relayscope.ui.held_call_dialog import HeldCallDialog
from relayscope.ui.main_window import MainWindow
from tests.fakes.provider import FakeProvider
from tests.ui.conftest import live_window

BODY = {
    "model": "fake-1",
    "temperature": 0.2,
    "messages": [
        {"role": "system", "content": "You are a concise assistant."},
        {"role": "user", "content": "original prompt"},
    ],
}
SHOTS = os.environ.get("RELAYSCOPE_SCREENSHOTS")


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(name="fake") as provider:
        yield provider


@pytest.fixture
def window(tmp_path: Path, fake: FakeProvider, qtbot: QtBot, themed: Any) -> Iterator[MainWindow]:
    with live_window(tmp_path, qtbot, ("fake", fake.base_url)) as win:
        yield win


def post(url: str, body: dict[str, Any]) -> tuple[threading.Thread, list[httpx.Response]]:
    """Send a chat call from a thread (the client waits while its call is held)."""
    answers: list[httpx.Response] = []
    thread = threading.Thread(
        target=lambda: answers.append(httpx.post(url + "/chat/completions", json=body, timeout=30)),
        daemon=True,
    )
    thread.start()
    return thread, answers


def held_dialog(window: MainWindow, qtbot: QtBot, count: int = 1) -> HeldCallDialog:
    qtbot.waitUntil(
        lambda: window.held_calls.count() == count and window.held_calls.dialog is not None,
        timeout=10_000,
    )
    dialog = window.held_calls.dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    return dialog


def set_rule(window: MainWindow, qtbot: QtBot, **rule: str) -> None:
    with qtbot.waitSignal(window.worker.breakpoints_set, timeout=5000) as applied:
        window.breakpoints.add_rule(**rule)
    assert applied.args == [1]


def test_a_held_request_is_edited_in_the_dialog_and_continues(
    window: MainWindow, fake: FakeProvider, qtbot: QtBot
) -> None:
    window.show_breakpoints()
    set_rule(window, qtbot, text="original")
    assert window.breakpoints.status.text() == "✓ 1 rule is holding matching calls."
    assert window.breakpoints_button.button.text() == "Breakpoints (1)"
    window.breakpoints.hide()
    thread, answers = post(window.worker.url, BODY)
    dialog = held_dialog(window, qtbot)
    assert window.breakpoints_button.held.text() == "● 1 held"
    assert dialog.heading.text() == "Request held before it goes to fake"
    assert json.loads(dialog.editor.toPlainText()) == BODY
    assert dialog.countdown.text() in ("Continues unchanged in 5:00", "Continues unchanged in 4:59")
    assert fake.requests == []  # nothing went upstream yet
    editor = dialog.editor
    editor.setFocus()
    assert editor.find("original")
    qtbot.keyClicks(editor, 'edited"')  # a typo: a stray quote
    qtbot.waitUntil(lambda: not dialog.continue_button.isEnabled(), timeout=2000)
    prompt_line = editor.toPlainText().splitlines().index('      "content": "edited" prompt"')
    assert dialog.error_line() == prompt_line
    assert f"line {prompt_line + 1}</a>" in dialog.validation.text()
    if SHOTS:
        dialog.grab().save(str(Path(SHOTS) / "breakpoint-editor-error.png"))
    qtbot.keyClick(editor, Qt.Key.Key_Backspace)
    qtbot.waitUntil(dialog.continue_button.isEnabled, timeout=2000)
    assert dialog.error_line() == -1 and "edited: Continue sends your version" in (
        dialog.validation.text()
    )
    if SHOTS:
        dialog.grab().save(str(Path(SHOTS) / "breakpoint-editor.png"))
    qtbot.mouseClick(dialog.continue_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=10_000)  # the GUI keeps running
    edited = json.loads(json.dumps(BODY).replace("original prompt", "edited prompt"))
    assert answers[0].status_code == 200
    assert fake.requests[-1].json() == edited
    assert "You said: edited prompt" in answers[0].json()["choices"][0]["message"]["content"]
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5000)
    call_id = window.model.call_id(0) or ""
    qtbot.waitUntil(lambda: _state(window, call_id) == "complete", timeout=5000)
    row = window.store.get_call(call_id)
    assert row is not None
    assert "breakpoint r1: request edited by you" in json.loads(row["quirks"])
    assert json.loads(row["upstream_request_body"]) == edited
    assert window.held_calls.dialog is None and not window.breakpoints_button.held.isVisible()


def test_held_calls_wait_in_line_one_is_failed_the_other_times_out(
    window: MainWindow, fake: FakeProvider, qtbot: QtBot
) -> None:
    window.breakpoints.timeout.setValue(3)
    set_rule(window, qtbot, model="fake-*")
    first, first_answer = post(window.worker.url, BODY)
    dialog = held_dialog(window, qtbot)
    second_body = {**BODY, "messages": [{"role": "user", "content": "second"}]}
    second, second_answer = post(window.worker.url, second_body)
    qtbot.waitUntil(lambda: window.held_calls.count() == 2, timeout=5000)
    assert window.breakpoints_button.held.text() == "● 2 held"
    assert window.held_calls.dialog is dialog  # one at a time: the second waits its turn
    dialog.status.setCurrentText("429")
    dialog.message.setText("try again later")
    qtbot.mouseClick(dialog.fail_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not first.is_alive(), timeout=10_000)
    assert first_answer[0].status_code == 429
    assert first_answer[0].json()["error"]["message"] == "try again later"
    following = held_dialog(window, qtbot)
    assert following is not dialog and json.loads(following.editor.toPlainText()) == second_body
    # Nobody decides: the worker lets it go after 3 s and its dialog closes with a note.
    qtbot.waitUntil(lambda: window.held_calls.dialog is None, timeout=10_000)
    assert window.header.banner.isVisible()
    assert "continued unchanged" in window.header.banner.label.text()
    assert not window.breakpoints_button.held.isVisible()
    qtbot.waitUntil(lambda: not second.is_alive(), timeout=10_000)
    assert second_answer[0].status_code == 200
    assert fake.requests[-1].json() == second_body
    assert len(fake.requests) == 1  # the failed call never left
    # Held for the 3 s set, not the default 5 min nor a client's patience: by the worker's own
    # clock (the recorded hold), which a loaded machine stretches far less than the window's
    # (the dialog closes once the worker's event has been read and the screen redrawn).
    qtbot.waitUntil(lambda: _state(window, following.call_id) == "complete", timeout=10_000)
    row = window.store.get_call(following.call_id)
    assert row is not None
    assert 3000 <= row["hold_ms"] < 4500, row["hold_ms"]


def test_the_rules_are_sent_again_when_the_worker_restarts(
    window: MainWindow, qtbot: QtBot
) -> None:
    set_rule(window, qtbot, provider="fake", stage="response")
    with qtbot.waitSignal(window.worker.breakpoints_set, timeout=20_000) as applied:
        window.worker.restart(0)
    assert applied.args == [1]


def test_the_panel_edits_rules_as_the_worker_takes_them(qtbot: QtBot) -> None:
    panel = BreakpointsPanel()
    qtbot.addWidget(panel)
    assert panel.rules() == [] and panel.empty.isVisibleTo(panel)
    first = panel.add_rule(model="gpt-*")
    second = panel.add_rule(stage="response", endpoint="responses", text="weather")
    rows = panel._rows
    rows[0].provider.setText("openai")
    rows[1].enabled.setChecked(False)
    with qtbot.waitSignal(panel.rules_changed, timeout=2000):
        pass
    command = panel.command()
    assert command["cmd"] == "set_breakpoints" and command["timeout"] == 300.0
    assert command["rules"] == [
        {
            "id": first,
            "stage": "request",
            "provider": "openai",
            "model": "gpt-*",
            "endpoint": "",
            "text": "",
            "enabled": True,
        },
        {
            "id": second,
            "stage": "response",
            "provider": "",
            "model": "",
            "endpoint": "responses",
            "text": "weather",
            "enabled": False,
        },
    ]
    assert panel.active_count() == 1
    panel.remove_rule(first)
    assert [r.id for r in panel.rules()] == [second]


def test_a_big_codex_body_opens_quickly_and_continues_unchanged(qtbot: QtBot) -> None:
    items = [
        {"type": "function_call_output", "call_id": f"c{i}", "output": "line of output\n" * 40}
        for i in range(1500)
    ]
    body = json.dumps({"model": "gpt-5.2-codex", "input": items, "stream": True})
    assert len(body) > 900_000
    event = {"id": "c1", "stage": "request", "rule": "r1", "provider": "openai", "body": body}
    # Opened quickly, told by the CPU it took, which a loaded machine does not stretch as it
    # does the wall clock: about 0.09 s (0.3 s of wall on a quiet machine).
    started = time.process_time()
    dialog = HeldCallDialog({**event, "model": "gpt-5.2-codex", "endpoint": "responses"})
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert time.process_time() - started < 2.0
    with qtbot.waitSignal(dialog.decided) as decided:
        dialog.continue_edited()  # nothing edited (only pretty-printed): no body is sent
    assert decided.args == [{"cmd": "resume", "id": "c1", "by": "you"}]
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_a_held_answer_says_so(qtbot: QtBot) -> None:
    dialog = HeldCallDialog(
        {"id": "c2", "stage": "response", "rule": "r2", "provider": "acme", "status": 200}
        | {"body": "not json", "timeout": 20}
    )
    qtbot.addWidget(dialog)
    assert dialog.heading.text() == "Answer from acme (200) held before it reaches the client"
    assert "not JSON" in dialog.validation.text() and dialog.continue_button.isEnabled()
    assert dialog.countdown.text() == "Continues unchanged in 0:20"
    dialog.editor.setPlainText("edited text")
    with qtbot.waitSignal(dialog.decided) as decided:
        dialog.continue_edited()
    assert decided.args[0]["body"] == "edited text"


def _state(window: MainWindow, call_id: str) -> str:
    row = window.model.row_of(call_id)
    return "" if row is None else str(window.model.values_at(row).get("state"))
