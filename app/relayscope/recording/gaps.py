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

A chunk costs an append, and once folded O(1) amortized block maxima and two O(log n) heap
steps; a rewrite of the profile adds 24 O(log n) range queries. The result is the same,
byte for byte, as `gap_profile` of the same times (a test compares both on random streams).
"""

from __future__ import annotations

import heapq
import json
import operator
from array import array
from typing import Any

from relayscope.analysis.stream_stats import PROFILE_BINS, GapStats, stall_threshold_ms


class GapProfile:
    """The chunk times of one stream, reduced to what its gap profile needs.

    `add` only appends the time (it runs once per chunk, on the recorder's hot path); the
    gaps that came since the last profile are folded in when the next one is asked for, in
    bulk, so that work is done once per chunk and mostly at C speed.
    """

    __slots__ = ("_folded", "_high", "_levels", "_low", "_times")

    def __init__(self) -> None:
        # Times and block maxima as C doubles (8 bytes each, the same bits as the floats):
        # a long stream keeps several values per chunk here.
        self._times = array("d")
        self._folded = 0  # how many of the times are folded into the structures below
        # _levels[0] holds the gaps; _levels[k][i] the longest of gaps [i * 2**k, (i+1) * 2**k).
        self._levels: list[array[float]] = [array("d")]
        self._low: list[float] = []  # the smaller half of the gaps, negated (a max-heap)
        self._high: list[float] = []  # the larger half (a min-heap)

    def __len__(self) -> int:
        return len(self._times)

    def add(self, t_ms: float) -> None:
        """The next chunk's arrival time (in the order the chunks are numbered)."""
        self._times.append(t_ms)

    def _fold(self) -> None:
        """Fold the gaps of the times added since the last call into the block maxima and
        the two halves."""
        times = self._times
        start = max(self._folded, 1)
        self._folded = len(times)
        if start >= len(times):
            return
        new = list(map(operator.sub, times[start:], times[start - 1 : -1]))
        levels = self._levels
        levels[0].extend(new)
        k = 0
        # Each level gains the maxima of the blocks the level below has just completed.
        while True:
            below = levels[k]
            if k + 1 == len(levels):
                levels.append(array("d"))
            above = levels[k + 1]
            first, end = len(above), len(below) // 2
            if end <= first:
                break
            above.extend(
                map(max, below[2 * first : 2 * end : 2], below[2 * first + 1 : 2 * end : 2])
            )
            k += 1
        # _low keeps the ceil(n/2) smallest gaps (its top is sorted(gaps)[(n-1)//2]), _high
        # the rest: each new gap goes through the other half so both stay ordered.
        low, high = self._low, self._high
        push, pushpop = heapq.heappush, heapq.heappushpop
        gaps = iter(new)
        if len(low) > len(high):  # an odd count so far: the next gap evens the halves
            push(high, -pushpop(low, -next(gaps)))
        # In pairs, as the halves' sizes alternate; zip drops an odd last gap, pushed below.
        for first_gap, second_gap in zip(gaps, gaps, strict=False):
            push(low, -pushpop(high, first_gap))
            push(high, -pushpop(low, -second_gap))
        if len(low) + len(high) < len(levels[0]):  # zip took the odd last gap and dropped it
            push(low, -pushpop(high, new[-1]))

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
        self._fold()
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
