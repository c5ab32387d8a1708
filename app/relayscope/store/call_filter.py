"""CallFilter: what the call list shows, as SQL, and how a page of it is read fast.

A text filter is a set of rowids (the full-text matches, the live calls whose model, provider
or path contain the text, the calls whose id starts with it). How a page is read depends on
how big that set is: a page in the list's order walks the order's index and keeps the calls
in the set, which finds 200 of a common word at once but reads every call when almost none
match; for a rare text the matches are read by rowid and sorted instead. `plan_page` asks
the full-text index for at most `SMALL_MATCH + 1` rowids first to choose.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from relayscope.calls.facts import FAILED_ROWIDS_SQL, FAILED_SQL

#: Up to this many text matches, a page reads the matches and sorts them (a few ms per
#: thousand rows) rather than walking the order's index until it has found a page.
SMALL_MATCH = 2000

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

    def where(self, *, walk: bool = True) -> tuple[str, list[Any]]:
        """The filter as a WHERE clause on `calls`. With `walk` (the default), the text's
        rowid set is only tested (`+rowid`): SQLite then walks the ORDER BY's index, which
        suits a text that many calls match; without it, SQLite reads the set's rows by
        rowid, which suits a rare text (see `plan_page`)."""
        clauses, params = self._other_clauses()
        text = self.text.strip()
        if text:
            rowids, text_params = self.text_rowids()
            clauses.append(f"{'+' if walk else ''}calls.rowid IN ({rowids})")
            params += text_params
        return (" AND ".join(clauses) or "1"), params

    def text_rowids(self) -> tuple[str, list[Any]]:
        """The rowids the text matches, as a SELECT. Finished calls are in the full-text
        index; calls still live are not indexed yet, so only they (a handful) are matched by
        LIKE, through the state index (named: by its statistics, a state is a quarter of the calls,
        so SQLite would read them all). An id matches by prefix."""
        text = self.text.strip()
        like = f"%{text}%"
        sql = (
            "SELECT rowid AS r FROM calls_fts WHERE calls_fts MATCH ?"
            " UNION SELECT rowid FROM calls INDEXED BY idx_calls_state"
            " WHERE calls.state IN ('pending', 'streaming')"
            " AND (calls.model LIKE ? OR calls.provider LIKE ? OR calls.path LIKE ?)"
            " UNION SELECT rowid FROM calls WHERE calls.id >= ? AND calls.id < ?"
        )
        return sql, [fts_query(text), like, like, like, text, text + "\uffff"]

    def _other_clauses(self) -> tuple[list[str], list[Any]]:
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
        return clauses, params


def fts_query(text: str) -> str:
    """Turn what a person typed into an FTS5 query: every word must appear, as a prefix."""
    words = [w.replace('"', '""') for w in text.split()]
    return " ".join(f'"{w}"*' for w in words) or '""'


def text_is_rare(conn: sqlite3.Connection, flt: CallFilter) -> bool:
    """Whether the filter's text matches at most `SMALL_MATCH` calls, found by asking for
    one more (the full-text index and the id index each stop there)."""
    text = flt.text.strip()
    if not text:
        return False
    limit = SMALL_MATCH + 1
    fts = conn.execute(
        "SELECT count(*) FROM (SELECT rowid FROM calls_fts WHERE calls_fts MATCH ? LIMIT ?)",
        [fts_query(text), limit],
    ).fetchone()[0]
    if fts >= limit:
        return False
    ids = conn.execute(
        "SELECT count(*) FROM (SELECT rowid FROM calls WHERE id >= ? AND id < ? LIMIT ?)",
        [text, text + "\uffff", limit],
    ).fetchone()[0]
    return bool(fts + ids <= SMALL_MATCH)


def plan_page(
    conn: sqlite3.Connection,
    flt: CallFilter,
    columns: Sequence[str],
    *,
    order_by: str,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[str, list[Any]]:
    """The SELECT for one page of `flt` in the list's order, planned for the text's size."""
    if order_by not in SORTABLE:
        raise ValueError(f"cannot sort by {order_by!r}")
    direction = "DESC" if descending else "ASC"
    where, params = flt.where(walk=not text_is_rare(conn, flt))
    sql = (
        f"SELECT {', '.join(columns)} FROM calls WHERE {where} "
        f"ORDER BY calls.{order_by} {direction}, calls.rowid {direction} LIMIT ? OFFSET ?"
    )
    return sql, [*params, limit, offset]


def count_sql(flt: CallFilter) -> tuple[str, list[Any]]:
    """The SELECT that counts `flt`'s calls, driven by its smallest known rowid set: a text
    counts its matches (the full-text index answers in milliseconds), "errors only" the
    failed calls' rowids (two indexes); only those rows are read for the other fields."""
    clauses, params = flt._other_clauses()
    if flt.text.strip():
        rowids, driving = flt.text_rowids()
    elif flt.errors_only:
        rowids, driving = FAILED_ROWIDS_SQL, []
        clauses.remove(FAILED_SQL)
    else:
        return f"SELECT count(*) FROM calls WHERE {' AND '.join(clauses) or '1'}", params
    if not clauses:
        return f"SELECT count(*) FROM ({rowids})", driving
    sql = (
        f"SELECT count(*) FROM ({rowids}) AS hits CROSS JOIN calls ON calls.rowid = hits.r"
        f" WHERE {' AND '.join(clauses)}"
    )
    return sql, [*driving, *params]


def cancel_when(conn: sqlite3.Connection, cancelled: Callable[[], bool] | None) -> None:
    """Abort the connection's running statement once `cancelled()` says so (checked every
    few thousand SQLite instructions): a read that a newer keystroke made stale stops."""
    if cancelled is None:
        conn.set_progress_handler(None, 0)
    else:
        conn.set_progress_handler(lambda: 1 if cancelled() else 0, 5000)
