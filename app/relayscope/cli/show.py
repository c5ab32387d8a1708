"""`relayscope show ID`: one recorded call, its stream debugger (`--stream`), its row as JSON,
or code that sends it again (`--as curl|python`)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from typing import TYPE_CHECKING

from relayscope.calls.safe_text import visible, visible_json
from relayscope.cli._common import Context, add_common_options, base_url, row_json, with_store
from relayscope.config import Config

if TYPE_CHECKING:
    from relayscope.calls.record import CallRecord
    from relayscope.cli._common import Subparsers
    from relayscope.store.call_store import CallStore

_FIELDS = (
    "id",
    "started_at",
    "method",
    "path",
    "provider",
    "model",
    "status",
    "state",
    "error",
    "ttft_ms",
    "first_byte_ms",
    "duration_ms",
    "hold_ms",
    "chunk_count",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "replay_of",
    "client",
)


def add_parser(sub: Subparsers) -> None:
    show = sub.add_parser("show", help="show one recorded call")
    add_common_options(show)
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


def run(args: argparse.Namespace, ctx: Context) -> int:
    return with_store(ctx.db_path, lambda store: _show(store, args, ctx.config))


def _show(store: CallStore, args: argparse.Namespace, config: Config) -> int:
    from relayscope.analysis.cost import Pricer

    pricer = Pricer.from_config(config)
    call_id = store.resolve_id(args.id)
    call = store.get_call(call_id)
    assert call is not None
    if args.as_code:
        print(_snippet(call, args.as_code, config), end="")
        return 0
    if args.json:
        print(visible_json(json.dumps(row_json(call, pricer), ensure_ascii=False, indent=2)))
        return 0
    for key in _FIELDS:
        value = call.get(key)
        if value is not None:
            print(f"{key:18} {visible(value)}")
    if call.get("note"):
        print(f"{'note':18} {visible(call['note'])}")
    connection_id = call.get("connection_id")
    if connection_id:
        print(f"{'connection':18} {visible(connection_summary(store, connection_id))}")
    cost = pricer.price(call)
    print(f"{'cost':18} {visible(cost.text())} ({visible(cost.basis)})")
    if call.get("output_text"):
        print("\n" + visible(call["output_text"], multiline=True))
    if args.stream:
        from relayscope.cli._stream_report import stream_report

        colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        width = max(80, shutil.get_terminal_size((100, 24)).columns) if colour else 100
        chunks = store.chunks(call["id"])
        for line in stream_report(call, chunks, width=width, colour=colour):
            print(line)
    return 0


def connection_summary(store: CallStore, connection_id: str) -> str:
    """One line about the WebSocket that carried a call: when, how many calls, who closed it."""
    row = store.get_connection(connection_id)
    if row is None:
        return f"{connection_id} (not recorded)"
    text = f"{connection_id} WebSocket opened {row['started_at']}, {row['call_count'] or 0} calls"
    if row["state"] == "open":
        return text + ", still open"
    code = f" ({row['close_code']}{': ' + row['close_reason'] if row['close_reason'] else ''})"
    who = f" by the {row['closed_by']}" if row["closed_by"] else ""
    return f"{text}, closed{who}{code if row['close_code'] else ''}"


def _snippet(call: CallRecord, language: str, config: Config) -> str:
    """`show --as curl|python`: the code that sends the call again through this proxy. The
    literal builders in code_export keep every recorded value printable and inert."""
    from relayscope.exchange.code_export import as_curl, as_python

    url = base_url(config)
    return as_curl(call, url) if language == "curl" else as_python(call, url)
