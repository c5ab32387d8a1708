"""RecordingProcess with its real child (`python -m relayscope _record`) and a real SQLite file."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from relayscope.recording.process import RecordingProcess
from relayscope.recording.writer import prepare_database
from relayscope.store.call_store import CallStore
from tests.recording.test_writer import CHUNKS, start_row


def parse(lines: list[bytes]) -> list[dict[str, Any]]:
    return [json.loads(line) for chunk in lines for line in chunk.splitlines()]


def wait_until(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_ops_are_written_by_the_child_and_its_events_come_back(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    prepare_database(db)
    lines: list[bytes] = []
    writer = RecordingProcess(db, on_lines=lines.append).open()
    child = writer.pid
    writer.start(start_row("c1"))
    for n, raw in enumerate(CHUNKS):
        writer.raw("c1", 10.0 * n, raw)
    writer.raw("c1", 40.0, b"")
    writer.finish("c1", {"status": 200, "state": "complete", "duration_ms": 42.0})
    writer.close()

    assert child is not None and child != os.getpid()
    store = CallStore(db)
    call = store.get_call("c1")
    assert call is not None
    assert (call["state"], call["chunk_count"], call["output_text"]) == (
        "complete",
        5,
        "Hello world",
    )
    assert b"".join(c["data"].encode() for c in store.chunks("c1")) == b"".join(CHUNKS)
    store.close()
    events = parse(lines)
    assert events[0] == {"event": "call_started", "id": "c1"}
    assert events[-1]["event"] == "call_finished" and events[-1]["chunk_count"] == 5


def test_a_killed_child_is_restarted_and_said_so(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    prepare_database(db)
    errors: list[str] = []
    lines: list[bytes] = []
    writer = RecordingProcess(db, on_lines=lines.append, on_error=errors.append).open()
    writer.start(start_row("before"))
    writer.finish("before", {"status": 200, "state": "complete"})
    wait_until(lambda: any(b"call_finished" in chunk for chunk in lines))
    first = writer.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: writer.pid != first)
    writer.start(start_row("after"))
    writer.finish("after", {"status": 200, "state": "complete"})
    writer.close()

    assert len(errors) == 1 and "restarted" in errors[0] and "-9" in errors[0]
    store = CallStore(db)
    assert [r["id"] for r in store.list_calls(descending=False)] == ["before", "after"]
    store.close()


def test_a_child_that_keeps_dying_stops_recording_with_a_sentence(tmp_path: Path) -> None:
    errors: list[str] = []
    writer = RecordingProcess(
        tmp_path / "r.db",
        on_error=errors.append,
        command=[sys.executable, "-c", "import sys; sys.exit(3)"],
    ).open()
    wait_until(lambda: any(e.startswith("Recording stopped") for e in errors))
    writer.start(start_row("lost"))  # nowhere to go: dropped, not piled up in memory
    writer.close()
    assert errors[-1].startswith("Recording stopped: the recording process failed 3 times")
    assert "Traffic still flows" in errors[-1] and "exit status 3" in errors[-1]
    assert len(errors) == 3


def test_a_child_that_cannot_be_started_again_stops_recording_with_a_sentence(
    tmp_path: Path,
) -> None:
    script = tmp_path / "child.sh"
    script.write_text(f"#!/bin/sh\nrm -f {script}\nexit 3\n")  # runs once, then is gone
    script.chmod(0o755)
    errors: list[str] = []
    writer = RecordingProcess(tmp_path / "r.db", on_error=errors.append, command=[str(script)])
    writer.open()
    wait_until(lambda: bool(errors))
    writer.close()
    assert len(errors) == 1 and errors[0].startswith("Recording stopped")
    assert "cannot be started again" in errors[0] and "Traffic still flows" in errors[0]


def test_from_an_event_loop_batches_leave_without_a_thread_even_through_a_full_pipe(
    tmp_path: Path,
) -> None:
    """The worker's way: frames written by the loop itself; a child that reads late (the
    pipe fills up) gets every op, in order, once it reads."""
    import asyncio
    import threading

    from relayscope.recording.process import child_command

    db = tmp_path / "r.db"
    prepare_database(db)
    lines: list[bytes] = []
    late = [
        sys.executable,
        "-c",
        "import time, runpy, sys; time.sleep(0.5); "
        "sys.argv = ['x', *sys.argv[1:]]; "
        f"runpy.run_module({child_command(db, events=True)[2]!r}, run_name='__main__')",
        *child_command(db, events=True)[3:],
    ]
    blob = b"data: " + b"x" * 60_000 + b"\n\n"

    async def main() -> None:
        writer = RecordingProcess(db, on_lines=lines.append, command=late)
        writer.open(asyncio.get_running_loop())
        threads = threading.active_count()
        writer.start(start_row("c1"))
        for n in range(60):  # 3.6 MB: more than the pipe holds while the child sleeps
            writer.raw("c1", float(n), blob)
            await asyncio.sleep(0.005)
        writer.raw("c1", 99.0, b"")
        writer.finish("c1", {"status": 200, "state": "complete", "duration_ms": 100.0})
        assert threading.active_count() == threads  # no flusher thread
        writer.close()

    asyncio.run(main())
    store = CallStore(db)
    call = store.get_call("c1")
    assert call is not None and call["state"] == "complete" and call["chunk_count"] == 60
    assert all(c["data"].encode() == blob for c in store.chunks("c1"))
    store.close()


def test_from_an_event_loop_a_killed_child_is_restarted(tmp_path: Path) -> None:
    import asyncio

    db = tmp_path / "r.db"
    prepare_database(db)
    errors: list[str] = []
    lines: list[bytes] = []

    async def main() -> None:
        writer = RecordingProcess(db, on_lines=lines.append, on_error=errors.append)
        writer.open(asyncio.get_running_loop())
        writer.start(start_row("before"))
        writer.finish("before", {"status": 200, "state": "complete"})
        deadline = time.monotonic() + 10
        while not any(b"call_finished" in chunk for chunk in lines):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        first = writer.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        while writer.pid == first:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        writer.start(start_row("after"))
        writer.finish("after", {"status": 200, "state": "complete"})
        writer.close()

    asyncio.run(main())
    assert len(errors) == 1 and "restarted" in errors[0]
    store = CallStore(db)
    assert [r["id"] for r in store.list_calls(descending=False)] == ["before", "after"]
    store.close()


BOUND = 256 * 1024


def assert_bounded(writer: RecordingProcess) -> None:
    """The frames the worker holds in memory stay within the bound and one frame (read back
    from the backlog file: one window of the loop, larger on a loaded machine)."""
    largest = max((len(frame) for frame in writer._frames), default=0)
    assert writer.queued_bytes <= BOUND + largest


def event(n: int) -> bytes:
    return b"data: %d " % n + b"y" * 1000 + b"\n\n"


def stopped_child(
    tmp_path: Path, while_stopped: Any, after: Any = None, *, calls: int = 6, chunks: int = 400
) -> list[str]:
    """A worker-style RecordingProcess (frames sent from a loop, a 256 KiB bound) whose child
    is stopped (SIGSTOP) while `calls` streams of `chunks` 1 KiB events are recorded, then
    resumed (SIGCONT). `while_stopped(writer)` runs before it resumes, `after(writer)` (a
    coroutine) after. Returns the error sentences."""
    import asyncio

    db = tmp_path / "r.db"
    prepare_database(db)
    errors: list[str] = []

    async def main() -> None:
        writer = RecordingProcess(db, on_error=errors.append, backlog_bytes=BOUND)
        writer.open(asyncio.get_running_loop())
        pid = writer.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            for c in range(calls):
                writer.start(start_row(f"c{c}"))
                for n in range(chunks):
                    writer.raw(f"c{c}", float(n), event(n))
                    if n % 50 == 0:
                        await asyncio.sleep(0.005)
                        # what the worker holds for the stopped child stays under the bound
                        assert_bounded(writer)
                writer.raw(f"c{c}", float(chunks), b"")
                writer.finish(f"c{c}", {"status": 200, "state": "complete"})
            await asyncio.sleep(0.1)
            while_stopped(writer)
        finally:
            os.kill(pid, signal.SIGCONT)
        if after is not None:
            await after(writer)
        writer.close()

    asyncio.run(main())
    return errors


def test_a_stopped_child_leaves_a_bounded_backlog_and_gets_every_chunk_in_order(
    tmp_path: Path,
) -> None:
    """The pipe fills, the frames beyond the bound go to the backlog file (not memory), and
    once the child runs again every call is recorded whole, in order."""
    in_file: list[int] = []
    errors = stopped_child(tmp_path, lambda writer: in_file.append(writer._backlog.size()))
    assert in_file[0] > 1024 * 1024  # most of the ~2.4 MB waited in the file
    assert errors == []
    assert not (tmp_path / "r.db-backlog").exists()
    store = CallStore(tmp_path / "r.db")
    for c in range(6):
        call = store.get_call(f"c{c}")
        assert call is not None and (call["state"], call["chunk_count"]) == ("complete", 400)
        assert [row["data"].encode() for row in store.chunks(f"c{c}")] == [
            event(n) for n in range(400)
        ]
    store.close()


def test_a_backlog_file_that_cannot_be_written_loses_calls_with_a_sentence(
    tmp_path: Path,
) -> None:
    """Beyond the bound with nowhere to put the frames: they are dropped (memory stays bounded)
    and the user is told; once the child catches up, the calls after are recorded."""
    import asyncio

    (tmp_path / "r.db-backlog").mkdir()  # the file cannot be created

    def while_stopped(writer: RecordingProcess) -> None:
        assert_bounded(writer)

    async def after(writer: RecordingProcess) -> None:
        deadline = time.monotonic() + 20
        while writer.queued_bytes:  # the child takes what was kept
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        writer.start(start_row("after"))
        for n in range(100):
            writer.raw("after", float(n), event(n))
        writer.raw("after", 100.0, b"")
        writer.finish("after", {"status": 200, "state": "complete"})

    errors = stopped_child(tmp_path, while_stopped, after)
    assert len(errors) == 2, errors
    assert errors[0].startswith("Recording fell behind by more than 0.25 MiB and")
    assert "r.db-backlog" in errors[0] and "recorded incomplete or not at all" in errors[0]
    assert errors[1].startswith("Recording caught up;") and "calls made while" in errors[1]
    store = CallStore(tmp_path / "r.db")
    first = store.get_call("c0")
    assert first is not None and first["chunk_count"] == 400  # it fitted
    call = store.get_call("after")
    assert call is not None and (call["state"], call["chunk_count"]) == ("complete", 100)
    assert [row["data"].encode() for row in store.chunks("after")] == [event(n) for n in range(100)]
    store.close()


def held_by_the_worker(db: Path, send: Callable[[RecordingProcess], Awaitable[None]]) -> int:
    """What the worker holds (in memory and in its backlog file) one second after `send`
    recorded through a child whose commits wait: the database is locked by another program
    (each commit of the child waits 5 s for it), then freed, and the recording closed."""
    import asyncio
    import sqlite3

    prepare_database(db)
    lock = sqlite3.connect(db)
    lock.execute("BEGIN EXCLUSIVE")
    held: list[int] = []

    async def main() -> None:
        writer = RecordingProcess(db, backlog_bytes=BOUND)
        writer.open(asyncio.get_running_loop())
        await send(writer)
        await asyncio.sleep(1.0)
        held.append(writer.queued_bytes + writer._backlog.size())
        lock.rollback()
        writer.close(timeout=60)

    asyncio.run(main())
    lock.close()
    return held[0]


def test_a_child_behind_its_database_stops_reading_and_the_backlog_waits_in_the_worker(
    tmp_path: Path,
) -> None:
    """A child whose commits wait (the database locked by another program) stops reading once
    its own queue is full: the pipe fills and the rest waits in the worker, bounded there,
    instead of piling up in the child. Once the database is free, every chunk is recorded."""
    import asyncio

    db = tmp_path / "r.db"
    # ~80 MB: well beyond what the child may hold (20,000 ops queued, as many in the batch its
    # writer thread took before its commit began to wait) and the 1 MiB pipe.
    events = 80_000

    async def send(writer: RecordingProcess) -> None:
        writer.start(start_row("c1"))
        for n in range(events):
            writer.raw("c1", float(n), event(n))
            if n % 100 == 0:
                await asyncio.sleep(0.001)
                assert_bounded(writer)
        writer.raw("c1", float(events), b"")
        writer.finish("c1", {"status": 200, "state": "complete"})

    held = held_by_the_worker(db, send)
    assert held > 8 * 1024 * 1024  # an eager child would have read it all by now
    store = CallStore(db)
    call = store.get_call("c1")
    assert call is not None and (call["state"], call["chunk_count"]) == ("complete", events)
    assert [row["data"].encode() for row in store.chunks("c1")] == [event(n) for n in range(events)]
    store.close()


def test_a_child_behind_its_database_holds_few_bytes_of_big_bodies(tmp_path: Path) -> None:
    """Big request bodies are few ops: a child whose commits wait stops reading by the
    bytes it holds too (`QUEUE_BYTES`), not only by the ops, and the rest waits in the
    worker (in its backlog file beyond its bound). Every body is recorded whole once the
    database is free."""
    import asyncio

    from relayscope.recording.child import QUEUE_BYTES

    db = tmp_path / "r.db"
    calls = 64  # 1 MiB each: 64 MiB, 128 ops
    filler = b"z" * (1024 * 1024)

    def body(n: int) -> bytes:
        return b'{"call": %d, "input": "%s"}' % (n, filler)

    async def send(writer: RecordingProcess) -> None:
        for n in range(calls):
            writer.start(start_row(f"c{n}", request_body=body(n)))
            writer.finish(f"c{n}", {"status": 200, "state": "complete"})
            await asyncio.sleep(0.025)  # about a call per 20 ms frame

    held = held_by_the_worker(db, send)
    # Not held by the worker, at most: the child's queue (QUEUE_BYTES and the frame that went
    # over), its writer thread's batch under way (as much again) and the 1 MiB pipe. A frame
    # is what the worker gathered in 20 ms: one call, a few when its loop ran late (CI saw
    # two). Without the bound in bytes the child would hold all 64 MiB (128 ops).
    frame = 4 * len(body(0))
    assert held > calls * len(filler) - 2 * (QUEUE_BYTES + frame) - (1 << 20)
    store = CallStore(db)
    for n in (0, calls // 2, calls - 1):
        call = store.get_call(f"c{n}")
        assert call is not None and call["state"] == "complete"
        assert call["request_body"] == body(n).decode()
    store.close()
