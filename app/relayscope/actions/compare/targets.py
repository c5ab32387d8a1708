"""What a comparison is made of: its targets, the saved group, and each target's outcome
(read from the recorded call, or as the client saw it when the row never came)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from relayscope.actions.replay import ReplayResult
from relayscope.analysis.cost import Cost, Pricer, default_pricer
from relayscope.calls import facts as call_facts
from relayscope.calls.record import CallRecord
from relayscope.store.call_store import StoreError


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
        cls, index: int, target: Target, row: CallRecord, pricer: Pricer | None = None
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


def _priced_row(target: Target, result: ReplayResult) -> CallRecord:
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
