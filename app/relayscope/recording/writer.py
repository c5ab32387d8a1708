"""RecordingWriter: the one thread that writes recordings, in batched WAL transactions.

The proxy's hooks never touch SQLite: they hand small tuples to `RecordingWriter`, which
commits at most every `batch_seconds` (so chunks become visible within ~50 ms), assembles
stream output off the event loop, and reports each commit as NDJSON-ready event dicts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relayscope.analysis.stream_stats import gap_profile
from relayscope.calls.facts import ttft_of
from relayscope.protocols.conversation import turns
from relayscope.protocols.openai_format import Assembled, StreamAssembler, assemble_body
from relayscope.protocols.sse import SSEDecoder
from relayscope.recording.journal import Journal, journal_path
from relayscope.store import bodies, stream_packs
from relayscope.store.new_text import NewText

log = logging.getLogger(__name__)

Event = dict[str, Any]
Op = tuple[Any, ...]
_START, _CHUNK, _FINISH, _UPDATE, _RAW, _CONNECTION = 0, 1, 2, 3, 4, 5
#: How often a live stream's gap profile is rewritten (the call list's Gaps sparkline).
LIVE_PROFILE_SECONDS = 0.5
_STOP = object()
#: How often writing to a failed database is tried again.
RETRY_SECONDS = 1.0


def as_text(data: bytes | str | None) -> str | bytes | None:
    """Bodies are stored as TEXT when they are UTF-8 (nearly always), else as a BLOB."""
    if data is None or isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


@dataclass(slots=True)
class _Live:
    endpoint: str
    stream: bool
    request_body: bytes | str | None
    assembler: StreamAssembler | None = None
    chunk_count: int = 0
    dirty: bool = False
    # A stream handed over as raw bytes (`RecordingWriter.raw`) is split into events here.
    decoder: SSEDecoder | None = None
    next_seq: int = 0
    first_event_ms: float | None = None
    first_output_ms: float | None = None  # TTFT: the first chunk that carries output
    last_t_ms: float = 0.0
    times: list[float] = field(default_factory=list)  # each chunk's t_ms, for the gap profile
    profiled_at: float = 0.0  # when the live gap profile was last written
    announce_ttft: bool = False  # the first output arrived since the last flush


class Recording:
    """The calls the proxy's addons record through, each one op tuple handed to `_put`
    without blocking: a `RecordingWriter` queues it for its thread, a `RecordingProcess`
    (relayscope.recording.process) for its child process."""

    _put: Callable[[Op], None]

    def start(self, row: dict[str, Any]) -> None:
        self._put((_START, row))

    def chunk(
        self,
        call_id: str,
        seq: int,
        t_ms: float,
        raw: bytes,
        data: str | None,
        event: str | None,
        direction: str | None = None,
    ) -> None:
        """One SSE event (or WebSocket message); `data` feeds the stream assembly."""
        self._put((_CHUNK, call_id, seq, t_ms, raw, data, event, direction))

    def raw(self, call_id: str, t_ms: float, data: bytes) -> None:
        """Stream bytes as they arrived (b"" at the end); the writer splits them into events.

        The cheapest way to record a stream: the proxy only takes the time. Events completed
        by one network chunk share its arrival time, exactly as if they had been split on
        arrival.
        """
        self._put((_RAW, call_id, t_ms, data))

    def update(self, call_id: str, fields: dict[str, Any]) -> None:
        self._put((_UPDATE, call_id, fields))

    def finish(self, call_id: str, fields: dict[str, Any]) -> None:
        """End a call. `fields` may carry `response_body` (bytes) to assemble from."""
        self._put((_FINISH, call_id, fields))

    def connection(self, connection_id: str, fields: dict[str, Any]) -> None:
        """Create or update a `connections` row (a WebSocket that carries many calls)."""
        self._put((_CONNECTION, connection_id, fields))


def prepare_database(path: Path | str) -> int:
    """Create or migrate the database and mark what a killed run left unfinished as
    interrupted; returns how many calls that was. Raises StoreError with the reason."""
    from relayscope.store.call_store import StoreError, open_database  # sqlite-utils: only here

    db = open_database(path)
    try:
        # Calls an earlier run could not save (a storage outage) go in first, so that those
        # it left unfinished are marked like any other.
        writer = RecordingWriter(path, migrate=False)
        try:
            writer.replay_journal()  # if the database still fails, the journal stays
        finally:
            writer.close()
        return _interrupt_leftovers(db.conn)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot write to the recording database ({exc}).") from exc
    finally:
        db.conn.close()


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


def _interrupt_leftovers(conn: sqlite3.Connection) -> int:
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


class RecordingWriter(Recording):
    """Owns the write connection. Thread-safe `start`/`chunk`/`finish`/`update` calls."""

    def __init__(
        self,
        path: Path | str,
        *,
        on_commit: Callable[[list[Event]], None] | None = None,
        on_error: Callable[[str | None], None] | None = None,
        batch_seconds: float = 0.02,
        migrate: bool = True,
    ) -> None:
        """`migrate=False`: the database exists and is up to date (the recording process)."""
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        if migrate:
            from relayscope.store.call_store import open_database

            self._conn = open_database(self.path).conn
        else:
            # Connected on first use: the recording process must start (and keep what it is
            # sent in its journal) even when the disk is already full.
            with contextlib.suppress(sqlite3.Error):
                self._conn = connect(self.path)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._put = self._queue.put  # the Recording calls, from any thread
        self._on_commit = on_commit
        self._on_error = on_error
        self._batch_seconds = batch_seconds
        self._live: dict[str, _Live] = {}
        self._new_text = NewText()
        self._failing: str | None = None
        self._failing_reason = ""
        # Ops the database would not take, in order (relayscope.recording.journal). Ops are
        # idempotent (INSERT OR REPLACE / UPDATE; live state is dropped only after a
        # successful commit), so writing them back again after a crash is harmless.
        self.journal = Journal(journal_path(self.path))
        self._last_try = 0.0
        self.unsaved_at_exit = 0
        self._thread = threading.Thread(target=self._run, name="relayscope-writer", daemon=True)

    @property
    def conn(self) -> sqlite3.Connection:
        """The write connection, opened again if it could not be (raises sqlite3.Error)."""
        if self._conn is None:
            self._conn = connect(self.path)
        return self._conn

    def submit(self, ops: list[Op]) -> None:
        """Queue ops made by another process's `RecordingProcess` (see recording_process)."""
        for op in ops:
            self._queue.put(op)

    def open(self, *, interrupt_leftovers: bool = True) -> RecordingWriter:
        if interrupt_leftovers:
            self.mark_leftovers_interrupted()
        self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Flush everything queued so far and stop the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)
        if self._conn is not None:
            self._conn.close()

    def mark_leftovers_interrupted(self) -> int:
        """Calls a killed worker left pending/streaming: interrupted, with their chunk counts."""
        return _interrupt_leftovers(self.conn)

    # -- the writer thread ------------------------------------------------------------

    def _run(self) -> None:
        pending: list[Any] = []
        stopping = False
        while True:
            if not stopping:
                try:
                    # With unsaved ops waiting, wake up to write them back even if nothing new
                    # comes.
                    op = self._queue.get(timeout=RETRY_SECONDS if self.journal else None)
                except queue.Empty:
                    op = None
                if op is _STOP:
                    stopping = True
                elif op is not None:
                    pending.append(op)
                    stopping = self._gather(pending)
            if pending:
                self._write(pending)
                pending = []
            elif self.journal:
                self._replay()
            if stopping:
                self._finish_journal()
                return

    def _write(self, ops: list[Any]) -> None:
        """Commit `ops`, or during an outage add them to the journal (behind what is there)."""
        ops = self._split_raw(ops)  # once: what the journal keeps is already split
        if self.journal:
            self.journal.append(ops)
            if not self._replay():
                self._report_journal()  # says so if the journal itself now fails
        elif not self._commit(ops):
            self.journal.append(ops)
            self._last_try = time.monotonic()
            self._report_journal()

    def _replay(self, *, now: bool = False) -> bool:
        """Write the journal back in bounded batches (at most every RETRY_SECONDS); True
        once it is empty."""
        if not now and time.monotonic() - self._last_try < RETRY_SECONDS:
            return False
        self._last_try = time.monotonic()
        for batch in self.journal.batches():
            if not self._commit(batch):
                return False
        self.journal.done()
        log.info("The database takes recordings again; the unsaved calls were written.")
        self._failing = None
        if self._on_error:
            self._on_error(None)
        return True

    def replay_journal(self) -> bool:
        """At start, before anything else is written: calls an earlier run could not save."""
        if not self.journal:
            return True
        calls = self.journal.calls()
        if self._replay(now=True):
            log.warning("Wrote %d calls saved in %s by an earlier run.", calls, self.journal.path)
            return True
        return False

    def _report_journal(self) -> None:
        journal = self.journal
        if journal.file_error is not None:
            message = (
                f"Recording to {self.path} failed ({self._failing_reason}) and so did "
                f"{journal.file_error}; traffic still flows, retrying. Calls are kept in "
                "memory meanwhile."
            )
            if journal.lost_calls:
                message += f" {len(journal.lost_calls)} calls did not fit and are lost."
        else:
            message = (
                f"Recording to {self.path} failed ({self._failing_reason}); traffic still "
                f"flows, retrying. Calls are kept in {journal.path} meanwhile and written to "
                "the database once it takes them again."
            )
        if self._failing != message:
            self._failing = message
            log.error("%s", message)
            if self._on_error:
                self._on_error(message)

    def _finish_journal(self) -> None:
        """At exit: write the journal back if the database takes it now, else keep it (in
        the file, replayed at the next start) and say how many calls wait there."""
        if not self.journal:
            return
        # One more try, waiting less for a lock: the batch that failed just before may have
        # waited out the whole busy_timeout already, and the exit must not be killed.
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("PRAGMA busy_timeout=1000")
        if self._replay(now=True):
            return
        self.journal.keep_memory_in_file()
        calls = self.journal.calls()
        if self.journal.file_error is not None:
            message = (
                f"{calls} calls could not be saved: the database and {self.journal.file_error} "
                "cannot be written; they are lost."
            )
        else:
            message = (
                f"{calls} calls could not be written to {self.path}; they are kept in "
                f"{self.journal.path} and will be written at the next start."
            )
        if self.journal.lost_calls:
            message += f" {len(self.journal.lost_calls)} more were lost (no room left)."
        self.unsaved_at_exit = calls
        log.error("%s", message)
        if self._on_error:
            self._on_error(message)

    def _gather(self, pending: list[Any]) -> bool:
        """Collect what arrives within one batch window; True if asked to stop.

        One sleep, then one drain: waking for every queued chunk would take the GIL from the
        proxy's event loop once per chunk, which cost more than writing the chunks.
        """
        time.sleep(self._batch_seconds)
        while True:
            try:
                op = self._queue.get_nowait()
            except queue.Empty:
                return False
            if op is _STOP:
                return True
            pending.append(op)

    def _commit(self, ops: list[Any]) -> bool:
        """Write `ops` (already split) in one transaction; False if the database failed."""
        events: list[Event] = []
        try:
            with self.conn:
                chunk_rows: list[tuple[Any, ...]] = []
                for op in ops:
                    if op[0] == _CHUNK:
                        chunk_rows.append(self._chunk_row(*op[1:]))
                        continue
                    self._write_chunks(chunk_rows)  # keep the order: chunks before what follows
                    self._apply(op, events)
                self._write_chunks(chunk_rows)
                self._flush_counts(events)
        except sqlite3.Error as exc:
            self._failing_reason = str(exc)
            self._new_text.forget()  # the texts it indexed are not stored: index them again
            return False
        if self._failing is not None and not self.journal:
            self._failing = None
            if self._on_error:
                self._on_error(None)
        for event in events:
            if event["event"] == "call_finished":
                self._live.pop(event["id"], None)
        if self._on_commit and events:
            self._on_commit(events)
        return True

    def _split_raw(self, ops: list[Any]) -> list[Any]:
        """Turn raw stream bytes into numbered chunk ops (and the first event's time).

        A call that ends without its stream's end (cut, failed) still gets the bytes of its
        unfinished last event as a final chunk: what arrived is recorded, byte for byte.
        """
        out: list[Any] = []
        for op in ops:
            if op[0] == _RAW:
                self._split_one(op[1], op[2], op[3], out)
            elif op[0] == _START:
                self._track(op[1])  # a call started in this batch must exist for its chunks
                out.append(op)
            elif op[0] == _FINISH:
                live = self._live.get(op[1])
                if live is not None and live.decoder is not None:
                    self._split_one(op[1], live.last_t_ms, b"", out)
                out.append(op)
            else:
                out.append(op)
        return out

    def _split_one(self, call_id: str, t_ms: float, data: bytes, out: list[Any]) -> None:
        t_ms = round(t_ms, 3)
        live = self._live.get(call_id)
        if live is None:  # started before this writer did (it was restarted): still record
            live = self._live[call_id] = _Live(endpoint="other", stream=True, request_body=None)
        if live.decoder is None:
            if not data:
                return
            live.decoder = SSEDecoder()
        if data:
            events = live.decoder.feed(data)
            live.last_t_ms = t_ms
        else:
            leftover = live.decoder.flush()
            events = [leftover] if leftover is not None else []
            live.decoder = None
        for event in events:
            if live.first_event_ms is None:
                live.first_event_ms = t_ms
            out.append(
                (_CHUNK, call_id, live.next_seq, t_ms, event.raw, event.data, event.event, None)
            )
            live.next_seq += 1

    def _apply(self, op: tuple[Any, ...], events: list[Event]) -> None:
        kind = op[0]
        if kind == _START:
            self._apply_start(op[1], events)
        elif kind == _CONNECTION:
            self._apply_connection(op[1], op[2], events)
        elif kind == _UPDATE:
            self._apply_update(op[1], op[2], events)
        else:
            self._apply_finish(op[1], op[2], events)

    def _apply_start(self, row: dict[str, Any], events: list[Event]) -> None:
        row = dict(row)
        row.setdefault("state", "pending")
        row.setdefault("chunk_count", 0)
        for key in ("request_body", "upstream_request_body"):
            row[key] = as_text(row.get(key))
        self._store_pieces(row)
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.conn.execute(
            f"INSERT OR REPLACE INTO calls ({columns}) VALUES ({marks})", list(row.values())
        )
        self._track(row)
        events.append({"event": "call_started", "id": row["id"]})

    def _store_pieces(self, row: dict[str, Any]) -> None:
        """A large request body goes into shared pieces (relayscope.store.bodies)."""
        body = row.get("request_body")
        if body is None:
            return
        raw = body.encode("utf-8") if isinstance(body, str) else body
        if len(raw) < bodies.PIECES_FROM:
            return
        if not self.conn.in_transaction:
            # Write-locked from here: `relayscope prune` cannot remove a piece found below
            # before this call, which uses it, is committed.
            self.conn.execute("BEGIN IMMEDIATE")
        row["request_pieces"] = bodies.store(self.conn, raw)
        row["request_body"] = None

    def _apply_connection(
        self, connection_id: str, fields: dict[str, Any], events: list[Event]
    ) -> None:
        self.conn.execute("INSERT OR IGNORE INTO connections (id) VALUES (?)", (connection_id,))
        if fields:
            sets = ", ".join(f"{column} = ?" for column in fields)
            self.conn.execute(
                f"UPDATE connections SET {sets} WHERE id = ?", [*fields.values(), connection_id]
            )
        events.append({"event": "connection_updated", "id": connection_id})

    def _track(self, row: dict[str, Any]) -> _Live:
        """The live state of a call from its start row (made once, kept across retries)."""
        live = self._live.get(row["id"])
        if live is None:
            live = self._live[row["id"]] = _Live(
                endpoint=row.get("endpoint") or "other",
                stream=bool(row.get("stream")),
                request_body=as_text(row.get("request_body")),
            )
        return live

    def _chunk_row(
        self,
        call_id: str,
        seq: int,
        t_ms: float,
        raw: bytes,
        data: str | None,
        event: str | None,
        direction: str | None,
    ) -> tuple[Any, ...]:
        """Account for one chunk (count, assembly) and return its row for one executemany."""
        live = self._live.get(call_id)
        if live is not None:
            if live.chunk_count <= seq:
                live.chunk_count = seq + 1
                live.times.append(t_ms)
                if live.assembler is None:
                    live.assembler = StreamAssembler(live.endpoint)
                live.assembler.feed(data, event)
                if (
                    live.first_output_ms is None
                    and direction != "client"
                    and live.assembler.has_output
                ):
                    live.first_output_ms = t_ms  # TTFT (relayscope.calls.facts)
                    live.announce_ttft = True
            live.dirty = True
        return (call_id, seq, t_ms, as_text(raw), direction)

    def _write_chunks(self, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self.conn.executemany(
                "INSERT OR REPLACE INTO chunks (call_id, seq, t_ms, data, direction)"
                " VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            rows.clear()

    def _apply_update(self, call_id: str, fields: dict[str, Any], events: list[Event]) -> None:
        self._update_row(call_id, fields)
        events.append({"event": "call_updated", "id": call_id, **_scalars(fields)})

    def _flush_counts(self, events: list[Event]) -> None:
        now = time.monotonic()
        for call_id, live in self._live.items():
            if not live.dirty:
                continue
            live.dirty = False
            fields: dict[str, Any] = {"chunk_count": live.chunk_count, "state": "streaming"}
            if live.announce_ttft:
                live.announce_ttft = False
                fields["ttft_ms"] = live.first_output_ms
            if now - live.profiled_at >= LIVE_PROFILE_SECONDS:
                # The list's Gaps sparkline grows while the stream does (a stall shows once
                # the chunk after it arrives), at most twice a second per stream.
                live.profiled_at = now
                fields.update(_gap_fields(live.times))
            sets = ", ".join(f"{column} = ?" for column in fields)
            self.conn.execute(
                f"UPDATE calls SET {sets} WHERE id = ? AND state IN ('pending', 'streaming')",
                [*fields.values(), call_id],
            )
            events.append({"event": "call_updated", "id": call_id, **fields})

    def _apply_finish(self, call_id: str, fields: dict[str, Any], events: list[Event]) -> None:
        fields = dict(fields)
        live = self._live.get(call_id)
        body = fields.pop("response_body", None)
        assembled = self._assemble(live, fields, body)
        if body is not None:
            fields["response_body"] = as_text(body)
        if live is not None:
            fields["chunk_count"] = live.chunk_count
            if live.first_event_ms is not None and fields.get("first_byte_ms") is None:
                fields["first_byte_ms"] = live.first_event_ms
            fields.update(_gap_fields(live.times))
            live.dirty = False
        if "first_byte_ms" in fields or live is not None:
            fields["ttft_ms"] = ttft_of(
                stream=live is not None and live.chunk_count > 0,
                status=fields.get("status"),
                first_output_ms=live.first_output_ms if live is not None else None,
                first_byte=fields.get("first_byte_ms"),
            )
        if assembled is not None:
            fields.update(_assembled_fields(assembled, fields))
            _complete_if_delivered(assembled, fields)
        # prompt_text too, in the same update: the full-text index follows it (schema m012).
        self._update_row(call_id, {**fields, "prompt_text": self._prompt_text(call_id)})
        if live is None or live.chunk_count:
            # The stream's rows become one compressed pack, in the same transaction as the
            # end: a reader sees either all rows or the whole pack (relayscope.store.stream_packs).
            stream_packs.pack(self.conn, call_id)
        events.append({"event": "call_finished", "id": call_id, **_scalars(fields)})

    def _assemble(
        self, live: _Live | None, fields: dict[str, Any], body: bytes | None
    ) -> Assembled | None:
        if live is not None and live.assembler is not None:
            return live.assembler.result()
        if body:
            endpoint = live.endpoint if live else fields.get("endpoint", "other")
            return assemble_body(endpoint, body)
        return None

    def _update_row(self, call_id: str, fields: dict[str, Any]) -> None:
        if not fields:
            return
        sets = ", ".join(f"{column} = ?" for column in fields)
        self.conn.execute(f"UPDATE calls SET {sets} WHERE id = ?", [*fields.values(), call_id])

    def _prompt_text(self, call_id: str) -> str | None:
        """The text of the request's conversation that is new in it, for full-text search:
        an agent resends its conversation every turn, and each text is indexed in the call
        of its conversation that first carried it (relayscope.store.new_text)."""
        row = self.conn.execute(
            "SELECT endpoint, request_body, request_pieces, session_id FROM calls WHERE id = ?",
            (call_id,),
        ).fetchone()
        if row is None:
            return None
        live = self._live.get(call_id)
        body = live.request_body if live is not None else None
        if body is None:
            body = bodies.load(self.conn, row[2]) if row[2] is not None else row[1]
        texts = [t.text for t in turns(row[0] or "other", body) if t.text]
        return self._new_text.new_in(row[3], texts) or None


def _assembled_fields(result: Assembled, fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "output_text": result.output_text or None,
        "reasoning_text": result.reasoning_text or None,
        "finish_reason": result.finish_reason,
        "response_model": result.model,
        "tool_calls": json.dumps(result.tool_calls) if result.tool_calls else None,
    }
    if result.usage is not None:
        usage = result.usage
        out.update(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
            cached_tokens=usage.cached_tokens,
            reasoning_tokens=usage.reasoning_tokens,
        )
        if usage.cache_write_tokens is not None:
            out["cache_write_tokens"] = usage.cache_write_tokens
    if result.error and not fields.get("error"):
        error = result.error.get("error", result.error)
        message = error.get("message") if isinstance(error, dict) else None
        out["error"] = str(message or json.dumps(result.error))
    return out


def _complete_if_delivered(result: Assembled, fields: dict[str, Any]) -> None:
    """A stream whose terminal event (`[DONE]`, `response.completed`, `message_stop`) arrived
    was delivered whole, even if the client hung up before the provider closed the body (the
    openai SDK stops reading at `[DONE]`): complete, with a note, not interrupted."""
    if fields.get("state") == "interrupted" and fields.get("cut_by") == "client" and result.done:
        fields.update(
            state="complete",
            error=None,
            error_code=None,
            cut_by=None,
            note="The client closed the connection after the stream's end.",
        )


def _gap_fields(times: list[float]) -> dict[str, Any]:
    """`max_gap_ms` and `gap_profile` of a stream's chunk times (nothing below two chunks)."""
    profile = gap_profile(times)
    if profile is None:
        return {}
    return {
        "max_gap_ms": max(profile["max"]),
        "gap_profile": json.dumps(profile, separators=(",", ":")),
    }


def _scalars(fields: dict[str, Any]) -> dict[str, Any]:
    keep = ("state", "status", "chunk_count", "duration_ms", "ttft_ms", "error")
    return {k: fields[k] for k in keep if k in fields}
