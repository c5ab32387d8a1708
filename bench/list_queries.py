"""The call list's SQL over a big recording, before and after its queries were planned by
the size of the text's match: CPU time of each page and count, side by side in one run.

    .venv/bin/python -m bench.list_queries --db /tmp/relayscope-static-bench.db

"before" is the filter of commit 9a5f1d7, copied here (one OR of the full-text match, the
live calls and the id prefix, tested on every row the order's index walks); "after" is
`relayscope.store.call_filter` (a rowid set: walked index-only for a common text, read and
sorted for a rare one). Each query runs on a read-only connection, twice, and the second
(warm) run's CPU time counts: the machine is shared, so CPU time, not wall time. Needs a
database from bench/static_bench.py; reads only.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relayscope.calls.facts import FAILED_SQL
from relayscope.store.call_filter import CallFilter, count_sql, fts_query, plan_page

COLUMNS = ("id", "started_at", "provider", "model", "status", "state", "duration_ms")
CASES: tuple[tuple[str, CallFilter], ...] = (
    ("'k' (61k calls)", CallFilter(text="k")),
    ("'kubernetes' (61k)", CallFilter(text="kubernetes")),
    ("'kubernetes x' (none)", CallFilter(text="kubernetes x")),
    ("'kubernetes volcano jazz' (62)", CallFilter(text="kubernetes volcano jazz")),
    ("'origami falcon' (1,809)", CallFilter(text="origami falcon")),
    ("'kubernetes volcano' (2,379)", CallFilter(text="kubernetes volcano")),
    ("errors only", CallFilter(errors_only=True)),
    ("'kubernetes' + errors", CallFilter(text="kubernetes", errors_only=True)),
)


def before_where(flt: CallFilter) -> tuple[str, list[Any]]:
    """The filter's WHERE as commit 9a5f1d7 wrote it."""
    clauses: list[str] = []
    params: list[Any] = []
    if flt.errors_only:
        clauses.append(FAILED_SQL)
    text = flt.text.strip()
    if text:
        clauses.append(
            "(calls.rowid IN (SELECT rowid FROM calls_fts WHERE calls_fts MATCH ?)"
            " OR (calls.state IN ('pending', 'streaming') AND (calls.model LIKE ?"
            " OR calls.provider LIKE ? OR calls.path LIKE ?))"
            " OR (calls.id >= ? AND calls.id < ?))"
        )
        like = f"%{text}%"
        params += [fts_query(text), like, like, like, text, text + "\uffff"]
    return (" AND ".join(clauses) or "1"), params


def cpu_ms(conn: sqlite3.Connection, sql: str, params: list[Any]) -> tuple[float, list[Any]]:
    """The query's rows and the CPU time of its second (warm) run."""
    conn.execute(sql, params).fetchall()
    started = time.thread_time()
    rows = conn.execute(sql, params).fetchall()
    return (time.thread_time() - started) * 1000, rows


def ratio(before: float, after: float) -> str:
    return f"{before / max(after, 0.1):,.0f}×"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args()
    conn = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    columns = ", ".join(COLUMNS)
    print("| filter | page before | page after | ratio | count before | count after | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, flt in CASES:
        where, params = before_where(flt)
        old_sql = (
            f"SELECT {columns} FROM calls WHERE {where}"
            " ORDER BY started_at DESC, rowid DESC LIMIT 200 OFFSET 0"
        )
        old_page, old_rows = cpu_ms(conn, old_sql, params)
        # The plan's probe of the full-text index is part of the page's cost: timed with it.
        started = time.thread_time()
        sql, new_params = plan_page(
            conn, flt, COLUMNS, order_by="started_at", descending=True, limit=200, offset=0
        )
        plan = (time.thread_time() - started) * 1000
        new_page, new_rows = cpu_ms(conn, sql, new_params)
        new_page += plan
        assert old_rows == new_rows, label  # the same calls in the same order
        old_count, old_n = cpu_ms(conn, f"SELECT count(*) FROM calls WHERE {where}", params)
        new_count, new_n = cpu_ms(conn, *count_sql(flt))
        assert old_n == new_n, label
        print(
            f"| {label} | {old_page:,.1f} ms | {new_page:,.1f} ms | {ratio(old_page, new_page)} "
            f"| {old_count:,.0f} ms | {new_count:,.1f} ms | {ratio(old_count, new_count)} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
