"""The recording database's schema, as sqlite-utils migrations (the only way it changes)."""

from __future__ import annotations

import json

from sqlite_utils import Database, Migrations

from relayscope.analysis.stream_stats import sse_fields
from relayscope.calls.facts import FAILED_SQL
from relayscope.protocols.openai_format import holds_output

migrations = Migrations("relayscope")

#: Columns of `calls`, in order, with their SQLite types. The public contract is
#: documented in README.md ("Database"); a test checks the two agree.
CALL_COLUMNS: dict[str, type] = {
    "id": str,
    "started_at": str,
    "method": str,
    "path": str,
    "endpoint": str,
    "provider": str,
    "model": str,
    "stream": int,
    "status": int,
    "state": str,
    "error": str,
    "request_headers": str,
    "request_body": str,
    "response_headers": str,
    "response_body": str,
    "output_text": str,
    "finish_reason": str,
    "prompt_tokens": int,
    "completion_tokens": int,
    "total_tokens": int,
    "cached_tokens": int,
    "reasoning_tokens": int,
    "ttft_ms": float,
    "duration_ms": float,
    "chunk_count": int,
    "replay_of": str,
    "client": str,
    # Beyond the minimum schema:
    "upstream_url": str,
    "upstream_request_body": str,
    "request_size": int,
    "response_size": int,
    "truncated": int,
    "response_model": str,
    "reasoning_text": str,
    "tool_calls": str,
    "quirks": str,
    "transport": str,
    "session_id": str,
    "turn_id": str,
    "group_id": str,
}

#: Columns of `connections` (README "Database"): one row per proxied WebSocket.
CONNECTION_COLUMNS: dict[str, type] = {
    "id": str,
    "started_at": str,
    "ended_at": str,
    "transport": str,  # 'websocket'
    "path": str,
    "provider": str,
    "upstream_url": str,
    "client": str,
    "session_id": str,
    "status": int,  # the upgrade's answer (101)
    "state": str,  # 'open' or 'closed'
    "closed_by": str,  # 'client', 'provider', or NULL while open
    "close_code": int,
    "close_reason": str,
    "duration_ms": float,
    "message_count": int,
    "call_count": int,
    "request_headers": str,
    "response_headers": str,
}

#: The columns of calls (m012 added prompt_text) that the full-text index `calls_fts` covers.
FTS_COLUMNS = ("model", "provider", "path", "prompt_text", "output_text")


@migrations()
def m001_initial(db: Database) -> None:
    db["calls"].create(CALL_COLUMNS, pk="id")  # type: ignore[union-attr]
    db["chunks"].create(  # type: ignore[union-attr]
        {"call_id": str, "seq": int, "t_ms": float, "data": str},
        pk=("call_id", "seq"),
    )
    for column in ("started_at", "provider", "model", "state", "status", "replay_of"):
        db["calls"].create_index([column])  # type: ignore[union-attr]
    for column in ("session_id", "group_id"):
        db["calls"].create_index([column])  # type: ignore[union-attr]
    # Written by the recorder when a call finishes (not by triggers: a streaming call's
    # row is updated many times and re-indexing its prompt each time would be wasted work).
    db.execute(
        "CREATE VIRTUAL TABLE calls_fts USING fts5("
        + ", ".join(FTS_COLUMNS)
        + ", tokenize='unicode61 remove_diacritics 2')"
    )


@migrations()
def m002_chunk_direction(db: Database) -> None:
    # WebSocket calls record both sides' messages: 'client' or 'server' (NULL for SSE,
    # which only ever flows from the server).
    db["chunks"].add_column("direction", str)  # type: ignore[union-attr]


@migrations()
def m003_groups(db: Database) -> None:
    # One row per comparison; its calls carry the id in calls.group_id. Saved before the calls
    # are sent, so the app can show the group while the answers stream in, and rerun it later.
    db["groups"].create(  # type: ignore[union-attr]
        {
            "id": str,
            "created_at": str,
            "kind": str,  # 'compare'
            "name": str,
            "request_body": str,
            "targets": str,  # JSON list of {"provider", "model"}
            "path": str,  # e.g. /v1/chat/completions
            "source_call_id": str,  # the call the request came from, if any
        },
        pk="id",
    )
    db["groups"].create_index(["created_at"])  # type: ignore[union-attr]


@migrations()
def m004_report_views(db: Database) -> None:
    # Summaries for Datasette and sqlite3 users (README "Database"). A call counts as an
    # error like `relayscope calls --errors` counts it. Days are UTC, as started_at is.
    # The SQL lives here, not in a constant, so a later change needs a new migration.
    db.execute(
        """
        CREATE VIEW calls_per_provider_day AS
        WITH ranked AS (
            SELECT provider, substr(started_at, 1, 10) AS day, ttft_ms,
                   row_number() OVER (
                       PARTITION BY provider, substr(started_at, 1, 10) ORDER BY ttft_ms
                   ) AS position,
                   count(*) OVER (PARTITION BY provider, substr(started_at, 1, 10)) AS known
            FROM calls WHERE ttft_ms IS NOT NULL
        ),
        medians AS (
            SELECT provider, day, avg(ttft_ms) AS median_ttft_ms FROM ranked
            WHERE position IN ((known + 1) / 2, (known + 2) / 2)
            GROUP BY provider, day
        )
        SELECT calls.provider AS provider,
               substr(calls.started_at, 1, 10) AS day,
               count(*) AS calls,
               sum(CASE WHEN calls.state IN ('error', 'interrupted') OR calls.status >= 400
                   THEN 1 ELSE 0 END) AS errors,
               round(avg(CASE WHEN calls.state IN ('error', 'interrupted')
                   OR calls.status >= 400 THEN 1.0 ELSE 0.0 END), 4) AS error_rate,
               coalesce(sum(calls.prompt_tokens), 0) AS prompt_tokens,
               coalesce(sum(calls.completion_tokens), 0) AS completion_tokens,
               coalesce(sum(calls.total_tokens), 0) AS total_tokens,
               round(avg(calls.ttft_ms), 1) AS avg_ttft_ms,
               round(medians.median_ttft_ms, 1) AS median_ttft_ms,
               round(avg(calls.duration_ms), 1) AS avg_duration_ms
        FROM calls
        LEFT JOIN medians ON medians.provider IS calls.provider
            AND medians.day = substr(calls.started_at, 1, 10)
        GROUP BY calls.provider, substr(calls.started_at, 1, 10)
        ORDER BY day, provider
        """
    )
    db.execute(
        """
        CREATE VIEW token_usage AS
        SELECT model,
               substr(started_at, 1, 10) AS day,
               count(*) AS calls,
               count(total_tokens) AS calls_with_usage,
               coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
               coalesce(sum(completion_tokens), 0) AS completion_tokens,
               coalesce(sum(total_tokens), 0) AS total_tokens,
               coalesce(sum(cached_tokens), 0) AS cached_tokens,
               coalesce(sum(reasoning_tokens), 0) AS reasoning_tokens
        FROM calls
        GROUP BY model, substr(started_at, 1, 10)
        ORDER BY day, model
        """
    )
    db.execute(
        """
        CREATE VIEW error_rates AS
        WITH per_provider AS (SELECT provider, count(*) AS calls FROM calls GROUP BY provider)
        SELECT calls.provider AS provider,
               calls.status AS status,
               count(*) AS errors,
               sum(CASE WHEN calls.state = 'interrupted' THEN 1 ELSE 0 END) AS interrupted,
               per_provider.calls AS provider_calls,
               round(1.0 * count(*) / per_provider.calls, 4) AS error_rate,
               max(calls.started_at) AS last_seen
        FROM calls
        JOIN per_provider ON per_provider.provider IS calls.provider
        WHERE calls.state IN ('error', 'interrupted') OR calls.status >= 400
        GROUP BY calls.provider, calls.status
        ORDER BY provider, errors DESC, status
        """
    )


@migrations()
def m005_sort_indexes(db: Database) -> None:
    # The app sorts 100k calls by these in SQL; without an index every page re-sorted the
    # whole table (about 100 ms a page).
    for column in (
        "duration_ms",
        "ttft_ms",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "chunk_count",
    ):
        db["calls"].create_index([column], if_not_exists=True)  # type: ignore[union-attr]


@migrations()
def m006_gap_profile(db: Database) -> None:
    # The call list's per-row gap sparkline, and sorting by the longest silence in a stream.
    db["calls"].add_column("max_gap_ms", float)  # type: ignore[union-attr]
    db["calls"].add_column("gap_profile", str)  # type: ignore[union-attr]
    db["calls"].create_index(["max_gap_ms"], if_not_exists=True)  # type: ignore[union-attr]


@migrations()
def m007_facts_as_codes(db: Database) -> None:
    # Facts the writer used to put into sentences (`error`) become columns of their own:
    # who cut a call short, the machine-readable error code, the first byte as its own figure
    # (TTFT is the first output token), a note for the person (e.g. "the client closed the
    # connection after the stream's end"), and how long a breakpoint held the call.
    calls = db["calls"]
    for column, kind in (
        ("first_byte_ms", float),
        ("cut_by", str),
        ("error_code", str),
        ("note", str),
        ("hold_ms", float),
    ):
        calls.add_column(column, kind)  # type: ignore[union-attr]


@migrations()
def m008_one_ttft_one_failed(db: Database) -> None:
    # TTFT is the first output token, the first byte its own figure (relayscope.calls.facts).
    # Rows written before stored the first byte (a stream's first event, the role chunk) as
    # ttft_ms: that becomes first_byte_ms, and TTFT is told again from the chunks.
    db.execute("UPDATE calls SET first_byte_ms = ttft_ms WHERE first_byte_ms IS NULL")
    streams = db.execute(
        "SELECT id, endpoint FROM calls WHERE id IN (SELECT DISTINCT call_id FROM chunks)"
    ).fetchall()
    for call_id, endpoint in streams:
        db.execute(
            "UPDATE calls SET ttft_ms = ? WHERE id = ?",
            [_first_output_ms(db, call_id, endpoint), call_id],
        )
    # A failed non-stream answer carries no output, so it has no first token.
    db.execute(
        "UPDATE calls SET ttft_ms = NULL WHERE status >= 400"
        " AND id NOT IN (SELECT DISTINCT call_id FROM chunks)"
    )
    # The report views count "failed" by the one definition (call_facts.FAILED_SQL).
    for view in ("calls_per_provider_day", "error_rates"):
        db.execute(f"DROP VIEW IF EXISTS {view}")
    _create_failure_views(db, FAILED_SQL)


def _first_output_ms(db: Database, call_id: str, endpoint: str | None) -> float | None:
    """When the first chunk that carries output arrived (reads only up to it)."""
    responses = endpoint == "responses"
    cursor = db.execute(
        "SELECT t_ms, data, direction FROM chunks WHERE call_id = ? ORDER BY seq", [call_id]
    )
    for t_ms, data, direction in cursor:
        if direction == "client":
            continue
        text = data if isinstance(data, str) else bytes(data or b"").decode("utf-8", "replace")
        event, payload, _ = sse_fields(text)
        try:
            obj = json.loads(payload) if payload else None
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict) and holds_output(obj, event, responses=responses):
            return float(t_ms)
    return None


def _create_failure_views(db: Database, failed: str) -> None:
    # The SQL is fixed at migration time: a new definition of "failed" needs a new migration
    # (tests/calls/test_facts.py checks the views hold the current one).
    db.execute(
        f"""
        CREATE VIEW calls_per_provider_day AS
        WITH ranked AS (
            SELECT provider, substr(started_at, 1, 10) AS day, ttft_ms,
                   row_number() OVER (
                       PARTITION BY provider, substr(started_at, 1, 10) ORDER BY ttft_ms
                   ) AS position,
                   count(*) OVER (PARTITION BY provider, substr(started_at, 1, 10)) AS known
            FROM calls WHERE ttft_ms IS NOT NULL
        ),
        medians AS (
            SELECT provider, day, avg(ttft_ms) AS median_ttft_ms FROM ranked
            WHERE position IN ((known + 1) / 2, (known + 2) / 2)
            GROUP BY provider, day
        )
        SELECT calls.provider AS provider,
               substr(calls.started_at, 1, 10) AS day,
               count(*) AS calls,
               sum(CASE WHEN {failed} THEN 1 ELSE 0 END) AS errors,
               round(avg(CASE WHEN {failed} THEN 1.0 ELSE 0.0 END), 4) AS error_rate,
               coalesce(sum(calls.prompt_tokens), 0) AS prompt_tokens,
               coalesce(sum(calls.completion_tokens), 0) AS completion_tokens,
               coalesce(sum(calls.total_tokens), 0) AS total_tokens,
               round(avg(calls.ttft_ms), 1) AS avg_ttft_ms,
               round(medians.median_ttft_ms, 1) AS median_ttft_ms,
               round(avg(calls.duration_ms), 1) AS avg_duration_ms
        FROM calls
        LEFT JOIN medians ON medians.provider IS calls.provider
            AND medians.day = substr(calls.started_at, 1, 10)
        GROUP BY calls.provider, substr(calls.started_at, 1, 10)
        ORDER BY day, provider
        """
    )
    db.execute(
        f"""
        CREATE VIEW error_rates AS
        WITH per_provider AS (SELECT provider, count(*) AS calls FROM calls GROUP BY provider)
        SELECT calls.provider AS provider,
               calls.status AS status,
               count(*) AS errors,
               sum(CASE WHEN calls.state = 'interrupted' THEN 1 ELSE 0 END) AS interrupted,
               per_provider.calls AS provider_calls,
               round(1.0 * count(*) / per_provider.calls, 4) AS error_rate,
               max(calls.started_at) AS last_seen
        FROM calls
        JOIN per_provider ON per_provider.provider IS calls.provider
        WHERE {failed}
        GROUP BY calls.provider, calls.status
        ORDER BY provider, errors DESC, status
        """
    )


@migrations()
def m009_connections(db: Database) -> None:
    # A WebSocket (Codex's Responses socket) carries many responses: each `response.create`
    # is a call of its own, pointing at its socket through `connection_id`; the socket itself
    # (opened, closed, by whom, close code) is a row of `connections`. Messages that belong to
    # no response are kept as chunks under the connection's id, so nothing on the wire is lost.
    db["connections"].create(  # type: ignore[union-attr]
        CONNECTION_COLUMNS, pk="id", if_not_exists=True
    )
    db["connections"].create_index(["started_at"], if_not_exists=True)  # type: ignore[union-attr]
    db["calls"].add_column("connection_id", str)  # type: ignore[union-attr]
    db["calls"].create_index(["connection_id"], if_not_exists=True)  # type: ignore[union-attr]


@migrations()
def m012_datasette_ready(db: Database) -> None:
    # Datasette and sqlite-utils find a table's full-text index by its declaration,
    # content="calls" (`Table.detect_fts`), so the index becomes an external-content FTS5 table
    # over calls' own columns. The request's conversation as text, which only the old
    # standalone index kept (its own copy of every indexed column), moves into
    # calls.prompt_text: the prompt is stored as often as before, the other columns once.
    # Triggers keep the index current, on the indexed columns only: a streaming row's many
    # updates touch none of them; prompt_text and output_text are set once, as a call ends.
    calls = db["calls"]
    calls.add_column("prompt_text", str)  # type: ignore[union-attr]
    db.execute(
        "UPDATE calls SET prompt_text = ("
        "SELECT nullif(prompt_text, '') FROM calls_fts WHERE calls_fts.rowid = calls.rowid)"
    )
    db.execute("DROP TABLE calls_fts")
    columns = ", ".join(FTS_COLUMNS)
    db.execute(
        f'CREATE VIRTUAL TABLE calls_fts USING fts5({columns}, content="calls",'
        " tokenize='unicode61 remove_diacritics 2')"
    )
    db.execute("INSERT INTO calls_fts (calls_fts) VALUES ('rebuild')")
    new = ", ".join(f"new.{c}" for c in FTS_COLUMNS)
    old = ", ".join(f"old.{c}" for c in FTS_COLUMNS)
    forget = (
        f"INSERT INTO calls_fts (calls_fts, rowid, {columns}) VALUES ('delete', old.rowid, {old});"
    )
    learn = f"INSERT INTO calls_fts (rowid, {columns}) VALUES (new.rowid, {new});"
    db.execute(f"CREATE TRIGGER calls_ai AFTER INSERT ON calls BEGIN {learn} END")
    db.execute(f"CREATE TRIGGER calls_ad AFTER DELETE ON calls BEGIN {forget} END")
    db.execute(
        f"CREATE TRIGGER calls_au AFTER UPDATE OF {columns} ON calls BEGIN {forget} {learn} END"
    )
    # Datasette links each chunk to its call. SQLite adds a foreign key only by rebuilding
    # the table (measured on 2 busy cores: 100,000 chunks 0.4 s, a million 2.4 s; the whole
    # migration, dominated by re-indexing the text, ~1 s per 1,000 calls of 10 KB prompts).
    # Nothing turns enforcement on (PRAGMA foreign_keys stays off): writing chunks costs the
    # same.
    db["chunks"].transform(add_foreign_keys=[("call_id", "calls", "id")])  # type: ignore[union-attr]


@migrations()
def m013_cache_write_tokens(db: Database) -> None:
    # Anthropic reports input written to the prompt cache (cache_creation_input_tokens)
    # apart: it is priced apart (dearer than input), so it is kept apart. Part of
    # prompt_tokens, like cached_tokens (README "Database").
    db["calls"].add_column("cache_write_tokens", int)  # type: ignore[union-attr]


@migrations()
def m014_body_pieces(db: Database) -> None:
    # An agent resends its whole conversation every turn: a large request body is stored as
    # pieces shared by every body that contains them (relayscope.store.bodies), the call keeps the
    # list of its pieces' ids in request_pieces and request_body is NULL. Rows recorded before
    # stay as they are (`relayscope compact` converts them).
    db.execute(
        "CREATE TABLE IF NOT EXISTS body_pieces (id INTEGER PRIMARY KEY, hash BLOB NOT NULL"
        " UNIQUE, codec INTEGER NOT NULL, size INTEGER NOT NULL, data BLOB NOT NULL)"
    )
    db["calls"].add_column("request_pieces", bytes)  # type: ignore[union-attr]


@migrations()
def m015_chunk_packs(db: Database) -> None:
    # A finished stream's chunks move from rows of `chunks` into one compressed row per call
    # (relayscope.store.stream_packs): an agent's answers are many small, repetitive events, ~12x
    # smaller packed. Live streams stay rows until they end. Calls recorded before stay as
    # they are (`relayscope compact` packs them); every reader goes through
    # `stream_packs.read`, which reads both.
    db.execute(
        "CREATE TABLE IF NOT EXISTS chunk_packs (call_id TEXT PRIMARY KEY REFERENCES calls(id),"
        " count INTEGER NOT NULL, size INTEGER NOT NULL, pack BLOB NOT NULL)"
    )


class NewerSchemaError(Exception):
    """The database was written by a newer Relayscope (it has migrations this one lacks)."""


def unknown_migrations(db: Database) -> list[str]:
    """Migrations applied to `db` that this version does not know, oldest first."""
    known = {migration.name for migration in migrations._migrations}
    return [m.name for m in migrations.applied(db) if m.name not in known]


def apply(db: Database) -> None:
    # A newer Relayscope's database: writing to it with the older schema would record
    # nothing useful (or worse, half of it), so refuse with one sentence.
    if newer := unknown_migrations(db):
        raise NewerSchemaError(
            f"this database was written by a newer version of Relayscope (schema "
            f"{newer[-1]}); upgrade Relayscope, or choose another database with --db."
        )
    # Checking first keeps the common case (up to date) free of any write.
    if migrations.pending(db):
        migrations.apply(db)
