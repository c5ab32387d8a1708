"""CallStore: opens the recording database and answers queries about recorded calls."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from sqlite_utils import Database

from relayscope.calls.facts import LIVE_STATES
from relayscope.calls.record import CallRecord
from relayscope.store import bodies, schema, stream_packs
from relayscope.store.call_filter import CallFilter, count_sql, fts_query, plan_page
from relayscope.store.call_reader import CallReader

__all__ = [
    "LIVE_STATES",
    "READ_ERRORS",
    "CallFilter",
    "CallReader",
    "CallStore",
    "GroupWriter",
    "StoreError",
    "fts_query",
    "open_database",
]
#: Ids per `WHERE id IN (...)` (SQLite allows 32,766 parameters; the filter's come too).
IN_BATCH = 500


class StoreError(Exception):
    """The database cannot be opened or used; the message says what to do."""


#: What reading the database may raise: callers outside the store (the app's widgets) catch
#: these without importing sqlite3 themselves.
READ_ERRORS: tuple[type[Exception], ...] = (StoreError, sqlite3.Error)


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

    def group_calls(self, group_id: str) -> list[CallRecord]:
        """The calls of a saved compare group, oldest first (what the Compare window shows)."""
        return self.query_calls(
            "SELECT * FROM calls WHERE group_id = ? ORDER BY started_at", [group_id]
        )

    def finished_calls_of(self, provider: str, columns: str, limit: int) -> list[CallRecord]:
        """A provider's most recent `limit` calls that are no longer live, oldest first
        (`columns`: a SELECT list; the body's pieces are read along when it names the body)."""
        rows = self.query_calls(
            f"SELECT {columns}, request_pieces FROM calls WHERE provider = ? AND state NOT IN "
            "('pending', 'streaming') ORDER BY started_at DESC LIMIT ?",
            [provider, limit],
        )
        rows.reverse()
        return rows

    def iter_calls_matching(self, flt: CallFilter) -> Iterator[CallRecord]:
        """Every call `flt` matches, oldest first, read lazily (exports of many calls)."""
        where, params = flt.where()
        sql = f"SELECT * FROM calls WHERE {where} ORDER BY started_at, rowid"
        yield from self.iter_query_calls(sql, params)

    def iter_calls_by_id(self, call_ids: Iterable[str], batch: int = 500) -> Iterator[CallRecord]:
        """The calls with these ids, in id order (ids start with their start time in hex, so
        that is time order), read `batch` at a time; unknown ids are skipped."""
        ids = sorted(set(call_ids))
        for start in range(0, len(ids), batch):
            part = ids[start : start + batch]
            marks = ", ".join("?" for _ in part)
            sql = f"SELECT * FROM calls WHERE id IN ({marks}) ORDER BY id"
            yield from self.iter_query_calls(sql, part)

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
        sql, params = plan_page(
            self.db.conn,
            flt or CallFilter(),
            _with_pieces(columns),
            order_by=order_by,
            descending=descending,
            limit=limit,
            offset=offset,
        )
        return self.query_calls(sql, params)

    def count_calls(self, flt: CallFilter | None = None) -> int:
        sql, params = count_sql(flt or CallFilter())
        return int(self.db.execute(sql, params).fetchone()[0])

    def rows_matching(
        self, call_ids: Sequence[str], flt: CallFilter, columns: Sequence[str]
    ) -> dict[str, tuple[dict[str, Any], bool]]:
        """Some columns of each call in `call_ids` that exists, by id, with whether it
        matches `flt`: what the call list reads for a batch of live events (one query per
        `IN_BATCH` ids, whatever the batch's size). `columns` must include `id`."""
        if "id" not in columns or not all(c.isidentifier() for c in columns):
            raise ValueError(f"not column names with the id: {list(columns)}")
        where, params = flt.where()
        out: dict[str, tuple[dict[str, Any], bool]] = {}
        for first in range(0, len(call_ids), IN_BATCH):
            ids = list(call_ids[first : first + IN_BATCH])
            marks = ", ".join("?" * len(ids))
            cursor = self.db.conn.execute(
                f"SELECT {', '.join(columns)}, ({where}) FROM calls WHERE calls.id IN ({marks})",
                [*params, *ids],
            )
            for found in cursor:
                values = dict(zip(columns, found[:-1], strict=True))
                out[str(values["id"])] = (values, bool(found[-1]))
        return out

    def reader(self) -> CallReader:
        """A read-only connection of its own for a background thread (pages and counts of
        the call list); the caller closes it."""
        return CallReader(self.path)

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
