"""The store's narrow reads (the app's widgets call these instead of writing SQL) and the
writer of comparison groups."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from relayscope.store.call_store import READ_ERRORS, CallStore, GroupWriter, StoreError


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CallStore]:
    store = CallStore(tmp_path / "relayscope.db")
    calls = store.db["calls"]
    for index, (provider, session) in enumerate((("a", "s1"), ("a", None), ("b", "s1"))):
        calls.insert(  # type: ignore[union-attr]
            {
                "id": f"c{index}",
                "started_at": f"2026-06-0{index + 1}T10:00:00.000Z",
                "method": "POST",
                "path": "/v1/chat/completions",
                "endpoint": "chat.completions",
                "provider": provider,
                "model": "m",
                "stream": 1,
                "state": "complete",
                "session_id": session,
                "request_body": "{}",
            }
        )
    store.db["chunks"].insert_all(  # type: ignore[union-attr]
        {"call_id": "c0", "seq": seq, "t_ms": 10.0 * seq, "data": f"data: {seq}\n\n"}
        for seq in range(3)
    )
    yield store
    store.close()


def test_a_calls_fields_are_only_those_asked_for(store: CallStore) -> None:
    assert store.call_fields("c0", ("state", "provider")) == {
        "state": "complete",
        "provider": "a",
    }
    assert store.call_fields("nope", ("state",)) is None
    with pytest.raises(ValueError):
        store.call_fields("c0", ("state; DROP TABLE calls",))


def test_a_providers_span_and_a_sessions_call_ids(store: CallStore) -> None:
    assert store.provider_span("a") == ("2026-06-01T10:00:00.000Z", "2026-06-02T10:00:00.000Z")
    assert store.provider_span("nobody") == (None, None)
    assert store.session_call_ids("s1") == ["c0", "c2"]


def test_groups_are_written_by_the_group_writer_and_read_by_the_store(store: CallStore) -> None:
    row = {
        "id": "g1",
        "created_at": "2026-06-01T10:00:00.000Z",
        "kind": "compare",
        "name": "a vs b",
        "request_body": "{}",
        "targets": "[]",
        "path": "/v1/chat/completions",
        "source_call_id": None,
    }
    with GroupWriter(store.path) as writer:
        writer.save(row)
        writer.save({**row, "id": "g2", "created_at": "2026-06-02T10:00:00.000Z"})
        writer.save({**row, "name": "renamed"})  # the same id replaces
    assert [g["id"] for g in store.recent_groups(10)] == ["g2", "g1"]
    assert [g["name"] for g in store.groups_by_prefix("g1")] == ["renamed"]
    assert len(store.groups_by_prefix("g")) == 2


def test_read_errors_name_what_a_closed_store_raises(store: CallStore) -> None:
    store.close()
    with pytest.raises(READ_ERRORS):
        store.provider_span("a")
    assert StoreError in READ_ERRORS
