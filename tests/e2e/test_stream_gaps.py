"""The gaps a user reads for a stream, recorded through the real worker: a provider that
waits a known time between its events (the fake, on a loopback socket), the openai SDK as
the client, and what the call list's Gaps column and the inspector's stream tab show.

A busy machine delays reads: one gap can come out short and the next long, so the checks
are on the typical gap and the whole span, and the span's bounds follow from causality
(the provider waited before it sent the last event; the client had it when it stopped
waiting), not from timing.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from pytestqt.qtbot import QtBot

from relayscope.analysis.stream_stats import PROFILE_BINS
from relayscope.ui.call_rows import parse_gap_profile
from relayscope.ui.inspector.stream_tab import StreamTab
from tests.e2e.conftest import FAKE_KEY
from tests.fakes.provider import FakeProvider
from tests.support.worker import WorkerProcess

DELAY_MS = 60.0  # what the provider waits between two events
WORDS = 20  # 24 events: fewer gaps than the sparkline has bars, so one bar a gap


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(name="fake", api_key=FAKE_KEY, words=WORDS) as provider:
        yield provider


# `worker` is tests/e2e/conftest.py's, over this module's `fake`.


def stream(worker: WorkerProcess, delay_ms: float) -> float:
    """One streamed chat call with the provider waiting `delay_ms` between events, read to
    its end by the SDK; how long the client waited for all of it (ms)."""
    with openai.OpenAI(base_url=worker.base_url, api_key="sk-client", max_retries=0) as client:
        started = time.monotonic()
        events = client.chat.completions.create(
            model="fake-1",
            messages=[{"role": "user", "content": "count slowly"}],
            stream=True,
            extra_headers={"x-fake-delay": str(delay_ms / 1000)},
        )
        words = "".join(e.choices[0].delta.content or "" for e in events if e.choices)
        waited = (time.monotonic() - started) * 1000
    assert len(words.split()) == WORDS
    return waited


def recorded_gaps(worker: WorkerProcess, row: dict[str, Any]) -> tuple[list[float], list[float]]:
    """The call's chunk arrival times (ms since its request) and its Gaps sparkline's bars,
    as the database holds them for the list and the inspector."""
    store = worker.store()
    try:
        times = [float(chunk["t_ms"]) for chunk in store.chunks(row["id"])]
    finally:
        store.close()
    profile = parse_gap_profile(row["gap_profile"])
    assert profile is not None, row["gap_profile"]
    return times, profile[0]


def test_the_recorded_gaps_are_the_providers_pauses(
    worker: WorkerProcess, fake: FakeProvider, qtbot: QtBot, qapp: Any
) -> None:
    waited_ms = stream(worker, DELAY_MS)
    stream(worker, 0)
    paused, steady = worker.wait_for_calls(2, state="complete", timeout=30)
    sent = len(fake.sent_events(0))
    times, bars = recorded_gaps(worker, paused)
    assert len(times) == sent and WORDS < sent <= PROFILE_BINS + 1

    # Chunk arrival times (the inspector's Time column): the provider waited (sent - 1)
    # pauses after the proxy took the request, and the client had every event by the time
    # it stopped waiting.
    assert times == sorted(times)
    assert (sent - 1) * DELAY_MS - 1 <= times[-1] <= waited_ms
    # The Gaps column: one bar per gap at this length, together the whole span, the typical
    # one the provider's pause; its figure is the longest bar.
    assert len(bars) == sent - 1
    assert sum(bars) == pytest.approx(times[-1] - times[0], abs=0.1 * len(bars))
    assert times[-1] - times[0] >= (sent - 1) * DELAY_MS * 0.7
    assert DELAY_MS * 0.6 <= statistics.median(bars) <= DELAY_MS * 4
    assert paused["max_gap_ms"] == max(bars)
    assert json.loads(paused["gap_profile"])["stall"] >= 1000  # a steady stream: no stall

    # The same stream without pauses arrives in a burst: the bars come from the provider's
    # pauses, not from the path through the proxy.
    steady_times, steady_bars = recorded_gaps(worker, steady)
    assert len(steady_times) == sent
    assert statistics.median(steady_bars) < DELAY_MS * 0.25

    # The inspector's stream tab on the same call: its times, and the typical gap it states.
    store = worker.store()
    try:
        call, chunks = store.get_call(paused["id"]), store.chunks(paused["id"])
    finally:
        store.close()
    assert call is not None
    tab = StreamTab()
    qtbot.addWidget(tab)
    tab.set_call(call, chunks)
    assert list(tab.model.times()) == times
    median = tab.analysis.gap_median_ms
    assert median is not None and DELAY_MS * 0.6 <= median <= DELAY_MS * 4
    assert f"{sent} chunks" in tab.summary.text()
