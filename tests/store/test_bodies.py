"""Request bodies stored as shared pieces: byte for byte back, each piece stored once."""

from __future__ import annotations

import json
from pathlib import Path

from sqlite_utils import Database

from relayscope.recording.writer import RecordingWriter
from relayscope.store import bodies, schema
from relayscope.store.call_store import CallFilter, CallStore


def _codex_bodies(turns: int) -> list[bytes]:
    """Bodies of an agent that resends its whole conversation, as Codex does."""
    items: list[dict[str, object]] = [
        {"type": "message", "role": "developer", "content": "You are careful. " * 400}
    ]
    tools = [{"type": "function", "name": f"tool{i}", "description": "x " * 200} for i in range(5)]
    out = []
    for turn in range(turns):
        items.append({"type": "message", "role": "user", "content": f"question{turn} " * 60})
        items.append({"type": "function_call_output", "call_id": f"c{turn}", "output": "é " * 900})
        out.append(json.dumps({"model": "m", "input": items, "tools": tools}).encode())
    return out


def test_cut_pieces_join_back_to_the_body() -> None:
    for body in [b"", b"{}", b"},{" * 2000, b'[{"a": 1},\n {"b": 2}]' * 500, *_codex_bodies(3)]:
        assert b"".join(bodies.cut(body)) == body


def _record(path: Path, payloads: list[bytes], session: str | None = "s1") -> None:
    writer = RecordingWriter(path).open()
    for n, body in enumerate(payloads):
        row = {"id": f"c{n:03d}", "endpoint": "responses", "request_body": body}
        writer.start({**row, "session_id": session, "started_at": "2026-12-01T00:00:00Z"})
        writer.finish(f"c{n:03d}", {"state": "complete", "status": 200})
    writer.close()


def test_an_agent_session_is_stored_once_and_read_back_byte_for_byte(tmp_path: Path) -> None:
    payloads = _codex_bodies(12)
    payloads.append(b"\xff\xfe not UTF-8 " + b'{"a": 1},{"b": 2}' * 400)
    _record(tmp_path / "r.db", payloads)
    store = CallStore(tmp_path / "r.db")
    for n, body in enumerate(payloads):
        call = store.get_call(f"c{n:03d}")
        assert call is not None and "request_pieces" not in call
        stored = call["request_body"]
        assert (stored.encode() if isinstance(stored, str) else stored) == body
    # What the pieces hold is about one body's worth, not twelve.
    held = store.db.execute("SELECT sum(size) FROM body_pieces").fetchone()[0]
    assert held < len(payloads[-2]) * 1.5 < sum(map(len, payloads)) / 4
    # Search finds the first turn's text and the last's; each in the call that added it.
    assert [r["id"] for r in store.list_calls(CallFilter(text="question0"))] == ["c000"]
    assert [r["id"] for r in store.list_calls(CallFilter(text="question11"))] == ["c011"]
    assert store.count_calls(CallFilter(text="careful")) == 1
    store.close()


def test_a_repeated_request_is_found_by_its_last_message(tmp_path: Path) -> None:
    body = _codex_bodies(2)[-1].replace(b"]", b', {"role": "user", "content": "again?"}]', 1)
    _record(tmp_path / "r.db", [body, body], session=None)
    store = CallStore(tmp_path / "r.db")
    assert store.count_calls(CallFilter(text="again")) == 2
    store.close()


def test_an_older_database_keeps_its_bodies_and_stores_new_ones_as_pieces(tmp_path: Path) -> None:
    old = _codex_bodies(2)
    db = Database(tmp_path / "r.db")
    schema.migrations.apply(db, stop_before="m014_body_pieces")
    db["calls"].insert({"id": "b000", "request_body": old[0].decode()})  # type: ignore[union-attr]
    db.close()
    _record(tmp_path / "r.db", old[1:])
    store = CallStore(tmp_path / "r.db")
    assert store.get_call("b000")["request_body"] == old[0].decode()  # type: ignore[index]
    assert store.get_call("c000")["request_body"] == old[1].decode()  # type: ignore[index]
    assert (
        store.db.execute("SELECT count(*) FROM calls WHERE request_pieces IS NULL").fetchone()[0]
        == 1
    )
    store.close()
