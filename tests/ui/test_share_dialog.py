"""Share…: the review dialog lists what redaction removes (headers, keys, query secrets, the
optional e-mails and pattern) and the page it writes holds none of the secrets."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from relayscope.store.call_store import CallStore
from relayscope.ui.main_window import MainWindow
from relayscope.ui.share_dialog import ShareDialog
from relayscope.ui.worker_process import WorkerProcess
from tests.ui.conftest import call_row, insert_calls
from tests.ui.session_rows import SESSION, codex_session

SHOTS = os.environ.get("RELAYSCOPE_SCREENSHOTS")
BEARER = "sk-proj-Zx81Kq0vT4mW2nR7yB5cLd9s"
QUERY_KEY = "gw-live-7f3a9c2e11b4"
EMAIL = "dana.kowalski@example.org"
INTERNAL = "ACME-CLUSTER-7731"


@pytest.fixture
def window(
    store: CallStore, qtbot: QtBot, themed: Any, tmp_path: Path, db_path: Path
) -> Iterator[MainWindow]:
    body = {
        "model": "gemini-2.5-pro",
        "messages": [
            {"role": "system", "content": f"You help the on-call engineer of {INTERNAL}."},
            {"role": "user", "content": f"Write to {EMAIL}: the deploy of {INTERNAL} failed."},
        ],
    }
    row = call_row(
        1,
        datetime.now(UTC),
        id="0199f3c1a2b3-share0001",
        provider="gateway",
        model="gemini-2.5-pro",
        path=f"/v1/chat/completions?key={QUERY_KEY}",
        request_body=json.dumps(body),
        request_headers=json.dumps(
            [["Authorization", f"Bearer {BEARER}"], ["Content-Type", "application/json"]]
        ),
        output_text=f"Drafted the e-mail to {EMAIL} about {INTERNAL}.",
    )
    insert_calls(db_path, [row, *codex_session()])
    win = MainWindow(store, WorkerProcess(db_path), config_path=tmp_path / "config.toml")
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def open_share(window: MainWindow, qtbot: QtBot, **target: str) -> ShareDialog:
    dialog = window.call_actions.share(**target)
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.save_button.isEnabled(), timeout=10_000)
    return dialog


def recheck(dialog: ShareDialog, qtbot: QtBot, change: Any) -> None:
    with qtbot.waitSignal(dialog.checked, timeout=10_000):
        change()


def test_the_call_menu_and_the_inspector_offer_share(window: MainWindow, qtbot: QtBot) -> None:
    assert window.call_actions.share_action in window.call_list.extra_actions
    assert window.call_list.select_call("0199f3c1a2b3-share0001")
    with qtbot.waitSignal(window.inspector.share_requested) as requested:
        window.inspector.share_button.click()
    assert requested.args == ["0199f3c1a2b3-share0001"]
    dialogs = window.findChildren(ShareDialog)
    assert len(dialogs) == 1 and dialogs[0].call_id == "0199f3c1a2b3-share0001"
    dialogs[0].reject()


def test_the_review_lists_the_redactions_and_the_page_holds_no_secret(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    dialog = open_share(window, qtbot, call_id="0199f3c1a2b3-share0001")
    items = dialog.removed_items()
    assert "1 × authorization header" in items
    assert any(i.endswith("× query-string secret") for i in items)
    assert not any("e-mail" in i for i in items)  # optional, and not chosen yet
    page = tmp_path / "plain.html"
    assert dialog.save(page)
    written = page.read_text(encoding="utf-8")
    assert BEARER not in written and QUERY_KEY not in written
    assert EMAIL in written  # only removed on request
    assert "Content-Security-Policy" in written

    recheck(dialog, qtbot, lambda: dialog.emails_box.setChecked(True))
    recheck(dialog, qtbot, lambda: dialog.pattern_edit.setText(r"ACME-[A-Z]+-\d+"))
    assert dialog.pattern_box.isChecked()  # typing a pattern turns it on
    items = dialog.removed_items()
    assert any(i.endswith("× e-mail address") for i in items)
    assert "3 × text matching ACME-[A-Z]+-\\d+" in items, items
    if SHOTS:
        dialog.grab().save(str(Path(SHOTS) / "share-review.png"))
    strict = tmp_path / "strict.html"
    assert dialog.save(strict)
    written = strict.read_text(encoding="utf-8")
    for secret in (BEARER, QUERY_KEY, EMAIL, INTERNAL):
        assert secret not in written
    assert "[redacted]" in written


def test_a_broken_pattern_is_explained_and_cannot_be_saved(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    dialog = open_share(window, qtbot, call_id="0199f3c1a2b3-share0001")
    dialog.pattern_box.setChecked(True)
    dialog.pattern_edit.setText("ACME-(")
    dialog.check()
    assert "not a valid regular expression" in dialog.state.text()
    assert not dialog.save_button.isEnabled()
    assert not dialog.save(tmp_path / "never.html")
    assert not (tmp_path / "never.html").exists()


def test_a_session_is_shared_from_the_sessions_window(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    view = window.show_sessions(SESSION)
    qtbot.waitUntil(lambda: view.turns.report is not None, timeout=10_000)
    assert view.turns.report is not None and view.turns.report.id == SESSION
    view.share_button.click()
    dialogs = window.findChildren(ShareDialog)
    assert len(dialogs) == 1 and dialogs[0].session_id == SESSION
    dialog = dialogs[0]
    qtbot.waitUntil(lambda: dialog.save_button.isEnabled(), timeout=10_000)
    page = tmp_path / "session.html"
    assert dialog.save(page)
    written = page.read_text(encoding="utf-8")
    assert f"Session {SESSION}" in written
    assert "Cache missed: a pause of 7.3 min" in written
