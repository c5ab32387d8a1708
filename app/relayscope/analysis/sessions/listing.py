"""Sessions read from the store (the list, one session by id) and written as JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relayscope.analysis.cost import CostTotal, Pricer, TokenUsage
from relayscope.analysis.sessions.reading import CHAIN_PREFIX, analyse_session, chains
from relayscope.analysis.sessions.report import SessionReport, TurnReport, hit_rate
from relayscope.calls.record import CallRecord, typed
from relayscope.protocols.prompts import CHARS_PER_TOKEN
from relayscope.store.call_store import CallStore

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
    by_session: dict[str, list[CallRecord]] = {}
    for call in _records(store.calls_in_sessions(_LIGHT)):
        by_session.setdefault(str(call["session_id"]), []).append(call)
    summaries = []
    for session_id, calls in by_session.items():
        if not all(c.get("turn_id") for c in calls):
            calls = _records(store.session_calls(session_id))  # turns need the requests
        summaries.append(summary_of(analyse_session(session_id, calls, pricer)))
    for chain_id, calls in chains(_records(store.conversation_calls(limit=CHAIN_LIMIT))).items():
        summaries.append(summary_of(analyse_session(chain_id, calls, pricer)))
    return sorted(summaries, key=lambda s: s.started_at, reverse=True)


def load_session(store: CallStore, session_id: str, pricer: Pricer) -> SessionReport | None:
    """One session's report by its id (a chain's id names its first call)."""
    if session_id.startswith(CHAIN_PREFIX):
        found = chains(_records(store.conversation_calls(limit=CHAIN_LIMIT))).get(session_id)
        return analyse_session(session_id, found, pricer) if found else None
    calls = _records(store.session_calls(session_id))
    return analyse_session(session_id, calls, pricer) if calls else None


def _records(rows: list[dict[str, Any]]) -> list[CallRecord]:
    """The store's three session reads return `calls` rows as plain dicts (their signatures
    change with the call store's rewrite, in progress elsewhere); they are whole rows or the
    `_LIGHT` columns, read here as the `CallRecord`s they are."""
    return [typed(row) for row in rows]


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
                "retry_after": entry.retry_after or None,
                "side": entry.side or None,
                "tokens": tokens_json(entry.usage or TokenUsage()),
                "cost": entry.cost.as_json(),
                "cache_hit_rate": hit_rate([entry.call]),
                "cache_miss": entry.cache_miss or None,
            }
            for entry in turn.calls
        ],
    }
