"""Pruning (delete the oldest calls, by age or to cap the size) and compaction (store the
bodies recorded before shared pieces as pieces, and the streams recorded before chunk packs
as packs), each followed by VACUUM.

Request bodies share pieces (relayscope.store.bodies) but never depend on another call: deleting
any call leaves every other body whole; a piece goes once no remaining call lists it. Live
calls (pending, streaming) are never deleted.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from relayscope.store import bodies, stream_packs

_FINISHED = "state NOT IN ('pending', 'streaming')"


@dataclass(frozen=True, slots=True)
class PruneResult:
    calls: int  # calls deleted (or that would be, in a dry run)
    size_before: int  # bytes of the database and its WAL
    size_after: int  # after VACUUM (a dry run: the estimate)
    dry_run: bool

    def sentence(self) -> str:
        freed = mib(self.size_before - self.size_after)
        if self.dry_run:
            return f"Would delete {self.calls:,} calls and free about {freed}."
        if not self.calls:
            return "Nothing to prune: no finished call is old enough or beyond the size cap."
        return (
            f"Deleted {self.calls:,} calls (with their chunks); the database went from "
            f"{mib(self.size_before)} to {mib(self.size_after)} ({freed} freed)."
        )


def mib(size: int) -> str:
    """A size in bytes as people read it: `1,234.5 MiB`."""
    return f"{size / 1024 / 1024:,.1f} MiB"


def database_size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def prune(
    path: Path,
    *,
    older_than_days: float | None = None,
    max_size_mb: float | None = None,
    dry_run: bool = False,
    vacuum: bool = True,
    now: datetime | None = None,
) -> PruneResult:
    """Delete finished calls older than `older_than_days`, then the oldest until the
    database fits in `max_size_mb` (estimated from each call's share of the stored bytes).

    Without `vacuum` the file keeps its size and new recordings reuse the freed pages; the
    size cap counts the pages in use, so pruning again deletes nothing more."""
    conn = sqlite3.connect(path, timeout=30.0)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        before = database_size(path)
        used = _used_bytes(conn)
        doomed = _choose(conn, used, older_than_days, max_size_mb, now or datetime.now(UTC))
        if dry_run or not doomed:
            estimate = before - (used - _estimate_after(conn, used, doomed))
            return PruneResult(len(doomed), before, estimate, dry_run)
        _delete(conn, doomed)
        if vacuum:
            _vacuum(conn)  # give the freed pages back to the file system
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return PruneResult(len(doomed), before, database_size(path), False)
    finally:
        conn.close()


def _vacuum(conn: sqlite3.Connection) -> None:
    """VACUUM, then the full-text index rebuilt: SQLite may renumber the rowids of a table
    without an INTEGER PRIMARY KEY (calls has a text key), and `calls_fts` is an
    external-content index found by rowid."""
    conn.execute("VACUUM")
    conn.execute("INSERT INTO calls_fts (calls_fts) VALUES ('rebuild')")
    conn.commit()


def _used_bytes(conn: sqlite3.Connection) -> int:
    """The database's pages in use (free pages, which VACUUM would return, not counted)."""
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def due(path: Path, *, older_than_days: float | None, max_size_mb: float | None) -> bool:
    """Cheap check (the started_at index, the page counts) whether `prune` has work."""
    conn = sqlite3.connect(path, timeout=30.0)
    try:
        if max_size_mb is not None and _used_bytes(conn) > max_size_mb * 1024 * 1024:
            return True
        if older_than_days is None:
            return False
        cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
        row = conn.execute(
            "SELECT 1 FROM calls WHERE started_at < ? LIMIT 1",
            (cutoff.strftime("%Y-%m-%dT%H:%M:%S"),),
        ).fetchone()
        return row is not None
    finally:
        conn.close()


def _sizes(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
    """(id, started_at, bytes it holds) of every finished call, oldest first."""
    sql = (
        "SELECT id, started_at, coalesce(length(request_body), 0)"
        " + coalesce(length(response_body), 0) + coalesce(length(upstream_request_body), 0)"
        " + coalesce(length(prompt_text), 0) + coalesce(length(request_pieces), 0)"
        " + coalesce(length(request_headers), 0) + coalesce(length(response_headers), 0)"
        " + coalesce(length(output_text), 0) + 200"
        " + (SELECT coalesce(sum(length(data)) + 60 * count(*), 0) FROM chunks"
        "    WHERE chunks.call_id = calls.id)"
        " + coalesce((SELECT length(pack) + 60 FROM chunk_packs"
        "    WHERE chunk_packs.call_id = calls.id), 0)"
        f" FROM calls WHERE {_FINISHED} ORDER BY started_at, rowid"
    )
    return [(str(i), str(s or ""), int(n)) for i, s, n in conn.execute(sql)]


def _choose(
    conn: sqlite3.Connection,
    size: int,
    older_than_days: float | None,
    max_size_mb: float | None,
    now: datetime,
) -> list[str]:
    calls = _sizes(conn)
    doomed: list[str] = []
    if older_than_days is not None:
        cutoff = (now - timedelta(days=older_than_days)).strftime("%Y-%m-%dT%H:%M:%S")
        doomed = [i for i, started, _ in calls if started < cutoff]
    if max_size_mb is not None:
        total = sum(n for _, _, n in calls) or 1
        scale = size / total  # indexes, pages' free room, shared pieces: spread over calls
        remaining = size - scale * sum(n for _, _, n in calls[: len(doomed)])
        for call_id, _, n in calls[len(doomed) :]:
            if remaining <= max_size_mb * 1024 * 1024:
                break
            doomed.append(call_id)
            remaining -= scale * n
    return doomed


def _estimate_after(conn: sqlite3.Connection, size: int, doomed: list[str]) -> int:
    if not doomed:
        return size
    calls = _sizes(conn)
    total = sum(n for _, _, n in calls) or 1
    gone = set(doomed)
    return int(size * (1 - sum(n for i, _, n in calls if i in gone) / total))


def _delete(conn: sqlite3.Connection, doomed: list[str]) -> None:
    with conn:
        conn.execute("BEGIN IMMEDIATE")  # no recording commits a piece between GC and delete
        conn.execute("CREATE TEMP TABLE doomed (id TEXT PRIMARY KEY)")
        conn.executemany("INSERT INTO doomed VALUES (?)", [(i,) for i in doomed])
        conn.execute("DELETE FROM chunks WHERE call_id IN (SELECT id FROM doomed)")
        conn.execute("DELETE FROM chunk_packs WHERE call_id IN (SELECT id FROM doomed)")
        conn.execute("DELETE FROM calls WHERE id IN (SELECT id FROM doomed)")
        # Sockets none of whose calls remain, with the messages kept under their own id.
        orphans = (
            "SELECT id FROM connections WHERE state = 'closed' AND NOT EXISTS"
            " (SELECT 1 FROM calls WHERE calls.connection_id = connections.id)"
        )
        conn.execute(f"DELETE FROM chunks WHERE call_id IN ({orphans})")
        conn.execute(f"DELETE FROM connections WHERE id IN ({orphans})")
        _collect_pieces(conn)
        conn.execute("DROP TABLE doomed")


def _collect_pieces(conn: sqlite3.Connection) -> None:
    """Delete the body pieces that no remaining call lists."""
    conn.execute("CREATE TEMP TABLE used (id INTEGER PRIMARY KEY)")
    sql = "SELECT request_pieces FROM calls WHERE request_pieces IS NOT NULL"
    for (packed,) in conn.execute(sql).fetchall():
        conn.executemany(
            "INSERT OR IGNORE INTO used VALUES (?)", [(i,) for i in bodies.piece_ids(packed)]
        )
    conn.execute("DELETE FROM body_pieces WHERE id NOT IN (SELECT id FROM used)")
    conn.execute("DROP TABLE used")


@dataclass(frozen=True, slots=True)
class CompactResult:
    calls: int  # bodies converted to pieces
    size_before: int
    size_after: int
    streams: int = 0  # finished streams whose chunk rows became a pack

    def sentence(self) -> str:
        if not self.calls and not self.streams:
            return (
                "Nothing to compact: every large request body is already stored as pieces"
                " and every finished stream as a pack."
            )
        done = []
        if self.calls:
            done.append(f"{self.calls:,} request bodies as shared pieces")
        if self.streams:
            done.append(f"{self.streams:,} streams as chunk packs")
        return (
            f"Stored {' and '.join(done)}; the database went from {mib(self.size_before)} "
            f"to {mib(self.size_after)} ({mib(self.size_before - self.size_after)} freed)."
        )


def compact(path: Path, *, batch: int = 200) -> CompactResult:
    """Store the large request bodies recorded before schema m014 as shared pieces and the
    chunk rows of finished streams (recorded before m015) as packs, in short transactions (a
    running proxy keeps recording between them), then VACUUM."""
    conn = sqlite3.connect(path, timeout=30.0)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        before = database_size(path)
        done, last = 0, 0
        while rows := conn.execute(
            "SELECT rowid, request_body FROM calls WHERE rowid > ? AND request_pieces IS NULL"
            f" AND length(CAST(request_body AS BLOB)) >= ? AND {_FINISHED} ORDER BY rowid"
            " LIMIT ?",
            (last, bodies.PIECES_FROM, batch),
        ).fetchall():
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                for rowid, body in rows:
                    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
                    conn.execute(
                        "UPDATE calls SET request_pieces = ?, request_body = NULL WHERE rowid = ?",
                        (bodies.store(conn, raw), rowid),
                    )
            done += len(rows)
            last = rows[-1][0]
        streams = _pack_streams(conn, batch)
        if done or streams:
            _vacuum(conn)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return CompactResult(done, before, database_size(path), streams)
    finally:
        conn.close()


def _pack_streams(conn: sqlite3.Connection, batch: int) -> int:
    """Pack the chunk rows of finished calls (recorded before schema m015, or left by a run
    that stopped), `batch` calls per transaction; returns how many calls were packed."""
    done, last = 0, ""
    while ids := [
        call_id
        for (call_id,) in conn.execute(
            "SELECT DISTINCT chunks.call_id FROM chunks JOIN calls ON calls.id = chunks.call_id"
            f" WHERE chunks.call_id > ? AND calls.{_FINISHED} ORDER BY chunks.call_id LIMIT ?",
            (last, batch),
        ).fetchall()
    ]:
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            for call_id in ids:
                # Checked again under the write lock: a call may have been packed meanwhile.
                stream_packs.pack(conn, call_id)
        done += len(ids)
        last = ids[-1]
    return done
