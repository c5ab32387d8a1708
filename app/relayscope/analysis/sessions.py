"""Agent sessions: their turns and calls, tokens and cost, what fills the context, and why
the prompt cache missed.

A **session** is a Codex session (calls carrying `session_id`) or, for agents that send no
ids (chat completions: Aider, Cline, the SDKs), a **chain**: calls whose conversation extends
the previous call's (its messages start with the earlier call's messages), from the same
client; a chain's id is `chain-` + its first call's id.

A session's calls are read as **conversations**: a call continues the conversation whose last
request its messages extend (`cache_control` marks aside), else it opens one. The **main**
conversation is the one the person talks to; a conversation opened while the main one is still
to continue (the main one has a later call) is a **side conversation**: a sub-agent (Claude
Code's Task tool, which runs with its own system prompt and a fresh conversation interleaved
with its parent's; Codex's the same) or a helper call (a title, a command's prefix). Its calls
are marked and never start a turn. A conversation opened once the main one has stopped (a
compaction, a /clear, a rewritten first message) becomes the main one.

A conversation of one call whose tools differ from the main one's (a quota check before the
first turn, a title after the last) is a helper too. Side calls join the turn of the main call
that follows them (the last turn when none follows).

A **turn** is one input from the person and every model call made to answer it: Codex's
`turn_id` when it sent one, else a main call starts a new turn when the items that follow what
it shares with the previous main call's request hold a new user message (tool results, also
Anthropic's `tool_result` blocks in a user message, and the model's own items continue the
turn). A call whose request equals the previous one of its conversation is a **retry** of it.

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
    ItemSizes,
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
    prompts = [read_prompt(call.get("request_body")) for call in ordered]
    threads = _conversations(prompts)
    last_of = {thread: position for position, thread in enumerate(threads)}
    turns: list[TurnReport] = []
    main: int | None = None
    previous: tuple[dict[str, Any], Prompt | None] | None = None  # the last main call
    last_in: dict[int, tuple[dict[str, Any], Prompt | None]] = {}  # each conversation's last
    side_labels: dict[int, str] = {}
    prompts_of: dict[int, tuple[Prompt, Prompt]] = {}  # turn index → (first, last) main prompt
    pending: list[CallEntry] = []  # side calls, waiting for the next main call's turn
    for position, (call, prompt) in enumerate(zip(ordered, prompts, strict=True)):
        thread = threads[position]
        entry = CallEntry(call, usage_from_row(call), CostTotal().add(pricer.price(call)))
        side = thread != main and (
            (main is not None and last_of[main] > position)
            or _helper(position, threads, prompts, main, last_in)
        )
        if side:
            if thread not in side_labels:
                histories = [prompts[p] for p in last_of.values()]  # each one's longest
                side_labels[thread] = _side_label(prompt, histories)
            entry.side = side_labels[thread]
        elif thread != main:
            main = thread  # the first conversation, or a new one once the main one stopped
        before = last_in.get(thread) or (None if entry.side else previous)
        if before is not None and thread in last_in:
            entry.retry = _same_request(before[0], call)
            if entry.retry:
                entry.retry_after = _failure(before[0])
        if before is not None and not entry.retry:
            entry.cache_miss = _cache_miss(
                before, call, prompt, cache_lifetime_ms=cache_lifetime_ms, minimum=min_cacheable
            )
        last_in[thread] = (call, prompt)
        if entry.side:
            pending.append(entry)
            continue
        if _starts_turn(call, prompt, previous, turns):
            turns.append(TurnReport(len(turns) + 1, str(call.get("turn_id") or "")))
            if prompt is not None:
                turns[-1].new_input = _input_text(prompt)
        turn = turns[-1]
        turn.calls += [*pending, entry]
        pending.clear()
        if prompt is not None:
            first = prompts_of.get(turn.index, (prompt, prompt))[0]
            prompts_of[turn.index] = (first, prompt)
        previous = (call, prompt)
    if pending:  # helper calls after the last main call
        if not turns:
            turns.append(TurnReport(1, ""))
        turns[-1].calls += pending
    sizes: ItemSizes = []
    for turn in turns:  # what fills the context: the turn's last main request
        if turn.index in prompts_of:
            first, last = prompts_of[turn.index]
            new = range(new_input_start(first), len(first.items))
            turn.context = context_parts(last, new, sizes)
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


def _helper(
    position: int,
    threads: Sequence[int],
    prompts: Sequence[Prompt | None],
    main: int | None,
    seen: Mapping[int, object],
) -> bool:
    """Whether the call at `position`, opening a conversation while no main one continues,
    is a helper (a quota check before the first turn, a title after the last) rather than the
    new main conversation: it is its conversation's only call and its tools differ from the
    main conversation's (or, before there is one, from the next conversation's)."""
    thread = threads[position]
    if thread in seen or thread in threads[position + 1 :]:
        return False
    if main is not None:
        reference = next(
            (
                p
                for t, p in zip(
                    reversed(threads[:position]), reversed(prompts[:position]), strict=True
                )
                if t == main
            ),
            None,
        )
    else:
        reference = next(
            (
                p
                for t, p in zip(threads[position + 1 :], prompts[position + 1 :], strict=True)
                if t != thread
            ),
            None,
        )
    prompt = prompts[position]
    if reference is None or prompt is None:
        return False
    return prompt.tools != reference.tools


def _conversations(prompts: Sequence[Prompt | None]) -> list[int]:
    """The conversation of each call (numbered from 0 in order of appearance): the most
    recently continued one whose last request this call's messages extend (or repeat), else a
    new one. A body that is not a prompt stays in the conversation of the call before it."""
    found: list[int] = []
    lasts: list[tuple[Any, ...]] = []  # each conversation's last request's items
    recent: list[int] = []  # conversations, the most recently continued last
    for prompt in prompts:
        if prompt is None or not prompt.items:
            thread = found[-1] if found else len(lasts)
            if thread == len(lasts):
                lasts.append(())
        else:
            key = prompt.items  # (compared as values: dicts equal whatever their key order)
            thread = next(
                (t for t in reversed(recent) if lasts[t] and key[: len(lasts[t])] == lasts[t]),
                len(lasts),
            )
            if thread == len(lasts):
                lasts.append(key)
            lasts[thread] = key
        if thread in recent:
            recent.remove(thread)
        recent.append(thread)
        found.append(thread)
    return found


def _side_label(prompt: Prompt | None, histories: Sequence[Prompt | None]) -> str:
    """ "sub-agent: <what its parent's Task call says it does>", else the kind of call and the
    start of the message that opened it."""
    asked = _input_text(prompt) if prompt is not None else ""
    kind = "sub-agent" if prompt is not None and prompt.tools != "[]" else "side call"
    for other in histories:  # the parent's Task/Agent tool call that sent this prompt
        for item in other.items if other is not None else ():
            for block in item.get("content") or () if isinstance(item, dict) else ():
                given = block.get("input") if isinstance(block, dict) else None
                if (
                    isinstance(given, dict)
                    and block.get("type") == "tool_use"
                    and given.get("prompt") == asked
                    and asked
                ):
                    what = given.get("description") or given.get("subagent_type") or asked
                    return f"sub-agent: {_short(str(what))}"
    return f"{kind}: {_short(asked)}" if asked else kind


def _short(text: str, limit: int = 60) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _failure(call: Mapping[str, Any]) -> str:
    status = call.get("status")
    if isinstance(status, int) and status >= 400:
        return f"HTTP {status}"
    return {"error": "an error", "interrupted": "an interruption"}.get(str(call.get("state")), "")


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
        if a != b:
            break
        shared += 1
    return any(item_role(item) == "user" for item in prompt.items[shared:])


def _input_text(prompt: Prompt) -> str:
    """The person's last message: Claude Code's `<system-reminder>` blocks left out."""
    from relayscope.protocols.conversation import content_text

    for item in reversed(prompt.items):
        if item_role(item) == "user" and isinstance(item, dict):
            content = item.get("content")
            if isinstance(content, list):
                said = [b for b in content if not _reminder(b)]
                content = said or content
            text = content_text(content)
            if text:
                return text
    return ""


def _reminder(block: object) -> bool:
    text = block.get("text") if isinstance(block, dict) else None
    return isinstance(text, str) and text.lstrip().startswith("<system-reminder>")


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
