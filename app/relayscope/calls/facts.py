"""Facts derived from a recorded call, defined once: failed, live, TTFT, first byte, tokens/s.

Every view (the call list, Overview, Stream tab, `calls`/`show`, compare, diff, diagnostics,
exports, the SQL report views) asks this module rather than deciding for itself.

- **First byte** (`first_byte_ms`): when the response headers arrived (for an answer
  Relayscope gave itself, when it gave it).
- **TTFT** (`ttft_ms`), time to first token: when the first *output* arrived. For a stream,
  the arrival of the first event that carries output text, reasoning, a tool-call fragment or
  a refusal (a chat delta, or a Responses `*.delta` event); a role chunk is not output. For a
  successful non-stream answer the whole output arrives at once, with its first byte, so its
  TTFT is its first byte. A failed answer (status 400 or more) and a stream that carried no
  output have no TTFT (NULL).
- **Tokens/s**: output tokens over the time spent producing them: from the first token to
  the end for a stream, the whole duration for a non-stream answer.
- **Failed**: state `error` or `interrupted`, or an HTTP status of 400 or more.
- **Live**: state `pending` or `streaming`.

All timings count from the moment the request arrived, so a breakpoint's hold (`hold_ms`) is
part of them, as it was part of what the client waited.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

LIVE_STATES: Final = ("pending", "streaming")
FAILED_STATES: Final = ("error", "interrupted")

#: "Failed" in SQL, for filters and the report views. The views are built from it by a
#: migration (m008): changing it needs a new migration that rebuilds them (a test checks).
FAILED_SQL: Final = "(calls.state IN ('error', 'interrupted') OR calls.status >= 400)"
#: The rowids of the failed calls, as a SELECT: the same test as FAILED_SQL through the state and
#: status indexes (named: by their statistics SQLite would read the whole table), so a count
#: of the failed calls reads two indexes, not every call (60 ms against 1.3 s at a million).
FAILED_ROWIDS_SQL: Final = (
    "SELECT rowid AS r FROM calls INDEXED BY idx_calls_state"
    " WHERE calls.state IN ('error', 'interrupted')"
    " UNION SELECT rowid FROM calls INDEXED BY idx_calls_status WHERE calls.status >= 400"
)

Row = Mapping[str, Any]


def is_failed(row: Row) -> bool:
    """The call failed: state error or interrupted, or an HTTP status of 400 or more."""
    status = row.get("status")
    return row.get("state") in FAILED_STATES or (status is not None and int(status) >= 400)


def is_live(row: Row) -> bool:
    """The call has not finished yet (pending, or a stream still arriving)."""
    return row.get("state") in LIVE_STATES


def ttft_ms(row: Row) -> float | None:
    """Time to the first output token (see the module docstring)."""
    return _float(row.get("ttft_ms"))


def first_byte_ms(row: Row) -> float | None:
    """Time to the response's first byte (its headers)."""
    return _float(row.get("first_byte_ms"))


def ttft_of(
    *, stream: bool, status: int | None, first_output_ms: float | None, first_byte: float | None
) -> float | None:
    """The TTFT to record for a finished call, from what the recorder saw."""
    if stream or first_output_ms is not None:
        return first_output_ms
    if status is not None and status >= 400:
        return None
    return first_byte


def output_tokens_per_second(
    completion_tokens: int | None, ttft: float | None, duration_ms: float | None
) -> float | None:
    """Output speed from the first token to the end; None when it cannot be told."""
    if not completion_tokens or duration_ms is None:
        return None
    generating_ms = duration_ms - (ttft or 0.0)
    if generating_ms <= 0:
        return None
    return completion_tokens / (generating_ms / 1000)


def tokens_per_second(row: Row) -> float | None:
    """A recorded call's output speed: from its first token to its end for a stream (one the
    client asked for, or one forced upstream: it has chunks), over its whole duration
    otherwise."""
    ttft = ttft_ms(row) if row.get("stream") or row.get("chunk_count") else None
    return output_tokens_per_second(
        row.get("completion_tokens"), ttft, _float(row.get("duration_ms"))
    )


def _float(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
