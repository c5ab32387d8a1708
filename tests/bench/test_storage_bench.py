"""Smoke tests for bench/storage_bench.py: its session grows as an agent's does, and every
design it compares gives the last body back."""

from __future__ import annotations

import json
import sqlite3
from itertools import pairwise
from pathlib import Path

from bench.storage_bench import alternatives, breakdown, codex_bodies, stream_alternatives


def test_the_session_resends_everything_and_adds_a_little() -> None:
    bodies = codex_bodies(6)
    for before, after in pairwise(bodies):
        assert len(json.loads(after)["input"]) > len(json.loads(before)["input"])
        assert after[:12_000] == before[:12_000]  # the same instructions, resent
    assert 35_000 < len(bodies[0]) < 45_000  # 12 KB instructions, 20 tools


def test_every_design_is_measured() -> None:
    out = alternatives(codex_bodies(4))  # each asserts it reads the last body back
    assert set(out) == {"zstd per body", "zstd, previous body as dictionary", "shared pieces"}
    assert all(row["size"] > 0 for row in out.values())


def test_every_way_to_store_streams_is_measured(tmp_path: Path) -> None:
    db = tmp_path / "rows.db"
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TABLE chunks (call_id TEXT, seq INT, t_ms FLOAT, data TEXT, direction TEXT)"
    )
    for call in ("a", "b"):
        conn.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?, NULL)",
            [(call, i, 1.5 * i, f'data: {{"delta": "w{i}"}}\n\n') for i in range(30)],
        )
    conn.commit()
    conn.close()
    out = stream_alternatives(db)  # each pack is checked against the rows it came from
    assert set(out) == {"zstd per chunk", "pack, zstd 3", "pack, zstd 19"}
    assert out["pack, zstd 3"]["size"] < out["zstd per chunk"]["size"]
    assert breakdown(db)["chunks"] > 0
