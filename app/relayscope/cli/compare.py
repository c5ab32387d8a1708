"""`relayscope compare`: one request sent to several providers at once, progress as it comes,
then a table of the outcomes and each answer; saved as a group to run again (`--rerun`)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from relayscope.calls import formatting
from relayscope.calls.formatting import duration_ms as format_ms
from relayscope.calls.safe_text import visible, visible_json
from relayscope.cli._common import (
    Context,
    UsageError,
    add_common_options,
    call_by_prefix,
    with_store,
)
from relayscope.cli.replay import add_sending_options, read_body, through_proxy

if TYPE_CHECKING:
    from relayscope.actions.compare import CompareResult, Target, TargetSummary
    from relayscope.actions.replay import ReplayEvent
    from relayscope.analysis.cost import Pricer
    from relayscope.cli._common import Subparsers
    from relayscope.store.call_store import CallStore


def add_parser(sub: Subparsers) -> None:
    compare = sub.add_parser("compare", help="send one request to several providers at once")
    add_common_options(compare)
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
    add_sending_options(compare)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from relayscope.actions.replay import ReplayError
    from relayscope.analysis.cost import Pricer

    def action(store: CallStore) -> int:
        _check_targets(args)
        pricer = Pricer.from_config(ctx.config)
        return through_proxy(
            args, ctx, lambda url, headers: _compare(store, args, url, headers, pricer)
        )

    return with_store(ctx.db_path, action, failures=(ReplayError,))


def _compare(
    store: CallStore,
    args: argparse.Namespace,
    url: str,
    headers: list[tuple[str, str]],
    pricer: Pricer,
) -> int:
    from relayscope.actions.compare import compare, load_group, rerun

    progress = _Progress(sys.stdout, quiet=args.json)
    if args.rerun:
        group = load_group(store, args.rerun)
        progress.labels = [t.label for t in group.targets]
        result = rerun(group, url, on_event=progress, store=store, headers=headers, pricer=pricer)
    else:
        targets = _targets(args.target)
        progress.labels = [t.label for t in targets]
        body, path, source, client = _compare_source(store, args)
        result = compare(
            body,
            targets,
            url,
            on_event=progress,
            store=store,
            name=args.name,
            path=path,
            headers=[*client, *headers],
            source_call_id=source,
            wait_for_retry_after=args.wait_retry_after,
            pricer=pricer,
        )
    if args.json:
        print(visible_json(json.dumps(_compare_json(result), ensure_ascii=False, indent=2)))
    else:
        _print_compare(result)
    return 0


def _check_targets(args: argparse.Namespace) -> None:
    if args.rerun and args.target:
        raise UsageError("--rerun sends to the saved targets; leave out --target.")
    if not args.rerun and not args.target:
        raise UsageError("name at least one --target PROVIDER[:MODEL].")
    _targets(args.target)


def _targets(texts: list[str]) -> list[Target]:
    from relayscope.actions.compare import Target

    try:
        return [Target.parse(text) for text in texts]
    except ValueError as exc:
        raise UsageError(f"--target: {exc}.") from exc


def _compare_source(
    store: CallStore, args: argparse.Namespace
) -> tuple[bytes, str | None, str | None, list[tuple[str, str]]]:
    """(body, path, source call id, the client's headers) to compare."""
    from relayscope.actions.replay import client_headers, replay_request

    if args.body:
        return read_body(args.body), None, None, []
    call = call_by_prefix(store, args.from_id)
    request = replay_request(call)  # the body as sent (a WebSocket request made HTTP)
    return request.body, request.path, str(call["id"]), client_headers(call)


class _Progress:
    """One line per milestone of each target: answer started, first chunk, done."""

    def __init__(self, out: TextIO, *, quiet: bool) -> None:
        self.out = out
        self.quiet = quiet
        self.labels: list[str] = []
        self.chunks: dict[int, int] = {}

    def __call__(self, index: int, event: ReplayEvent) -> None:
        if self.quiet:
            return
        name = f"[{index + 1}] {self.labels[index] if index < len(self.labels) else ''}"
        if event.kind == "response":
            self._say(f"{name}: HTTP {event.status} after {format_ms(event.t_ms)}")
        elif event.kind == "chunk":
            self.chunks[index] = self.chunks.get(index, 0) + 1
            if self.chunks[index] == 1:
                self._say(f"{name}: first chunk after {format_ms(event.t_ms)}")
        elif event.kind == "retry_wait":
            self._say(f"{name}: waiting {event.retry_after:g} s (Retry-After), then resending")
        elif event.kind == "done" and event.result is not None:
            result = event.result
            outcome = f"HTTP {result.status}" if result.status else "no answer"
            chunks = f", {self.chunks.get(index, 0)} chunks" if self.chunks.get(index) else ""
            self._say(f"{name}: done, {outcome} in {format_ms(result.elapsed_ms)}{chunks}")

    def _say(self, line: str) -> None:
        print(visible(line), file=self.out, flush=True)


def summary_table(summaries: tuple[TargetSummary, ...]) -> list[str]:
    rows = [("#", "target", "call", "status", "TTFT", "total", "in/out", "tok/s", "cost", "finish")]
    for s in summaries:
        tokens = formatting.tokens_in_out(s.prompt_tokens, s.completion_tokens)
        rows.append(
            (
                str(s.index + 1),
                visible(s.target.label),
                visible(s.call_id),
                f"{s.status or '—'} {s.state or ''}".strip(),
                format_ms(s.ttft_ms),
                format_ms(s.duration_ms),
                tokens,
                f"{s.tokens_per_s:,.1f}" if s.tokens_per_s is not None else "—",
                s.cost.text(),  # "—" when unknown, never $0
                visible(s.finish_reason or "—"),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {0, 4, 5, 6, 7, 8}
    return [
        "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def _print_compare(result: CompareResult) -> None:
    print()
    for line in summary_table(result.summaries):
        print(line)
    print(f"\nall targets in {format_ms(result.elapsed_ms)} (they ran at the same time)")
    for s in result.summaries:
        print(f"\n── [{s.index + 1}] {visible(s.target.label)} ──")
        if s.error:
            print(f"error: {visible(s.error, multiline=True)}")
        if s.output_text:
            print(visible(s.output_text, multiline=True))
    if any(not s.recorded for s in result.summaries):
        print(
            "\nSome calls are not in this database (is the proxy recording to another --db?); "
            "their figures are this client's own measurements."
        )
    group = result.group
    print(f"\ngroup {group.id} saved; run it again with: relayscope compare --rerun {group.id}")


def _compare_json(result: CompareResult) -> dict[str, Any]:
    group = asdict(result.group)
    return {
        "group": group,
        "elapsed_ms": result.elapsed_ms,
        "targets": [
            {**asdict(s), "target": s.target.label, "ok": s.ok, "cost": s.cost.as_json()}
            for s in result.summaries
        ],
    }
