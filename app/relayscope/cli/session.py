"""`relayscope session ID`: one agent session turn by turn: tokens, cost, context, prompt cache."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from relayscope.calls.formatting import duration_ms as duration
from relayscope.calls.formatting import timestamp
from relayscope.cli._common import Context, add_common_options, clean, cut, fail, with_store

if TYPE_CHECKING:
    from relayscope.analysis.cost import Pricer, TokenUsage
    from relayscope.analysis.sessions import SessionReport, TurnReport
    from relayscope.cli._common import Subparsers
    from relayscope.store.call_store import CallStore

_BAR_WIDTH = 40
_BAR_LETTERS = {
    "system": "S",
    "tools": "T",
    "user": "U",
    "assistant": "A",
    "tool_output": "O",
    "new_input": "N",
    "images": "I",
}


def add_parser(sub: Subparsers) -> None:
    session = sub.add_parser(
        "session", help="one session turn by turn: tokens, cost, context, prompt cache"
    )
    add_common_options(session)
    session.add_argument("id", help="session id (Codex's, or chain-CALLID for agents without)")
    session.add_argument("--json", action="store_true", help="the whole report as JSON")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from relayscope.analysis.cost import Pricer

    pricer = Pricer.from_config(ctx.config)
    return with_store(ctx.db_path, lambda store: _session(store, pricer, args))


def _session(store: CallStore, pricer: Pricer, args: argparse.Namespace) -> int:
    from relayscope.analysis.sessions import load_session, report_json

    report = load_session(store, args.id, pricer)
    if report is None:
        return fail(f"no session '{clean(args.id)}'; `relayscope sessions` lists them.")
    if args.json:
        print(json.dumps(report_json(report), ensure_ascii=False, indent=2))
        return 0
    for line in session_lines(report):
        print(line)
    return 0


def session_lines(report: SessionReport) -> list[str]:
    from relayscope.analysis.sessions import summary_of
    from relayscope.protocols.prompts import PART_TITLES, PARTS

    summary = summary_of(report)
    lines = [
        f"Session {clean(report.id)} · {clean(report.client) or 'unknown client'} · started "
        f"{_when(report.started_at)} · {summary.turns} turns · {summary.calls} calls · "
        f"{duration(report.duration_ms)}",
        f"Total    {_usage_text(summary.tokens, summary.cache_hit_rate)}"
        f" · cost {summary.cost.text()}",
        "Context  ≈ tokens = characters / 4 (no tokenizer) · bar: "
        + "  ".join(f"{_BAR_LETTERS[p]} {PART_TITLES[p]}" for p in PARTS),
    ]
    for turn in report.turns:
        lines += ["", *_turn_lines(turn)]
    return lines


def _turn_lines(turn: TurnReport) -> list[str]:
    from relayscope.analysis.cost import TokenUsage
    from relayscope.protocols.prompts import CHARS_PER_TOKEN, PART_TITLES, PARTS

    started = _when(turn.calls[0].call.get("started_at")) if turn.calls else ""
    said = f' · "{cut(clean(_flat(turn.new_input)), 60)}"' if turn.new_input else ""
    lines = [
        f"Turn {turn.index} · {started}{said}",
        f"  tokens   {_usage_text(turn.tokens, turn.cache_hit_rate)} · cost {turn.cost.text()}"
        f" · so far {turn.cumulative_cost.text()}, {turn.cumulative_tokens.input_tokens:,} in",
    ]
    if turn.context:
        estimate = turn.context_chars // CHARS_PER_TOKEN
        growth = turn.growth_chars // CHARS_PER_TOKEN
        parts = " · ".join(
            f"{PART_TITLES[p]} {turn.context[p] // CHARS_PER_TOKEN:,}"
            for p in PARTS
            if turn.context.get(p)
        )
        note = " · compacted" if turn.compacted else ""
        lines.append(
            f"  context  ≈{estimate:,} tokens ({growth:+,}){note} [{_bar(turn.context)}] {parts}"
        )
    for entry in turn.calls:
        call = entry.call
        tokens = entry.usage or TokenUsage()
        lines.append(
            f"  call     {clean(call.get('id'))} {call.get('status') or '—'} "
            f"{clean(call.get('state') or '')}{_retry(entry.retry, entry.retry_after)} · in "
            f"{tokens.input_tokens:,} cached {tokens.cache_read_tokens:,} out "
            f"{tokens.output_tokens:,} · {entry.cost.text()}"
        )
        if entry.side:
            lines.append(f"  beside   {clean(entry.side)}")
        if entry.cache_miss:
            lines.append(f"  cache    missed: {clean(entry.cache_miss)}")
    return lines


def _retry(retry: bool, after: str) -> str:
    return (f" (retry after {after})" if after else " (retry)") if retry else ""


def _usage_text(tokens: TokenUsage, rate: float | None) -> str:
    hit = "not reported" if rate is None else f"{rate:.0%}"
    return (
        f"in {tokens.input_tokens:,} · cached {tokens.cache_read_tokens:,} ({hit}) · out "
        f"{tokens.output_tokens:,} · reasoning {tokens.reasoning_tokens:,}"
    )


def _bar(parts: dict[str, int]) -> str:
    from relayscope.protocols.prompts import PARTS

    total = sum(parts.values())
    if not total:
        return " " * _BAR_WIDTH
    bar = "".join(_BAR_LETTERS[p] * round(_BAR_WIDTH * parts.get(p, 0) / total) for p in PARTS)
    return (bar + "." * _BAR_WIDTH)[:_BAR_WIDTH]


def _when(started_at: object) -> str:
    return clean(timestamp(started_at))


def _flat(text: str) -> str:
    return " ".join(text.split())
