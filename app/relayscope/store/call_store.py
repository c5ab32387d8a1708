"""CallStore: opens the recording database and answers queries about recorded calls."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlite_utils import Database

from relayscope.calls.facts import FAILED_SQL, LIVE_STATES
from relayscope.calls.record import CallRecord
from relayscope.store import bodies, schema, stream_packs

__all__ = [
    "LIVE_STATES",
    "READ_ERRORS",
    "CallFilter",
    "CallStore",
    "GroupWriter",
    "StoreError",
    "fts_query",
    "open_database",
]
SORTABLE = frozenset(
    {
        "started_at",
        "provider",
        "model",
        "endpoint",
        "status",
        "state",
        "stream",
        "ttft_ms",
        "duration_ms",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "chunk_count",
        "max_gap_ms",
    }
)


class StoreError(Exception):
    """The database cannot be opened or used; the message says what to do."""


#: What reading the database may raise: callers outside the store (the app's widgets) catch
#: these without importing sqlite3 themselves.
READ_ERRORS: tuple[type[Exception], ...] = (StoreError, sqlite3.Error)


@dataclass(frozen=True, slots=True)
class CallFilter:
    """What the call list shows. Empty fields do not filter."""

    text: str = ""
    errors_only: bool = False
    streams_only: bool = False
    provider: str = ""
    model: str = ""
    session_id: str = ""
    group_id: str = ""

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.errors_only:
            clauses.append(FAILED_SQL)
        if self.streams_only:
            clauses.append("calls.stream = 1")
        for column in ("provider", "model", "session_id", "group_id"):
            value = getattr(self, column)
            if value:
                clauses.append(f"calls.{column} = ?")
                params.append(value)
        text = self.text.strip()
        if text:
            # Finished calls are in the full-text index; calls still live are not indexed
            # yet, so only they (a handful) are matched by LIKE. An id matches by prefix.
            clauses.append(
                "(calls.rowid IN (SELECT rowid FROM calls_fts WHERE calls_fts MATCH ?)"
                " OR (calls.state IN ('pending', 'streaming') AND (calls.model LIKE ?"
                " OR calls.provider LIKE ? OR calls.path LIKE ?))"
                " OR (calls.id >= ? AND calls.id < ?))"
            )
            like = f"%{text}%"
            params += [fts_query(text), like, like, like, text, text + "\uffff"]
        return (" AND ".join(clauses) or "1"), params


def fts_query(text: str) -> str:
    """Turn what a person typed into an FTS5 query: every word must appear, as a prefix."""
    words = [w.replace('"', '""') for w in text.split()]
    return " ".join(f'"{w}"*' for w in words) or '""'


def open_database(path: Path | str, *, create: bool = True) -> Database:
    """Open (and if needed create and migrate) the database at `path`, WAL mode."""
    path = Path(path)
    if not create and not path.exists():
        raise StoreError(f"{path}: no recording database here; run `relayscope proxy` first.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # Owner-only from the first byte: recordings hold prompts and answers.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(path, check_same_thread=False, timeout=5.0)
        db = Database(conn)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        schema.apply(db)  # an older database is brought up to date, whoever opens it
    except schema.NewerSchemaError as exc:
        db.conn.close()
        raise StoreError(f"{path}: {exc}") from exc
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(_cannot_open(path, exc)) from exc
    return db


def _with_pieces(columns: Sequence[str]) -> list[str]:
    """A query that reads `request_body` also reads where a large one is stored."""
    return [*columns, "request_pieces"] if "request_body" in columns else list(columns)


def _cannot_open(path: Path, exc: Exception) -> str:
    """The sentence for a database that cannot be opened; a read-only folder is named, since
    SQLite needs to create its WAL and shared-memory files beside the database."""
    folder = path.parent
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        return (
            f"{path}: cannot open the recording database: the folder {folder} is read-only "
            f"(SQLite writes {path.name}-wal and {path.name}-shm beside it). Make {folder} "
            "writable, or choose another place with --db."
        )
    return f"{path}: cannot open the recording database ({exc})."


class CallStore:
    """Read access to recorded calls (the app and the CLI each hold their own)."""

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        self.path = Path(path)
        self.db = open_database(self.path, create=create)

    def close(self) -> None:
        self.db.conn.close()

    def get_call(self, call_id: str) -> CallRecord | None:
        rows = self.query_calls("SELECT * FROM calls WHERE id = ?", [call_id])
        return rows[0] if rows else None

    def query_calls(self, sql: str, params: Sequence[Any] = ()) -> list[CallRecord]:
        """Rows of calls with `request_body` as recorded: the one place that reads a body
        stored as pieces (relayscope.store.bodies). `sql` selects `*`, or `request_body` along
        with `request_pieces`."""
        rows = bodies.restore_all(self.db.conn, self.db.query(sql, list(params)))
        return cast("list[CallRecord]", rows)

    def iter_query_calls(self, sql: str, params: Sequence[Any] = ()) -> Iterator[CallRecord]:
        """`query_calls`, one row at a time (exports of many calls)."""
        for row in self.db.query(sql, list(params)):
            yield cast(CallRecord, bodies.restore(self.db.conn, row))

    def resolve_id(self, prefix: str) -> str:
        """A full call id from a unique prefix (as people type in the CLI)."""
        rows = [
            r["id"]
            for r in self.db.query(
                "SELECT id FROM calls WHERE id >= ? AND id < ? LIMIT 2", [prefix, prefix + "\uffff"]
            )
        ]
        if not rows:
            raise StoreError(f"No recorded call has an id starting with '{prefix}'.")
        if len(rows) > 1 and prefix not in rows:
            raise StoreError(f"'{prefix}' matches several calls; type more of the id.")
        return prefix if prefix in rows else str(rows[0])

    def get_connection(self, connection_id: str) -> dict[str, Any] | None:
        """A WebSocket's row (`connections`), which carried the calls naming it."""
        rows = list(self.db.query("SELECT * FROM connections WHERE id = ?", [connection_id]))
        return rows[0] if rows else None

    def chunks(self, call_id: str, *, after: int | None = None) -> list[dict[str, Any]]:
        """A call's chunks (`seq`, `t_ms`, `data`, `direction`) in order, those with a seq
        above `after` only if given: the one place that reads a finished stream's pack
        (relayscope.store.stream_packs) and a live one's rows alike."""
        return stream_packs.read(self.db.conn, call_id, after=after)

    def list_calls(
        self,
        flt: CallFilter | None = None,
        *,
        columns: Sequence[str] = ("*",),
        order_by: str = "started_at",
        descending: bool = True,
        limit: int = 100,
        offset: int = 0,
    ) -> list[CallRecord]:
        where, params = (flt or CallFilter()).where()
        if order_by not in SORTABLE:
            raise ValueError(f"cannot sort by {order_by!r}")
        direction = "DESC" if descending else "ASC"
        sql = (
            f"SELECT {', '.join(_with_pieces(columns))} FROM calls WHERE {where} "
            f"ORDER BY {order_by} {direction}, rowid {direction} LIMIT ? OFFSET ?"
        )
        return self.query_calls(sql, [*params, limit, offset])

    def count_calls(self, flt: CallFilter | None = None) -> int:
        where, params = (flt or CallFilter()).where()
        row = self.db.execute(f"SELECT count(*) FROM calls WHERE {where}", params).fetchone()
        return int(row[0])

    def providers(self) -> list[str]:
        sql = "SELECT DISTINCT provider FROM calls WHERE provider IS NOT NULL ORDER BY 1"
        return [r[0] for r in self.db.execute(sql).fetchall()]

    def models(self) -> list[str]:
        """The models calls asked for (read from the model index, not the table)."""
        sql = "SELECT DISTINCT model FROM calls WHERE model IS NOT NULL ORDER BY 1"
        return [r[0] for r in self.db.execute(sql).fetchall()]

    def iter_calls(self, ids: Sequence[str]) -> Iterator[CallRecord]:
        for call_id in ids:
            call = self.get_call(call_id)
            if call is not None:
                yield call

    # --- sessions (analysis.sessions)

    # These three return plain dicts until relayscope.analysis.sessions (being reworked) takes
    # CallRecord: its chains and analyses are typed `dict[str, Any]` throughout.

    def calls_in_sessions(self, columns: Sequence[str]) -> list[dict[str, Any]]:
        """Every call that carries a session id (Codex), oldest first."""
        sql = (
            f"SELECT {', '.join(_with_pieces(columns))} FROM calls WHERE session_id IS NOT NULL "
            "ORDER BY started_at, rowid"
        )
        return [dict(row) for row in self.query_calls(sql)]

    def usage_rows(self) -> Iterator[dict[str, Any]]:
        """Every call's usage and what prices it, oldest first (for the cost ledger)."""
        sql = (
            "SELECT id, started_at, provider, model, response_model, session_id, turn_id, "
            "prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens "
            "FROM calls "
            "ORDER BY started_at, rowid"
        )
        yield from self.db.query(sql)

    def session_calls(self, session_id: str) -> list[dict[str, Any]]:
        sql = "SELECT * FROM calls WHERE session_id = ? ORDER BY started_at, rowid"
        return [dict(row) for row in self.query_calls(sql, [session_id])]

    def conversation_calls(self, *, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` chat and Responses calls without a session id, oldest first
        (agents that send no ids are grouped by their conversations)."""
        sql = (
            "SELECT * FROM (SELECT rowid AS r, * FROM calls WHERE session_id IS NULL "
            "AND endpoint IN ('chat.completions', 'responses') ORDER BY started_at DESC, "
            "rowid DESC LIMIT ?) ORDER BY started_at, r"
        )
        rows = self.query_calls(sql, [limit])
        return [{k: v for k, v in row.items() if k != "r"} for row in rows]

    def integrity_ok(self) -> bool:
        return bool(self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    # --- narrow reads for the app's widgets (no SQL outside the store) ----------------------

    def call_fields(self, call_id: str, columns: Sequence[str]) -> CallRecord | None:
        """Some columns of one call, as stored (bodies stored as pieces are not joined: ask
        for `request_body` through `get_call`)."""
        if not columns or not all(c.isidentifier() for c in columns):
            raise ValueError(f"not column names: {list(columns)}")
        sql = f"SELECT {', '.join(columns)} FROM calls WHERE id = ?"
        rows = list(self.db.query(sql, [call_id]))
        return cast(CallRecord, rows[0]) if rows else None

    def provider_span(self, provider: str) -> tuple[str | None, str | None]:
        """When a provider's first and last recorded calls started (None, None without any)."""
        first, last = self.db.execute(
            "SELECT min(started_at), max(started_at) FROM calls WHERE provider = ?", [provider]
        ).fetchone()
        return first, last

    def session_call_ids(self, session_id: str) -> list[str]:
        """The ids of a session's calls, oldest first."""
        sql = "SELECT id FROM calls WHERE session_id = ? ORDER BY started_at"
        return [str(row[0]) for row in self.db.execute(sql, [session_id]).fetchall()]

    # --- comparison groups (actions.compare; written by GroupWriter) ---------------------------

    def groups_by_prefix(self, prefix: str) -> list[dict[str, Any]]:
        """Up to two saved groups whose id starts with `prefix`, by id."""
        sql = "SELECT * FROM groups WHERE id >= ? AND id < ? ORDER BY id LIMIT 2"
        return list(self.db.query(sql, [prefix, prefix + "\uffff"]))

    def recent_groups(self, limit: int) -> list[dict[str, Any]]:
        """Saved groups, newest first."""
        sql = "SELECT * FROM groups ORDER BY created_at DESC, id DESC LIMIT ?"
        return list(self.db.query(sql, [limit]))


class GroupWriter:
    """Writes comparison groups (`groups`) on a connection of its own: the one writer beside
    the recording process that is not a `RecordingWriter` (a row per comparison, one short
    transaction). `CallStore` stays read-only."""

    def __init__(self, path: Path | str) -> None:
        self.db = open_database(path)

    def __enter__(self) -> GroupWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.conn.close()

    def save(self, row: dict[str, Any]) -> None:
        """Insert (or replace, by id) one group's row."""
        self.db["groups"].insert(row, replace=True)  # type: ignore[union-attr]
