"""Smoke tests for bench/storage_bench.py: its session grows as an agent's does, and every
design it compares gives the last body back."""

from __future__ import annotations

import json
from itertools import pairwise

from bench.storage_bench import alternatives, codex_bodies


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
