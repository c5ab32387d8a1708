"""`relayscope playback`: recorded calls served as the only provider, with their timing."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from relayscope.cli import proxy
from relayscope.cli._common import EXIT_USAGE, Context, fail

if TYPE_CHECKING:
    from relayscope.cli._common import Subparsers


def add_parser(sub: Subparsers) -> None:
    playback = sub.add_parser(
        "playback", help="serve recorded calls as a provider, with their original timing"
    )
    proxy.add_proxy_options(playback)
    playback.add_argument(
        "--call",
        action="append",
        default=[],
        metavar="ID",
        help="a recorded call to serve (repeat for several)",
    )
    playback.add_argument("--session", help="serve every call of this Codex session")
    playback.add_argument(
        "--match",
        choices=("exact", "messages", "last"),
        default="messages",
        help="how strictly a request must match a recording (default messages)",
    )
    playback.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="play faster (2 = twice as fast) or slower than recorded",
    )


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.speed <= 0:
        return fail("--speed must be above 0 (2 plays twice as fast).", EXIT_USAGE)
    from relayscope.proxy.worker import PlaybackOptions

    options = PlaybackOptions(tuple(args.call), args.session, args.match, args.speed)
    return proxy.run_worker(args, ctx, playback=options)
