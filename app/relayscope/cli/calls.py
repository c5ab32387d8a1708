"""`relayscope calls`: recorded calls, newest first, one line each (or one JSON object each)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from relayscope.calls import formatting
from relayscope.calls.safe_text import visible, visible_json
from relayscope.cli._common import Context, add_common_options, row_json, with_store

if TYPE_CHECKING:
    from relayscope.calls.record import CallRecord
    from relayscope.cli._common import Subparsers
    from relayscope.store.call_store import CallStore


def add_parser(sub: Subparsers) -> None:
    calls = sub.add_parser("calls", help="list recorded calls, newest first")
    add_common_options(calls)
    calls.add_argument("-n", "--limit", type=int, default=20)
    calls.add_argument("--errors", action="store_true", help="only failed or interrupted calls")
    calls.add_argument("--search", default="", help="full-text search of prompts and answers")
    calls.add_argument("--json", action="store_true", help="one JSON object per line")


def run(args: argparse.Namespace, ctx: Context) -> int:
    return with_store(ctx.db_path, lambda store: _calls(store, args, ctx))


def _calls(store: CallStore, args: argparse.Namespace, ctx: Context) -> int:
    from relayscope.analysis.cost import Pricer
    from relayscope.store.call_store import CallFilter

    pricer = Pricer.from_config(ctx.config)
    flt = CallFilter(text=args.search, errors_only=args.errors)
    rows = store.list_calls(flt, limit=args.limit)
    if args.json:
        for row in rows:
            print(visible_json(json.dumps(row_json(row, pricer), ensure_ascii=False)))
        return 0
    times = [formatting.time_of_day(row.get("started_at")) for row in rows]
    width = max([8, *map(len, times)])  # `Dec 01 12:00:00` when not today
    print(
        f"{'id':21} {'time':{width}} {'provider':10} {'model':22} {'status':>6} {'state':11} "
        f"{'ttft':>8} {'dur':>10} {'tokens':>13} {'cost':>9}"
    )
    for row in rows:
        print(f"{format_row(row, width)} {pricer.price(row).text():>9}")
    total = store.count_calls(flt)
    if total > len(rows):
        print(f"… {total - len(rows)} more (use -n)")
    return 0


def format_row(row: CallRecord, time_width: int = 8) -> str:
    """One line of `relayscope calls`; recorded values are escaped (`safe_text.visible`)."""
    time = visible(formatting.time_of_day(row.get("started_at")))
    tokens = formatting.tokens_in_out(row.get("prompt_tokens"), row.get("completion_tokens"))
    return (
        f"{visible(row['id']):21} {time:{time_width}} "
        f"{visible(row.get('provider') or '-')[:10]:10} "
        f"{visible(row.get('model') or '-')[:22]:22} {visible(row.get('status') or '—'):>6} "
        f"{visible(row.get('state')):11} {formatting.duration_ms(row.get('ttft_ms')):>8} "
        f"{formatting.duration_ms(row.get('duration_ms')):>10} {tokens:>13}"
    )
