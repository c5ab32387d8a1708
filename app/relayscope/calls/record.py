"""A recorded call as the store returns it: one row of `calls`, typed.

`CallRecord` names every column of `calls` (`schema.CALL_COLUMNS` and what later migrations
added) with the type SQLite gives back, so mypy checks each key read and each value's use
(a test checks it against the schema). It is `total=False`: a query that selects some
columns (`CallStore.list_calls(columns=...)`, `call_fields`) returns only those keys;
`get_call` and the other `SELECT *` reads return them all. Values are as stored: `stream` and
`truncated` are 0/1, headers, tool calls and quirks are JSON text (docs/ui-contract.md), and
a body is text or, rarely, bytes.

The closed vocabularies of three columns are here too, as `Literal` types (what a row holds,
for mypy) and `StrEnum`s with the same values (for code that names them): `state`,
`endpoint` (what `openai_format.endpoint_of` names) and `transport`. Derived facts (failed,
live, TTFT) stay in `relayscope.calls.facts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Literal, TypedDict, cast, get_args

__all__ = [
    "CallRecord",
    "CallState",
    "Endpoint",
    "EndpointName",
    "StateName",
    "Transport",
    "TransportName",
    "typed",
    "untyped_rows",
]

StateName = Literal["pending", "streaming", "complete", "error", "interrupted"]
EndpointName = Literal[
    "chat.completions",
    "responses",
    "messages",
    "messages.count_tokens",
    "completions",
    "embeddings",
    "models",
    "other",
]
#: NULL is plain HTTP (and SSE); a call carried by a WebSocket, or imported from a HAR file,
#: says so.
TransportName = Literal["websocket", "har-import"]


class CallState(StrEnum):
    PENDING = "pending"  # the request arrived, no answer yet
    STREAMING = "streaming"  # a stream is arriving
    COMPLETE = "complete"
    ERROR = "error"
    INTERRUPTED = "interrupted"  # cut short (by the client, the provider, or a stop)


class Endpoint(StrEnum):
    CHAT_COMPLETIONS = "chat.completions"
    RESPONSES = "responses"
    MESSAGES = "messages"  # Anthropic Messages
    MESSAGES_COUNT_TOKENS = "messages.count_tokens"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    MODELS = "models"
    OTHER = "other"


class Transport(StrEnum):
    WEBSOCKET = "websocket"
    HAR_IMPORT = "har-import"


Body = str | bytes


class CallRecord(TypedDict, total=False):
    """One row of `calls` (README "Database" says what each column means)."""

    # m001: the columns of CALL_COLUMNS, in order
    id: str
    started_at: str
    method: str
    path: str
    endpoint: EndpointName
    provider: str | None
    model: str | None
    stream: int  # 0 or 1
    status: int | None
    state: StateName
    error: str | None
    request_headers: str | None  # JSON [[name, value], ...]
    request_body: Body | None  # joined from its pieces by the store
    response_headers: str | None
    response_body: Body | None  # NULL for streams: the chunks are the body
    output_text: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    cached_tokens: int | None
    reasoning_tokens: int | None
    ttft_ms: float | None
    duration_ms: float | None
    chunk_count: int | None
    replay_of: str | None
    client: str | None
    upstream_url: str | None
    upstream_request_body: Body | None
    request_size: int | None
    response_size: int | None
    truncated: int | None  # 0 or 1
    response_model: str | None
    reasoning_text: str | None
    tool_calls: str | None  # JSON [{"id", "type", "function": {"name", "arguments"}}]
    quirks: str | None  # JSON [str, ...]
    transport: TransportName | None
    session_id: str | None
    turn_id: str | None
    group_id: str | None
    # m006
    max_gap_ms: float | None
    gap_profile: str | None
    # m007
    first_byte_ms: float | None
    cut_by: str | None
    error_code: str | None
    note: str | None
    hold_ms: float | None
    # m009
    connection_id: str | None
    # m012
    prompt_text: str | None
    # m013
    cache_write_tokens: int | None
    # m014: the pieces of a large request body (the store joins them into request_body)
    request_pieces: bytes | None


#: Every column of `calls`, as `CallRecord` names them (a test checks the schema agrees).
CALL_RECORD_KEYS: frozenset[str] = frozenset(CallRecord.__annotations__)
STATE_NAMES: frozenset[str] = frozenset(get_args(StateName))
ENDPOINT_NAMES: frozenset[str] = frozenset(get_args(EndpointName))
TRANSPORT_NAMES: frozenset[str] = frozenset(get_args(TransportName))


def typed(row: Mapping[str, Any]) -> CallRecord:
    """A `calls` row a store read still returns as a plain dict (the three session reads), as
    the row it is. Remove once those reads return `CallRecord`."""
    return cast(CallRecord, row)


def untyped_rows(rows: list[CallRecord]) -> list[dict[str, Any]]:
    """The same rows for the call list model, whose paging keeps a mutable dict per row
    (being rewritten elsewhere). No copy; remove with its last caller."""
    return cast("list[dict[str, Any]]", rows)
