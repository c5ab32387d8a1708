"""A live stream's gap profile, kept up to date chunk by chunk.

The call list's Gaps sparkline (`relayscope.analysis.stream_stats.gap_profile`) is rewritten
twice a second while a stream runs. Computed from scratch, each rewrite walks and sorts every
gap so far, so a long stream cost the recorder time in proportion to the square of its
length. `GapProfile` keeps what those rewrites need as the chunks come:

- the gaps in order, with the maximum of every aligned block of 2, 4, 8, ... gaps, so the
  longest gap of any run of chunks takes O(log n) steps (the sparkline's runs move as the
  stream grows, so their maxima cannot simply be kept);
- the gaps in two heaps split at the median, so the median (and from it the stall
  threshold) is read without sorting.

A chunk costs O(1) amortized plus two O(log n) heap steps, and a rewrite of the profile
24 O(log n) range queries. The result is the same, byte for byte, as `gap_profile` of the
same times (a test compares both on random streams).
"""

from __future__ import annotations

import heapq
import json
from typing import Any

from relayscope.analysis.stream_stats import PROFILE_BINS, GapStats, stall_threshold_ms


class GapProfile:
    """The chunk times of one stream, reduced to what its gap profile needs."""

    __slots__ = ("_count", "_high", "_last", "_levels", "_low")

    def __init__(self) -> None:
        self._last: float | None = None
        # _levels[0] holds the gaps; _levels[k][i] the longest of gaps [i * 2**k, (i+1) * 2**k).
        self._levels: list[list[float]] = [[]]
        self._low: list[float] = []  # the smaller half of the gaps, negated (a max-heap)
        self._high: list[float] = []  # the larger half (a min-heap)
        self._count = 0  # chunk times seen

    def __len__(self) -> int:
        return self._count

    def add(self, t_ms: float) -> None:
        """The next chunk's arrival time (in the order the chunks are numbered)."""
        self._count += 1
        last, self._last = self._last, t_ms
        if last is None:
            return
        gap = t_ms - last
        self._add_to_levels(gap)
        self._add_to_halves(gap)

    def _add_to_levels(self, gap: float) -> None:
        levels = self._levels
        levels[0].append(gap)
        index = len(levels[0]) - 1
        k = 0
        # A block is complete when its last gap arrives: its maximum goes one level up.
        while index & 1:
            below = levels[k]
            if k + 1 == len(levels):
                levels.append([])
            levels[k + 1].append(max(below[index - 1], below[index]))
            index >>= 1
            k += 1

    def _add_to_halves(self, gap: float) -> None:
        # _low keeps the ceil(n/2) smallest gaps: its top is the sorted list's [(n-1)//2].
        if self._low and gap > -self._low[0]:
            heapq.heappush(self._high, gap)
        else:
            heapq.heappush(self._low, -gap)
        if len(self._low) > len(self._high) + 1:
            heapq.heappush(self._high, -heapq.heappop(self._low))
        elif len(self._high) > len(self._low):
            heapq.heappush(self._low, -heapq.heappop(self._high))

    def _longest(self, start: int, stop: int) -> float:
        """The longest of gaps [start, stop) (not empty), from whole aligned blocks."""
        levels = self._levels
        best: float | None = None
        k = 0
        while start < stop:
            if start & 1:
                value = levels[k][start]
                best = value if best is None else max(best, value)
                start += 1
            if stop & 1:
                stop -= 1
                value = levels[k][stop]
                best = value if best is None else max(best, value)
            start >>= 1
            stop >>= 1
            k += 1
        assert best is not None
        return best

    def _median(self) -> float:
        """`percentile(sorted(gaps), 0.5)`, with the same arithmetic (so the same bits)."""
        n = len(self._levels[0])
        low_value = -self._low[0]
        high_value = self._high[0] if n > 1 else low_value
        position = (n - 1) * 0.5
        low = position // 1
        return low_value + (high_value - low_value) * (position - low)

    def profile(self, bins: int = PROFILE_BINS) -> dict[str, Any] | None:
        """What `gap_profile` returns for the times added so far."""
        total = len(self._levels[0])
        if not total:
            return None
        count = min(bins, total)
        maxima = [
            round(self._longest(i * total // count, (i + 1) * total // count), 1)
            for i in range(count)
        ]
        stall = stall_threshold_ms(GapStats(self._median(), None, None, None))
        return {"max": maxima, "stall": round(stall, 1)}

    def fields(self) -> dict[str, Any]:
        """`max_gap_ms` and `gap_profile` for the calls row (nothing below two chunks)."""
        profile = self.profile()
        if profile is None:
            return {}
        return {
            "max_gap_ms": max(profile["max"]),
            "gap_profile": json.dumps(profile, separators=(",", ":")),
        }
