"""The `relayscope` command line: `main.py` builds the parser from one module per command and
dispatches; `_common.py` holds what the commands share."""

from relayscope.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
