"""Run one real client twice, against the fake provider directly and through Relayscope.

A compatibility test gives :func:`run_twice` a function that drives the client against a base
URL and returns what the client reports (answer text, tool calls, usage), then asserts:

- the client saw the same thing both ways (``twice.direct == twice.relayed``), and
- :func:`assert_recorded_as_sent`: every call is recorded ``complete``, and each streamed
  call's chunks are the provider's events byte for byte, with its usage (cached and reasoning
  tokens included) and tool calls.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_codex import CACHE
from tests.fakes.provider import FakeProvider
from tests.support.worker import WorkerProcess, provider_config

__all__ = [
    "Twice",
    "assert_recorded_as_sent",
    "npm_packages",
    "provider_tool_calls",
    "provider_usage",
    "recorded_tool_calls",
    "recorded_usage",
    "run_twice",
]


@dataclass
class Twice[T]:
    """What the client reported both ways, and what Relayscope recorded on the second run."""

    direct: T
    relayed: T
    fake: FakeProvider
    """The provider of the relayed run (its ``sent_events`` are what Relayscope received)."""
    rows: list[dict[str, Any]]
    chunks: dict[str, list[bytes]] = field(default_factory=dict)
    """Recorded chunk bytes per call id (a WebSocket call's server messages)."""
    counts: dict[str, int] = field(default_factory=dict)
    """Recorded chunks per call id, both directions (a WebSocket's client messages too)."""


def run_twice[T](tmp_path: Path, client: Callable[[str], T], **fake_options: Any) -> Twice[T]:
    """``client(base_url)`` against a fresh fake provider, then through a real worker.

    The direct run happens on a thread while the worker starts (the client runs once at a
    time: the relayed run waits for the direct one).
    """
    tmp_path.mkdir(parents=True, exist_ok=True)

    def direct_run() -> T:
        with FakeProvider(name="fake", **fake_options) as fake:
            return client(fake.base_url)

    with (
        ThreadPoolExecutor(1) as pool,
        FakeProvider(name="fake", **fake_options) as fake,
    ):
        direct_future = pool.submit(direct_run)
        with WorkerProcess(tmp_path, provider_config(("fake", fake.base_url))) as worker:
            direct = direct_future.result()
            relayed = client(worker.base_url)
            calls = _calls_sent(fake)
            rows = worker.wait_for_calls(calls)
            store = worker.store()
            try:
                recorded = {r["id"]: store.chunks(r["id"]) for r in rows}
            finally:
                store.close()
    assert len(rows) == calls, [(r["path"], r["status"]) for r in rows]
    chunks = {call_id: _from_provider(every) for call_id, every in recorded.items()}
    counts = {call_id: len(every) for call_id, every in recorded.items()}
    return Twice(direct, relayed, fake, rows, chunks, counts)


def _calls_sent(fake: FakeProvider) -> int:
    """HTTP requests the provider answered, a WebSocket's upgrade counted as its responses."""
    upgrades = sum(1 for r in fake.requests if r.headers.get("upgrade"))
    streams = [fake.sent_events(i) for i in range(fake.stream_count)]
    socket_responses = sum(1 for events in streams if events and events[0].startswith(b"{"))
    return len(fake.requests) - upgrades + socket_responses


def _from_provider(chunks: list[dict[str, Any]]) -> list[bytes]:
    return [c["data"].encode() for c in chunks if c["direction"] in (None, "server")]


def assert_recorded_as_sent(twice: Twice[Any]) -> None:
    """Every call complete; streamed calls recorded exactly as the provider sent them."""
    streams = iter(range(twice.fake.stream_count))
    for row in twice.rows:
        assert row["state"] == "complete", (row["path"], row["state"], row["error"])
        if not row["stream"]:
            continue
        sent = twice.fake.sent_events(next(streams))
        assert twice.chunks[row["id"]] == sent
        assert row["chunk_count"] == twice.counts[row["id"]]
        if row["transport"] == "websocket":  # and the client's `response.create`
            assert twice.counts[row["id"]] == len(sent) + 1
        else:
            assert row["chunk_count"] == len(sent)
        assert recorded_usage(row) == provider_usage(sent)
        assert recorded_tool_calls(row) == provider_tool_calls(sent)
    assert next(streams, None) is None, "a stream the provider sent was not recorded"


# --------------------------------------------------------------------------- usage


def _usage(obj: dict[str, Any]) -> dict[str, int]:
    details_in = obj.get("prompt_tokens_details") or obj.get("input_tokens_details") or {}
    details_out = obj.get("completion_tokens_details") or obj.get("output_tokens_details") or {}
    return {
        "prompt": obj.get("prompt_tokens", obj.get("input_tokens")) or 0,
        "completion": obj.get("completion_tokens", obj.get("output_tokens")) or 0,
        "total": obj.get("total_tokens") or 0,
        "cached": details_in.get("cached_tokens") or 0,
        "reasoning": details_out.get("reasoning_tokens") or 0,
    }


def _data(event: bytes) -> dict[str, Any] | None:
    """The JSON of an SSE event, or of a WebSocket message."""
    if event.startswith(b"{"):
        value = json.loads(event)
        return value if isinstance(value, dict) else None
    for line in event.split(b"\n"):
        if line.startswith(b"data: {"):
            value = json.loads(line[6:])
            return value if isinstance(value, dict) else None
    return None


def provider_usage(events: list[bytes]) -> dict[str, int] | None:
    """The usage a stream reported (the last ``usage`` it carried), or None."""
    for event in reversed(events):
        obj = _data(event)
        if obj is None:
            continue
        usage = obj.get("usage") or (obj.get("response") or {}).get("usage")
        if usage:
            return _usage(usage)
    return None


def recorded_usage(row: dict[str, Any]) -> dict[str, int] | None:
    if row["total_tokens"] is None:
        return None
    return {
        "prompt": row["prompt_tokens"] or 0,
        "completion": row["completion_tokens"] or 0,
        "total": row["total_tokens"] or 0,
        "cached": row["cached_tokens"] or 0,
        "reasoning": row["reasoning_tokens"] or 0,
    }


# --------------------------------------------------------------------------- tool calls


def provider_tool_calls(events: list[bytes]) -> list[tuple[str, str]]:
    """(name, arguments) of each tool call a chat or Responses stream carried."""
    calls: dict[int, list[str]] = {}
    for event in events:
        obj = _data(event)
        if obj is None:
            continue
        if obj.get("type") == "response.completed":
            return [
                (item["name"], item["arguments"])
                for item in obj["response"]["output"]
                if item.get("type") == "function_call"
            ]
        for choice in obj.get("choices") or []:
            for fragment in (choice.get("delta") or {}).get("tool_calls") or []:
                call = calls.setdefault(fragment["index"], ["", ""])
                function = fragment.get("function") or {}
                call[0] += function.get("name") or ""
                call[1] += function.get("arguments") or ""
    return [(name, arguments) for name, arguments in (calls[i] for i in sorted(calls))]


def recorded_tool_calls(row: dict[str, Any]) -> list[tuple[str, str]]:
    calls = json.loads(row["tool_calls"] or "[]")
    return [(c["function"]["name"], c["function"]["arguments"]) for c in calls]


# --------------------------------------------------------------------------- npm clients


def npm_packages(name: str, *packages: str) -> Path:
    """A cache folder with pinned npm ``packages`` installed (once); skips without Node."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("Node.js and npm are needed for this client")
    folder = CACHE / name
    marker = folder / ".installed"
    if not marker.exists() or marker.read_text() != " ".join(packages):
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                "--prefix",
                str(folder),
                *packages,
            ],
            check=True,
            capture_output=True,
            timeout=600,
            env={**os.environ, "npm_config_update_notifier": "false"},
        )
        marker.write_text(" ".join(packages))
    return folder
