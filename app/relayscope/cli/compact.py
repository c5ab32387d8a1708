"""`relayscope compact`: request bodies recorded before shared pieces (schema m014) stored as
pieces, then VACUUM."""

from __future__ import annotations

import argparse
import sqlite3
from typing import TYPE_CHECKING

from relayscope.cli._common import Context, add_common_options, fail

if TYPE_CHECKING:
    from relayscope.cli._common import Subparsers


def add_parser(sub: Subparsers) -> None:
    compact = sub.add_parser(
        "compact", help="store request bodies recorded before shared pieces as pieces"
    )
    add_common_options(compact)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from relayscope.store.call_store import StoreError, open_database
    from relayscope.store.retention import compact

    try:
        open_database(ctx.db_path, create=False).conn.close()  # exists, and migrated
        result = compact(ctx.db_path)
    except (StoreError, sqlite3.Error) as exc:
        return fail(exc)
    print(result.sentence())
    return 0
