"""What reading a session produces: its turns, each turn's calls, and their sums."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from relayscope.analysis.cost import CostTotal, TokenUsage
from relayscope.calls.record import CallRecord


@dataclass(slots=True)
class CallEntry:
    call: CallRecord
    usage: TokenUsage | None
    cost: CostTotal
    retry: bool = False
    cache_miss: str = ""  # why the prompt cache missed, when it did
    side: str = ""  # "sub-agent: …" or "side call: …" for a call outside the main conversation
    retry_after: str = ""  # what went wrong with the request a retry resends ("HTTP 529")


@dataclass(slots=True)
class TurnReport:
    index: int
    turn_id: str
    calls: list[CallEntry] = field(default_factory=list)
    context: dict[str, int] = field(default_factory=dict)
    growth_chars: int = 0
    compacted: bool = False
    new_input: str = ""
    cumulative_cost: CostTotal = field(default_factory=CostTotal)
    cumulative_tokens: TokenUsage = field(default_factory=TokenUsage)

    @property
    def tokens(self) -> TokenUsage:
        return _sum_usage(c.usage for c in self.calls)

    @property
    def cost(self) -> CostTotal:
        return _sum_cost(c.cost for c in self.calls)

    @property
    def cache_hit_rate(self) -> float | None:
        return hit_rate(c.call for c in self.calls)

    @property
    def context_chars(self) -> int:
        return sum(self.context.values())


@dataclass(slots=True)
class SessionReport:
    id: str
    client: str
    started_at: str
    duration_ms: float
    turns: list[TurnReport]

    @property
    def calls(self) -> list[CallEntry]:
        return [c for t in self.turns for c in t.calls]

    @property
    def tokens(self) -> TokenUsage:
        return _sum_usage(c.usage for c in self.calls)

    @property
    def cost(self) -> CostTotal:
        return _sum_cost(c.cost for c in self.calls)


def _sum_usage(usages: Iterable[TokenUsage | None]) -> TokenUsage:
    total = TokenUsage()
    for usage in usages:
        total = total + usage if usage is not None else total
    return total


def _sum_cost(costs: Iterable[CostTotal]) -> CostTotal:
    total = CostTotal()
    for cost in costs:
        total = total + cost
    return total


def hit_rate(calls: Iterable[CallRecord]) -> float | None:
    """Cached input / input over calls that reported cached tokens; None if none did."""
    cached = total = 0
    for call in calls:
        reported, prompt = call.get("cached_tokens"), call.get("prompt_tokens")
        if reported is not None and prompt:
            cached += reported
            total += prompt
    return cached / total if total else None


def ms(started_at: object) -> float:
    """A recorded start time in ms since the epoch (0 when it does not parse)."""
    try:
        return datetime.fromisoformat(str(started_at)).timestamp() * 1000
    except ValueError:
        return 0.0


def end_ms(call: CallRecord) -> float:
    """When a call ended, in ms since the epoch (its start when it has no duration)."""
    return ms(call.get("started_at")) + float(call.get("duration_ms") or 0)
