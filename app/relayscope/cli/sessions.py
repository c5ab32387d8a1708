"""`relayscope sessions`: agent sessions with their turns, calls, tokens, cost and duration."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from relayscope.calls.formatting import duration_ms as duration
from relayscope.cli._common import (
    Context,
    add_common_options,
    clean,
    cut,
    token_columns,
    with_store,
)

if TYPE_CHECKING:
    from relayscope.analysis.cost import Pricer
    from relayscope.analysis.sessions import SessionSummary
    from relayscope.cli._common import Subparsers
    from relayscope.store.call_store import CallStore

SORTS = ("recent", "cost", "turns", "duration")


def add_parser(sub: Subparsers) -> None:
    sessions = sub.add_parser(
        "sessions", help="agent sessions: turns, calls, tokens, cost, duration"
    )
    add_common_options(sessions)
    sessions.add_argument(
        "--sort", choices=SORTS, default="recent", help="order (default: newest first)"
    )
    sessions.add_argument("--json", action="store_true", help="one JSON object per line")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from relayscope.analysis.cost import Pricer

    pricer = Pricer.from_config(ctx.config)
    return with_store(ctx.db_path, lambda store: _sessions(store, pricer, args))


def _sessions(store: CallStore, pricer: Pricer, args: argparse.Namespace) -> int:
    from relayscope.analysis.sessions import list_sessions

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
            f"{cut(clean(s.id), 38):38} {cut(clean(s.client), 18):18} {s.turns:>5} "
            f"{s.calls:>5} {token_columns(s.tokens)} {s.cost.text():>10} "
            f"{duration(s.duration_ms):>10}"
        )
    return 0
