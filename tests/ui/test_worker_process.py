"""WorkerProcess: the real `python -m relayscope proxy` child, its NDJSON events as Qt signals."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from relayscope.ui.welcome_panel import send_demo_call
from relayscope.ui.worker_process import SLICE_LINES, WorkerProcess


@pytest.fixture
def worker(tmp_path: Path, qtbot: QtBot) -> Iterator[WorkerProcess]:
    process = WorkerProcess(tmp_path / "relayscope.db", tmp_path / "missing-config.toml")
    yield process
    process.stop_and_wait()


def start(qtbot: QtBot, worker: WorkerProcess, port: int = 0) -> str:
    with qtbot.waitSignal(worker.listening, timeout=60_000) as listening:
        worker.start(port)
    return str(listening.args[0])


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a listener would
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_events_arrive_as_signals_and_stop_frees_the_port(
    worker: WorkerProcess, qtbot: QtBot
) -> None:
    states: list[str] = []
    started: list[str] = []
    finished: list[tuple[str, dict[str, object]]] = []
    worker.state_changed.connect(states.append)
    worker.call_started.connect(started.append)
    worker.call_finished.connect(lambda i, f: finished.append((i, f)))

    url = start(qtbot, worker)
    assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
    assert worker.url == url and worker.port > 0
    assert "--parent-pipe" in worker.command(0) and "--events" in worker.command(0)

    errors: list[str] = []
    thread = threading.Thread(target=lambda: errors.append(send_demo_call(url, "demo-fast")))
    thread.start()
    qtbot.waitUntil(lambda: bool(finished), timeout=10_000)
    thread.join()
    assert errors == [""]
    (call_id,) = started
    assert finished[0][0] == call_id
    assert finished[0][1]["state"] == "complete" and finished[0][1]["status"] == 200
    assert int(finished[0][1]["chunk_count"]) > 5  # type: ignore[call-overload]

    port = worker.port
    with qtbot.waitSignal(worker.state_changed, timeout=8000):
        worker.stop()
    assert states == ["starting", "listening", "stopped"]
    assert port_is_free(port)
    assert worker.url == "" and not worker.is_running()


def test_an_occupied_port_fails_with_a_sentence_naming_it(
    worker: WorkerProcess, qtbot: QtBot
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with qtbot.waitSignal(worker.failed, timeout=60_000) as failed:
            worker.start(port)
    message = str(failed.args[0])
    assert f"Port {port} is in use by another program" in message
    assert "choose another port" in message
    assert worker.failure_code == "port_in_use"  # the worker's code, not its sentence, decides
    assert worker.state == "failed" and not worker.is_running()


def test_restart_moves_to_another_port(worker: WorkerProcess, qtbot: QtBot) -> None:
    start(qtbot, worker)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        new_port = probe.getsockname()[1]
    with qtbot.waitSignal(worker.listening, timeout=60_000) as listening:
        worker.restart(new_port)
    assert listening.args[0] == f"http://127.0.0.1:{new_port}/v1"


def test_a_broken_config_fails_with_the_workers_own_sentence(tmp_path: Path, qtbot: QtBot) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[proxy\nport = 1\n")
    worker = WorkerProcess(tmp_path / "relayscope.db", config)
    with qtbot.waitSignal(worker.failed, timeout=60_000) as failed:
        worker.start(0)
    assert str(failed.args[0]).startswith(f"{config.resolve()}: not valid TOML")


def test_stdout_is_parsed_in_pieces_and_noise_is_ignored(tmp_path: Path, qtbot: QtBot) -> None:
    worker = WorkerProcess(tmp_path / "relayscope.db")
    seen: list[object] = []
    worker.call_started.connect(seen.append)
    worker.call_updated.connect(lambda i, f: seen.append((i, f)))
    worker.record_error.connect(lambda m: seen.append(("record_error", m)))
    feed = worker._feed_stdout
    feed(b"Relayscope listening on http://127.0.0.1:1/v1\n{not json}\n[1]\n")
    feed(b'{"event":"call_sta')
    assert seen == []
    feed(b'rted","id":"a"}\n{"event":"call_updated","id":"a","chunk_count":3,')
    feed(b'"state":"streaming"}\n{"event":"record_error","message":"disk full"}\n')
    feed(b'{"event":"record_error","message":null}\n{"event":"mystery"}\n')
    assert seen == [
        "a",
        ("a", {"chunk_count": 3, "state": "streaming"}),
        ("record_error", "disk full"),
        ("record_error", ""),
    ]


def test_the_failure_code_decides_not_the_sentence(tmp_path: Path, qtbot: QtBot) -> None:
    worker = WorkerProcess(tmp_path / "relayscope.db")
    worker._feed_stdout(b'{"event":"failed","code":"port_in_use","message":"any words","port":5}\n')
    assert worker.failure_code == "port_in_use"
    assert worker._failure_message(1, False).startswith("Port 5 is in use by another program")
    # A sentence that only looks like a port in use is passed on as it is.
    worker._reset_buffers()
    worker._feed_stderr(b"relayscope: Port 7 on 127.0.0.1 is in use, said a plugin\n")
    assert worker.failure_code == ""
    assert worker._failure_message(1, False) == "Port 7 on 127.0.0.1 is in use, said a plugin"


class FloodingWorker(WorkerProcess):
    """A worker that writes 50,000 event lines at once, then waits for its stdin to close
    (as the real one does): the window has fallen far behind its output."""

    LINES = 50_000

    def command(self, port: int) -> list[str]:
        script = (
            "import sys\n"
            "sys.stdout.write(''.join("
            '\'{"event":"call_updated","id":"c%d","chunk_count":%d}\\n\' % (i, i)'
            f" for i in range({self.LINES})))\n"
            "sys.stdout.flush()\n"
            "sys.stdin.read()\n"
        )
        return [sys.executable, "-c", script]


def test_a_flood_of_events_is_delivered_whole_in_order_while_the_window_keeps_running(
    tmp_path: Path, qtbot: QtBot
) -> None:
    worker = FloodingWorker(tmp_path / "relayscope.db")
    seen: list[tuple[str, object]] = []
    loop_ran_at: list[int] = []

    def on_update(call_id: str, fields: dict[str, object]) -> None:
        seen.append((call_id, fields["chunk_count"]))
        if len(seen) == 1:  # a timer due at once fires as soon as the event loop runs
            QTimer.singleShot(0, lambda: loop_ran_at.append(len(seen)))

    worker.call_updated.connect(on_update)
    worker.start(0)
    try:
        qtbot.waitUntil(lambda: len(seen) == FloodingWorker.LINES, timeout=60_000)
        assert seen == [(f"c{i}", i) for i in range(FloodingWorker.LINES)]
        assert loop_ran_at and 0 < loop_ran_at[0] < FloodingWorker.LINES
    finally:
        worker.stop_and_wait()


def test_a_backlog_read_at_once_is_handled_in_slices_with_the_loop_running_between(
    tmp_path: Path, qtbot: QtBot
) -> None:
    """The window fell behind and reads 50,000 lines at once: each pass handles a bounded
    slice, the event loop runs between passes, and a partial last line waits for its end."""
    worker = WorkerProcess(tmp_path / "relayscope.db")
    seen: list[str] = []
    loop_ran_at: list[int] = []
    worker.call_started.connect(seen.append)
    QTimer.singleShot(0, lambda: loop_ran_at.append(len(seen)))
    backlog = b"".join(b'{"event":"call_started","id":"c%d"}\n' % i for i in range(50_000))
    worker._feed_stdout(backlog + b'{"event":"call_started","id":"la')
    assert 0 < len(seen) <= SLICE_LINES  # one slice now, the rest on later turns of the loop
    worker._feed_stdout(b'st"}\n')
    qtbot.waitUntil(lambda: len(seen) == 50_001, timeout=30_000)
    assert seen == [f"c{i}" for i in range(50_000)] + ["last"]
    assert loop_ran_at and loop_ran_at[0] < 50_000


def test_call_events_come_in_batches_in_order_and_a_bad_line_costs_only_itself(
    tmp_path: Path, qtbot: QtBot
) -> None:
    worker = WorkerProcess(tmp_path / "relayscope.db")
    seen: list[object] = []
    worker.calls_changed.connect(
        lambda events: seen.append([(e["event"], e["id"]) for e in events])
    )
    worker.record_error.connect(lambda m: seen.append(("record_error", m)))
    worker._feed_stdout(
        b'{"event":"call_started","id":"a"}\n'
        b'{"event":"call_started","id":"b"}\n'
        b'{"event":"call_upd\n'  # cut short: skipped, and only it
        b'{"event":"call_updated","id":"a","chunk_count":1}\n'
        b'{"event":"record_error","message":"disk full"}\n'
        b"Relayscope listening on http://127.0.0.1:1/v1\n"
        b'{"event":"call_finished","id":"b","state":"complete"}\n'
        b'{"event":"call_updated","id":"a","chunk_count":2}\n'
    )
    # The calls' events before the record error are signalled before it, those after after.
    assert seen == [
        [("call_started", "a"), ("call_started", "b"), ("call_updated", "a")],
        ("record_error", "disk full"),
        [("call_finished", "b"), ("call_updated", "a")],
    ]


def test_a_backlog_in_batches_keeps_the_order_across_slices_for_every_listener(
    tmp_path: Path, qtbot: QtBot
) -> None:
    worker = WorkerProcess(tmp_path / "relayscope.db")
    batches: list[list[str]] = []
    one_by_one: list[str] = []
    loop_ran_at: list[int] = []
    worker.calls_changed.connect(lambda events: batches.append([e["id"] for e in events]))
    worker.call_updated.connect(lambda call_id, fields: one_by_one.append(call_id))
    QTimer.singleShot(0, lambda: loop_ran_at.append(sum(map(len, batches))))
    lines = 3 * SLICE_LINES + 7
    backlog = b"".join(
        b'{"event":"call_updated","id":"c%d","n":%d}\n' % (i, i) for i in range(lines)
    )
    worker._feed_stdout(backlog)
    assert 0 < sum(map(len, batches)) <= SLICE_LINES  # one slice now
    qtbot.waitUntil(lambda: len(one_by_one) == lines, timeout=30_000)
    assert [i for batch in batches for i in batch] == [f"c{i}" for i in range(lines)]
    assert one_by_one == [f"c{i}" for i in range(lines)]
    assert len(batches) < lines / 10  # batches, not one signal per event
    assert loop_ran_at and loop_ran_at[0] < lines  # the window ran between slices
