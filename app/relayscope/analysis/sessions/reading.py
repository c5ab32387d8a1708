"""A session's calls read into turns, with their retries and why the prompt cache missed
(the package's docstring says how)."""

from __future__ import annotations

from collections.abc import Sequence

from relayscope.actions.diff import canonical_json
from relayscope.analysis.cost import CostTotal, Pricer, TokenUsage, usage_from_row
from relayscope.analysis.sessions.conversations import (
    conversations,
    input_text,
    is_helper,
    side_label,
)
from relayscope.analysis.sessions.report import CallEntry, SessionReport, TurnReport, end_ms, ms
from relayscope.calls import facts
from relayscope.calls.record import CallRecord
from relayscope.protocols.prompts import (
    ItemSizes,
    Prompt,
    context_parts,
    first_divergence,
    item_role,
    new_input_start,
    read_prompt,
)

#: Prompt caches keep a prefix for about 5 minutes of inactivity (OpenAI and Anthropic's
#: default); a longer pause explains a miss on its own.
CACHE_LIFETIME_MS = 5 * 60 * 1000
#: Providers cache only prompts at least this long (OpenAI: 1,024 tokens); a shorter one
#: missing the cache is expected, not a finding.
MIN_CACHEABLE_TOKENS = 1024
CHAIN_PREFIX = "chain-"


def chains(calls: Sequence[CallRecord]) -> dict[str, list[CallRecord]]:
    """Calls without a session id grouped into chains (oldest call first in each)."""
    open_chains: list[tuple[str, str, tuple[str, ...], list[CallRecord]]] = []
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
    calls: Sequence[CallRecord],
    pricer: Pricer,
    *,
    cache_lifetime_ms: float = CACHE_LIFETIME_MS,
    min_cacheable: int = MIN_CACHEABLE_TOKENS,
) -> SessionReport:
    """Turns, calls, tokens, cost, context and prompt-cache findings of one session's calls."""
    ordered = sorted(calls, key=lambda c: str(c.get("started_at") or ""))
    prompts = [read_prompt(call.get("request_body")) for call in ordered]
    threads = conversations(prompts)
    last_of = {thread: position for position, thread in enumerate(threads)}
    turns: list[TurnReport] = []
    main: int | None = None
    previous: tuple[CallRecord, Prompt | None] | None = None  # the last main call
    last_in: dict[int, tuple[CallRecord, Prompt | None]] = {}  # each conversation's last
    side_labels: dict[int, str] = {}
    prompts_of: dict[int, tuple[Prompt, Prompt]] = {}  # turn index → (first, last) main prompt
    pending: list[CallEntry] = []  # side calls, waiting for the next main call's turn
    for position, (call, prompt) in enumerate(zip(ordered, prompts, strict=True)):
        thread = threads[position]
        entry = CallEntry(call, usage_from_row(call), CostTotal().add(pricer.price(call)))
        side = thread != main and (
            (main is not None and last_of[main] > position)
            or is_helper(position, threads, prompts, main, last_in)
        )
        if side:
            if thread not in side_labels:
                histories = [prompts[p] for p in last_of.values()]  # each one's longest
                side_labels[thread] = side_label(prompt, histories)
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
                turns[-1].new_input = input_text(prompt)
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
    first_call: CallRecord = ordered[0] if ordered else {}
    duration = max((end_ms(c) for c in ordered), default=0.0) - ms(first_call.get("started_at"))
    return SessionReport(
        id=session_id,
        client=str(first_call.get("client") or ""),
        started_at=str(first_call.get("started_at") or ""),
        duration_ms=max(0.0, duration) if ordered else 0.0,
        turns=turns,
    )


def _failure(call: CallRecord) -> str:
    """What went wrong with a call, in a few words ('' when it did not fail)."""
    if not facts.is_failed(call):
        return ""
    status = call.get("status")
    if status is not None and status >= 400:
        return f"HTTP {status}"
    return "an interruption" if call.get("state") == "interrupted" else "an error"


def _same_request(a: CallRecord, b: CallRecord) -> bool:
    return bool(a.get("request_body")) and a.get("request_body") == b.get("request_body")


def _starts_turn(
    call: CallRecord,
    prompt: Prompt | None,
    previous: tuple[CallRecord, Prompt | None] | None,
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


def _cache_miss(
    previous: tuple[CallRecord, Prompt | None],
    call: CallRecord,
    prompt: Prompt | None,
    *,
    cache_lifetime_ms: float,
    minimum: int,
) -> str:
    """Why this call's cached tokens cover less than half of the previous prompt ('' if they
    do, or if the provider does not report cached tokens)."""
    before_call, before = previous
    reusable = before_call.get("prompt_tokens") or 0
    cached = call.get("cached_tokens")
    if cached is None or reusable < minimum or cached * 2 >= reusable:
        return ""
    gap = ms(call.get("started_at")) - end_ms(before_call)
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
