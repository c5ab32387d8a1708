"""`relayscope import FILE`: OpenAI-format API calls from a HAR file, recorded beside the rest."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from relayscope.cli._common import EXIT_CANCELLED, Context, add_common_options, fail

if TYPE_CHECKING:
    from relayscope.cli._common import Subparsers


def add_parser(sub: Subparsers) -> None:
    imported = sub.add_parser("import", help="import OpenAI-format API calls from a HAR file")
    add_common_options(imported)
    imported.add_argument("file", type=Path, help="the HAR file")
    imported.add_argument(
        "--all-entries",
        action="store_true",
        help="import every entry, not only OpenAI-format API calls",
    )


def run(args: argparse.Namespace, ctx: Context) -> int:
    from relayscope.exchange.har_import import HarImportError, import_har
    from relayscope.store.call_store import StoreError

    try:
        result = import_har(args.file, ctx.db_path, all_entries=args.all_entries)
    except (HarImportError, StoreError) as exc:
        return fail(exc)
    except KeyboardInterrupt:
        return fail("cancelled.", EXIT_CANCELLED)
    print(result.summary())
    return 0
