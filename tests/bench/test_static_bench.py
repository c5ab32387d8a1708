"""bench/static_bench.py's fast fill: the rows, the full-text index and its trigger."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bench.static_bench import fill


def test_the_fast_fill_leaves_a_searchable_database_with_its_trigger(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    assert fill(db, 3000) > 0
    assert fill(db, 3000) == 0.0  # reused
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT count(*) FROM calls").fetchone()[0] == 3000
        found = conn.execute(
            "SELECT count(*) FROM calls_fts WHERE calls_fts MATCH 'kubernetes'"
        ).fetchone()[0]
        assert 0 < found < 3000
        triggers = {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        }
        assert "calls_ai" in triggers  # put back after the fill
    finally:
        conn.close()
