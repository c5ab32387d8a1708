"""`relayscope costs`: tokens and cost per provider, model, day or session (the cost ledger)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

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
    from relayscope.cli._common import Subparsers
    from relayscope.store.call_store import CallStore

BY = ("provider", "model", "day", "session")


def add_parser(sub: Subparsers) -> None:
    costs = sub.add_parser("costs", help="tokens and cost per provider, model, day or session")
    add_common_options(costs)
    costs.add_argument(
        "--by", choices=BY, default="provider", help="how to group calls (default provider)"
    )
    costs.add_argument("--json", action="store_true", help="one JSON object per line")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from relayscope.analysis.cost import Pricer

    pricer = Pricer.from_config(ctx.config)
    return with_store(ctx.db_path, lambda store: _costs(store, pricer, args))


def _costs(store: CallStore, pricer: Pricer, args: argparse.Namespace) -> int:
    from relayscope.analysis.cost import ledger
    from relayscope.analysis.sessions import tokens_json

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
        shown = cut(clean(key or "(none)"), 38)
        print(
            f"{shown:38} {cost.priced + cost.unknown:>7,} {token_columns(tokens)} {cost.text():>20}"
        )
    return 0
