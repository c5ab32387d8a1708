"""Tests for relayscope.analysis.diagnostics on hand-made rows."""

from __future__ import annotations

from pathlib import Path

from relayscope.analysis.diagnostics import diagnose
from relayscope.store.call_store import CallStore


def test_a_messages_answer_without_usage_is_a_sign(tmp_path: Path) -> None:
    store = CallStore(tmp_path / "relayscope.db")
    try:
        for index, tokens in enumerate((None, 12)):
            store.db["calls"].insert(  # type: ignore[union-attr]
                {
                    "id": f"019a3f2c5b1{index}-00000000",
                    "started_at": f"2026-12-02T07:0{index}:00.000Z",
                    "endpoint": "messages",
                    "path": "/v1/messages",
                    "provider": "gateway",
                    "model": "claude-sonnet-4-6",
                    "status": 200,
                    "state": "complete",
                    "output_text": "Hello there, how can I help?",
                    "completion_tokens": tokens,
                }
            )
        store.db.conn.commit()
        (sign,) = diagnose(store, "gateway").signs
    finally:
        store.close()
    assert sign.code == "usage_missing" and sign.count == 1
    assert sign.example == "019a3f2c5b10-00000000"
