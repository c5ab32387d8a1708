"""GapProfile: the live gap profile kept chunk by chunk is the one rebuilt from all times."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from relayscope.analysis.stream_stats import gap_profile
from relayscope.recording.gaps import GapProfile


def rebuilt(times: list[float]) -> dict[str, Any]:
    """What the recorder stored before: the profile rebuilt from every chunk time."""
    profile = gap_profile(times)
    if profile is None:
        return {}
    return {
        "max_gap_ms": max(profile["max"]),
        "gap_profile": json.dumps(profile, separators=(",", ":")),
    }


def assert_same_after_every_chunk(times: list[float], every: int = 1) -> None:
    """Compared after every `every`-th chunk and after the last (the finished stream)."""
    kept = GapProfile()
    assert kept.fields() == rebuilt([])
    for n, t in enumerate(times, 1):
        kept.add(t)
        if n % every == 0 or n == len(times):
            assert len(kept) == n
            assert kept.fields() == rebuilt(times[:n]), f"after {n} chunks"


def random_stream(rng: random.Random, n: int) -> list[float]:
    """Arrival times rounded like the recorder's (to the µs), with the things that matter:
    ties, bursts of equal times, stalls far past the median, and a few out of order (a
    WebSocket's two directions share one numbering)."""
    t = rng.uniform(0, 500)
    times = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.15:
            step = 0.0
        elif kind < 0.18:
            step = rng.uniform(1000, 30_000)  # a stall
        elif kind < 0.20:
            step = -rng.uniform(0, 50)
        else:
            step = rng.choice([rng.expovariate(1 / 20), float(rng.randint(1, 40))])
        t += step
        times.append(round(t, 3))
    return times


def test_random_streams_of_every_length_match_the_rebuilt_profile() -> None:
    rng = random.Random(17)
    for n in (*range(0, 60), 97, 240):
        assert_same_after_every_chunk(random_stream(rng, n))
        # Profiles asked for every few chunks: the gaps since the last one come in together.
        assert_same_after_every_chunk(random_stream(rng, n), every=rng.randint(2, 7))
    for n in (1000, 4099):  # long ones: every 13th chunk (the rebuild is what is slow)
        assert_same_after_every_chunk(random_stream(rng, n), every=13)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e7, allow_nan=False), max_size=120))
def test_any_times_match_the_rebuilt_profile(times: list[float]) -> None:
    assert_same_after_every_chunk(times)


def test_a_stall_is_never_averaged_away_and_raises_the_threshold_only_with_the_median() -> None:
    kept = GapProfile()
    times = [20.0 * i for i in range(5000)]
    times[3001:] = [t + 4000.0 for t in times[3001:]]  # one 4 s silence in a 20 ms stream
    for t in times:
        kept.add(t)
    profile = json.loads(kept.fields()["gap_profile"])
    assert len(profile["max"]) == 24  # downsampled to the sparkline's bars
    assert max(profile["max"]) == 4020.0 and profile["max"].count(4020.0) == 1
    assert profile["stall"] == 1000.0  # 10 × the 20 ms median is below the 1 s floor
    assert kept.fields()["max_gap_ms"] == 4020.0
