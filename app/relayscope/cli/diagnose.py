"""`relayscope diagnose`: provider diagnostics from the recorded calls."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from relayscope.calls.safe_text import visible, visible_json
from relayscope.cli._common import Context, add_common_options, fail, with_store

if TYPE_CHECKING:
    from relayscope.cli._common import Subparsers
    from relayscope.store.call_store import CallStore


def add_parser(sub: Subparsers) -> None:
    diagnose = sub.add_parser("diagnose", help="provider diagnostics from the recorded calls")
    add_common_options(diagnose)
    diagnose.add_argument("provider", nargs="?", help="one provider (default: all)")
    diagnose.add_argument(
        "--format",
        choices=("markdown", "json"),
        default="markdown",
        dest="report_format",
        help="report format (default markdown, readable as it is)",
    )


def run(args: argparse.Namespace, ctx: Context) -> int:
    return with_store(ctx.db_path, lambda store: _diagnose(store, args, ctx))


def _diagnose(store: CallStore, args: argparse.Namespace, ctx: Context) -> int:
    from relayscope.analysis import diagnostics
    from relayscope.analysis.cost import Pricer

    pricer = Pricer.from_config(ctx.config)
    if args.provider:
        if args.provider not in store.providers():
            known = ", ".join(visible(name) for name in store.providers()) or "none yet"
            return fail(
                f"no recorded calls from provider '{visible(args.provider)}' "
                f"(recorded providers: {known})."
            )
        reports = [diagnostics.diagnose(store, args.provider, pricer=pricer)]
    else:
        reports = diagnostics.diagnose_all(store, pricer=pricer)
    if args.report_format == "json":
        print(visible_json(diagnostics.as_json(reports)))
    else:
        print(visible(diagnostics.as_markdown(reports).rstrip(), multiline=True))
    return 0
