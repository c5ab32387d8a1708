"""The sessions window is live: calls recorded by the real worker while it is open appear in
the session list and the open session's turns, read at most every LIVE_MS, with the chosen
session, the current call and the scroll position kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
from pytestqt.qtbot import QtBot

from relayscope.ui.roles import Role
from relayscope.ui.session_view import SessionView
from tests.fakes.provider import FakeProvider
from tests.ui.conftest import live_window

SESSION = "live-session-1"


def _ask(client: openai.OpenAI, history: list[dict[str, Any]], text: str) -> None:
    history.append({"role": "user", "content": text})
    answer = client.chat.completions.create(
        model="gpt-5.2",
        messages=history,  # type: ignore[arg-type]
        extra_headers={"session-id": SESSION},
    )
    history.append({"role": "assistant", "content": answer.choices[0].message.content})


def test_new_calls_appear_in_the_open_window_keeping_what_was_chosen(
    tmp_path: Path, qtbot: QtBot, themed: Any, closing: Any
) -> None:
    with (
        FakeProvider(name="fake") as fake,
        live_window(tmp_path, qtbot, ("fake", fake.base_url)) as win,
    ):
        client = closing(openai.OpenAI(base_url=win.worker.url, api_key="x", max_retries=0))
        history: list[dict[str, Any]] = [{"role": "system", "content": "Be brief."}]
        _ask(client, history, "What is a proxy?")
        qtbot.waitUntil(lambda: win.model.rowCount() == 1, timeout=20_000)
        view: SessionView = win.show_sessions()
        qtbot.waitUntil(lambda: view.turns.report is not None, timeout=20_000)
        first_call = view.turns.index(0, 0, view.turns.index(0, 0))
        view.turn_tree.setCurrentIndex(first_call)
        chosen = first_call.data(int(Role.CALL_ID))
        assert chosen
        reads: list[int] = []
        view.sessions_listed.connect(reads.append)

        # Four more turns while the window is open: no Refresh click.
        for question in ("And a reverse proxy?", "Why cache?", "What is TTFT?", "Thanks"):
            _ask(client, history, question)
        qtbot.waitUntil(
            lambda: view.turns.report is not None and len(view.turns.report.turns) == 5,
            timeout=30_000,
        )
        # Eight worker events (each call started and finished), read in fewer passes.
        assert 1 <= len(reads) < 8
        assert view.current_session_id() == SESSION
        assert view.sessions.session(0) is not None
        assert view.sessions.session(0).calls == 5  # type: ignore[union-attr]
        current = view.turn_tree.currentIndex()
        assert current.data(int(Role.CALL_ID)) == chosen
        assert "5 turns · 5 calls" in view.totals.text()
        client.close()
