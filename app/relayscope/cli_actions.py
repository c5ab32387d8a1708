"""Terminal actions on recorded calls: `relayscope replay`, `diff` and `compare`."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from relayscope.actions.compare import (
    CompareResult,
    Target,
    TargetSummary,
    compare,
    load_group,
    rerun,
)
from relayscope.actions.diff import diff_as_json, diff_calls, format_unified
from relayscope.actions.replay import (
    JsonError,
    ReplayError,
    ReplayEvent,
    ReplayResult,
    client_headers,
    parse_json_body,
    proxy_reachable,
    replay_request,
    send,
    wait_until_recorded,
)
from relayscope.analysis.cost import Pricer
from relayscope.calls.safe_text import visible, visible_json
from relayscope.cli_views import open_store
from relayscope.config import Config
from relayscope.routing.routes import TOKEN_HEADER
from relayscope.store.call_store import CallStore, StoreError


class _Usage(Exception):
    """A mistake in the command line or its input files; the message says what to fix."""


def run(args: argparse.Namespace, config: Config, db_path: Path) -> int:
    store = open_store(db_path)
    if store is None:
        return 1
    try:
        if args.command == "diff":
            return _diff(store, args)
        if args.command == "compare":
            _check_targets(args)
        url = args.url or base_url(config)
        if not proxy_reachable(url):
            print(
                f"relayscope: the proxy is not running at {url}; start it with "
                "`relayscope proxy` (or open the app), or point --url at it.",
                file=sys.stderr,
            )
            return 1
        headers = _token_header(config)
        if args.command == "replay":
            return _replay(store, args, url, headers)
        return _compare(store, args, url, headers, Pricer.from_config(config))
    except (StoreError, ReplayError, _Usage) as exc:
        print(f"relayscope: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, _Usage) else 1
    except KeyboardInterrupt:
        print("\nrelayscope: cancelled.", file=sys.stderr)
        return 130
    finally:
        store.close()


def base_url(config: Config) -> str:
    host = config.proxy.host
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.proxy.port}/v1"


def _token_header(config: Config) -> list[tuple[str, str]]:
    token = config.proxy.access_token
    return [(TOKEN_HEADER, token)] if token else []


def _read_body(path: Path) -> bytes:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _Usage(f"cannot read {path} ({exc}).") from exc
    parsed = parse_json_body(text)
    if isinstance(parsed, JsonError):
        raise _Usage(f"{path}:{parsed.line}:{parsed.column}: {parsed.message}")
    return text.encode()


# --- replay -----------------------------------------------------------------------------------


def _replay(store: CallStore, args: argparse.Namespace, url: str, headers: list[Any]) -> int:
    call = _call(store, args.id)
    body = _read_body(args.body) if args.body else None
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


def _call(store: CallStore, prefix: str) -> dict[str, Any]:
    call = store.get_call(store.resolve_id(prefix))
    assert call is not None
    return call


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

    def finish(self, result: ReplayResult, row: dict[str, Any] | None) -> None:
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


def _outcome_line(result: ReplayResult, row: dict[str, Any] | None) -> str:
    if row is None:
        return (
            f"call {result.call_id} · status {result.status or '—'} · "
            f"TTFT {format_ms(result.ttft_ms)} · total {format_ms(result.elapsed_ms)}"
        )
    tokens = "—"
    if row.get("prompt_tokens") is not None or row.get("completion_tokens") is not None:
        tokens = f"{row.get('prompt_tokens') or 0} in / {row.get('completion_tokens') or 0} out"
    return (
        f"call {row['id']} · {row.get('provider') or '-'} {row.get('model') or '-'} · "
        f"status {row.get('status') or '—'} {row.get('state')} · "
        f"TTFT {format_ms(row.get('ttft_ms'))} · total {format_ms(row.get('duration_ms'))} · "
        f"{tokens}"
    )


def _replay_json(
    call: dict[str, Any], result: ReplayResult, row: dict[str, Any] | None
) -> dict[str, Any]:
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
        "call": _jsonable(row) if row else None,
    }


# --- diff -------------------------------------------------------------------------------------


def _diff(store: CallStore, args: argparse.Namespace) -> int:
    a, b = _call(store, args.a), _call(store, args.b)
    diff = diff_calls(a, b, store.chunks(a["id"]), store.chunks(b["id"]))
    if args.json:
        text = json.dumps(diff_as_json(diff), ensure_ascii=False, indent=2, default=str)
        print(visible_json(text))
    else:
        print(visible(format_unified(diff), multiline=True))
    return 0


# --- compare ----------------------------------------------------------------------------------


def _compare(
    store: CallStore, args: argparse.Namespace, url: str, headers: list[Any], pricer: Pricer
) -> int:
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
        raise _Usage("--rerun sends to the saved targets; leave out --target.")
    if not args.rerun and not args.target:
        raise _Usage("name at least one --target PROVIDER[:MODEL].")
    _targets(args.target)


def _targets(texts: list[str]) -> list[Target]:
    try:
        return [Target.parse(text) for text in texts]
    except ValueError as exc:
        raise _Usage(f"--target: {exc}.") from exc


def _compare_source(
    store: CallStore, args: argparse.Namespace
) -> tuple[bytes, str | None, str | None, list[tuple[str, str]]]:
    """(body, path, source call id, the client's headers) to compare."""
    if args.body:
        return _read_body(args.body), None, None, []
    call = _call(store, args.from_id)
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
        tokens = "—"
        if s.prompt_tokens is not None or s.completion_tokens is not None:
            tokens = f"{s.prompt_tokens or 0}/{s.completion_tokens or 0}"
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


def format_ms(value: float | None) -> str:
    """412 ms, 3.48 s (as `relayscope calls` shows durations)."""
    if value is None:
        return "—"
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.2f} s"


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else v) for k, v in row.items()
    }
