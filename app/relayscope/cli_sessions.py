"""`relayscope sessions`, `session ID`, `costs` and `share`: agent sessions in the terminal
(turns, tokens, cost, context, prompt cache), the cost ledger, and shareable HTML pages."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from relayscope.analysis.cost import Pricer, TokenUsage, ledger
from relayscope.analysis.sessions import (
    SessionReport,
    SessionSummary,
    TurnReport,
    list_sessions,
    load_session,
    report_json,
    summary_of,
    tokens_json,
)
from relayscope.config import Config
from relayscope.exchange import share
from relayscope.exchange.redaction import Redactor
from relayscope.protocols.prompts import CHARS_PER_TOKEN, PART_TITLES, PARTS
from relayscope.store.call_store import CallStore, StoreError

SORTS = ("recent", "cost", "turns", "duration")
BY = ("provider", "model", "day", "session")
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
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: Callable[[argparse.ArgumentParser], None],
) -> None:
    sessions = sub.add_parser(
        "sessions", help="agent sessions: turns, calls, tokens, cost, duration"
    )
    common(sessions)
    sessions.add_argument(
        "--sort", choices=SORTS, default="recent", help="order (default: newest first)"
    )
    sessions.add_argument("--json", action="store_true", help="one JSON object per line")

    session = sub.add_parser(
        "session", help="one session turn by turn: tokens, cost, context, prompt cache"
    )
    common(session)
    session.add_argument("id", help="session id (Codex's, or chain-CALLID for agents without)")
    session.add_argument("--json", action="store_true", help="the whole report as JSON")
    _share_parser(sub, common)

    costs = sub.add_parser("costs", help="tokens and cost per provider, model, day or session")
    common(costs)
    costs.add_argument(
        "--by", choices=BY, default="provider", help="how to group calls (default provider)"
    )
    costs.add_argument("--json", action="store_true", help="one JSON object per line")


def _share_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: Callable[[argparse.ArgumentParser], None],
) -> None:
    share = sub.add_parser(
        "share", help="write a call or a session as one self-contained, redacted HTML page"
    )
    common(share)
    share.add_argument("id", nargs="?", help="call id (a unique prefix is enough)")
    share.add_argument("--session", metavar="SID", help="share this session instead of a call")
    share.add_argument("--html", type=Path, required=True, metavar="FILE", help="page to write")
    share.add_argument(
        "--redact-pattern",
        action="append",
        default=[],
        metavar="REGEX",
        help="also remove text matching this regular expression (repeatable)",
    )
    share.add_argument("--redact-emails", action="store_true", help="also remove e-mail addresses")


def run(args: argparse.Namespace, db_path: Path, config: Config | None) -> int:
    try:
        store = CallStore(db_path, create=False)
    except StoreError as exc:
        print(f"relayscope: {exc}", file=sys.stderr)
        return 1
    pricer = Pricer.from_config(config)
    try:
        if args.command == "sessions":
            return _sessions(store, pricer, args)
        if args.command == "share":
            return _share(store, pricer, args, config)
        if args.command == "costs":
            return _costs(store, pricer, args)
        return _session(store, pricer, args)
    except StoreError as exc:
        print(f"relayscope: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()


def clean(text: object) -> str:
    """Recorded text made safe for a terminal: control characters shown as \\xNN."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def _sessions(store: CallStore, pricer: Pricer, args: argparse.Namespace) -> int:
    summaries = list_sessions(store, pricer)
    keys: dict[str, Callable[[SessionSummary], object]] = {
        "cost": lambda s: (s.cost.usd, s.cost.priced),
        "turns": lambda s: s.turns,
        "duration": lambda s: s.duration_ms,
    }
    if args.sort in keys:
        summaries.sort(key=keys[args.sort], reverse=True)  # type: ignore[arg-type]
    if args.json:
        for summary in summaries:
            print(json.dumps(summary.as_json(), ensure_ascii=False))
        return 0
    if not summaries:
        print("No sessions recorded yet.")
        return 0
    print(
        f"{'session':38} {'client':18} {'turns':>5} {'calls':>5} {'input':>9} {'cached':>9} "
        f"{'output':>8} {'reason':>7} {'cost':>10} {'duration':>10}"
    )
    for s in summaries:
        print(
            f"{_cut(clean(s.id), 38):38} {_cut(clean(s.client), 18):18} {s.turns:>5} "
            f"{s.calls:>5} {_tokens(s.tokens)} {s.cost.text():>10} {duration(s.duration_ms):>10}"
        )
    return 0


def _costs(store: CallStore, pricer: Pricer, args: argparse.Namespace) -> int:
    totals = ledger(store.usage_rows(), pricer, by=args.by)
    keys = list(totals)
    if args.by != "day":  # days in order; the rest most expensive first
        keys.sort(key=lambda k: totals[k][0].usd, reverse=True)
    if args.json:
        for key in keys:
            cost, tokens = totals[key]
            calls = cost.priced + cost.unknown
            row = {args.by: key or None, "calls": calls, "tokens": tokens_json(tokens)}
            print(json.dumps(row | {"cost": cost.as_json()}, ensure_ascii=False))
        return 0
    print(
        f"{args.by:38} {'calls':>7} {'input':>9} {'cached':>9} {'output':>8} {'reason':>7} "
        f"{'cost':>20}"
    )
    for key in keys:
        cost, tokens = totals[key]
        shown = _cut(clean(key or "(none)"), 38)
        print(f"{shown:38} {cost.priced + cost.unknown:>7,} {_tokens(tokens)} {cost.text():>20}")
    return 0


def _tokens(t: TokenUsage) -> str:
    return (
        f"{t.input_tokens:>9,} {t.cache_read_tokens:>9,} {t.output_tokens:>8,} "
        f"{t.reasoning_tokens:>7,}"
    )


def _session(store: CallStore, pricer: Pricer, args: argparse.Namespace) -> int:
    report = load_session(store, args.id, pricer)
    if report is None:
        print(
            f"relayscope: no session '{clean(args.id)}'; `relayscope sessions` lists them.",
            file=sys.stderr,
        )
        return 1
    if args.json:
        print(json.dumps(report_json(report), ensure_ascii=False, indent=2))
        return 0
    for line in session_lines(report):
        print(line)
    return 0


def session_lines(report: SessionReport) -> list[str]:
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
    started = _when(turn.calls[0].call.get("started_at")) if turn.calls else ""
    said = f' · "{_cut(clean(_flat(turn.new_input)), 60)}"' if turn.new_input else ""
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
            f"{clean(call.get('state') or '')}{' (retry)' if entry.retry else ''} · in "
            f"{tokens.input_tokens:,} cached {tokens.cache_read_tokens:,} out "
            f"{tokens.output_tokens:,} · {entry.cost.text()}"
        )
        if entry.cache_miss:
            lines.append(f"  cache    missed: {clean(entry.cache_miss)}")
    return lines


def _usage_text(tokens: TokenUsage, rate: float | None) -> str:
    hit = "not reported" if rate is None else f"{rate:.0%}"
    return (
        f"in {tokens.input_tokens:,} · cached {tokens.cache_read_tokens:,} ({hit}) · out "
        f"{tokens.output_tokens:,} · reasoning {tokens.reasoning_tokens:,}"
    )


def _bar(parts: dict[str, int]) -> str:
    total = sum(parts.values())
    if not total:
        return " " * _BAR_WIDTH
    bar = "".join(_BAR_LETTERS[p] * round(_BAR_WIDTH * parts.get(p, 0) / total) for p in PARTS)
    return (bar + "." * _BAR_WIDTH)[:_BAR_WIDTH]


def duration(ms: float) -> str:
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _when(started_at: object) -> str:
    try:
        return datetime.fromisoformat(str(started_at)).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return clean(started_at or "")


def _flat(text: str) -> str:
    return " ".join(text.split())


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _share(
    store: CallStore, pricer: Pricer, args: argparse.Namespace, config: Config | None
) -> int:
    if (args.id is None) == (args.session is None):
        print("relayscope: share needs a call ID or --session SID (one of them).", file=sys.stderr)
        return 2
    try:
        patterns = tuple(re.compile(p) for p in args.redact_pattern)
    except re.error as exc:
        print(f"relayscope: --redact-pattern {exc.pattern!r}: {exc}.", file=sys.stderr)
        return 2
    secrets = tuple(config.secrets()) if config is not None else ()
    redactor = Redactor(secrets=secrets, patterns=patterns, emails=args.redact_emails)
    if args.session is not None:
        report = load_session(store, args.session, pricer)
        if report is None:
            print(
                f"relayscope: no session '{clean(args.session)}'; `relayscope sessions` lists "
                "them.",
                file=sys.stderr,
            )
            return 1
        chunks = {str(e.call["id"]): store.chunks(str(e.call["id"])) for e in report.calls}
        page = share.session_page(report, chunks, redactor)
    else:
        call = store.get_call(store.resolve_id(args.id))
        assert call is not None
        page = share.call_page(call, store.chunks(str(call["id"])), pricer, redactor)
    try:
        args.html.write_text(page, encoding="utf-8")
    except OSError as exc:
        print(f"relayscope: cannot write {args.html}: {exc.strerror}.", file=sys.stderr)
        return 1
    print(redactor.summary(), file=sys.stderr)
    print(f"Wrote {args.html} ({len(page.encode()) / 1024:.1f} KiB).", file=sys.stderr)
    return 0
