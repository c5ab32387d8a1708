"""The worker's own small parts: the NDJSON event printer and the port check at start."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from pathlib import Path

import pytest

from relayscope.config import Config
from relayscope.proxy.worker import (
    EventPrinter,
    WorkerError,
    WorkerSettings,
    check_port_free,
    run_worker,
)
from relayscope.recording.messages import parse_event


def test_events_are_one_json_line_each_and_only_when_asked_for() -> None:
    out = io.StringIO()
    printer = EventPrinter(out, enabled=True)
    printer.emit({"event": "listening", "port": 8787})
    printer.emit({"event": "call_held", "body": "line one\nline two"})
    lines = out.getvalue().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["listening", "call_held"]
    quiet = io.StringIO()
    printer = EventPrinter(quiet, enabled=False)
    printer.emit({"event": "listening"})
    printer.line("Relayscope listening on http://127.0.0.1:8787/v1")  # always shown
    assert quiet.getvalue() == "Relayscope listening on http://127.0.0.1:8787/v1\n"


def test_a_closed_stdout_loses_events_quietly() -> None:
    out = io.StringIO()
    out.close()  # the app went away
    EventPrinter(out, enabled=True).emit({"event": "stopped"})


def test_a_port_in_use_is_a_sentence_saying_what_to_do() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(WorkerError) as raised:
            check_port_free("127.0.0.1", port)
    message = str(raised.value)
    assert f"Port {port}" in message and "--port" in message
    check_port_free("127.0.0.1", 0)  # any free port: nothing to check


def test_a_port_in_use_is_a_failed_event_with_its_code(tmp_path: Path) -> None:
    """The app branches on `code`, not on the sentence (relayscope.recording.messages.Failed)."""
    out = io.StringIO()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = WorkerSettings(
            Config(), tmp_path / "relayscope.db", "127.0.0.1", port, events=True
        )
        with pytest.raises(WorkerError) as raised:
            asyncio.run(run_worker(settings, out))
    (event,) = [parse_event(line) for line in out.getvalue().splitlines()]
    assert event == {
        "event": "failed",
        "code": "port_in_use",
        "message": str(raised.value),
        "port": port,
    }
