"""`relayscope demo-session`: plays a small coding-agent session against the demo provider."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from relayscope.cli._common import Context, add_common_options, base_url, fail, proxy_running

if TYPE_CHECKING:
    from relayscope.cli._common import Subparsers
    from relayscope.protocols.openai_format import Assembled


def add_parser(sub: Subparsers) -> None:
    demo = sub.add_parser(
        "demo-session",
        help="play a 3-turn agent session (tool calls, cache reads) against the demo provider",
    )
    add_common_options(demo)
    demo.add_argument(
        "--url", help="the proxy's base URL (default: from the config's [proxy], …/v1)"
    )
    demo.add_argument("--json", action="store_true", help="print the session id and calls as JSON")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from relayscope.actions.demo_session import DemoSessionError, play
    from relayscope.routing.routes import TOKEN_HEADER

    config = ctx.config
    url = args.url or base_url(config)
    if not proxy_running(url):
        return 1

    def say(turn: int, number: int, answer: Assembled) -> None:
        if args.json:
            return
        if answer.tool_calls:
            function = answer.tool_calls[0].get("function") or {}
            what = f"calls {function.get('name')} {function.get('arguments')}"
        else:
            what = f"answers: {answer.output_text[:100]}"
        print(f"turn {turn} · call {number}: demo-agent {what}", flush=True)

    token = config.proxy.access_token
    try:
        result = play(url, headers=[(TOKEN_HEADER, token)] if token else [], on_call=say)
    except DemoSessionError as exc:
        return fail(exc)
    if args.json:
        print(json.dumps({"session_id": result.session_id, "calls": result.call_ids}))
    else:
        print(
            f"\nsession {result.session_id}: {result.turns} turns, {len(result.call_ids)} calls, "
            f"{result.tool_calls} tool calls.\nSee it with: relayscope session {result.session_id}"
        )
    return 0
