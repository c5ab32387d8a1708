"""Free up space (the "⋯" menu): the database's size, a preview of what would go, then the
oldest calls deleted for real, on a real database in the real window."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from relayscope.store.call_store import CallStore
from relayscope.ui.main_window import MainWindow
from relayscope.ui.storage_dialog import StorageDialog
from relayscope.ui.worker_process import WorkerProcess
from tests.ui.conftest import call_row, insert_calls

#: `RELAYSCOPE_SCREENSHOTS=docs/screenshots pytest tests/ui` refreshes the screenshots.
SHOTS = os.environ.get("RELAYSCOPE_SCREENSHOTS")
NOW = datetime.now(UTC)


@pytest.fixture
def window(
    store: CallStore, db_path: Path, qtbot: QtBot, themed: Any, tmp_path: Path
) -> Iterator[MainWindow]:
    """The window over 60 calls two to three months old (3 of them still streaming: a
    proxy that died long ago left them so) and 30 from today, 40 KB each (bodies that do
    not compress); the config keeps 30 days."""

    def body(index: int) -> str:
        return json.dumps({"model": "gpt-5.2", "input": os.urandom(20_000).hex(), "n": index})

    old = [call_row(i, NOW - timedelta(days=60, hours=i)) for i in range(57)]
    old += [call_row(i, NOW - timedelta(days=90, hours=i), state="streaming") for i in (57, 58, 59)]
    new = [call_row(100 + i, NOW - timedelta(minutes=i)) for i in range(30)]
    insert_calls(db_path, [{**row, "request_body": body(n)} for n, row in enumerate(old + new)])
    config = tmp_path / "config.toml"
    config.write_text("[storage]\nkeep_days = 30\n")
    win = MainWindow(store, WorkerProcess(db_path, config), config_path=config)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    win.model.wait_for_page()
    yield win
    win.close()


def previewed(dialog: StorageDialog, qtbot: QtBot) -> str:
    qtbot.waitUntil(lambda: dialog.preview is not None, timeout=10_000)
    return dialog.preview_label.text()


def test_free_up_space_previews_then_deletes_the_old_calls_and_the_list_follows(
    window: MainWindow, store: CallStore, qtbot: QtBot
) -> None:
    assert window.storage_action in window.tools_menu.actions()
    old_call = store.list_calls(limit=1, offset=60)[0]["id"]
    assert window.call_list.select_call(old_call)
    dialog = window.show_storage()
    assert re.fullmatch(
        r"The recording database takes [1-9][0-9.]* MiB\.", dialog.size_label.text()
    )
    assert dialog.by_age.isChecked() and dialog.days.value() == 30  # the config's keep_days
    assert not dialog.by_size.isChecked()
    assert previewed(dialog, qtbot).startswith("Would delete 57 calls and free about ")
    assert dialog.go_button.isEnabled() and dialog.go_button.text() == "Delete 57 calls"
    assert store.count_calls() == 90  # a preview deletes nothing
    if SHOTS:
        dialog.grab().save(str(Path(SHOTS) / "free-up-space.png"))
    with qtbot.waitSignal(dialog.pruned, timeout=30_000):
        qtbot.mouseClick(dialog.go_button, Qt.MouseButton.LeftButton)
        assert not dialog.cancel_button.isEnabled()
        dialog.reject()  # Esc, or the window's close button: it cannot stop half way
        assert dialog.isVisible()
    assert dialog.result_label.text().startswith("Deleted 57 calls (with their chunks)")
    if SHOTS:
        dialog.grab().save(str(Path(SHOTS) / "free-up-space-done.png"))
    assert store.count_calls() == 33  # today's 30, and the 3 never finished
    qtbot.waitUntil(lambda: window.model.rowCount() == 33, timeout=10_000)
    assert window.inspector.call_id() != old_call  # no longer shown: it is gone
    # What is left to delete by the same choice: nothing.
    assert previewed(dialog, qtbot) == (
        "Nothing would be deleted: every finished call is within these limits."
    )
    assert not dialog.go_button.isEnabled()


def test_a_size_cap_previews_the_oldest_calls_and_no_choice_deletes_nothing(
    window: MainWindow, store: CallStore, qtbot: QtBot
) -> None:
    dialog = window.show_storage()
    dialog.by_age.setChecked(False)
    assert dialog.preview_label.text() == "Tick what to delete by: age, size or both."
    assert not dialog.go_button.isEnabled()
    assert dialog.start_prune() is None
    dialog.by_size.setChecked(True)
    dialog.megabytes.setValue(2)  # about half the database: the oldest finished calls go
    assert previewed(dialog, qtbot).startswith("Would delete ")
    assert dialog.preview is not None and 20 < dialog.preview.calls < 87
    assert store.count_calls() == 90
