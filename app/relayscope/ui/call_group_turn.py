"""A Codex turn's row in the grouped call list: its calls and the texts its row shows."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from relayscope.analysis.cost import CostTotal
from relayscope.ui import theme
from relayscope.ui.call_list_model import (
    format_count,
    format_ms,
    format_time,
    format_tokens,
    parse_started,
    row_cost,
)

EXPANDED, COLLAPSED = "▾", "▸"


@dataclass(slots=True)
class Turn:
    """One Codex turn: its loaded calls (in the list's order) and its row's texts.

    `anchor` is the call whose place the turn's row takes: the earliest started (the first
    in the list among equals), so the row sits where its first request does.
    """

    turn_id: str
    calls: list[str] = field(default_factory=list)
    anchor: str = ""
    texts: list[str] = field(default_factory=list)
    kind: str = "idle"
    live: bool = False
    first_started: float = 0.0
    newest: str = ""
    #: The call whose longest gap the row shows (its sparkline is the row's); None: no gaps.
    gappiest: str | None = None
    #: Its calls changed since the texts were rendered (rendered again when next shown).
    dirty: bool = True


def render_turn(turn: Turn, calls: list[dict[str, Any]], expanded: bool) -> None:
    """Fill the turn's texts from its calls' values (in the list's order): O(its calls),
    paid when the row is shown after a change, never for rows nobody looks at."""
    by_time = sorted(calls, key=lambda v: str(v.get("started_at") or ""))
    first, last = by_time[0], by_time[-1]
    started = parse_started(first.get("started_at"))
    turn.first_started = started.timestamp() if started else time.time()
    turn.newest = str(last["id"])
    gapped = [v for v in calls if v.get("max_gap_ms") is not None]
    gappiest = max(gapped, key=lambda v: float(v["max_gap_ms"])) if gapped else None
    turn.gappiest = str(gappiest["id"]) if gappiest else None
    turn.kind = theme.status_kind(last.get("status"), last.get("state"))
    turn.live = any(v.get("state") in theme.LIVE_STATES for v in calls)
    ends = [_end(v) for v in calls]
    known = [e for e in ends if e is not None]
    wall = (max(known) - turn.first_started) * 1000 if known else None
    providers = list(dict.fromkeys(str(v.get("provider") or "—") for v in calls))
    models = list(dict.fromkeys(str(v.get("model") or "—") for v in calls))
    count = len(calls)
    status = last.get("status")
    arrow = EXPANDED if expanded else COLLAPSED
    turn.texts = [
        f"{arrow} {format_time(started)}",
        ", ".join(providers),
        f"{', '.join(models)}  ·  {count} request{'s' if count != 1 else ''}",
        str(first.get("endpoint") or "—"),
        str(status) if status is not None else ("…" if turn.live else "—"),
        str(last.get("state") or "—"),
        "SSE" if any(v.get("stream") for v in calls) else "",
        format_ms(first.get("ttft_ms")),
        format_ms(wall),
        format_tokens(*_token_sums(calls)),
        _chunks_text(calls),
        _longest_gap_text(calls),
        "",  # the cost: priced when painted (turn_cost_text)
    ]
    turn.dirty = False


def turn_cost_text(calls: list[dict[str, Any]]) -> str:
    """The turn's calls' cost summed ("$0.04 + 1 unknown"), "…" while prices load."""
    total = CostTotal()
    for values in calls:
        if values.get("state") in theme.LIVE_STATES:
            continue
        cost = row_cost(values)
        if cost is None:
            return "…"
        total = total.add(cost)
    return total.text() if total.priced or total.unknown else ""


def _end(values: dict[str, Any]) -> float | None:
    started = parse_started(values.get("started_at"))
    duration = values.get("duration_ms")
    if started is None or duration is None:
        return None
    return started.timestamp() + float(duration) / 1000


def _token_sums(calls: list[dict[str, Any]]) -> tuple[int | None, int | None]:
    prompts = [int(v["prompt_tokens"]) for v in calls if v.get("prompt_tokens") is not None]
    outputs = [int(v["completion_tokens"]) for v in calls if v.get("completion_tokens") is not None]
    return (sum(prompts) if prompts else None, sum(outputs) if outputs else None)


def _chunks_text(calls: list[dict[str, Any]]) -> str:
    """The turn's streamed chunks (blank, like a call's, when nothing streamed)."""
    streamed = [int(v.get("chunk_count") or 0) for v in calls if v.get("stream")]
    return format_count(sum(streamed)) if streamed else ""


def _longest_gap_text(calls: list[dict[str, Any]]) -> str:
    gaps = [float(v["max_gap_ms"]) for v in calls if v.get("max_gap_ms") is not None]
    return format_ms(max(gaps)) if gaps else ""
