"""`relayscope proxy`: the recording proxy headless (the worker the desktop app also starts)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from relayscope.cli._common import EXIT_FAILED, EXIT_USAGE, Context, add_common_options, fail
from relayscope.config import LOOPBACK_HOSTS

if TYPE_CHECKING:
    from relayscope.cli._common import Subparsers
    from relayscope.proxy.worker import PlaybackOptions


def add_parser(sub: Subparsers) -> None:
    proxy = sub.add_parser("proxy", help="run the recording proxy headless")
    add_proxy_options(proxy)


def add_proxy_options(proxy: argparse.ArgumentParser) -> None:
    """The options of `proxy`, which `playback` shares."""
    add_common_options(proxy)
    proxy.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    proxy.add_argument("--port", type=int, help="port to listen on (default 8787; 0 = any free)")
    proxy.add_argument(
        "--allow-remote",
        action="store_true",
        help="permit a --host other than loopback (requires --access-token)",
    )
    proxy.add_argument("--access-token", help="token clients must send when listening remotely")
    proxy.add_argument(
        "--parent-pipe",
        action="store_true",
        help="exit when standard input closes (used by the desktop app)",
    )
    proxy.add_argument(
        "--events", action="store_true", help="print recording events as NDJSON on standard output"
    )
    proxy.add_argument("-q", "--quiet", action="store_true", help="no per-call log lines")


def run(args: argparse.Namespace, ctx: Context) -> int:
    return run_worker(args, ctx, playback=None)


def run_worker(args: argparse.Namespace, ctx: Context, *, playback: PlaybackOptions | None) -> int:
    """The worker with the command line's listening options over the config's [proxy]."""
    settings = ctx.config.proxy
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    token = args.access_token or settings.access_token
    allow_remote = args.allow_remote or settings.allow_remote
    if host not in LOOPBACK_HOSTS:
        if not allow_remote:
            return fail(
                f"refusing to listen on {host}: other machines could use your "
                "provider keys. Add --allow-remote and --access-token TOKEN if you mean it.",
                EXIT_USAGE,
            )
        if not token:
            return fail(
                "listening beyond this machine needs --access-token TOKEN "
                "(clients send it as their API key).",
                EXIT_USAGE,
            )
    if not 0 <= port <= 65535:
        return fail(f"--port {port} is out of range (1-65535, or 0 for any free port).", EXIT_USAGE)
    proxy_settings = replace(
        settings, host=host, port=port, access_token=token, allow_remote=allow_remote
    )
    config = replace(ctx.config, proxy=proxy_settings)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("mitmproxy", "asyncio", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from relayscope.proxy.worker import WorkerError, WorkerSettings
    from relayscope.proxy.worker import run_worker as worker_main

    worker = WorkerSettings(
        config=config,
        db_path=ctx.db_path,
        host=host,
        port=port,
        events=args.events,
        parent_pipe=args.parent_pipe,
        playback=playback,
    )
    try:
        return asyncio.run(worker_main(worker))
    except WorkerError as exc:
        return fail(exc, EXIT_FAILED)
    except KeyboardInterrupt:
        return 0
