"""bench/static_bench.py's fast fill: the rows, the full-text index and its trigger."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

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


def test_the_list_queries_before_and_after_agree_on_a_small_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench/list_queries.py asserts that both plans return the same rows and counts."""
    from bench import list_queries

    db = tmp_path / "s.db"
    fill(db, 3000)
    monkeypatch.setattr("sys.argv", ["list_queries", "--db", str(db)])
    assert list_queries.main() == 0
