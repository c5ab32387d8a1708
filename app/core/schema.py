"""The recording database's schema, as sqlite-utils migrations (the only way it changes)."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

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


def apply(db: Database) -> None:
    migrations.apply(db)
