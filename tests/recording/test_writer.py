"""RecordingWriter against a real SQLite file: batching, assembly, failures, leftovers."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from relayscope.analysis.stream_stats import gap_profile
from relayscope.recording.writer import LIVE_PROFILE_SECONDS, RecordingWriter
from relayscope.store.call_store import CallFilter, CallStore

CHUNKS = [
    b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"role":"assistant",'
    b'"content":""},"finish_reason":null}]}\n\n',
    b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"Hello "},'
    b'"finish_reason":null}]}\n\n',
    b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"world"},'
    b'"finish_reason":null}]}\n\n',
    b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}\n\n',
    b"data: [DONE]\n\n",
]
REQUEST = b'{"model":"m","stream":true,"messages":[{"role":"user","content":"say hello please"}]}'


def start_row(call_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": call_id,
        "started_at": "2026-11-21T12:00:00.000Z",
        "method": "POST",
        "path": "/v1/chat/completions",
        "endpoint": "chat.completions",
        "provider": "p",
        "model": "m",
        "stream": 1,
        "request_body": REQUEST,
        **extra,
    }


def data_of(raw: bytes) -> str:
    return raw.decode()[6:].strip()


def test_stream_is_recorded_assembled_and_searchable(tmp_path: Path) -> None:
    events: list[dict[str, Any]] = []
    writer = RecordingWriter(tmp_path / "r.db", on_commit=events.extend).open()
    writer.start(start_row("c1"))
    for seq, raw in enumerate(CHUNKS):
        writer.chunk("c1", seq, 10.0 * seq, raw, data_of(raw), None)
    writer.finish("c1", {"status": 200, "state": "complete", "duration_ms": 55.0})
    writer.close()

    store = CallStore(tmp_path / "r.db")
    call = store.get_call("c1")
    assert call is not None
    assert (call["state"], call["chunk_count"], call["output_text"]) == (
        "complete",
        5,
        "Hello world",
    )
    assert (call["prompt_tokens"], call["completion_tokens"], call["total_tokens"]) == (9, 2, 11)
    assert call["finish_reason"] == "stop"
    assert call["max_gap_ms"] == 10.0  # chunks 10 ms apart: the list's Gaps sparkline
    assert json.loads(call["gap_profile"]) == {"max": [10.0] * 4, "stall": 1000.0}
    assert b"".join(c["data"].encode() for c in store.chunks("c1")) == b"".join(CHUNKS)
    assert store.count_calls(CallFilter(text="hello")) == 1
    assert store.count_calls(CallFilter(text="please")) == 1
    assert store.count_calls(CallFilter(text="goodbye")) == 0
    assert events[0]["event"] == "call_started"
    assert events[-1]["event"] == "call_finished" and events[-1]["id"] == "c1"
    store.close()


def test_raw_stream_bytes_are_split_into_timed_events(tmp_path: Path) -> None:
    """`raw` hands over network chunks as they came; the writer numbers and times events."""
    events: list[dict[str, Any]] = []
    writer = RecordingWriter(tmp_path / "r.db", on_commit=events.extend).open()
    writer.start(start_row("c1"))
    body = b"".join(CHUNKS)
    # Three network chunks: half an event, then the rest of it with two more, then the rest.
    cut1, cut2 = 40, len(CHUNKS[0]) + len(CHUNKS[1]) + len(CHUNKS[2])
    writer.raw("c1", 5.0, body[:cut1])
    writer.raw("c1", 7.5, body[cut1:cut2])
    writer.raw("c1", 12.0, body[cut2:])
    writer.raw("c1", 12.0, b"")
    writer.finish(
        "c1", {"status": 200, "state": "complete", "duration_ms": 20.0, "first_byte_ms": 1.0}
    )
    writer.close()

    store = CallStore(tmp_path / "r.db")
    call = store.get_call("c1")
    assert call is not None
    assert (call["chunk_count"], call["output_text"], call["total_tokens"]) == (
        5,
        "Hello world",
        11,
    )
    assert call["ttft_ms"] == 7.5  # the first event with output (relayscope.calls.facts)
    assert call["first_byte_ms"] == 1.0  # the response headers, as the recorder saw them
    chunks = store.chunks("c1")
    assert [c["t_ms"] for c in chunks] == [7.5, 7.5, 7.5, 12.0, 12.0]
    assert [c["seq"] for c in chunks] == [0, 1, 2, 3, 4]
    assert b"".join(c["data"].encode() for c in chunks) == body
    assert any(e.get("ttft_ms") == 7.5 for e in events if e["event"] == "call_finished")
    store.close()


def test_a_cut_stream_keeps_the_bytes_of_its_unfinished_event(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path / "r.db").open()
    writer.start(start_row("c1"))
    partial = CHUNKS[0] + CHUNKS[1][:25]
    writer.raw("c1", 3.0, partial)
    writer.finish("c1", {"status": 200, "state": "interrupted", "duration_ms": 9.0})
    writer.close()

    store = CallStore(tmp_path / "r.db")
    chunks = store.chunks("c1")
    assert b"".join(c["data"].encode() for c in chunks) == partial
    assert [c["t_ms"] for c in chunks] == [3.0, 3.0]
    call = store.get_call("c1")
    assert call is not None and call["chunk_count"] == 2
    store.close()


def test_a_live_stream_shows_its_gaps_before_it_ends(tmp_path: Path) -> None:
    events: list[dict[str, Any]] = []
    writer = RecordingWriter(tmp_path / "r.db", on_commit=events.extend).open()
    writer.start(start_row("c1"))
    for seq, t_ms in enumerate((10.0, 20.0, 30.0, 40.0, 2040.0)):  # then two seconds of silence
        writer.chunk("c1", seq, t_ms, CHUNKS[seq], data_of(CHUNKS[seq]), None)
    time.sleep(LIVE_PROFILE_SECONDS + 0.1)  # the profile is rewritten at most this often
    writer.chunk("c1", 5, 2050.0, b"data: {}\n\n", "{}", None)
    store = CallStore(tmp_path / "r.db")
    expected = {"max": [10.0, 10.0, 10.0, 2000.0, 10.0], "stall": 1000.0}
    deadline = time.monotonic() + 5
    call = store.get_call("c1")
    while time.monotonic() < deadline and not (
        call and call["gap_profile"] and json.loads(call["gap_profile"]) == expected
    ):
        time.sleep(0.02)
        call = store.get_call("c1")
    assert call is not None and call["state"] == "streaming"
    assert call["max_gap_ms"] == 2000.0
    assert json.loads(call["gap_profile"]) == expected
    live = [e for e in events if e["event"] == "call_updated" and "gap_profile" in e]
    assert live and live[-1]["max_gap_ms"] == 2000.0  # the app's row learns it from the event
    writer.close()
    store.close()


def test_a_finished_streams_gaps_are_those_of_its_stored_chunk_times(tmp_path: Path) -> None:
    """The profile kept chunk by chunk (relayscope.recording.gaps) is the one the chunk
    times read back give, on a long irregular stream that is downsampled to 24 bars."""
    rng = random.Random(5)
    times, t = [], 0.0
    for _ in range(3000):
        t += rng.choice(
            [0.0, rng.expovariate(1 / 15), rng.uniform(1500, 4000) * (rng.random() < 0.01)]
        )
        times.append(round(t, 3))
    writer = RecordingWriter(tmp_path / "r.db").open()
    writer.start(start_row("c1"))
    for seq, t_ms in enumerate(times):
        writer.chunk("c1", seq, t_ms, CHUNKS[1], data_of(CHUNKS[1]), None)
        if seq == 1500:
            time.sleep(LIVE_PROFILE_SECONDS + 0.1)  # one live rewrite in the middle
    writer.finish("c1", {"status": 200, "state": "complete"})
    writer.close()
    store = CallStore(tmp_path / "r.db")
    call = store.get_call("c1")
    assert call is not None
    stored = [c["t_ms"] for c in store.chunks("c1")]
    assert stored == times
    profile = gap_profile(stored)
    assert profile is not None and len(profile["max"]) == 24
    assert call["gap_profile"] == json.dumps(profile, separators=(",", ":"))
    assert call["max_gap_ms"] == max(profile["max"])
    store.close()


def test_leftovers_of_a_killed_worker_are_marked_interrupted(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path / "r.db").open()
    writer.start(start_row("live"))
    writer.chunk("live", 0, 1.0, CHUNKS[0], data_of(CHUNKS[0]), None)
    writer.close()  # no finish: as if the process died mid-stream

    again = RecordingWriter(tmp_path / "r.db")
    assert again.mark_leftovers_interrupted() == 1
    again.close()
    store = CallStore(tmp_path / "r.db")
    call = store.get_call("live")
    assert call is not None and call["state"] == "interrupted" and call["chunk_count"] == 1
    store.close()


def writer_behind_a_lock(
    tmp_path: Path, *, busy_ms: int, **options: Any
) -> tuple[RecordingWriter, sqlite3.Connection]:
    """A writer that waits `busy_ms` for a lock, and another program's connection holding
    the database's write lock (COMMIT it to let the writer in)."""
    writer = RecordingWriter(tmp_path / "r.db", **options)
    writer.conn.execute(f"PRAGMA busy_timeout={busy_ms}")
    writer.open()
    blocker = sqlite3.connect(tmp_path / "r.db", isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    return writer, blocker


def test_a_locked_database_delays_recording_but_loses_nothing(tmp_path: Path) -> None:
    errors: list[str | None] = []
    writer, blocker = writer_behind_a_lock(tmp_path, busy_ms=50, on_error=errors.append)
    writer.start(start_row("c2"))
    writer.finish("c2", {"status": 200, "state": "complete"})
    done = threading.Event()
    threading.Timer(1.0, lambda: (blocker.execute("COMMIT"), done.set())).start()
    done.wait(5)
    writer.close()
    blocker.close()
    assert errors and errors[0] is not None and "retrying" in errors[0]
    assert errors[-1] is None  # recovery is reported too
    store = CallStore(tmp_path / "r.db")
    call = store.get_call("c2")
    assert call is not None and call["state"] == "complete"
    store.close()


def test_a_close_that_stops_waiting_leaves_the_writer_to_finish(tmp_path: Path) -> None:
    # Closing with a timeout while the writer is still behind (here: waiting for a lock)
    # returns in time, and what was queued is still written: the connection is not closed
    # under the thread that writes with it.
    writer, blocker = writer_behind_a_lock(tmp_path, busy_ms=3000)
    writer.start(start_row("c3"))
    writer.finish("c3", {"status": 200, "state": "complete"})
    time.sleep(0.2)  # the writer is inside its commit, waiting for the lock
    began = time.monotonic()
    writer.close(timeout=0.2)
    assert time.monotonic() - began < 1.0
    blocker.execute("COMMIT")
    blocker.close()
    writer.close()  # waits for the writer this time
    store = CallStore(tmp_path / "r.db")
    call = store.get_call("c3")
    assert call is not None and call["state"] == "complete"
    store.close()


def test_database_file_is_owner_only(tmp_path: Path) -> None:
    RecordingWriter(tmp_path / "r.db").close()
    assert (tmp_path / "r.db").stat().st_mode & 0o777 == 0o600


def test_a_full_disk_delays_recording_but_loses_nothing(tmp_path: Path) -> None:
    """SQLite's max_page_count makes writes fail exactly as on a full disk (SQLITE_FULL)."""
    errors: list[str | None] = []
    writer = RecordingWriter(tmp_path / "r.db", on_error=errors.append)
    pages = writer.conn.execute("PRAGMA page_count").fetchone()[0]
    writer.conn.execute(f"PRAGMA max_page_count = {pages}")  # not one page more: "disk full"
    writer.open()
    big = b'{"model":"m","messages":[{"role":"user","content":"' + b"x" * 200_000 + b'"}]}'
    writer.start(start_row("c3", request_body=big))
    writer.finish("c3", {"status": 200, "state": "complete"})
    deadline = time.monotonic() + 5
    while not errors and time.monotonic() < deadline:
        time.sleep(0.05)
    assert errors and errors[0] is not None and "full" in errors[0]
    writer.conn.execute("PRAGMA max_page_count = 1000000")  # space again
    writer.close()
    assert errors[-1] is None  # recovery is reported too
    store = CallStore(tmp_path / "r.db")
    call = store.get_call("c3")
    assert call is not None and call["state"] == "complete" and len(call["request_body"]) > 200_000
    store.close()


def test_ttft_is_the_first_output_token_and_first_byte_its_own_figure(tmp_path: Path) -> None:
    """The role chunk arrives at 5 ms, the first text at 255 ms: TTFT is 255 ms, shown live."""
    events: list[dict[str, Any]] = []
    writer = RecordingWriter(tmp_path / "r.db", on_commit=events.extend).open()
    writer.start(start_row("s"))
    writer.raw("s", 5.0, CHUNKS[0])
    time.sleep(0.1)  # another batch: the list learns the TTFT while the stream runs
    writer.raw("s", 255.0, CHUNKS[1])
    deadline = time.monotonic() + 10  # the batch's commit, on the writer's thread: 20 ms quiet
    while not any("ttft_ms" in e for e in events) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [e["ttft_ms"] for e in events if "ttft_ms" in e] == [255.0]
    writer.raw("s", 260.0, b"".join(CHUNKS[2:]))
    writer.raw("s", 260.0, b"")
    writer.finish(
        "s", {"status": 200, "state": "complete", "duration_ms": 270.0, "first_byte_ms": 4.0}
    )
    # A non-stream answer: its output arrives with its first byte; a failed one has none.
    writer.start(start_row("n", stream=0))
    body = b'{"choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}]}'
    writer.finish(
        "n", {"status": 200, "state": "complete", "first_byte_ms": 80.0, "response_body": body}
    )
    writer.start(start_row("e", stream=0))
    writer.finish("e", {"status": 429, "state": "error", "first_byte_ms": 30.0})
    # A stream that carried no output (a role chunk, then the end) has no first token.
    writer.start(start_row("r"))
    writer.raw("r", 6.0, CHUNKS[0] + CHUNKS[-1])
    writer.raw("r", 6.0, b"")
    writer.finish("r", {"status": 200, "state": "complete", "first_byte_ms": 5.0})
    writer.close()
    store = CallStore(tmp_path / "r.db")
    figures = {
        call_id: (row["ttft_ms"], row["first_byte_ms"])
        for call_id in "sner"
        if (row := store.get_call(call_id)) is not None
    }
    assert figures == {
        "s": (255.0, 4.0),
        "n": (80.0, 80.0),
        "e": (None, 30.0),
        "r": (None, 5.0),
    }
    store.close()


def test_the_writer_keeps_no_state_for_calls_that_ended(tmp_path: Path) -> None:
    """A long-running recorder must not grow with the calls it has written: a call's live
    state (SSE decoder, assembler, gap profile) goes once its end is committed, whether it
    streamed events, raw bytes or nothing, and whether it was cut; a call still running keeps
    its own."""
    writer = RecordingWriter(tmp_path / "r.db").open()  # no on_commit, as in a quiet worker
    body = b"".join(CHUNKS)
    for n in range(50):
        writer.start(start_row(f"raw{n}"))
        writer.raw(f"raw{n}", 1.0, body[: 40 + n])
        writer.raw(f"raw{n}", 2.0, body[40 + n :] if n % 2 else b"")  # odd ones complete
        writer.finish(f"raw{n}", {"status": 200, "state": "complete", "duration_ms": 3.0})
        writer.start(start_row(f"events{n}"))
        for seq, raw in enumerate(CHUNKS):
            writer.chunk(f"events{n}", seq, float(seq), raw, data_of(raw), None)
        writer.finish(f"events{n}", {"status": 200, "state": "complete", "duration_ms": 5.0})
        writer.start(start_row(f"plain{n}", stream=0))
        writer.finish(f"plain{n}", {"status": 200, "state": "complete", "response_body": b"{}"})
    writer.start(start_row("running"))
    writer.raw("running", 1.0, CHUNKS[0])
    writer.close()

    assert list(writer._applier._live) == ["running"]
    store = CallStore(tmp_path / "r.db")
    assert store.count_calls() == 151
    store.close()
