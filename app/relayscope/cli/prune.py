"""`relayscope prune`: delete the oldest calls, by age or to cap the size, then VACUUM."""

from __future__ import annotations

import argparse
import sqlite3
from typing import TYPE_CHECKING

from relayscope.cli._common import EXIT_USAGE, Context, add_common_options, fail

if TYPE_CHECKING:
    from relayscope.cli._common import Subparsers


def add_parser(sub: Subparsers) -> None:
    prune = sub.add_parser(
        "prune", help="delete the oldest calls (by age or to cap the size), then VACUUM"
    )
    add_common_options(prune)
    prune.add_argument(
        "--older-than", type=float, metavar="DAYS", help="delete calls older than DAYS days"
    )
    prune.add_argument(
        "--max-size", type=float, metavar="MB", help="delete the oldest calls until it fits in MB"
    )
    prune.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Its options, else the config's [storage] limits."""
    from relayscope.store.call_store import StoreError, open_database
    from relayscope.store.retention import prune

    storage = ctx.config.storage
    days = args.older_than if args.older_than is not None else storage.keep_days
    size = args.max_size if args.max_size is not None else storage.max_size_mb
    if days is None and size is None:
        return fail(
            "nothing to prune by: give --older-than DAYS or --max-size MB, or set "
            "[storage] keep_days / max_size_mb in the config.",
            EXIT_USAGE,
        )
    if any(limit is not None and limit <= 0 for limit in (days, size)):
        return fail("--older-than and --max-size must be more than 0.", EXIT_USAGE)
    try:
        open_database(ctx.db_path, create=False).conn.close()  # exists, and migrated
        result = prune(ctx.db_path, older_than_days=days, max_size_mb=size, dry_run=args.dry_run)
    except (StoreError, sqlite3.Error) as exc:
        return fail(exc)
    print(result.sentence())
    return 0
