"""`relayscope share`: a call or a session as one self-contained, redacted HTML page."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from relayscope.calls.formatting import size
from relayscope.cli._common import EXIT_USAGE, Context, add_common_options, clean, fail, with_store

if TYPE_CHECKING:
    from relayscope.analysis.cost import Pricer
    from relayscope.cli._common import Subparsers
    from relayscope.config import Config
    from relayscope.store.call_store import CallStore


def add_parser(sub: Subparsers) -> None:
    share = sub.add_parser(
        "share", help="write a call or a session as one self-contained, redacted HTML page"
    )
    add_common_options(share)
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


def run(args: argparse.Namespace, ctx: Context) -> int:
    from relayscope.analysis.cost import Pricer

    pricer = Pricer.from_config(ctx.config)
    return with_store(ctx.db_path, lambda store: _share(store, pricer, args, ctx.config))


def _share(store: CallStore, pricer: Pricer, args: argparse.Namespace, config: Config) -> int:
    from relayscope.analysis.sessions import load_session
    from relayscope.exchange import share
    from relayscope.exchange.redaction import Redactor

    if (args.id is None) == (args.session is None):
        return fail("share needs a call ID or --session SID (one of them).", EXIT_USAGE)
    try:
        patterns = tuple(re.compile(p) for p in args.redact_pattern)
    except re.error as exc:
        return fail(f"--redact-pattern {exc.pattern!r}: {exc}.", EXIT_USAGE)
    secrets = tuple(config.secrets())
    redactor = Redactor(secrets=secrets, patterns=patterns, emails=args.redact_emails)
    if args.session is not None:
        report = load_session(store, args.session, pricer)
        if report is None:
            return fail(f"no session '{clean(args.session)}'; `relayscope sessions` lists them.")
        chunks = {str(e.call["id"]): store.chunks(str(e.call["id"])) for e in report.calls}
        page = share.session_page(report, chunks, redactor)
    else:
        call = store.get_call(store.resolve_id(args.id))
        assert call is not None
        page = share.call_page(call, store.chunks(str(call["id"])), pricer, redactor)
    try:
        args.html.write_text(page, encoding="utf-8")
    except OSError as exc:
        return fail(f"cannot write {args.html}: {exc.strerror}.")
    print(redactor.summary(), file=sys.stderr)
    print(f"Wrote {args.html} ({size(len(page.encode()))}).", file=sys.stderr)
    return 0
