"""Fixtures for the window's tests: seeded databases, a themed app, a live window."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from relayscope.protocols.conversation import prompt_text
from relayscope.store.call_store import CallStore, open_database
from relayscope.ui import theme
from relayscope.ui.main_window import MainWindow
from relayscope.ui.worker_process import WorkerProcess
from tests.support.worker import provider_config

PROVIDERS = ("openai", "gateway", "demo")
MODELS = ("gpt-5.2", "claude-sonnet-4.5", "demo-1", "qwen3-coder")
WORDS = ("weather", "invoice", "refactor", "poem", "kubernetes", "recipe", "translate")


@contextmanager
def live_window(
    tmp_path: Path, qtbot: QtBot, *providers: tuple[str, str], extra: str = ""
) -> Iterator[MainWindow]:
    """The real window with its real worker (listening on a free port) for `providers`
    (`extra`: more TOML for the config)."""
    config = tmp_path / "config.toml"
    config.write_text(provider_config(*providers, extra=extra))
    db_path = tmp_path / "relayscope.db"
    store = CallStore(db_path)
    worker = WorkerProcess(db_path, config)
    win = MainWindow(store, worker, config_path=config)
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(worker.listening, timeout=60_000):
        worker.start(0)
    try:
        yield win
    finally:
        win.close()
        store.close()


@pytest.fixture
def themed(qapp: QApplication) -> Iterator[QApplication]:
    """The app with Relayscope's style and palette; the previous look is restored after."""
    style, palette, font = qapp.style().name(), qapp.palette(), qapp.font()
    theme.apply_theme(qapp)
    yield qapp
    qapp.setStyle(style)
    qapp.setPalette(palette)
    qapp.setFont(font)


def call_row(index: int, started: datetime, **overrides: Any) -> dict[str, Any]:
    """A realistic recorded call: every 7th fails, every 11th is cut short, every 3rd streams."""
    word = WORDS[index % len(WORDS)]
    stream = index % 3 == 0
    state, status, error = "complete", 200, None
    if index % 7 == 3:
        state, status, error = "error", (429, 500, 401)[index % 3], "rate limit exceeded"
    elif index % 11 == 5:
        state, status, error = "interrupted", 200, "The provider closed the stream early."
    body = {"model": MODELS[index % len(MODELS)], "stream": stream}
    body["messages"] = [{"role": "user", "content": f"Question {index} about {word}"}]
    completion = None if state == "error" else 20 + (index * 53) % 900
    row: dict[str, Any] = {
        "id": f"{int(started.timestamp() * 1000):012x}-{index:08x}",
        "started_at": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "method": "POST",
        "path": "/v1/chat/completions",
        "endpoint": "chat.completions",
        "provider": PROVIDERS[index % len(PROVIDERS)],
        "model": body["model"],
        "stream": int(stream),
        "status": status,
        "state": state,
        "error": error,
        "request_body": json.dumps(body),
        "output_text": None if state == "error" else f"An answer about {word}.",
        "prompt_tokens": None if state == "error" else 9 + index % 40,
        "completion_tokens": completion,
        "total_tokens": None if completion is None else 9 + index % 40 + completion,
        "ttft_ms": 80.0 + (index * 17) % 900,
        "duration_ms": 120.0 + (index * 37) % 9000,
        "chunk_count": (completion or 0) + 2 if stream else 0,
    }
    if stream and completion:
        # ~20 ms between chunks with some jitter; every other stream stalls 1.5-4 s once.
        gaps = [round(12.0 + (index * 7 + i * 13) % 19, 1) for i in range(24)]
        if index % 2 == 0:
            gaps[(index * 5) % 24] = 1500.0 + (index * 97) % 2500
        row["max_gap_ms"] = max(gaps)
        row["gap_profile"] = json.dumps({"max": gaps, "stall": 1000.0})
    row.update(overrides)
    return row


def seed_calls(path: Path, count: int, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Record `count` calls (one per second, the last one `now`) as the worker would."""
    now = now or datetime.now(UTC)
    rows = [call_row(i, now - timedelta(seconds=count - 1 - i)) for i in range(count)]
    insert_calls(path, rows)
    return rows


def insert_calls(path: Path, rows: list[dict[str, Any]]) -> None:
    db = open_database(path)
    try:
        with db.conn:
            # As the recorder does at a call's end: the full-text index follows (m012).
            finished = [
                {**row, "prompt_text": prompt_text(row["endpoint"], row["request_body"])}
                if row["state"] not in theme.LIVE_STATES
                else row
                for row in rows
            ]
            db["calls"].insert_all(finished, alter=False)  # type: ignore[union-attr]
    finally:
        db.conn.close()


def update_call(path: Path, call_id: str, **fields: Any) -> None:
    db = open_database(path)
    try:
        with db.conn:
            sets = ", ".join(f"{k} = ?" for k in fields)
            db.execute(f"UPDATE calls SET {sets} WHERE id = ?", [*fields.values(), call_id])
    finally:
        db.conn.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "relayscope.db"
    open_database(path).conn.close()
    return path


@pytest.fixture
def store(db_path: Path) -> Iterator[CallStore]:
    opened = CallStore(db_path)
    yield opened
    opened.close()
