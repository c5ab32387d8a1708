"""`relayscope prune`: old calls go with their chunks and pieces; every other body stays whole."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from relayscope.recording.writer import RecordingWriter
from relayscope.store import schema
from relayscope.store.call_store import CallStore
from relayscope.store.retention import compact, prune
from tests.store.test_bodies import _codex_bodies
from tests.support.worker import ROOT

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _record(path: Path) -> list[bytes]:
    """A session in October, then one today that resends the same instructions and tools."""
    old = _codex_bodies(6)
    new = [body.replace(b"question", b"query") for body in _codex_bodies(8)]
    writer = RecordingWriter(path).open()
    for n, body in enumerate(old + new):
        call_id = f"c{n:03d}"
        day = "2026-10-01" if n < len(old) else "2026-12-01"
        writer.start(
            {
                "id": call_id,
                "endpoint": "responses",
                "request_body": body,
                "session_id": day,
                "started_at": f"{day}T00:00:{n:02d}Z",
                "stream": 1,
            }
        )
        writer.raw(call_id, 1.0, b'data: {"type":"response.completed"}\n\n')
        writer.finish(call_id, {"state": "complete", "status": 200})
    writer.close()
    return old + new


def test_pruning_old_calls_keeps_every_later_body_whole(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    payloads = _record(db)
    store = CallStore(db)
    pieces = store.db.execute("SELECT count(*) FROM body_pieces").fetchone()[0]
    store.close()

    dry = prune(db, older_than_days=30, dry_run=True, now=NOW)
    assert (dry.calls, dry.dry_run) == (6, True)
    assert "Would delete 6 calls" in dry.sentence()
    store = CallStore(db)
    assert store.count_calls() == 14  # a dry run deletes nothing
    store.close()

    result = prune(db, older_than_days=30, now=NOW)
    assert result.calls == 6 and "Deleted 6 calls" in result.sentence()
    store = CallStore(db)
    assert store.count_calls() == 8
    assert store.db.execute("SELECT count(*) FROM chunk_packs").fetchone()[0] == 8
    assert store.db.execute("SELECT count(*) FROM chunks").fetchone()[0] == 0
    for n in range(6, 14):
        assert store.get_call(f"c{n:03d}")["request_body"].encode() == payloads[n]  # type: ignore[index]
    # The shared instructions stay; pieces only the deleted calls used are gone.
    left = store.db.execute("SELECT count(*) FROM body_pieces").fetchone()[0]
    assert 0 < left < pieces
    assert store.integrity_ok()
    store.close()


def test_a_size_cap_deletes_the_oldest_first(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    payloads = _record(db)
    result = prune(db, max_size_mb=result_size(db) * 0.6 / 1024 / 1024)
    assert 0 < result.calls < 14 and result.size_after < result.size_before
    store = CallStore(db)
    kept = [r["id"] for r in store.list_calls(columns=("id",), descending=False)]
    assert kept == [f"c{n:03d}" for n in range(14 - len(kept), 14)]  # the newest remain
    assert store.get_call("c013")["request_body"].encode() == payloads[13]  # type: ignore[index]
    store.close()


def result_size(db: Path) -> int:
    return prune(db, max_size_mb=10_000).size_before


def test_the_cli_says_what_it_would_free(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    _record(db)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "relayscope",
            "prune",
            "--older-than",
            "1",
            "--dry-run",
            "--db",
            str(db),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.startswith("Would delete 14 calls and free about")


def test_compact_stores_old_bodies_as_pieces_and_reads_them_back(tmp_path: Path) -> None:
    db_path = tmp_path / "r.db"
    payloads = _codex_bodies(10)
    db = Database(db_path)
    schema.migrations.apply(db, stop_before="m014_body_pieces")
    for n, body in enumerate(payloads):
        row = {"id": f"o{n:03d}", "state": "complete", "request_body": body.decode()}
        db["calls"].insert(row)  # type: ignore[union-attr]
    db.close()
    store = CallStore(db_path)  # migrated: old rows unchanged
    assert store.get_call("o009")["request_body"] == payloads[9].decode()  # type: ignore[index]
    store.close()

    result = compact(db_path)
    assert result.calls == 10 and result.size_after < result.size_before
    assert "Stored 10 request bodies as shared pieces" in result.sentence()
    store = CallStore(db_path)
    for n, body in enumerate(payloads):
        assert store.get_call(f"o{n:03d}")["request_body"] == body.decode()  # type: ignore[index]
    assert store.db.execute("SELECT count(request_body) FROM calls").fetchone() == (0,)
    store.close()
    assert compact(db_path).calls == 0


def test_without_vacuum_old_calls_go_and_their_pages_are_reused(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    payloads = _record(db)
    result = prune(db, older_than_days=30, vacuum=False, now=NOW)
    assert result.calls == 6 and result.size_after == result.size_before
    assert prune(db, older_than_days=30, vacuum=False, now=NOW).calls == 0
    store = CallStore(db)
    assert store.db.execute("PRAGMA freelist_count").fetchone()[0] > 0
    assert store.get_call("c013")["request_body"].encode() == payloads[13]  # type: ignore[index]
    store.close()
