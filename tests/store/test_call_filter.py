"""A filtered page of calls: the same calls, newest first, however the text filter's page is
planned (a common text walks the time index; a rare one reads its matches and sorts them),
and counts that agree with the page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relayscope.store import call_filter
from relayscope.store.call_filter import CallFilter
from relayscope.store.call_store import CallStore
from tests.ui.conftest import call_row, insert_calls

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CallStore]:
    path = tmp_path / "relayscope.db"
    # 300 calls, one a second; "kubernetes" is in a seventh of them; three mention "volcano",
    # and the rowids are not in time order (an import of older calls comes last).
    rows = [call_row(i, NOW - timedelta(seconds=300 - i)) for i in range(300)]
    for i in (40, 200, 299):
        rows[i]["request_body"] = rows[i]["request_body"].replace("about", "about volcano")
    older = call_row(300, NOW - timedelta(hours=2))
    older["request_body"] = older["request_body"].replace("about", "about volcano")
    insert_calls(path, [*rows, older])
    live = call_row(301, NOW + timedelta(seconds=1), state="streaming", model="volcano-7b")
    insert_calls(path, [live])  # live: not in the full-text index, found by its model
    opened = CallStore(path)
    yield opened
    opened.close()


def page_ids(store: CallStore, flt: CallFilter, **kwargs: object) -> list[str]:
    return [str(r["id"]) for r in store.list_calls(flt, columns=("id",), **kwargs)]  # type: ignore[arg-type]


def newest_first(store: CallStore, word: str) -> list[str]:
    """The calls mentioning `word` (prompt or model), newest first, found without SQL search."""
    rows = store.db.execute(
        "SELECT id, request_body, model FROM calls ORDER BY started_at DESC"
    ).fetchall()
    return [r[0] for r in rows if word in r[1] or word in r[2]]


def test_a_rare_text_is_planned_from_its_matches_and_a_common_one_walks_the_index(
    store: CallStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(call_filter, "SMALL_MATCH", 10)
    conn = store.db.conn
    assert call_filter.text_is_rare(conn, CallFilter(text="volcano"))
    assert call_filter.text_is_rare(conn, CallFilter(text="no such word"))
    assert not call_filter.text_is_rare(conn, CallFilter(text="kubernetes"))  # 43 calls
    assert not call_filter.text_is_rare(conn, CallFilter(text="01"))  # every id starts so


def test_a_rare_match_shows_its_calls_newest_first_with_the_live_one(store: CallStore) -> None:
    wanted = newest_first(store, "volcano")
    assert len(wanted) == 5  # four recorded, the newest live one by its model
    assert page_ids(store, CallFilter(text="volcano")) == wanted
    assert store.count_calls(CallFilter(text="volcano")) == 5
    assert page_ids(store, CallFilter(text="volcano"), limit=2, offset=1) == wanted[1:3]
    # Sorted by another column, the same calls in that column's order.
    by_duration = page_ids(store, CallFilter(text="volcano"), order_by="duration_ms")
    assert sorted(by_duration) == sorted(wanted) and by_duration != wanted
    assert page_ids(store, CallFilter(text="no such word")) == []
    assert store.count_calls(CallFilter(text="no such word")) == 0


def test_both_plans_find_the_same_calls_in_the_same_order(
    store: CallStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    filters = [
        CallFilter(text="kubernetes"),
        CallFilter(text="kubernetes", errors_only=True),
        CallFilter(text="volcano", streams_only=True),
        CallFilter(text=page_ids(store, CallFilter())[3][:13]),  # an id prefix
        CallFilter(errors_only=True),  # counted from the state and status indexes
        CallFilter(errors_only=True, streams_only=True),
    ]
    for flt in filters:
        for order in ("started_at", "duration_ms"):
            monkeypatch.setattr(call_filter, "SMALL_MATCH", 0)  # always walk the index
            walked = page_ids(store, flt, order_by=order, limit=500)
            monkeypatch.setattr(call_filter, "SMALL_MATCH", 10_000)  # always read matches
            read = page_ids(store, flt, order_by=order, limit=500)
            assert walked == read and walked, (flt, order)
            assert store.count_calls(flt) == len(read)
    failed = store.db.execute(
        "SELECT count(*) FROM calls WHERE state IN ('error', 'interrupted') OR status >= 400"
    ).fetchone()[0]
    assert store.count_calls(CallFilter(errors_only=True)) == failed > 0
    kubernetes = newest_first(store, "kubernetes")
    assert page_ids(store, CallFilter(text="kubernetes"), limit=500) == kubernetes


def test_a_common_text_in_time_order_finds_a_call_recorded_out_of_order(
    store: CallStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A common text's page in time order is first looked for among the newest (or oldest)
    full-text matches by rowid; a call whose time is out of step with its rowid (an import,
    a changed clock) still takes its place in the page."""
    monkeypatch.setattr(call_filter, "SMALL_MATCH", 10)  # 43 calls: the common plan
    conn = store.db.conn
    hits = [
        r
        for (r,) in conn.execute(
            "SELECT rowid FROM calls_fts WHERE calls_fts MATCH 'kubernetes' ORDER BY rowid"
        )
    ]
    with conn:  # the first recorded comes last in time, the last recorded first
        conn.execute(
            "UPDATE calls SET started_at = '2027-01-01T00:00:00.000Z' WHERE rowid = ?", [hits[0]]
        )
        conn.execute(
            "UPDATE calls SET started_at = '2025-01-01T00:00:00.000Z' WHERE rowid = ?", [hits[-1]]
        )
    wanted = newest_first(store, "kubernetes")
    flt = CallFilter(text="kubernetes")
    assert page_ids(store, flt, limit=5) == wanted[:5]
    assert page_ids(store, flt, limit=5, descending=False) == wanted[::-1][:5]
    assert page_ids(store, flt, limit=5, offset=3) == wanted[3:8]
    # In step again, the same pages.
    with conn:
        conn.execute(
            "UPDATE calls SET started_at = '2020-01-01T00:00:00.000Z' WHERE rowid = ?", [hits[0]]
        )
    wanted = newest_first(store, "kubernetes")
    assert page_ids(store, flt, limit=5) == wanted[:5]
    assert page_ids(store, flt, limit=500) == wanted
