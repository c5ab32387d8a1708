"""`relayscope` without a command: the desktop app (the window runs the proxy as its child)."""

from __future__ import annotations

import argparse
import ctypes.util
import os
import sys
from collections.abc import Mapping

from relayscope.cli._common import EXIT_USAGE, Context, fail
from relayscope.config import default_config_path


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


def startup_error(message: str) -> None:
    """A config that does not load, said in a window when there is a display: opened from a
    desktop launcher, nobody reads standard error."""
    if display_problem() is None:
        from relayscope.ui.application import show_startup_error

        show_startup_error(f"Relayscope could not start: {message}")


def run(args: argparse.Namespace, ctx: Context) -> int:
    if (problem := display_problem()) is not None:
        return fail(problem, EXIT_USAGE)
    from relayscope.ui.application import run_app

    config_path = args.config or default_config_path()
    return run_app(config=ctx.config, config_path=config_path, db_path=ctx.db_path)
