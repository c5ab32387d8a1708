"""Sends one request to several providers or models at once, through the proxy, as a group."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

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
from relayscope.analysis.cost import Cost, Pricer, default_pricer
from relayscope.calls import facts as call_facts
from relayscope.routing import routes as routing
from relayscope.store.call_store import CallStore, GroupWriter, StoreError

__all__ = [
    "CompareResult",
    "Group",
    "Target",
    "TargetSummary",
    "compare",
    "list_groups",
    "load_group",
    "rerun",
    "save_group",
]

#: How long to wait for the proxy to finish recording a call before summing it up anyway.
RECORD_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Target:
    """Where one copy of the request goes: a provider by name and/or a model (None: as is)."""

    provider: str | None = None
    model: str | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        """``PROVIDER[:MODEL]``; ``:MODEL`` changes only the model (routing picks the provider).

        Only the first colon separates, so models like ``llama3:8b`` survive.
        """
        provider, _, model = text.strip().partition(":")
        if not provider and not model:
            raise ValueError("a target is PROVIDER, PROVIDER:MODEL or :MODEL")
        return cls(provider or None, model or None)

    @property
    def label(self) -> str:
        if self.model is None:
            return self.provider or "(as recorded)"
        return f"{self.provider or ''}:{self.model}"


@dataclass(frozen=True, slots=True)
class Group:
    """A saved comparison: the request and the targets it went to."""

    id: str
    created_at: str
    name: str
    request_body: str
    targets: tuple[Target, ...]
    path: str
    source_call_id: str | None = None
    kind: str = "compare"

    def body(self) -> dict[str, Any]:
        value = json.loads(self.request_body)
        if not isinstance(value, dict):
            raise StoreError(f"Group {self.id}'s request body is not a JSON object.")
        return value


_NOT_PRICED = Cost(None, "not priced")


@dataclass(frozen=True, slots=True)
class TargetSummary:
    """One target's outcome. ``recorded`` is True when it was read from the database row
    (the figures then match what `relayscope calls` shows), False when the row never came
    and the client's own view was used. ``cost`` is priced from the same usage: unknown
    (``usd`` None) when the price or the usage is."""

    index: int
    target: Target
    call_id: str
    provider: str | None
    model: str | None
    status: int | None
    state: str | None
    ttft_ms: float | None
    duration_ms: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    tokens_per_s: float | None
    finish_reason: str | None
    error: str | None
    output_text: str
    recorded: bool
    cost: Cost = _NOT_PRICED

    @property
    def ok(self) -> bool:
        row = {"status": self.status, "state": self.state}
        return (
            self.status is not None and not call_facts.is_failed(row) and self.state == "complete"
        )

    @classmethod
    def from_row(
        cls, index: int, target: Target, row: Mapping[str, Any], pricer: Pricer | None = None
    ) -> TargetSummary:
        return cls(
            index=index,
            target=target,
            call_id=str(row["id"]),
            provider=row.get("provider"),
            model=row.get("model"),
            status=row.get("status"),
            state=row.get("state"),
            ttft_ms=row.get("ttft_ms"),
            duration_ms=row.get("duration_ms"),
            prompt_tokens=row.get("prompt_tokens"),
            completion_tokens=row.get("completion_tokens"),
            tokens_per_s=call_facts.tokens_per_second(row),
            finish_reason=row.get("finish_reason"),
            error=row.get("error"),
            output_text=row.get("output_text") or "",
            recorded=True,
            cost=(pricer or default_pricer()).price(row),
        )

    @classmethod
    def from_result(
        cls, index: int, target: Target, result: ReplayResult, pricer: Pricer | None = None
    ) -> TargetSummary:
        usage = result.answer.usage
        completion = usage.completion_tokens if usage else None
        if result.cancelled:
            state = "interrupted"
        elif result.status is None or result.status >= 400 or result.error:
            state = "error"
        else:
            state = "complete"
        return cls(
            index=index,
            target=target,
            call_id=result.call_id,
            provider=target.provider,
            model=target.model,
            status=result.status,
            state=state,
            ttft_ms=result.ttft_ms,
            duration_ms=result.elapsed_ms,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=completion,
            tokens_per_s=call_facts.output_tokens_per_second(
                completion, result.ttft_ms if result.events else None, result.elapsed_ms
            ),
            finish_reason=result.answer.finish_reason,
            error=result.error,
            output_text=result.output_text,
            recorded=False,
            cost=(pricer or default_pricer()).price(_priced_row(target, result)),
        )


def _priced_row(target: Target, result: ReplayResult) -> dict[str, Any]:
    """What pricing needs of a call the proxy did not record: the client's view of it."""
    usage = result.answer.usage
    return {
        "provider": target.provider,
        "model": target.model or result.answer.model,
        "response_model": result.answer.model,
        "prompt_tokens": usage.prompt_tokens if usage else None,
        "completion_tokens": usage.completion_tokens if usage else None,
        "cached_tokens": usage.cached_tokens if usage else None,
        "reasoning_tokens": usage.reasoning_tokens if usage else None,
    }


@dataclass(frozen=True, slots=True)
class CompareResult:
    group: Group
    results: tuple[ReplayResult, ...]  # per target, as the client saw it
    summaries: tuple[TargetSummary, ...]  # per target, from the database when given a store
    elapsed_ms: float  # wall time for all targets together
    cancelled: bool = False

    @property
    def fastest(self) -> TargetSummary | None:
        """The successful target that finished soonest."""
        done = [s for s in self.summaries if s.ok and s.duration_ms is not None]
        return min(done, key=lambda s: s.duration_ms or 0.0) if done else None


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


# --- groups -----------------------------------------------------------------------------------


def save_group(store: CallStore, group: Group) -> None:
    """Save a group in `store`'s database, through a writer of its own (`GroupWriter`): the
    store itself only reads."""
    with GroupWriter(store.path) as writer:
        writer.save(_group_row(group))


def _group_row(group: Group) -> dict[str, Any]:
    return {
        "id": group.id,
        "created_at": group.created_at,
        "kind": group.kind,
        "name": group.name,
        "request_body": group.request_body,
        "targets": json.dumps([{"provider": t.provider, "model": t.model} for t in group.targets]),
        "path": group.path,
        "source_call_id": group.source_call_id,
    }


def load_group(store: CallStore, group_id: str) -> Group:
    """A saved group by its id or a unique prefix of it."""
    rows = store.groups_by_prefix(group_id)
    exact = [r for r in rows if r["id"] == group_id]
    if not rows:
        raise StoreError(f"No comparison group has an id starting with '{group_id}'.")
    if len(rows) > 1 and not exact:
        raise StoreError(f"'{group_id}' matches several comparison groups; type more of the id.")
    return _group((exact or rows)[0])


def list_groups(store: CallStore, *, limit: int = 100) -> list[Group]:
    """Saved groups, newest first."""
    return [_group(row) for row in store.recent_groups(limit)]


def _group(row: Mapping[str, Any]) -> Group:
    targets = json.loads(row["targets"] or "[]")
    return Group(
        id=row["id"],
        created_at=row["created_at"],
        name=row["name"] or "",
        request_body=row["request_body"] or "",
        targets=tuple(Target(t.get("provider"), t.get("model")) for t in targets),
        path=row["path"] or "",
        source_call_id=row["source_call_id"],
        kind=row["kind"] or "compare",
    )


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
