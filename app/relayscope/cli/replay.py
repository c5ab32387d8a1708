"""`relayscope replay ID`: send a recorded call again through the proxy, the answer as it
streams, then one line of outcome."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from relayscope.calls import formatting
from relayscope.calls.formatting import duration_ms as format_ms
from relayscope.calls.safe_text import visible, visible_json
from relayscope.cli._common import (
    EXIT_CANCELLED,
    Context,
    UsageError,
    add_common_options,
    base_url,
    call_by_prefix,
    proxy_running,
    row_json,
    token_header,
    with_store,
)

if TYPE_CHECKING:
    from relayscope.actions.replay import ReplayEvent, ReplayResult
    from relayscope.calls.record import CallRecord
    from relayscope.cli._common import Subparsers
    from relayscope.store.call_store import CallStore


def add_parser(sub: Subparsers) -> None:
    replay = sub.add_parser("replay", help="send a recorded call again through the proxy")
    add_common_options(replay)
    replay.add_argument("id", help="call id (a unique prefix is enough)")
    replay.add_argument("--provider", help="send it to this provider (default: as routed before)")
    replay.add_argument("--model", help="ask for this model instead")
    replay.add_argument("--body", type=Path, help="send this JSON body instead (edited; - = stdin)")
    add_sending_options(replay)


def add_sending_options(parser: argparse.ArgumentParser) -> None:
    """The options of commands that send through the proxy (`replay`, `compare`)."""
    parser.add_argument(
        "--url", help="the proxy's base URL (default: http://HOST:PORT/v1 from the config)"
    )
    parser.add_argument(
        "--wait-retry-after",
        action="store_true",
        help="on a 429/503 with Retry-After, wait that long once and resend",
    )
    parser.add_argument("--json", action="store_true", help="the outcome as JSON")


def through_proxy(
    args: argparse.Namespace,
    ctx: Context,
    send: Callable[[str, list[tuple[str, str]]], int],
) -> int:
    """Runs `send(url, headers)` once the proxy answers at --url (or the config's URL); Ctrl+C
    while it runs is exit 130."""
    try:
        url = args.url or base_url(ctx.config)
        if not proxy_running(url):
            return 1
        return send(url, token_header(ctx.config))
    except KeyboardInterrupt:
        print("\nrelayscope: cancelled.", file=sys.stderr)
        return EXIT_CANCELLED


def read_body(path: Path) -> bytes:
    """A JSON request body from a file (`-` = standard input); a UsageError says where it is
    not JSON."""
    from relayscope.actions.replay import JsonError, parse_json_body

    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path} ({exc}).") from exc
    parsed = parse_json_body(text)
    if isinstance(parsed, JsonError):
        raise UsageError(f"{path}:{parsed.line}:{parsed.column}: {parsed.message}")
    return text.encode()


def run(args: argparse.Namespace, ctx: Context) -> int:
    from relayscope.actions.replay import ReplayError

    def action(store: CallStore) -> int:
        return through_proxy(args, ctx, lambda url, headers: _replay(store, args, url, headers))

    return with_store(ctx.db_path, action, failures=(ReplayError,))


def _replay(
    store: CallStore, args: argparse.Namespace, url: str, headers: list[tuple[str, str]]
) -> int:
    from relayscope.actions.replay import replay_request, send, wait_until_recorded

    call = call_by_prefix(store, args.id)
    body = read_body(args.body) if args.body else None
    request = replay_request(
        call, provider=args.provider, model=args.model, body=body, headers=headers
    )
    live = _LiveAnswer(sys.stdout, quiet=args.json)
    if not args.json:
        print(f"replay of {visible(call['id'])} → call {request.call_id}", flush=True)
    result = send(request, url, on_event=live, wait_for_retry_after=args.wait_retry_after)
    row = wait_until_recorded(store, result.call_id, timeout=5.0) if result.status else None
    if args.json:
        print(
            visible_json(json.dumps(_replay_json(call, result, row), ensure_ascii=False, indent=2))
        )
    else:
        live.finish(result, row)
    return 0 if result.ok else 1


class _LiveAnswer:
    """Prints a replay's answer as it streams in, then one line of outcome."""

    def __init__(self, out: TextIO, *, quiet: bool) -> None:
        self.out = out
        self.quiet = quiet
        self.text_seen = False

    def __call__(self, event: ReplayEvent) -> None:
        if self.quiet:
            return
        if event.kind in ("chunk", "body") and event.text:
            self.out.write(visible(event.text, multiline=True))
            self.out.flush()
            self.text_seen = True
        elif event.kind == "retry_wait":
            self._newline()
            print(
                f"HTTP {event.status or 429}: waiting {event.retry_after:g} s (Retry-After), "
                "then resending once…",
                file=self.out,
                flush=True,
            )

    def _newline(self) -> None:
        if self.text_seen:
            self.out.write("\n")
            self.text_seen = False

    def finish(self, result: ReplayResult, row: CallRecord | None) -> None:
        self._newline()
        if result.previous is not None:
            first = result.previous
            print(f"(first attempt {first.call_id}: HTTP {first.status})", file=self.out)
        print(visible(_outcome_line(result, row)), file=self.out)
        if result.error:
            print(f"error: {visible(result.error, multiline=True)}", file=self.out)
        if result.retry_after is not None and result.status in (429, 503):
            print(
                f"The provider asks to retry after {result.retry_after:g} s; "
                "--wait-retry-after waits and resends once.",
                file=self.out,
            )


def _outcome_line(result: ReplayResult, row: CallRecord | None) -> str:
    if row is None:
        return (
            f"call {result.call_id} · status {result.status or '—'} · "
            f"TTFT {format_ms(result.ttft_ms)} · total {format_ms(result.elapsed_ms)}"
        )
    tokens = "—"
    if row.get("prompt_tokens") is not None or row.get("completion_tokens") is not None:
        prompt, completion = row.get("prompt_tokens") or 0, row.get("completion_tokens") or 0
        tokens = f"{formatting.tokens(prompt)} in / {formatting.tokens(completion)} out"
    return (
        f"call {row['id']} · {row.get('provider') or '-'} {row.get('model') or '-'} · "
        f"status {row.get('status') or '—'} {row.get('state')} · "
        f"TTFT {format_ms(row.get('ttft_ms'))} · total {format_ms(row.get('duration_ms'))} · "
        f"{tokens}"
    )


def _replay_json(call: CallRecord, result: ReplayResult, row: CallRecord | None) -> dict[str, Any]:
    return {
        "id": result.call_id,
        "replay_of": call["id"],
        "status": result.status,
        "error": result.error,
        "retry_after": result.retry_after,
        "ttft_ms": result.ttft_ms,
        "elapsed_ms": result.elapsed_ms,
        "output_text": result.output_text,
        "attempts": result.call_ids,
        "call": row_json(row) if row else None,
    }
