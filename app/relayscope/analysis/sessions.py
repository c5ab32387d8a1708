"""Agent sessions: their turns and calls, tokens and cost, what fills the context, and why
the prompt cache missed.

A **session** is a Codex session (calls carrying `session_id`) or, for agents that send no
ids (chat completions: Aider, Cline, the SDKs), a **chain**: calls whose conversation extends
the previous call's (its messages start with the earlier call's messages), from the same
client; a chain's id is `chain-` + its first call's id.

A **turn** is one input from the person and every model call made to answer it: Codex's
`turn_id` when it sent one, else a call starts a new turn when the items that follow what it
shares with the previous call's request hold a new user message (tool results and the model's
own items continue the turn). A call whose request equals the one before it is a **retry** of it.

Context sizes are characters of the JSON sent, and tokens estimated as characters / 4 (no
tokenizer: the figures show proportions and growth, not a bill).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from relayscope.actions.diff import canonical_json
from relayscope.analysis.cost import CostTotal, Pricer, TokenUsage, usage_from_row
from relayscope.protocols.prompts import (
    CHARS_PER_TOKEN,
    Prompt,
    context_parts,
    first_divergence,
    item_role,
    new_input_start,
    read_prompt,
)
from relayscope.store.call_store import CallStore

#: Prompt caches keep a prefix for about 5 minutes of inactivity (OpenAI and Anthropic's
#: default); a longer pause explains a miss on its own.
CACHE_LIFETIME_MS = 5 * 60 * 1000
#: Providers cache only prompts at least this long (OpenAI: 1,024 tokens); a shorter one
#: missing the cache is expected, not a finding.
MIN_CACHEABLE_TOKENS = 1024
CHAIN_PREFIX = "chain-"


# --- sessions, turns, calls -----------------------------------------------------------------


@dataclass(slots=True)
class CallEntry:
    call: dict[str, Any]
    usage: TokenUsage | None
    cost: CostTotal
    retry: bool = False
    cache_miss: str = ""  # why the prompt cache missed, when it did


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


def hit_rate(calls: Iterable[Mapping[str, Any]]) -> float | None:
    """Cached input / input over calls that reported cached tokens; None if none did."""
    cached = total = 0
    for call in calls:
        if call.get("cached_tokens") is not None and call.get("prompt_tokens"):
            cached += int(call["cached_tokens"])
            total += int(call["prompt_tokens"])
    return cached / total if total else None


def _ms(started_at: object) -> float:
    try:
        return datetime.fromisoformat(str(started_at)).timestamp() * 1000
    except ValueError:
        return 0.0


def _end_ms(call: Mapping[str, Any]) -> float:
    return _ms(call.get("started_at")) + float(call.get("duration_ms") or 0)


def chains(calls: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Calls without a session id grouped into chains (oldest call first in each)."""
    open_chains: list[tuple[str, str, tuple[str, ...], list[dict[str, Any]]]] = []
    for call in sorted(calls, key=lambda c: str(c.get("started_at") or "")):
        prompt = read_prompt(call.get("request_body"))
        if prompt is None or not prompt.items:
            continue
        key = tuple(canonical_json(i) for i in prompt.items)
        client = str(call.get("client") or "")
        for index in range(len(open_chains) - 1, -1, -1):
            chain_id, chain_client, last, members = open_chains[index]
            if chain_client == client and key[: len(last)] == last:
                members.append(call)
                open_chains[index] = (chain_id, client, key, members)
                break
        else:
            open_chains.append((CHAIN_PREFIX + str(call["id"]), client, key, [call]))
    return {chain_id: members for chain_id, _, _, members in open_chains}


def analyse_session(
    session_id: str,
    calls: Sequence[dict[str, Any]],
    pricer: Pricer,
    *,
    cache_lifetime_ms: float = CACHE_LIFETIME_MS,
    min_cacheable: int = MIN_CACHEABLE_TOKENS,
) -> SessionReport:
    """Turns, calls, tokens, cost, context and prompt-cache findings of one session's calls."""
    ordered = sorted(calls, key=lambda c: str(c.get("started_at") or ""))
    turns: list[TurnReport] = []
    previous: tuple[dict[str, Any], Prompt | None] | None = None
    for call in ordered:
        prompt = read_prompt(call.get("request_body"))
        entry = CallEntry(call, usage_from_row(call), CostTotal().add(pricer.price(call)))
        if previous is not None:
            entry.retry = _same_request(previous[0], call)
        if _starts_turn(call, prompt, previous, turns):
            turns.append(TurnReport(len(turns) + 1, str(call.get("turn_id") or "")))
            if prompt is not None:
                turns[-1].new_input = _input_text(prompt)
        if previous is not None and not entry.retry:
            entry.cache_miss = _cache_miss(
                previous, call, prompt, cache_lifetime_ms=cache_lifetime_ms, minimum=min_cacheable
            )
        turn = turns[-1]
        turn.calls.append(entry)
        if prompt is not None:
            first = read_prompt(turn.calls[0].call.get("request_body")) or prompt
            new = range(new_input_start(first), len(first.items))
            turn.context = context_parts(prompt, new)
        previous = (call, prompt)
    _totals(turns)
    first_call = ordered[0] if ordered else {}
    duration = max((_end_ms(c) for c in ordered), default=0.0) - _ms(first_call.get("started_at"))
    return SessionReport(
        id=session_id,
        client=str(first_call.get("client") or ""),
        started_at=str(first_call.get("started_at") or ""),
        duration_ms=max(0.0, duration) if ordered else 0.0,
        turns=turns,
    )


def _same_request(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return bool(a.get("request_body")) and a.get("request_body") == b.get("request_body")


def _starts_turn(
    call: Mapping[str, Any],
    prompt: Prompt | None,
    previous: tuple[dict[str, Any], Prompt | None] | None,
    turns: list[TurnReport],
) -> bool:
    if previous is None or not turns:
        return True
    turn_id = call.get("turn_id")
    if turn_id:
        return bool(turn_id != turns[-1].turn_id)
    if _same_request(previous[0], call):
        return False
    before = previous[1]
    if prompt is None or before is None:
        return True
    shared = 0  # items the two requests have in common from the start
    for a, b in zip(before.items, prompt.items, strict=False):
        if canonical_json(a) != canonical_json(b):
            break
        shared += 1
    return any(item_role(item) == "user" for item in prompt.items[shared:])


def _input_text(prompt: Prompt) -> str:
    from relayscope.protocols.conversation import content_text

    for item in reversed(prompt.items):
        if item_role(item) == "user" and isinstance(item, dict):
            text = content_text(item.get("content"))
            if text:
                return text
    return ""


def _cache_miss(
    previous: tuple[dict[str, Any], Prompt | None],
    call: Mapping[str, Any],
    prompt: Prompt | None,
    *,
    cache_lifetime_ms: float,
    minimum: int,
) -> str:
    """Why this call's cached tokens cover less than half of the previous prompt ('' if they
    do, or if the provider does not report cached tokens)."""
    before_call, before = previous
    reusable = int(before_call.get("prompt_tokens") or 0)
    cached = call.get("cached_tokens")
    if cached is None or reusable < minimum or int(cached) * 2 >= reusable:
        return ""
    gap = _ms(call.get("started_at")) - _end_ms(before_call)
    if gap > cache_lifetime_ms:
        return (
            f"a pause of {gap / 60_000:.1f} min since the previous call, longer than the "
            f"cache lifetime ({cache_lifetime_ms / 60_000:g} min)"
        )
    if prompt is not None and before is not None:
        where = first_divergence(before, prompt)
        if where:
            return f"the prompt diverged from the previous call's: {where}"
    return (
        "the prompt repeats the previous one within the cache lifetime; the provider did not "
        "reuse its cache (another server, or an eviction)"
    )


def _totals(turns: list[TurnReport]) -> None:
    cost, tokens, chars = CostTotal(), TokenUsage(), 0
    for turn in turns:
        cost, tokens = cost + turn.cost, tokens + turn.tokens
        turn.cumulative_cost, turn.cumulative_tokens = cost, tokens
        turn.growth_chars = turn.context_chars - chars
        # A context that shrinks by a third or more was compacted (summarised or cut).
        turn.compacted = bool(chars) and turn.context_chars < chars * 2 / 3
        chars = turn.context_chars


# --- the list of sessions -------------------------------------------------------------------

#: Calls without a session id that are read to find chains (the newest ones).
CHAIN_LIMIT = 5000
_LIGHT = (
    "id",
    "started_at",
    "session_id",
    "turn_id",
    "provider",
    "model",
    "response_model",
    "client",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "duration_ms",
)


@dataclass(frozen=True, slots=True)
class SessionSummary:
    id: str
    client: str
    started_at: str
    turns: int
    calls: int
    tokens: TokenUsage
    cost: CostTotal
    duration_ms: float
    cache_hit_rate: float | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "client": self.client,
            "started_at": self.started_at,
            "turns": self.turns,
            "calls": self.calls,
            "tokens": tokens_json(self.tokens),
            "cache_hit_rate": self.cache_hit_rate,
            "cost": self.cost.as_json(),
            "duration_ms": round(self.duration_ms, 1),
        }


def tokens_json(tokens: TokenUsage) -> dict[str, int]:
    return {
        "input": tokens.input_tokens,
        "cached": tokens.cache_read_tokens,
        "output": tokens.output_tokens,
        "reasoning": tokens.reasoning_tokens,
    }


def summary_of(report: SessionReport) -> SessionSummary:
    return SessionSummary(
        id=report.id,
        client=report.client,
        started_at=report.started_at,
        turns=len(report.turns),
        calls=len(report.calls),
        tokens=report.tokens,
        cost=report.cost,
        duration_ms=report.duration_ms,
        cache_hit_rate=hit_rate(c.call for c in report.calls),
    )


def list_sessions(store: CallStore, pricer: Pricer) -> list[SessionSummary]:
    """Every session, newest first: Codex sessions, then chains found among the newest
    CHAIN_LIMIT calls without ids."""
    by_session: dict[str, list[dict[str, Any]]] = {}
    for call in store.calls_in_sessions(_LIGHT):
        by_session.setdefault(str(call["session_id"]), []).append(call)
    summaries = []
    for session_id, calls in by_session.items():
        if not all(c.get("turn_id") for c in calls):
            calls = store.session_calls(session_id)  # turns need the requests
        summaries.append(summary_of(analyse_session(session_id, calls, pricer)))
    for chain_id, calls in chains(store.conversation_calls(limit=CHAIN_LIMIT)).items():
        summaries.append(summary_of(analyse_session(chain_id, calls, pricer)))
    return sorted(summaries, key=lambda s: s.started_at, reverse=True)


def load_session(store: CallStore, session_id: str, pricer: Pricer) -> SessionReport | None:
    """One session's report by its id (a chain's id names its first call)."""
    if session_id.startswith(CHAIN_PREFIX):
        found = chains(store.conversation_calls(limit=CHAIN_LIMIT)).get(session_id)
        return analyse_session(session_id, found, pricer) if found else None
    calls = store.session_calls(session_id)
    return analyse_session(session_id, calls, pricer) if calls else None


def report_json(report: SessionReport) -> dict[str, Any]:
    """A session report for `relayscope session ID --json`."""
    return summary_of(report).as_json() | {
        "context_unit": "characters of the JSON sent; tokens estimated as characters / 4",
        "turns": [_turn_json(turn) for turn in report.turns],
    }


def _turn_json(turn: TurnReport) -> dict[str, Any]:
    return {
        "index": turn.index,
        "turn_id": turn.turn_id or None,
        "started_at": turn.calls[0].call.get("started_at") if turn.calls else None,
        "new_input": turn.new_input,
        "tokens": tokens_json(turn.tokens),
        "cost": turn.cost.as_json(),
        "cumulative_tokens": tokens_json(turn.cumulative_tokens),
        "cumulative_cost": turn.cumulative_cost.as_json(),
        "cache_hit_rate": turn.cache_hit_rate,
        "context_chars": dict(turn.context),
        "context_tokens_estimate": turn.context_chars // CHARS_PER_TOKEN,
        "growth_chars": turn.growth_chars,
        "compacted": turn.compacted,
        "calls": [
            {
                "id": entry.call.get("id"),
                "status": entry.call.get("status"),
                "state": entry.call.get("state"),
                "retry": entry.retry,
                "tokens": tokens_json(entry.usage or TokenUsage()),
                "cost": entry.cost.as_json(),
                "cache_hit_rate": hit_rate([entry.call]),
                "cache_miss": entry.cache_miss or None,
            }
            for entry in turn.calls
        ],
    }
