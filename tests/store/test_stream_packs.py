"""A finished stream's chunks as one compressed pack: every reader sees exactly what the rows
held (byte for byte, with their times), live streams stay readable, old databases convert."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from relayscope.exchange.export import export_to_path
from relayscope.recording.writer import RecordingWriter
from relayscope.store import schema, stream_packs
from relayscope.store.call_store import CallFilter, CallStore
from relayscope.store.retention import compact, prune
from tests.store.test_bodies import _codex_bodies


def _answer(turn: int) -> list[bytes]:
    """A Responses stream of a few events, its words unique to the turn."""
    events = [
        {"type": "response.created", "sequence_number": 0},
        *(
            {"type": "response.output_text.delta", "delta": f" answer{turn}w{i}", "item_id": "m"}
            for i in range(6)
        ),
        {"type": "response.completed", "response": {"status": "completed", "output": []}},
    ]
    return [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events] + [
        b": keep-alive \xc3\xa9\n\n"
    ]


def _record(path: Path, turns: int, *, packed: bool = True) -> list[bytes]:
    """An agent session of `turns` streamed calls; `packed=False` keeps today's rows."""
    payloads = _codex_bodies(turns)
    writer = RecordingWriter(path).open()
    try:
        for n, body in enumerate(payloads):
            call_id = f"c{n:03d}"
            writer.start(
                {
                    "id": call_id,
                    "endpoint": "responses",
                    "stream": 1,
                    "request_body": body,
                    "session_id": "s1",
                    "started_at": f"2026-12-01T00:00:{n:02d}Z",
                }
            )
            for i, raw in enumerate(_answer(n)):
                writer.raw(call_id, 10.0 + i * 3.1234567, raw)  # rounded to µs by the writer
            writer.finish(call_id, {"state": "complete", "status": 200, "duration_ms": 40.0})
    finally:
        writer.close()
    return payloads


def _everything(path: Path) -> dict[str, Any]:
    store = CallStore(path)
    try:
        ids = [r["id"] for r in store.list_calls(columns=("id",), limit=1000, descending=False)]
        return {
            "calls": [store.get_call(i) for i in ids],
            "chunks": {i: store.chunks(i) for i in ids},
            "after": {i: store.chunks(i, after=3) for i in ids},
        }
    finally:
        store.close()


def test_chunks_round_trip_whatever_they_hold() -> None:
    chunks = [
        {"seq": 0, "t_ms": 0.0, "data": "data: {}\n\n", "direction": None},
        {"seq": 1, "t_ms": 1.5, "data": b"\xff\xfe not UTF-8", "direction": "server"},
        {"seq": 2, "t_ms": 1 / 3, "data": None, "direction": "client"},  # not whole µs
        {"seq": 5, "t_ms": 2.0, "data": "é\u2028 \x00", "direction": None},  # a gap in seq
    ]
    assert stream_packs.decode(stream_packs.encode(chunks)) == chunks
    timed = [{**c, "t_ms": t} for c, t in zip(chunks, (12.345, 12.345, 99.001, 1e6), strict=True)]
    assert stream_packs.decode(stream_packs.encode(timed)) == timed
    assert stream_packs.decode(stream_packs.encode([])) == []


def test_packed_storage_gives_every_reader_the_same_as_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as m:  # today's storage: every chunk stays a row
        m.setattr(stream_packs, "pack", lambda conn, call_id: 0)
        _record(tmp_path / "rows.db", 8)
    payloads = _record(tmp_path / "packs.db", 8)
    rows, packs = _everything(tmp_path / "rows.db"), _everything(tmp_path / "packs.db")
    assert packs == rows
    for n in range(8):
        chunks = packs["chunks"][f"c{n:03d}"]
        assert b"".join(c["data"].encode() for c in chunks) == b"".join(_answer(n))
        assert [c["seq"] for c in chunks] == list(range(len(_answer(n))))
        body = packs["calls"][n]["request_body"]
        assert body.encode() == payloads[n]
    # The exports (HAR, JSONL) are byte for byte the same.
    for fmt in ("har", "jsonl"):
        out = {}
        for name in ("rows", "packs"):
            store = CallStore(tmp_path / f"{name}.db")
            target = tmp_path / f"{name}.{fmt}"
            export_to_path(store, fmt, target)
            store.close()
            out[name] = target.read_bytes()
        assert out["packs"] == out["rows"]
    conn = sqlite3.connect(tmp_path / "packs.db")
    assert conn.execute("SELECT count(*) FROM chunks").fetchone() == (0,)
    assert conn.execute("SELECT count(*), sum(count) FROM chunk_packs").fetchone() == (8, 8 * 9)
    conn.close()


def test_search_finds_the_first_turn_and_the_last(tmp_path: Path) -> None:
    _record(tmp_path / "r.db", 12)
    store = CallStore(tmp_path / "r.db")
    try:
        assert [r["id"] for r in store.list_calls(CallFilter(text="question0"))] == ["c000"]
        assert [r["id"] for r in store.list_calls(CallFilter(text="question11"))] == ["c011"]
        assert [r["id"] for r in store.list_calls(CallFilter(text="answer0w5"))] == ["c000"]
        assert [r["id"] for r in store.list_calls(CallFilter(text="answer11w0"))] == ["c011"]
    finally:
        store.close()


def test_a_live_stream_is_rows_until_it_ends(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    writer = RecordingWriter(path).open()
    store = CallStore(path)
    try:
        writer.start({"id": "live", "endpoint": "responses", "stream": 1})
        answer = _answer(0)
        for i, raw in enumerate(answer[:4]):
            writer.raw("live", float(i), raw)
        deadline = time.monotonic() + 10
        while len(seen := store.chunks("live")) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)  # committed within a batch window: the call is still streaming
        assert [c["data"].encode() for c in seen] == answer[:4]
        assert store.db.execute("SELECT count(*) FROM chunk_packs").fetchone() == (0,)
        for i, raw in enumerate(answer[4:], start=4):
            writer.raw("live", float(i), raw)
        writer.finish("live", {"state": "complete", "status": 200})
        writer.close()
        # What the inspector asks for after the last chunk it showed: the rest, now packed.
        rest = store.chunks("live", after=seen[-1]["seq"])
        assert b"".join(c["data"].encode() for c in seen + rest) == b"".join(answer)
        assert store.db.execute("SELECT count(*) FROM chunks").fetchone() == (0,)
    finally:
        store.close()


def test_packing_twice_and_late_rows_change_nothing_but_add(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    _record(path, 1)
    conn = sqlite3.connect(path)
    before = stream_packs.read(conn, "c000")
    with conn:
        assert stream_packs.pack(conn, "c000") == 0  # a journal written back again
        conn.execute(
            "INSERT INTO chunks (call_id, seq, t_ms, data) VALUES ('c000', 99, 500.25, 'late')"
        )
    late = {"seq": 99, "t_ms": 500.25, "data": "late", "direction": None}
    assert stream_packs.read(conn, "c000") == [*before, late]  # a row after the pack: read too
    with conn:
        assert stream_packs.pack(conn, "c000") == 1
    assert stream_packs.read(conn, "c000") == [*before, late]
    assert stream_packs.read(conn, "c000", after=98) == [late]
    conn.close()


def test_a_killed_runs_streams_are_packed_when_marked_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    writer = RecordingWriter(path).open()
    writer.start({"id": "cut", "endpoint": "responses", "stream": 1})
    for i, raw in enumerate(_answer(0)[:3]):
        writer.raw("cut", float(i), raw)
    writer.close()
    RecordingWriter(path).open().close()  # the next run marks it interrupted
    store = CallStore(path)
    call = store.get_call("cut")
    assert call is not None and (call["state"], call["chunk_count"]) == ("interrupted", 3)
    assert [c["data"].encode() for c in store.chunks("cut")] == _answer(0)[:3]
    assert store.db.execute("SELECT count(*) FROM chunks").fetchone() == (0,)
    store.close()


def test_an_old_database_reads_as_before_and_compact_packs_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(path)
    schema.migrations.apply(db, stop_before="m015_chunk_packs")
    old: dict[str, list[dict[str, Any]]] = {}
    for n in range(5):
        call_id = f"o{n}"
        state = "streaming" if n == 4 else "complete"
        db["calls"].insert({"id": call_id, "state": state, "stream": 1, "chunk_count": 9})  # type: ignore[union-attr]
        old[call_id] = [
            {"seq": i, "t_ms": 1.0 + i / 7, "data": raw.decode(), "direction": None}
            for i, raw in enumerate(_answer(n))
        ]
        old[call_id][3]["data"] = b"\xff binary"  # a BLOB among TEXT
        old[call_id][4]["direction"] = "server"
        db["chunks"].insert_all({"call_id": call_id, **c} for c in old[call_id])  # type: ignore[union-attr]
    db["chunks"].insert({"call_id": "ws-1", "seq": 0, "t_ms": 2.0, "data": "x"})  # type: ignore[union-attr]
    db.close()

    store = CallStore(path)  # migrated: the rows are read as they are
    assert {i: store.chunks(i) for i in old} == old
    store.close()
    result = compact(path)
    assert (result.calls, result.streams) == (0, 4)  # the live call stays rows
    assert "Stored 4 streams as chunk packs" in result.sentence()
    store = CallStore(path)
    assert {i: store.chunks(i) for i in old} == old
    rows = store.db.execute("SELECT DISTINCT call_id FROM chunks ORDER BY 1").fetchall()
    assert rows == [("o4",), ("ws-1",)]  # a live stream, a socket's own messages
    store.close()
    assert compact(path).streams == 0


def test_pruning_deletes_packs_with_their_calls(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    _record(path, 4)
    assert prune(path, max_size_mb=0.0).calls == 4
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM chunk_packs").fetchone() == (0,)
    conn.close()
