"""The `relayscope` command: the desktop app by default, `proxy` headless, and inspection tools."""

from __future__ import annotations

import argparse
import asyncio
import ctypes.util
import logging
import os
import sqlite3
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from relayscope import cli_demo, cli_export, cli_sessions
from relayscope.config import (
    LOOPBACK_HOSTS,
    Config,
    ConfigError,
    default_config_path,
    default_db_path,
    load_config,
)


def display_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """Why the window cannot open here, as one sentence, or None. Checked before Qt is
    loaded: Qt itself aborts the process (exit 134) with a hint that is usually wrong."""
    env = os.environ if environ is None else environ
    platform = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if platform or sys.platform in ("darwin", "win32"):
        return None  # a chosen platform plugin (offscreen, vnc, …) or a desktop OS
    if env.get("WAYLAND_DISPLAY"):
        return None
    if not env.get("DISPLAY"):
        return "no display: for headless use run `relayscope proxy`."
    if ctypes.util.find_library("xcb-cursor") is None:
        return (
            "the window needs the X11 library libxcb-cursor (on Debian and Ubuntu: "
            "apt-get install libxcb-cursor0); for headless use run `relayscope proxy`."
        )
    return None


def _common(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    # Subcommands repeat the options without defaults, so `relayscope --db X proxy` works too.
    default = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--config",
        type=Path,
        default=default,
        help=f"config file (TOML); default: {default_config_path()}",
    )
    parser.add_argument(
        "--db", type=Path, default=default, help=f"recording database; default: {default_db_path()}"
    )


def _proxy_options(proxy: argparse.ArgumentParser) -> None:
    _common(proxy)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relayscope",
        description="Record, inspect, replay and compare OpenAI-format LLM API calls.",
    )
    _common(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    proxy = sub.add_parser("proxy", help="run the recording proxy headless")
    _proxy_options(proxy)

    playback = sub.add_parser(
        "playback", help="serve recorded calls as a provider, with their original timing"
    )
    _proxy_options(playback)
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

    calls = sub.add_parser("calls", help="list recorded calls, newest first")
    _common(calls)
    calls.add_argument("-n", "--limit", type=int, default=20)
    calls.add_argument("--errors", action="store_true", help="only failed or interrupted calls")
    calls.add_argument("--search", default="", help="full-text search of prompts and answers")
    calls.add_argument("--json", action="store_true", help="one JSON object per line")

    show = sub.add_parser("show", help="show one recorded call")
    _common(show)
    show.add_argument("id", help="call id (a unique prefix is enough)")
    show.add_argument(
        "--stream", action="store_true", help="the stream debugger: timing, timeline and findings"
    )
    show.add_argument("--json", action="store_true", help="the call's row as JSON")
    show.add_argument(
        "--as",
        choices=("curl", "python"),
        dest="as_code",
        help="print a curl command or Python script that sends the call again",
    )

    diagnose = sub.add_parser("diagnose", help="provider diagnostics from the recorded calls")
    _common(diagnose)
    diagnose.add_argument("provider", nargs="?", help="one provider (default: all)")
    diagnose.add_argument(
        "--format",
        choices=("markdown", "json"),
        default="markdown",
        dest="report_format",
        help="report format (default markdown, readable as it is)",
    )

    prune = sub.add_parser(
        "prune", help="delete the oldest calls (by age or to cap the size), then VACUUM"
    )
    _common(prune)
    prune.add_argument(
        "--older-than", type=float, metavar="DAYS", help="delete calls older than DAYS days"
    )
    prune.add_argument(
        "--max-size", type=float, metavar="MB", help="delete the oldest calls until it fits in MB"
    )
    prune.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")

    compact = sub.add_parser(
        "compact", help="store request bodies recorded before shared pieces as pieces"
    )
    _common(compact)

    _action_parsers(sub)  # replay, diff, compare
    cli_export.add_parsers(sub, _common)  # export, import
    cli_sessions.add_parsers(sub, _common)  # sessions, session, share, costs
    cli_demo.add_parser(sub, _common)  # demo-session
    return parser


def _action_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`replay`, `diff` and `compare` (run by relayscope.cli_actions)."""
    replay = sub.add_parser("replay", help="send a recorded call again through the proxy")
    _common(replay)
    replay.add_argument("id", help="call id (a unique prefix is enough)")
    replay.add_argument("--provider", help="send it to this provider (default: as routed before)")
    replay.add_argument("--model", help="ask for this model instead")
    replay.add_argument("--body", type=Path, help="send this JSON body instead (edited; - = stdin)")
    _sending_options(replay)

    diff = sub.add_parser("diff", help="what differs between two recorded calls")
    _common(diff)
    diff.add_argument("a", help="first call id (or a unique prefix)")
    diff.add_argument("b", help="second call id (or a unique prefix)")
    diff.add_argument("--json", action="store_true", help="the diff as JSON")

    compare = sub.add_parser("compare", help="send one request to several providers at once")
    _common(compare)
    source = compare.add_mutually_exclusive_group(required=True)
    source.add_argument("--from", dest="from_id", metavar="ID", help="the request of this call")
    source.add_argument("--body", type=Path, help="a JSON request body file (- = stdin)")
    source.add_argument("--rerun", metavar="GROUP", help="run a saved comparison again")
    compare.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="PROVIDER[:MODEL]",
        help="where to send it (repeat; :MODEL alone keeps the routing by model)",
    )
    compare.add_argument("--name", help="a name for the saved comparison")
    _sending_options(compare)


def _sending_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", help="the proxy's base URL (default: http://HOST:PORT/v1 from the config)"
    )
    parser.add_argument(
        "--wait-retry-after",
        action="store_true",
        help="on a 429/503 with Retry-After, wait that long once and resend",
    )
    parser.add_argument("--json", action="store_true", help="the outcome as JSON")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_record"]:  # the proxy's recording process, not a user command
        from relayscope.recording.process import child_main

        return child_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config, explicit=args.config is not None)
    except ConfigError as exc:
        print(f"relayscope: {exc}", file=sys.stderr)
        if args.command is None and display_problem() is None:
            # Opened from a desktop launcher, nobody reads standard error: say it in a window.
            from relayscope.ui.application import show_startup_error

            show_startup_error(f"Relayscope could not start: {exc}")
        return 2
    db_path: Path = args.db or default_db_path()
    if args.command in ("proxy", "playback"):
        return _run_proxy(args, config, db_path)
    if args.command in ("calls", "show", "diagnose"):
        from relayscope import cli_views

        return cli_views.run(args, db_path, config)
    if args.command in ("replay", "diff", "compare"):
        from relayscope import cli_actions

        return cli_actions.run(args, config, db_path)
    if args.command == "demo-session":
        return cli_demo.run(args, config)
    if args.command in ("sessions", "session", "share", "costs"):
        return cli_sessions.run(args, db_path, config)
    if args.command == "prune":
        return _run_prune(args, config, db_path)
    if args.command == "compact":
        return _run_compact(db_path)
    if args.command in ("export", "import"):
        from relayscope.analysis.cost import Pricer

        return cli_export.run(args, db_path, config.otlp, Pricer.from_config(config))
    if (problem := display_problem()) is not None:
        print(f"relayscope: {problem}", file=sys.stderr)
        return 2
    from relayscope.ui.application import run_app

    return run_app(config=config, config_path=args.config or default_config_path(), db_path=db_path)


def _run_prune(args: argparse.Namespace, config: Config, db_path: Path) -> int:
    """`relayscope prune`: its options, else the config's [storage] limits."""
    from relayscope.store.call_store import StoreError, open_database
    from relayscope.store.retention import prune

    days = args.older_than if args.older_than is not None else config.storage.keep_days
    size = args.max_size if args.max_size is not None else config.storage.max_size_mb
    if days is None and size is None:
        print(
            "relayscope: nothing to prune by: give --older-than DAYS or --max-size MB, or set "
            "[storage] keep_days / max_size_mb in the config.",
            file=sys.stderr,
        )
        return 2
    if any(limit is not None and limit <= 0 for limit in (days, size)):
        print("relayscope: --older-than and --max-size must be more than 0.", file=sys.stderr)
        return 2
    try:
        open_database(db_path, create=False).conn.close()  # exists, and migrated
        result = prune(db_path, older_than_days=days, max_size_mb=size, dry_run=args.dry_run)
    except (StoreError, sqlite3.Error) as exc:
        print(f"relayscope: {exc}", file=sys.stderr)
        return 1
    print(result.sentence())
    return 0


def _run_compact(db_path: Path) -> int:
    from relayscope.store.call_store import StoreError, open_database
    from relayscope.store.retention import compact

    try:
        open_database(db_path, create=False).conn.close()  # exists, and migrated
        result = compact(db_path)
    except (StoreError, sqlite3.Error) as exc:
        print(f"relayscope: {exc}", file=sys.stderr)
        return 1
    print(result.sentence())
    return 0


def _run_proxy(args: argparse.Namespace, config: Config, db_path: Path) -> int:
    settings = config.proxy
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    token = args.access_token or settings.access_token
    allow_remote = args.allow_remote or settings.allow_remote
    if host not in LOOPBACK_HOSTS:
        if not allow_remote:
            print(
                f"relayscope: refusing to listen on {host}: other machines could use your "
                "provider keys. Add --allow-remote and --access-token TOKEN if you mean it.",
                file=sys.stderr,
            )
            return 2
        if not token:
            print(
                "relayscope: listening beyond this machine needs --access-token TOKEN "
                "(clients send it as their API key).",
                file=sys.stderr,
            )
            return 2
    if not 0 <= port <= 65535:
        print(
            f"relayscope: --port {port} is out of range (1-65535, or 0 for any free port).",
            file=sys.stderr,
        )
        return 2
    proxy_settings = replace(
        settings, host=host, port=port, access_token=token, allow_remote=allow_remote
    )
    config = replace(config, proxy=proxy_settings)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("mitmproxy", "asyncio", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from relayscope.proxy.worker import PlaybackOptions, WorkerError, WorkerSettings, run_worker

    playback = None
    if args.command == "playback":
        if args.speed <= 0:
            print("relayscope: --speed must be above 0 (2 plays twice as fast).", file=sys.stderr)
            return 2
        playback = PlaybackOptions(tuple(args.call), args.session, args.match, args.speed)

    worker = WorkerSettings(
        config=config,
        db_path=db_path,
        host=host,
        port=port,
        events=args.events,
        parent_pipe=args.parent_pipe,
        playback=playback,
    )
    try:
        return asyncio.run(run_worker(worker))
    except WorkerError as exc:
        print(f"relayscope: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
