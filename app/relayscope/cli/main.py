"""The `relayscope` command: the parser, built from the registry of command modules, and the
dispatch to the chosen command's `run` (the desktop app without a command).

A command module (`relayscope.cli.<command>`) defines `add_parser(sub)`, which adds its subparser,
and `run(args, ctx) -> int`; it imports what it needs when it runs, so building the parser
stays cheap for every command (the proxy's start among them).

Writing to a closed pipe (`relayscope calls --json | head -1`) ends the command quietly with
exit code 141 (128 + SIGPIPE), the code a shell reports for a C tool that a closed pipe ended,
so `set -o pipefail` scripts see the same as with `cat`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from relayscope.cli import (
    calls,
    compact,
    compare,
    costs,
    demo_session,
    desktop,
    diagnose,
    diff,
    export,
    import_,
    playback,
    proxy,
    prune,
    replay,
    session,
    sessions,
    share,
    show,
)
from relayscope.cli._common import (
    EXIT_BROKEN_PIPE,
    EXIT_CANCELLED,
    EXIT_USAGE,
    Command,
    Context,
    add_common_options,
    fail,
)
from relayscope.config import ConfigError, default_db_path, load_config

# In the order `relayscope --help` lists them.
COMMANDS: dict[str, Command] = {
    "proxy": proxy,
    "playback": playback,
    "calls": calls,
    "show": show,
    "diagnose": diagnose,
    "prune": prune,
    "compact": compact,
    "replay": replay,
    "diff": diff,
    "compare": compare,
    "export": export,
    "import": import_,
    "sessions": sessions,
    "session": session,
    "share": share,
    "costs": costs,
    "demo-session": demo_session,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relayscope",
        description="Record, inspect, replay and compare OpenAI-format LLM API calls.",
    )
    add_common_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        command.add_parser(sub)
        assert name in sub.choices, f"{command} does not add `{name}`"
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return fail("cancelled.", EXIT_CANCELLED)


def _main(argv: list[str]) -> int:
    if argv[:1] == ["_record"]:  # the proxy's recording process, not a user command
        from relayscope.recording.child import child_main

        return child_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config, explicit=args.config is not None)
    except ConfigError as exc:
        fail(exc)
        if args.command is None:
            desktop.startup_error(str(exc))
        return EXIT_USAGE
    db_path: Path = args.db or default_db_path()
    ctx = Context(config=config, db_path=db_path)
    command = desktop if args.command is None else COMMANDS[args.command]
    return command.run(args, ctx)


def _quiet_stdout() -> None:
    """Standard output is a closed pipe: what is still buffered for it goes nowhere, so the
    interpreter's final flush cannot print a second BrokenPipeError at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (a test's StringIO)
        pass
