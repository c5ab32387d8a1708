"""Replay, edit and resend, diff and export from the window, with the real worker and a fake
provider (tests/fakes) on a real socket."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from relayscope.actions.replay import JsonError
from relayscope.exchange.export import Selection
from relayscope.store.call_store import CallFilter, CallStore
from relayscope.ui.diff_view import DiffView
from relayscope.ui.export_dialog import ExportDialog
from relayscope.ui.main_window import MainWindow
from relayscope.ui.request_editor import RequestEditor
from tests.fakes.provider import FakeProvider
from tests.ui.conftest import live_window

SHOTS = os.environ.get("RELAYSCOPE_SCREENSHOTS")
PROMPT = [{"role": "user", "content": "What does a reverse proxy do?"}]


@pytest.fixture
def fakes() -> Iterator[tuple[FakeProvider, FakeProvider]]:
    with FakeProvider(name="alpha") as alpha, FakeProvider(name="beta") as beta:
        yield alpha, beta


@pytest.fixture
def window(
    tmp_path: Path, fakes: tuple[FakeProvider, FakeProvider], qtbot: QtBot, themed: Any
) -> Iterator[MainWindow]:
    alpha, beta = fakes
    with live_window(tmp_path, qtbot, ("alpha", alpha.base_url), ("beta", beta.base_url)) as win:
        yield win


def send_first_call(win: MainWindow, qtbot: QtBot) -> str:
    editor = win.call_actions.edit(None)
    editor.set_body({"model": "fake-1", "messages": PROMPT})
    call_id = editor.send()
    assert call_id is not None
    qtbot.waitUntil(lambda: not editor.is_sending(), timeout=10_000)
    qtbot.waitUntil(
        lambda: (row := win.store.get_call(call_id)) is not None and row["state"] == "complete",
        timeout=5000,
    )
    # The list shows it once the worker's event has come through (a moment after the commit
    # on a busy machine): "Replay to" acts on the list's current call.
    qtbot.waitUntil(lambda: win.call_list.select_call(call_id), timeout=10_000)
    editor.close()
    return call_id


def test_replay_to_the_same_provider_is_linked_and_shown(
    window: MainWindow, fakes: tuple[FakeProvider, FakeProvider], qtbot: QtBot
) -> None:
    alpha, _ = fakes
    original = send_first_call(window, qtbot)
    window.call_list.select_call(original)
    with qtbot.waitSignal(window.call_actions.call_sent, timeout=15_000) as sent:
        window.inspector.replay_requested.emit(original)
    replay_id = sent.args[0]
    qtbot.waitUntil(lambda: window.inspector.call_id() == replay_id, timeout=10_000)
    qtbot.waitUntil(
        lambda: (window.store.get_call(replay_id) or {}).get("state") == "complete", timeout=5000
    )
    row = window.store.get_call(replay_id)
    assert row is not None and row["replay_of"] == original and row["provider"] == "alpha"
    assert len(alpha.requests) == 2 and alpha.requests[1].json() == alpha.requests[0].json()


def test_edit_and_resend_to_another_provider(
    window: MainWindow, fakes: tuple[FakeProvider, FakeProvider], qtbot: QtBot
) -> None:
    _, beta = fakes
    original = send_first_call(window, qtbot)
    editor = window.call_actions.edit(original)
    qtbot.addWidget(editor)
    editor.provider.setCurrentIndex(editor.provider.findData("beta"))
    editor.temperature.setValue(0.3)
    body = json.loads(editor.body_text())
    assert body["temperature"] == pytest.approx(0.3)  # the controls write the JSON
    editor.json_editor.set_text(editor.body_text().replace('"fake-1"', '"fake-2"'))
    qtbot.waitUntil(lambda: editor.model.text() == "fake-2", timeout=2000)  # and read it
    call_id = editor.send()
    qtbot.waitUntil(lambda: not editor.is_sending(), timeout=10_000)
    sent = beta.requests[-1].json()
    assert sent["model"] == "fake-2" and sent["temperature"] == pytest.approx(0.3)
    assert beta.answer_for("fake-2", PROMPT[0]["content"]) in editor.answer.toPlainText()
    qtbot.waitUntil(lambda: window.store.get_call(str(call_id)) is not None, timeout=5000)
    row = window.store.get_call(str(call_id))
    assert row is not None and row["replay_of"] == original and row["provider"] == "beta"
    if SHOTS:
        editor.resize(1280, 800)
        editor.grab().save(str(Path(SHOTS) / "editor.png"))


def test_invalid_json_is_shown_at_its_line_and_cannot_be_sent(
    tmp_path: Path, qtbot: QtBot, themed: Any
) -> None:
    store = CallStore(tmp_path / "r.db")
    editor = RequestEditor(store, None, "http://127.0.0.1:9/v1")
    qtbot.addWidget(editor)
    editor.json_editor.set_text('{\n  "model": "m",\n  "messages": [\n    {"role": "user"\n  ]\n}')
    error = editor.json_editor.validate_now()
    assert isinstance(error, JsonError) and error.line == 5
    qtbot.waitUntil(lambda: not editor.send_button.isEnabled(), timeout=2000)
    assert "line 5" in editor.json_error.text()
    assert editor.send() is None
    store.close()


def test_diff_of_two_calls_from_the_list(window: MainWindow, qtbot: QtBot) -> None:
    first = send_first_call(window, qtbot)
    editor = window.call_actions.edit(first)
    editor.json_editor.set_text(editor.body_text().replace("What does", "Why would"))
    second = editor.send()
    qtbot.waitUntil(lambda: not editor.is_sending(), timeout=10_000)
    qtbot.waitUntil(
        lambda: (window.store.get_call(str(second)) or {}).get("state") == "complete", timeout=5000
    )
    editor.close()
    view = window.call_actions.diff(first, str(second))
    assert isinstance(view, DiffView)
    qtbot.addWidget(view)
    lines = "\n".join(view.request_lines())
    assert "What does" in lines and "Why would" in lines
    assert view.number_rows()  # usage and timing, A against B
    if SHOTS:
        view.resize(1280, 800)
        view.grab().save(str(Path(SHOTS) / "diff.png"))


def test_export_dialog_writes_har_and_cancel_leaves_no_file(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    send_first_call(window, qtbot)
    dialog = ExportDialog(window.store, Selection(filter=CallFilter()), "every call", window)
    qtbot.addWidget(dialog)
    target = tmp_path / "calls.har"
    dialog.path.setText(str(target))
    job = dialog.start_export()
    assert job is not None
    qtbot.waitUntil(lambda: dialog.job is None, timeout=10_000)
    har = json.loads(target.read_text())
    assert len(har["log"]["entries"]) == 1
    assert target.stat().st_mode & 0o777 == 0o600
    assert "1 call" in dialog.result_label.text()

    cancelled = tmp_path / "cancelled.jsonl"
    dialog.format.setCurrentIndex(1)
    dialog.path.setText(str(cancelled))
    job = dialog.start_export()
    assert job is not None
    job.cancel()
    qtbot.waitUntil(lambda: dialog.job is None, timeout=10_000)
    # Either the cancel came in time (no file at all) or the export had already finished.
    assert not cancelled.exists() or "→" in dialog.result_label.text()
    dialog.close()


def test_window_menus_offer_the_actions(window: MainWindow) -> None:
    titles = [a.text() for a in window.tools_menu.actions()]
    assert {"Compare providers…", "Export calls…", "Import HAR…"} <= set(titles)
    assert [a.text() for a in window.call_list.extra_actions] == [
        "Replay",
        "Replay to",
        "Edit and resend…",
        "Compare providers…",
        "Diff the two selected calls",
        "Share…",
        "Export calls…",
    ]
    assert window.call_list.extra_actions[0].isEnabled()


def test_replay_to_another_provider_from_the_menu(
    window: MainWindow, fakes: tuple[FakeProvider, FakeProvider], qtbot: QtBot
) -> None:
    _, beta = fakes
    original = send_first_call(window, qtbot)
    window.call_list.select_call(original)
    menu = window.call_actions.replay_to_menu
    menu.aboutToShow.emit()
    (to_beta,) = [a for a in menu.actions() if a.text() == "beta"]
    with qtbot.waitSignal(window.call_actions.call_sent, timeout=15_000) as sent:
        to_beta.trigger()
    qtbot.waitUntil(
        lambda: (window.store.get_call(sent.args[0]) or {}).get("state") == "complete",
        timeout=10_000,
    )
    row = window.store.get_call(sent.args[0])
    assert row is not None and row["provider"] == "beta" and row["replay_of"] == original
    assert beta.requests[-1].json()["messages"] == PROMPT
