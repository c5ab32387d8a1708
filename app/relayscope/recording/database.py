"""The recorder's write connection, and what a killed run left unfinished.

Plain sqlite3, so the recording process does not load sqlite-utils (~12 MB); the database
was made and migrated before (`relayscope.recording.writer.prepare_database`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from relayscope.store import stream_packs


def connect(path: Path | str) -> sqlite3.Connection:
    """A write connection to a database that `prepare_database` (or a CallStore) has made:
    plain sqlite3, so the recording process does not load sqlite-utils (~12 MB)."""
    conn = sqlite3.connect(path, check_same_thread=False, timeout=5.0)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
    except sqlite3.Error:
        conn.close()  # a full disk cannot make the WAL index (-shm) file
        raise
    return conn


def interrupt_leftovers(conn: sqlite3.Connection) -> int:
    """Calls a killed run left pending or streaming: interrupted, with their chunk counts
    and their streams packed like any ended one; its open connections closed."""
    with conn:
        leftovers = conn.execute(
            "SELECT id FROM calls WHERE state IN ('pending', 'streaming')"
        ).fetchall()
        cursor = conn.execute(
            "UPDATE calls SET state = 'interrupted',"
            " error = coalesce(error, 'Relayscope stopped before this call finished.'),"
            " chunk_count = (SELECT count(*) FROM chunks WHERE chunks.call_id = calls.id)"
            " WHERE state IN ('pending', 'streaming')"
        )
        for (call_id,) in leftovers:
            stream_packs.pack(conn, call_id)  # ended, if not finished: packed like the rest
        conn.execute(
            "UPDATE connections SET state = 'closed',"
            " close_reason = coalesce(close_reason, 'Relayscope stopped while it was open.')"
            " WHERE state = 'open'"
        )
    return int(cursor.rowcount)
