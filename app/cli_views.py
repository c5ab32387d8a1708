"""Terminal views of recorded calls: `relayscope calls` and `relayscope show`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.core.store import CallFilter, CallStore, StoreError


def run(args: argparse.Namespace, db_path: Path) -> int:
    try:
        store = CallStore(db_path, create=False)
    except StoreError as exc:
        print(f"relayscope: {exc}", file=sys.stderr)
        return 1
    try:
        if args.command == "calls":
            return _calls(store, args)
        return _show(store, args)
    except StoreError as exc:
        print(f"relayscope: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()


def _calls(store: CallStore, args: argparse.Namespace) -> int:
    flt = CallFilter(text=args.search, errors_only=args.errors)
    rows = store.list_calls(flt, limit=args.limit)
    if args.json:
        for row in rows:
            print(json.dumps(_jsonable(row), ensure_ascii=False))
        return 0
    print(
        f"{'id':21} {'time':8} {'provider':10} {'model':22} {'status':>6} {'state':11} "
        f"{'ttft':>7} {'dur':>8} {'tokens':>11}"
    )
    for row in rows:
        print(format_row(row))
    total = store.count_calls(flt)
    if total > len(rows):
        print(f"… {total - len(rows)} more (use -n)")
    return 0


def format_ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f}ms" if value < 10_000 else f"{value / 1000:.1f}s"


def format_row(row: dict[str, Any]) -> str:
    time = (row.get("started_at") or "")[11:19]
    tokens = "—"
    if row.get("prompt_tokens") is not None or row.get("completion_tokens") is not None:
        tokens = f"{row.get('prompt_tokens') or 0}/{row.get('completion_tokens') or 0}"
    return (
        f"{row['id']:21} {time:8} {(row.get('provider') or '-')[:10]:10} "
        f"{(row.get('model') or '-')[:22]:22} {row.get('status') or '—':>6} "
        f"{row.get('state') or '':11} {format_ms(row.get('ttft_ms')):>7} "
        f"{format_ms(row.get('duration_ms')):>8} {tokens:>11}"
    )


def _show(store: CallStore, args: argparse.Namespace) -> int:
    call_id = store.resolve_id(args.id)
    call = store.get_call(call_id)
    assert call is not None
    if args.json:
        print(json.dumps(_jsonable(call), ensure_ascii=False, indent=2))
        return 0
    for key in (
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
        "duration_ms",
        "chunk_count",
        "finish_reason",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cached_tokens",
        "reasoning_tokens",
        "replay_of",
        "client",
    ):
        if call.get(key) is not None:
            print(f"{key:18} {call[key]}")
    if call.get("output_text"):
        print("\n" + call["output_text"])
    if args.stream:
        print()
        previous = 0.0
        for chunk in store.chunks(call_id):
            gap = chunk["t_ms"] - previous
            previous = chunk["t_ms"]
            data = chunk["data"] if isinstance(chunk["data"], str) else repr(chunk["data"])
            print(f"{chunk['seq']:5} {chunk['t_ms']:10.1f}ms +{gap:8.1f}ms  {data.strip()[:160]}")
    return 0


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else v) for k, v in row.items()
    }
