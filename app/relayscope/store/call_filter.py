"""CallFilter: what the call list shows, as SQL, and how a page of it is read fast.

A text filter is a set of rowids (the full-text matches, the live calls whose model, provider
or path contain the text, the calls whose id starts with it). How a page is read depends on
how big that set is: a page in the list's order walks the order's index and keeps the calls
in the set, which finds 200 of a common word at once but reads every call when almost none
match; for a rare text the matches are read by rowid and sorted instead. `plan_page` asks
the full-text index for at most `SMALL_MATCH + 1` rowids first to choose, from the end of the
rowids where the list's time order starts (calls are recorded in time order).

For a common text in time order those rowids usually hold the page: the walk then tests
each call against them rather than against all the text's matches (60,000 rowids put in a
temporary b-tree took ~20 ms of a 30 ms page at a million calls). That is exact when no call
outside them can come before the page's last call: checked on the time index (index only,
the rows the walk passed), else the page is read against every match.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from relayscope.calls.facts import FAILED_ROWIDS_SQL, FAILED_SQL

#: Up to this many text matches, a page reads the matches and sorts them (a few ms per
#: thousand rows) rather than walking the order's index until it has found a page.
SMALL_MATCH = 2000
#: A page of a common text in time order is read against the full-text matches the plan
#: read first (`SMALL_MATCH + 1` of them) when the walk to its end is expected to pass at most
#: this many calls: the walk then runs twice more (to find the page's end, to check it).
SHORT_WALK = 10_000

#: SQLite instructions between two looks at whether a read was cancelled: about a quarter of
#: a millisecond. Each look takes the GIL from the GUI thread; every 5,000 (~80 times per
#: millisecond) a count on its thread made the page's paint beside it twice as slow.
CANCEL_CHECK = 100_000

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

    def where(
        self, *, walk: bool = True, fts_rowids: list[int] | None = None
    ) -> tuple[str, list[Any]]:
        """The filter as a WHERE clause on `calls`. With `walk` (the default), the text's
        rowid set is only tested (`+rowid`): SQLite then walks the ORDER BY's index, which
        suits a text that many calls match; without it, SQLite reads the set's rows by
        rowid, which suits a rare text (see `plan_page`). `fts_rowids`: the full-text
        matches to use instead of asking the index (see `text_rowids`)."""
        clauses, params = self._other_clauses()
        text = self.text.strip()
        if text:
            rowids, text_params = self.text_rowids(fts_rowids)
            clauses.append(f"{'+' if walk else ''}calls.rowid IN ({rowids})")
            params += text_params
        return (" AND ".join(clauses) or "1"), params

    def text_rowids(self, fts_rowids: list[int] | None = None) -> tuple[str, list[Any]]:
        """The rowids the text matches, as a SELECT. Finished calls are in the full-text
        index; calls still live are not indexed yet, so only they (a handful) are matched by
        LIKE, through the state index (named: by its statistics, a state is a quarter of the calls,
        so SQLite would read them all). An id matches by prefix. With `fts_rowids`, those
        stand for the full-text matches (some of them, read already: `plan_page`)."""
        text = self.text.strip()
        like = f"%{text}%"
        if fts_rowids is None:
            fts, fts_param = (
                "SELECT rowid AS r FROM calls_fts WHERE calls_fts MATCH ?",
                fts_query(text),
            )
        else:
            fts, fts_param = "SELECT value AS r FROM json_each(?)", json.dumps(fts_rowids)
        sql = (
            f"{fts}"
            " UNION SELECT rowid FROM calls INDEXED BY idx_calls_state"
            " WHERE calls.state IN ('pending', 'streaming')"
            " AND (calls.model LIKE ? OR calls.provider LIKE ? OR calls.path LIKE ?)"
            " UNION SELECT rowid FROM calls WHERE calls.id >= ? AND calls.id < ?"
        )
        return sql, [fts_param, like, like, like, text, text + "\uffff"]

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


@dataclass(frozen=True, slots=True)
class _Probe:
    """What `plan_page` learns of a text first: up to `SMALL_MATCH + 1` full-text matches,
    from the end of the rowids the page's time order starts at, and how many ids match."""

    rowids: list[int]
    ids: int

    @property
    def complete(self) -> bool:
        """Every full-text match is in `rowids`."""
        return len(self.rowids) <= SMALL_MATCH

    @property
    def rare(self) -> bool:
        return self.complete and len(self.rowids) + self.ids <= SMALL_MATCH

    def walk(self, rows: int) -> float:
        """About how many calls a walk in time order passes to find `rows` of the probe's
        (as many as the rowids they span, in proportion)."""
        span = max(self.rowids) - min(self.rowids) + 1
        return span * rows / len(self.rowids)


def _probe(conn: sqlite3.Connection, text: str, *, newest: bool | None) -> _Probe:
    """The text's first matches: with `newest` None only how many (up to the limit; the
    rowids are then not read, which costs more than counting them)."""
    limit = SMALL_MATCH + 1
    if newest is None:
        (count,) = conn.execute(
            "SELECT count(*) FROM (SELECT rowid FROM calls_fts WHERE calls_fts MATCH ? LIMIT ?)",
            [fts_query(text), limit],
        ).fetchone()
        rowids = [-1] * count  # only their number is known
    else:
        rowids = [
            r
            for (r,) in conn.execute(
                "SELECT rowid FROM calls_fts WHERE calls_fts MATCH ?"
                f" ORDER BY rowid {'DESC' if newest else 'ASC'} LIMIT ?",
                [fts_query(text), limit],
            )
        ]
    ids = conn.execute(
        "SELECT count(*) FROM (SELECT rowid FROM calls WHERE id >= ? AND id < ? LIMIT ?)",
        [text, text + "\uffff", limit],
    ).fetchone()[0]
    return _Probe(rowids, int(ids))


def text_is_rare(conn: sqlite3.Connection, flt: CallFilter) -> bool:
    """Whether the filter's text matches at most `SMALL_MATCH` calls, found by asking for
    one more (the full-text index and the id index each stop there)."""
    text = flt.text.strip()
    return bool(text) and _probe(conn, text, newest=None).rare


def _probe_holds_page(
    conn: sqlite3.Connection, flt: CallFilter, probe: _Probe, *, newest: bool, rows: int
) -> bool:
    """Whether the first `rows` calls in time order are the same with the probe's full-text
    matches as with all of them: the `rows`th call among the probe's (an index-only walk)
    comes before every call the probe left out. Those all lie beyond its last rowid, so
    it is enough that no call at all beyond it comes before that one (the time index again,
    over the rows the walk passed). Calls come in time order but for an import of older
    calls, a changed clock or calls started together: then the page is read against every
    match."""
    direction = "DESC" if newest else "ASC"
    where, params = flt.where(fts_rowids=probe.rowids)
    last = conn.execute(
        f"SELECT calls.started_at FROM calls WHERE {where}"
        f" ORDER BY calls.started_at {direction}, calls.rowid {direction} LIMIT 1 OFFSET ?",
        [*params, rows - 1],
    ).fetchone()
    if last is None or last[0] is None:  # fewer than `rows` among them, or no time
        return False
    if newest:  # NULL times come last, after a page that ends on a time
        before, edge = "calls.started_at >= ? AND calls.rowid < ?", min(probe.rowids)
    else:  # ... and first in the other direction
        before = "(calls.started_at IS NULL OR calls.started_at <= ?) AND calls.rowid > ?"
        edge = max(probe.rowids)
    missed = conn.execute(
        f"SELECT 1 FROM calls INDEXED BY idx_calls_started_at WHERE {before} LIMIT 1",
        [last[0], edge],
    ).fetchone()
    return missed is None


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
    order = f"ORDER BY calls.{order_by} {direction}, calls.rowid {direction}"
    select = f"SELECT {', '.join(columns)} FROM calls"
    text = flt.text.strip()
    if not text:
        where, params = flt.where()
        return f"{select} WHERE {where} {order} LIMIT ? OFFSET ?", [*params, limit, offset]
    # In time order the matches are read from the end the order starts at: they may hold
    # the page (`_probe_holds_page`). In another order only how many there are is asked.
    in_time = order_by == "started_at"
    probe = _probe(conn, text, newest=descending if in_time else None)
    if probe.rare:
        # The matches sorted by rowid and the order's column only, then the page's rows
        # read: sorting whole rows would read every match's row to its last column.
        where, params = flt.where(walk=False, fts_rowids=probe.rowids if in_time else None)
        sql = (
            f"{select} WHERE calls.rowid IN (SELECT calls.rowid FROM calls WHERE {where}"
            f" {order} LIMIT ? OFFSET ?) {order}"
        )
        return sql, [*params, limit, offset]
    rows = limit + offset
    if in_time and (
        probe.complete
        or (
            probe.walk(rows) <= SHORT_WALK
            and _probe_holds_page(conn, flt, probe, newest=descending, rows=rows)
        )
    ):
        where, params = flt.where(fts_rowids=probe.rowids)
    else:
        where, params = flt.where()
    return f"{select} WHERE {where} {order} LIMIT ? OFFSET ?", [*params, limit, offset]


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
    `CANCEL_CHECK` SQLite instructions): a read that a newer keystroke made stale stops."""
    if cancelled is None:
        conn.set_progress_handler(None, 0)
    else:
        conn.set_progress_handler(lambda: 1 if cancelled() else 0, CANCEL_CHECK)
