"""Tests for relayscope.actions.compare: targets, concurrency, summaries, saved groups."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from relayscope.actions.compare import (
    CompareResult,
    Target,
    TargetSummary,
    compare,
    list_groups,
    load_group,
    match_rows,
    rerun,
)
from relayscope.actions.replay import ReplayEvent
from relayscope.analysis.cost import Pricer
from relayscope.config import ModelPrice, Provider
from relayscope.store.call_store import CallStore, StoreError

BODY = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
URL = "http://relayscope.test/v1"
README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def stream_of(model: str) -> bytes:
    chunk = {
        "choices": [{"index": 0, "delta": {"content": f"I am {model}"}, "finish_reason": "stop"}]
    }
    return b"data: " + json.dumps(chunk).encode() + b"\n\ndata: [DONE]\n\n"


def slow_transport(
    seconds: float, seen: list[httpx.Request], answered: list[int] | None = None
) -> httpx.MockTransport:
    """Answers each request after `seconds`; `answered` gets how many had been sent by then."""

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        await asyncio.sleep(seconds)
        if answered is not None:
            answered.append(len(seen))
        model = json.loads(request.content)["model"]
        if model == "broken":
            return httpx.Response(500, json={"error": {"message": "boom", "type": "api_error"}})
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=stream_of(model)
        )

    return httpx.MockTransport(handler)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CallStore]:
    store = CallStore(tmp_path / "relayscope.db")
    yield store
    store.close()


# --- targets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("fast", Target("fast", None)),
        ("fast:gpt-5.2", Target("fast", "gpt-5.2")),
        (":gpt-5.2", Target(None, "gpt-5.2")),
        ("ollama:llama3:8b", Target("ollama", "llama3:8b")),
    ],
)
def test_a_target_is_provider_and_optional_model(text: str, target: Target) -> None:
    assert Target.parse(text) == target


def test_an_empty_target_is_refused() -> None:
    with pytest.raises(ValueError, match="PROVIDER"):
        Target.parse(" : ")


# --- sending ----------------------------------------------------------------------------------


def test_targets_run_at_the_same_time_so_the_whole_takes_as_long_as_the_slowest() -> None:
    seen: list[httpx.Request] = []
    answered: list[int] = []
    targets = [Target("a", "m1"), Target("b", "m2"), Target(None, "m3")]
    result = compare(BODY, targets, URL, transport=slow_transport(0.4, seen, answered))
    # All three were sent before the first answer came (one after the other: [1, 2, 3]); an
    # order, which a loaded machine keeps, where the wall clock (< 0.8 s) was at its mercy.
    assert answered == [3, 3, 3]
    assert result.elapsed_ms >= 400
    assert [s.output_text for s in result.summaries] == ["I am m1", "I am m2", "I am m3"]


def test_each_copy_is_tagged_with_the_group_its_own_call_id_and_its_target() -> None:
    seen: list[httpx.Request] = []
    targets = [Target("a", "m1"), Target("b", None)]
    result = compare(BODY, targets, URL, group_id="g-1", transport=slow_transport(0, seen))
    by_id = {r.headers["x-relayscope-call-id"]: r for r in seen}
    assert set(by_id) == {s.call_id for s in result.summaries}
    assert len(by_id) == 2
    assert {r.headers["x-relayscope-group"] for r in seen} == {"g-1"} == {result.group.id}
    first, second = (by_id[s.call_id] for s in result.summaries)
    assert first.headers["x-relayscope-provider"] == "a"
    assert json.loads(first.content) == {**BODY, "model": "m1"}
    assert second.headers["x-relayscope-provider"] == "b"
    assert json.loads(second.content) == BODY


def test_events_arrive_live_with_their_target_index() -> None:
    events: list[tuple[int, ReplayEvent]] = []
    compare(
        BODY,
        [Target("a"), Target("b")],
        URL,
        on_event=lambda i, e: events.append((i, e)),
        transport=slow_transport(0, []),
    )
    for index in (0, 1):
        kinds = [e.kind for i, e in events if i == index]
        assert kinds[0] == "response" and kinds[-1] == "done" and "chunk" in kinds


def test_a_failing_target_does_not_stop_the_others() -> None:
    targets = [Target("a", "m1"), Target("b", "broken")]
    result = compare(BODY, targets, URL, transport=slow_transport(0, []))
    ok, broken = result.summaries
    assert (ok.status, ok.state, ok.ok) == (200, "complete", True)
    assert (broken.status, broken.state, broken.error, broken.ok) == (500, "error", "boom", False)
    assert result.fastest is ok


# --- summaries --------------------------------------------------------------------------------


def test_a_summary_from_the_recorded_row_uses_the_databases_figures() -> None:
    row = {
        "id": "c1",
        "provider": "fast",
        "model": "m",
        "status": 200,
        "state": "complete",
        "stream": 1,
        "ttft_ms": 200.0,
        "duration_ms": 1200.0,
        "prompt_tokens": 12,
        "completion_tokens": 50,
        "finish_reason": "stop",
        "error": None,
        "output_text": "x",
    }
    summary = TargetSummary.from_row(0, Target("fast"), row)
    assert summary.tokens_per_s == pytest.approx(50.0)  # 50 tokens in the 1 s after TTFT
    assert (summary.ttft_ms, summary.duration_ms, summary.prompt_tokens) == (200.0, 1200.0, 12)
    assert summary.recorded and summary.ok


def test_each_target_is_priced_and_an_unknown_price_stays_unknown() -> None:
    row = {"id": "c", "provider": "own", "model": "m-1", "status": 200, "state": "complete"}
    own = Provider("own", "https://own.example/v1", prices=(ModelPrice("m-*", 1.0, 4.0),))
    priced = TargetSummary.from_row(
        0, Target("own"), {**row, "prompt_tokens": 1000, "completion_tokens": 500}, Pricer([own])
    )
    assert priced.cost.usd == Decimal("0.003") and priced.cost.text() == "$0.00300"
    unpriced = TargetSummary.from_row(0, Target("own"), row, Pricer([own]))
    assert (unpriced.cost.usd, unpriced.cost.text()) == (None, "—")
    assert unpriced.cost.basis == "no usage recorded"


def test_a_target_the_proxy_did_not_record_is_priced_from_the_client_s_usage() -> None:
    usage = {"prompt_tokens": 1000, "completion_tokens": 500}
    answer = {"model": "m-1", "choices": [{"message": {"content": "hi"}}], "usage": usage}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    own = Provider("own", "https://own.example/v1", prices=(ModelPrice("m-*", 1.0, 4.0),))
    result = compare(
        BODY, [Target("own"), Target("other")], URL, transport=transport, pricer=Pricer([own])
    )
    priced, unpriced = result.summaries
    assert not priced.recorded and priced.cost.usd == Decimal("0.003")
    assert unpriced.cost.usd is None and unpriced.cost.basis == "no price known for model 'm-1'"


def test_without_tokens_or_time_after_the_first_token_there_is_no_speed() -> None:
    row = {"id": "c", "status": 500, "state": "error", "ttft_ms": 30.0, "duration_ms": 30.0}
    summary = TargetSummary.from_row(0, Target("x"), row)
    assert summary.tokens_per_s is None and not summary.ok


def test_compare_with_a_store_sums_up_from_the_recorded_rows(store: CallStore) -> None:
    # Stand in for the proxy: record each call (with its own figures) as it is answered.
    def handler(request: httpx.Request) -> httpx.Response:
        store.db["calls"].insert(  # type: ignore[union-attr]
            {
                "id": request.headers["x-relayscope-call-id"],
                "group_id": request.headers["x-relayscope-group"],
                "provider": request.headers["x-relayscope-provider"],
                "status": 200,
                "state": "complete",
                "stream": 1,
                "ttft_ms": 100.0,
                "duration_ms": 600.0,
                "completion_tokens": 10,
                "output_text": "recorded",
            }
        )
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=stream_of("m")
        )

    result = compare(
        BODY, [Target("a"), Target("b")], URL, store=store, transport=httpx.MockTransport(handler)
    )
    for summary in result.summaries:
        assert summary.recorded
        assert (summary.duration_ms, summary.output_text) == (600.0, "recorded")
        assert summary.tokens_per_s == pytest.approx(20.0)
    rows = store.list_calls(limit=10)
    assert {r["group_id"] for r in rows} == {result.group.id}


# --- groups -----------------------------------------------------------------------------------


def run_saved(store: CallStore, **kw: Any) -> CompareResult:
    targets = [Target("a", "m1"), Target(None, "m2")]
    transport = slow_transport(0, [])
    return compare(BODY, targets, URL, store=store, record_timeout=0, transport=transport, **kw)


def test_a_compare_is_saved_as_a_group_and_loads_back(store: CallStore) -> None:
    result = run_saved(store, name="a vs b", source_call_id="c0")
    group = load_group(store, result.group.id[:14])
    assert group == result.group
    assert (group.kind, group.name, group.path) == ("compare", "a vs b", "/v1/chat/completions")
    assert group.targets == (Target("a", "m1"), Target(None, "m2"))
    assert group.body() == BODY and group.source_call_id == "c0"
    assert list_groups(store) == [group]


def test_an_unknown_group_says_so(store: CallStore) -> None:
    with pytest.raises(StoreError, match="No comparison group"):
        load_group(store, "nope")


def test_rerun_sends_the_same_request_to_the_same_targets_as_a_new_group(store: CallStore) -> None:
    first = run_saved(store)
    seen: list[httpx.Request] = []
    again = rerun(
        first.group, URL, store=store, record_timeout=0, transport=slow_transport(0, seen)
    )
    assert again.group.id != first.group.id
    assert again.group.targets == first.group.targets
    assert again.group.request_body == first.group.request_body
    assert sorted(json.loads(r.content)["model"] for r in seen) == ["m1", "m2"]
    assert {g.id for g in list_groups(store)} == {first.group.id, again.group.id}


def test_every_groups_column_is_in_the_readme(store: CallStore) -> None:
    columns = [c.name for c in store.db["groups"].columns]  # type: ignore[union-attr]
    assert "`groups`" in README
    assert [c for c in columns if f"`{c}`" not in README] == []


def test_a_reopened_group_gives_each_target_its_own_call_whichever_started_first() -> None:
    # The copies run at once: the mini call may have started before the one sent as is.
    mini = {"id": "a", "provider": "fast", "model": "gpt-4.1-mini", "output_text": "mini"}
    as_is = {"id": "b", "provider": "fast", "model": "gpt-5.2", "output_text": "as is"}
    other = {"id": "c", "provider": "slow", "model": "gpt-5.2", "output_text": "slow"}
    targets = [Target("fast"), Target("fast", "gpt-4.1-mini"), Target(None, "gpt-5.2")]
    for rows in ([mini, as_is, other], [other, as_is, mini], [as_is, mini, other]):
        matched = match_rows(targets, rows)
        assert [s.call_id if s else None for s in matched] == ["b", "a", "c"], rows
    lost = match_rows([Target("fast", "gpt-4.1-mini"), Target("fast")], [as_is])
    assert [s.call_id if s else None for s in lost] == [None, "b"]
