"""CallReader: pages and counts of recorded calls on a read-only connection of its own.

The call list reads its pages and counts here, on background threads, so that a keystroke in
the filter never waits for SQLite on the GUI thread. One connection serves one reader; its
reads take turns (a lock), and a read that became stale (`cancelled()` says so) is stopped
inside SQLite rather than run to its end.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from relayscope.store.call_filter import CallFilter, cancel_when, count_sql, plan_page

__all__ = ["CallReader", "ReadCancelled"]


class ReadCancelled(Exception):
    """A read was stopped because its result is no longer wanted."""


class CallReader:
    """Read-only reads of `calls` for threads other than the one that made it."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        # mode=ro: this connection can never write, whatever a bug asks of it.
        self._conn = sqlite3.connect(
            f"file:{self.path}?mode=ro", uri=True, check_same_thread=False, timeout=5.0
        )
        self._lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        """Close the connection (waits for a read in progress, which a caller may cancel)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def page(
        self,
        flt: CallFilter,
        columns: Sequence[str],
        *,
        order_by: str = "started_at",
        descending: bool = True,
        limit: int = 200,
        offset: int = 0,
        cancelled: Callable[[], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """One page of the calls `flt` keeps, in the list's order: the columns asked for
        (never a body stored as pieces: the list does not read bodies)."""
        if not columns or not all(c.isidentifier() for c in columns):
            raise ValueError(f"not column names: {list(columns)}")
        with self._lock:
            conn = self._open()
            cancel_when(conn, cancelled)
            try:
                sql, params = plan_page(
                    conn,
                    flt,
                    columns,
                    order_by=order_by,
                    descending=descending,
                    limit=limit,
                    offset=offset,
                )
                rows = conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                raise _cancelled_or(exc, cancelled) from exc
            finally:
                cancel_when(conn, None)
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def count(
        self, flt: CallFilter | None = None, *, cancelled: Callable[[], bool] | None = None
    ) -> int:
        """How many calls `flt` keeps (all calls without one)."""
        sql, params = count_sql(flt or CallFilter())
        with self._lock:
            conn = self._open()
            cancel_when(conn, cancelled)
            try:
                return int(conn.execute(sql, params).fetchone()[0])
            except sqlite3.OperationalError as exc:
                raise _cancelled_or(exc, cancelled) from exc
            finally:
                cancel_when(conn, None)

    def _open(self) -> sqlite3.Connection:
        if self._closed:
            raise sqlite3.ProgrammingError("the reader is closed")
        return self._conn


def _cancelled_or(exc: sqlite3.OperationalError, cancelled: Callable[[], bool] | None) -> Exception:
    """The progress handler's abort reads as "interrupted": say that it was a cancel."""
    if cancelled is not None and cancelled():
        return ReadCancelled(str(exc))
    return exc
