"""What the recorder's ops do to the database, inside the writer's transaction.

`Applier` keeps the live state of the calls in flight (stream splitting, assembly, counts,
TTFT, the gap profile) and turns a batch of ops into rows and the events that announce
them. It never commits and never retries: `RecordingWriter` owns the transaction, the
thread and what happens when the database fails. Live state is dropped only after a
successful commit, so a batch that failed can be applied again (every op is idempotent).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from relayscope.calls.facts import ttft_of
from relayscope.protocols.conversation import turns
from relayscope.protocols.openai_format import Assembled, StreamAssembler, assemble_body
from relayscope.protocols.sse import SSEDecoder
from relayscope.recording.gaps import GapProfile
from relayscope.recording.ops import CHUNK, CONNECTION, FINISH, RAW, START, UPDATE, Event, as_text
from relayscope.store import bodies, stream_packs
from relayscope.store.new_text import NewText

#: How often a live stream's gap profile is rewritten (the call list's Gaps sparkline).
LIVE_PROFILE_SECONDS = 0.5


@dataclass(slots=True)
class _Live:
    """What the writer knows of a call in flight, kept across batches until its end is
    committed (a batch that failed is applied again from the same state)."""

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
    gaps: GapProfile = field(default_factory=GapProfile)  # for the live Gaps sparkline
    profiled_at: float = 0.0  # when the live gap profile was last written
    announce_ttft: bool = False  # the first output arrived since the last flush


class Applier:
    """Applies ops to the connection `connection()` returns, in its open transaction."""

    def __init__(self, connection: Callable[[], sqlite3.Connection]) -> None:
        self._connection = connection
        self._live: dict[str, _Live] = {}
        self._new_text = NewText()

    @property
    def conn(self) -> sqlite3.Connection:
        return self._connection()

    def apply(self, ops: list[Any]) -> list[Event]:
        """Write `ops` (already split) in the caller's transaction; the events to announce
        once it is committed. Raises sqlite3.Error."""
        events: list[Event] = []
        chunk_rows: list[tuple[Any, ...]] = []
        for op in ops:
            if op[0] == CHUNK:
                chunk_rows.append(self._chunk_row(*op[1:]))
                continue
            self._write_chunks(chunk_rows)  # keep the order: chunks before what follows
            self._apply(op, events)
        self._write_chunks(chunk_rows)
        self._flush_counts(events)
        return events

    def failed(self) -> None:
        """The transaction was rolled back: the texts it indexed must be indexed again."""
        self._new_text.forget()

    def committed(self, events: list[Event]) -> None:
        """The transaction is committed: finished calls need no live state any more."""
        for event in events:
            if event["event"] == "call_finished":
                self._live.pop(event["id"], None)

    def split_raw(self, ops: list[Any]) -> list[Any]:
        """Turn raw stream bytes into numbered chunk ops (and the first event's time).

        A call that ends without its stream's end (cut, failed) still gets the bytes of its
        unfinished last event as a final chunk: what arrived is recorded, byte for byte.
        """
        out: list[Any] = []
        for op in ops:
            if op[0] == RAW:
                self._split_one(op[1], op[2], op[3], out)
            elif op[0] == START:
                self._track(op[1])  # a call started in this batch must exist for its chunks
                out.append(op)
            elif op[0] == FINISH:
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
                (CHUNK, call_id, live.next_seq, t_ms, event.raw, event.data, event.event, None)
            )
            live.next_seq += 1

    def _apply(self, op: tuple[Any, ...], events: list[Event]) -> None:
        kind = op[0]
        if kind == START:
            self._apply_start(op[1], events)
        elif kind == CONNECTION:
            self._apply_connection(op[1], op[2], events)
        elif kind == UPDATE:
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
                live.gaps.add(t_ms)
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
                fields.update(live.gaps.fields())
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
            fields.update(live.gaps.fields())
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


def _scalars(fields: dict[str, Any]) -> dict[str, Any]:
    keep = ("state", "status", "chunk_count", "duration_ms", "ttft_ms", "error")
    return {k: fields[k] for k in keep if k in fields}
