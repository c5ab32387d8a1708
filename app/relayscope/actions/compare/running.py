"""Running a comparison: one copy of the request per target, all at once, through the proxy."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from relayscope.actions.compare.groups import save_group
from relayscope.actions.compare.targets import CompareResult, Group, Target, TargetSummary
from relayscope.actions.replay import (
    DEFAULT_BASE_URL,
    OnEvent,
    ReplayEvent,
    ReplayRequest,
    ReplayResult,
    async_client,
    new_request,
    send_async,
    wait_until_recorded,
)
from relayscope.analysis.cost import Pricer, default_pricer
from relayscope.routing import routes as routing
from relayscope.store.call_store import CallStore

#: How long to wait for the proxy to finish recording a call before summing it up anyway.
RECORD_TIMEOUT = 10.0


CompareEvent = Callable[[int, ReplayEvent], None]


def compare(
    body: Mapping[str, Any] | bytes,
    targets: Sequence[Target],
    base_url: str = DEFAULT_BASE_URL,
    *,
    on_event: CompareEvent | None = None,
    cancel: threading.Event | None = None,
    group_id: str | None = None,
    store: CallStore | None = None,
    name: str | None = None,
    path: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    source_call_id: str | None = None,
    timeout: float = 600.0,
    wait_for_retry_after: bool = False,
    record_timeout: float = RECORD_TIMEOUT,
    transport: httpx.AsyncBaseTransport | None = None,
    pricer: Pricer | None = None,
) -> CompareResult:
    """Send ``body`` to every target at once (the whole takes as long as the slowest).

    Each copy goes through the proxy tagged with the group's id and a call id chosen up
    front, so it is recorded like any call. ``on_event(target_index, event)`` gets every
    target's events live, on this thread. With a ``store`` the group is saved first and the
    summaries are read from the recorded rows once the proxy has finished them, each with
    its cost (``pricer``: the config's prices, else ``cost.default_pricer()``). Blocks: call
    it from a worker thread.
    """
    if not targets:
        raise ValueError("compare needs at least one target")
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    group_id = group_id or routing.new_call_id()
    requests = [
        new_request(
            raw,
            path=path,
            provider=t.provider,
            model=t.model,
            headers=list(headers),
            replay_of=source_call_id,
            group_id=group_id,
        )
        for t in targets
    ]
    group = Group(
        id=group_id,
        created_at=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        name=name or " vs ".join(t.label for t in targets),
        request_body=raw.decode("utf-8", "replace"),
        targets=tuple(targets),
        path=requests[0].path,
        source_call_id=source_call_id,
    )
    if store is not None:
        save_group(store, group)
    t0 = time.monotonic()
    results = asyncio.run(
        _send_all(requests, base_url, on_event, cancel, timeout, wait_for_retry_after, transport)
    )
    elapsed_ms = round((time.monotonic() - t0) * 1000, 3)
    deadline = time.monotonic() + record_timeout
    summaries = tuple(
        _summary(i, t, r, store, deadline, pricer or default_pricer())
        for i, (t, r) in enumerate(zip(targets, results, strict=True))
    )
    return CompareResult(
        group=group,
        results=tuple(results),
        summaries=summaries,
        elapsed_ms=elapsed_ms,
        cancelled=any(r.cancelled for r in results),
    )


async def _send_all(
    requests: Sequence[ReplayRequest],
    base_url: str,
    on_event: CompareEvent | None,
    cancel: threading.Event | None,
    timeout: float,
    wait_for_retry_after: bool,
    transport: httpx.AsyncBaseTransport | None,
) -> list[ReplayResult]:
    def forward(index: int) -> OnEvent | None:
        if on_event is None:
            return None
        return lambda event: on_event(index, event)

    async with async_client(timeout, transport) as client:
        return list(
            await asyncio.gather(
                *(
                    send_async(
                        request,
                        base_url,
                        client=client,
                        on_event=forward(i),
                        cancel=cancel,
                        wait_for_retry_after=wait_for_retry_after,
                    )
                    for i, request in enumerate(requests)
                )
            )
        )


def _summary(
    index: int,
    target: Target,
    result: ReplayResult,
    store: CallStore | None,
    deadline: float,
    pricer: Pricer,
) -> TargetSummary:
    if store is not None:
        # A request that never reached the proxy has no row to wait for.
        reached = result.status is not None or result.cancelled
        left = max(0.0, deadline - time.monotonic()) if reached else 0.0
        row = wait_until_recorded(store, result.call_id, timeout=left)
        if row is not None:
            return TargetSummary.from_row(index, target, row, pricer)
    return TargetSummary.from_result(index, target, result, pricer)


def rerun(
    group: Group,
    base_url: str = DEFAULT_BASE_URL,
    *,
    on_event: CompareEvent | None = None,
    cancel: threading.Event | None = None,
    store: CallStore | None = None,
    headers: Iterable[tuple[str, str]] = (),
    timeout: float = 600.0,
    record_timeout: float = RECORD_TIMEOUT,
    transport: httpx.AsyncBaseTransport | None = None,
    pricer: Pricer | None = None,
) -> CompareResult:
    """Run a saved comparison again, as a new group with the same name, body and targets."""
    return compare(
        group.request_body.encode(),
        group.targets,
        base_url,
        on_event=on_event,
        cancel=cancel,
        store=store,
        name=group.name,
        path=group.path or None,
        headers=headers,
        source_call_id=group.source_call_id,
        timeout=timeout,
        record_timeout=record_timeout,
        transport=transport,
        pricer=pricer,
    )
