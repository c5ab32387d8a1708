"""The facts defined once (relayscope.calls.facts): failed, live, TTFT, first byte, tokens/s,
and the migration that brings old rows and the report views to these definitions."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from relayscope.analysis import diagnostics
from relayscope.calls import facts as call_facts
from relayscope.store import schema
from relayscope.store.call_store import CallFilter, CallStore

ROLE = 'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
TEXT = 'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
DONE = "data: [DONE]\n\n"
CREATED = 'event: response.created\ndata: {"type":"response.created","response":{}}\n\n'
DELTA = (
    "event: response.output_text.delta\n"
    'data: {"type":"response.output_text.delta","output_index":0,"delta":"Hi"}\n\n'
)


@pytest.mark.parametrize(
    ("row", "failed"),
    [
        ({"state": "complete", "status": 200}, False),
        ({"state": "error", "status": 502}, True),
        ({"state": "interrupted", "status": 200}, True),  # a cut stream failed
        ({"state": "complete", "status": 404}, True),
        ({"state": "pending", "status": None}, False),
    ],
)
def test_failed_is_one_definition(row: dict[str, Any], failed: bool) -> None:
    assert call_facts.is_failed(row) is failed


def test_tokens_per_second_counts_a_stream_from_its_first_token() -> None:
    stream = {"stream": 1, "completion_tokens": 100, "ttft_ms": 1000.0, "duration_ms": 3000.0}
    assert call_facts.tokens_per_second(stream) == 50.0
    whole = {"stream": 0, "completion_tokens": 100, "ttft_ms": 1900.0, "duration_ms": 2000.0}
    assert call_facts.tokens_per_second(whole) == 50.0  # over the whole wait


def _old_database(path: Path) -> Database:
    """A database as m007 left it, with rows written by the old recorder (TTFT = first byte)."""
    db = Database(sqlite3.connect(path))
    schema.migrations.apply(db, stop_before="m008_one_ttft_one_failed")
    calls: Any = db["calls"]
    base = {"started_at": "2026-11-21T12:00:00.000Z", "provider": "p", "model": "m"}
    calls.insert_all(
        [
            {**base, "id": "chat", "endpoint": "chat.completions", "stream": 1, "status": 200,
             "state": "complete", "ttft_ms": 5.0},
            {**base, "id": "resp", "endpoint": "responses", "stream": 1, "status": 200,
             "state": "complete", "ttft_ms": 7.0},
            {**base, "id": "plain", "endpoint": "chat.completions", "stream": 0, "status": 200,
             "state": "complete", "ttft_ms": 90.0},
            {**base, "id": "refused", "endpoint": "chat.completions", "stream": 0, "status": 429,
             "state": "error", "ttft_ms": 12.0},
        ]
    )  # fmt: skip
    chunks: Any = db["chunks"]
    chunks.insert_all(
        [
            {"call_id": "chat", "seq": 0, "t_ms": 5.0, "data": ROLE},
            {"call_id": "chat", "seq": 1, "t_ms": 255.0, "data": TEXT},
            {"call_id": "chat", "seq": 2, "t_ms": 260.0, "data": DONE},
            {"call_id": "resp", "seq": 0, "t_ms": 7.0, "data": CREATED},
            {"call_id": "resp", "seq": 1, "t_ms": 31.0, "data": DELTA},
        ]
    )
    return db


def test_m008_moves_the_first_byte_and_tells_ttft_from_the_chunks(tmp_path: Path) -> None:
    _old_database(tmp_path / "old.db").conn.close()
    store = CallStore(tmp_path / "old.db")  # opening migrates
    figures = {
        row["id"]: (row["ttft_ms"], row["first_byte_ms"])
        for row in store.db.query("SELECT id, ttft_ms, first_byte_ms FROM calls")
    }
    assert figures == {
        "chat": (255.0, 5.0),  # the role chunk was the first byte, "Hi" the first token
        "resp": (31.0, 7.0),
        "plain": (90.0, 90.0),  # a whole answer's tokens come with its first byte
        "refused": (None, 12.0),  # an error carries no token
    }
    store.close()


def _seed(path: Path) -> CallStore:
    """Eight finished calls of one provider on one day: 6 fine, a 500 and a cut stream."""
    store = CallStore(path)
    calls: Any = store.db["calls"]
    rows = [
        {"id": f"c{n}", "provider": "p", "started_at": f"2026-11-21T12:0{n}:00.000Z",
         "state": "complete", "status": 200, "stream": 1, "ttft_ms": 100.0 + n,
         "duration_ms": 1000.0, "completion_tokens": 90}
        for n in range(6)
    ]  # fmt: skip
    rows.append({"id": "c6", "provider": "p", "started_at": "2026-11-21T12:06:00.000Z",
                 "state": "error", "status": 500, "stream": 0})  # fmt: skip
    rows.append({"id": "c7", "provider": "p", "started_at": "2026-11-21T12:07:00.000Z",
                 "state": "interrupted", "status": 200, "stream": 1, "ttft_ms": 50.0})  # fmt: skip
    calls.insert_all(rows)
    return store


def test_diagnostics_views_and_the_errors_filter_count_the_same_failures(tmp_path: Path) -> None:
    store = _seed(tmp_path / "r.db")
    (report,) = diagnostics.diagnose_all(store)
    assert (report.calls, report.failed, report.interrupted) == (8, 2, 1)
    assert report.error_rate == 0.25  # was 12.5 %: the cut stream was not counted
    assert sum(bucket.errors for bucket in report.buckets) == 2  # the chart agrees
    (day,) = store.db.query("SELECT errors, error_rate FROM calls_per_provider_day")
    assert (day["errors"], day["error_rate"]) == (2, 0.25)
    by_status = list(store.db.query("SELECT errors, interrupted, error_rate FROM error_rates"))
    assert sum(r["errors"] for r in by_status) == 2
    assert sum(r["error_rate"] for r in by_status) == 0.25
    assert store.count_calls(CallFilter(errors_only=True)) == 2  # the list and `calls --errors`
    store.close()


def test_the_report_views_hold_the_current_definition_of_failed(tmp_path: Path) -> None:
    """Changing FAILED_SQL needs a migration that rebuilds the views: this fails until then."""
    store = CallStore(tmp_path / "r.db")
    for view in ("calls_per_provider_day", "error_rates"):
        (sql,) = store.db.execute("SELECT sql FROM sqlite_master WHERE name = ?", [view]).fetchone()
        assert call_facts.FAILED_SQL in sql, view
    store.close()
