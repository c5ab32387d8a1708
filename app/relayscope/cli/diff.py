"""`relayscope diff A B`: what differs between two recorded calls (request, answer, usage,
timing, stream)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from relayscope.calls.safe_text import visible, visible_json
from relayscope.cli._common import Context, add_common_options, call_by_prefix, with_store

if TYPE_CHECKING:
    from relayscope.cli._common import Subparsers
    from relayscope.store.call_store import CallStore


def add_parser(sub: Subparsers) -> None:
    diff = sub.add_parser("diff", help="what differs between two recorded calls")
    add_common_options(diff)
    diff.add_argument("a", help="first call id (or a unique prefix)")
    diff.add_argument("b", help="second call id (or a unique prefix)")
    diff.add_argument("--json", action="store_true", help="the diff as JSON")


def run(args: argparse.Namespace, ctx: Context) -> int:
    return with_store(ctx.db_path, lambda store: _diff(store, args))


def _diff(store: CallStore, args: argparse.Namespace) -> int:
    from relayscope.actions.diff import diff_as_json, diff_calls, format_unified

    a, b = call_by_prefix(store, args.a), call_by_prefix(store, args.b)
    diff = diff_calls(a, b, store.chunks(a["id"]), store.chunks(b["id"]))
    if args.json:
        text = json.dumps(diff_as_json(diff), ensure_ascii=False, indent=2, default=str)
        print(visible_json(text))
    else:
        print(visible(format_unified(diff), multiline=True))
    return 0
